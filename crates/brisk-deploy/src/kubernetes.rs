//! Kubernetes manifests for a Brisk cluster (`brisk kubernetes manifests`): Brisk runs on
//! Kubernetes' own objects, it does not become an operator.
//!
//! - a **Secret** with the cluster's token (unless [`KubernetesOptions::token_secret`] names
//!   one that exists), handed to every container as `BRISK_TOKEN`: the scheduler listens on
//!   every interface of its pod, so it requires the token, and so do the workers' peer ports;
//! - a scheduler **Deployment** (one replica) and a **Service** (`<name>-scheduler`, ports
//!   8786 and 8787), with liveness and readiness probes on the dashboard's `/health`;
//! - a worker **Deployment** (`replicas` = workers): CPU and memory requests and limits equal
//!   to the worker's threads and memory limit, a fixed peer port (8788) that a TCP liveness
//!   probe checks, the pod's IP as the address peers reach it at, and a termination grace
//!   period longer than a worker's retirement: Kubernetes' SIGTERM on scale-down or eviction
//!   makes the worker hand its values to others before it exits.
//!
//! Scaling is Kubernetes': `kubectl scale deployment/<name>-worker --replicas=N`, or a
//! HorizontalPodAutoscaler. The manifests are plain YAML (no Helm chart): `kubectl apply -f`.

use serde_json::{Value, json};

use crate::error::DeployError;

/// What to write.
#[derive(Debug, Clone)]
pub struct KubernetesOptions {
    /// Prefix of every object's name, and the `app.kubernetes.io/instance` label.
    pub name: String,
    /// The namespace (default: the one `kubectl` uses).
    pub namespace: Option<String>,
    /// The container image with `brisk` (and your worker program) in it.
    pub image: String,
    /// `imagePullPolicy` (default: Kubernetes' own).
    pub image_pull_policy: Option<String>,
    /// Worker pods.
    pub workers: usize,
    /// Threads per worker, and its CPU request and limit.
    pub cores: usize,
    /// Memory per worker (`4GB`): its memory limit, and the pod's request and limit.
    pub memory: String,
    /// CPU and memory of the scheduler's pod.
    pub scheduler_cores: usize,
    /// See [`KubernetesOptions::scheduler_cores`].
    pub scheduler_memory: String,
    /// The `brisk` command in the image.
    pub brisk: String,
    /// Run workers as this program of your own (in the image) instead of `brisk worker`:
    /// its `main` calls `brisk::worker::main_if_worker()` first.
    pub worker_program: Option<String>,
    /// Arguments for [`KubernetesOptions::worker_program`].
    pub worker_program_args: Vec<String>,
    /// An existing Secret with the token under the key `token` (then none is written).
    pub token_secret: Option<String>,
    /// The token for the Secret written (default: a fresh one).
    pub token: Option<String>,
    /// Seconds Kubernetes waits after SIGTERM before it kills a worker.
    pub termination_grace_seconds: u64,
}

impl KubernetesOptions {
    /// Two one-core, 2 GB workers of `image`.
    pub fn new(image: impl Into<String>) -> Self {
        KubernetesOptions {
            name: "brisk".into(),
            namespace: None,
            image: image.into(),
            image_pull_policy: None,
            workers: 2,
            cores: 1,
            memory: "2GB".into(),
            scheduler_cores: 1,
            scheduler_memory: "1GB".into(),
            brisk: "brisk".into(),
            worker_program: None,
            worker_program_args: Vec::new(),
            token_secret: None,
            token: None,
            termination_grace_seconds: 60,
        }
    }
}

/// The scheduler's port, the dashboard's, and the workers' peer port.
const SCHEDULER_PORT: u16 = 8786;
const DASHBOARD_PORT: u16 = 8787;
const WORKER_PORT: u16 = 8788;
/// Where the scheduler keeps its journal (an emptyDir: it outlives a container restart).
const JOURNAL_DIR: &str = "/var/lib/brisk";

fn bad(name: &'static str, value: impl Into<String>, reason: impl Into<String>) -> DeployError {
    DeployError::BadOption {
        name,
        value: value.into(),
        reason: reason.into(),
    }
}

/// A DNS-1035 label (what Kubernetes accepts for Service names): lowercase letters, digits
/// and `-`, starting with a letter, at most 63 characters with the longest suffix we add.
fn check_name(name: &str) -> Result<(), DeployError> {
    let ok = name.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.ends_with('-')
        && name.len() + "-scheduler".len() <= 63;
    if ok {
        Ok(())
    } else {
        Err(bad(
            "name",
            name,
            "lowercase letters, digits and '-', starting with a letter, at most 53 characters",
        ))
    }
}

/// Bytes as a Kubernetes quantity in MiB (rounded up).
fn quantity(name: &'static str, text: &str) -> Result<(u64, String), DeployError> {
    let b = brisk_core::bytes::parse_bytes(text)
        .filter(|&b| b >= 1 << 20)
        .ok_or_else(|| bad(name, text, "expected a size such as 4GB (at least 1 MiB)"))?;
    Ok((b, format!("{}Mi", b.div_ceil(1 << 20))))
}

/// The manifests, as one multi-document YAML text.
pub fn manifests(o: &KubernetesOptions) -> Result<String, DeployError> {
    let docs = objects(o)?;
    let mut out = String::from(
        "# Brisk cluster manifests (brisk kubernetes manifests); apply with kubectl apply -f.\n",
    );
    for d in &docs {
        out.push_str("---\n");
        out.push_str(&crate::yaml::to_yaml(d));
    }
    Ok(out)
}

/// The manifests as JSON values, in apply order.
pub fn objects(o: &KubernetesOptions) -> Result<Vec<Value>, DeployError> {
    check_name(&o.name)?;
    if o.image.trim().is_empty() || o.image.contains(char::is_whitespace) {
        return Err(bad(
            "image",
            o.image.clone(),
            "give the image, e.g. registry/brisk:1.0",
        ));
    }
    if o.cores == 0 || o.scheduler_cores == 0 {
        return Err(bad("cores", "0", "a pod needs at least one core"));
    }
    if let Some(p) = &o.image_pull_policy
        && !matches!(p.as_str(), "Always" | "IfNotPresent" | "Never")
    {
        return Err(bad(
            "image_pull_policy",
            p.clone(),
            "Always, IfNotPresent or Never",
        ));
    }
    if let Some(s) = &o.token_secret {
        check_name(s).map_err(|_| bad("token_secret", s.clone(), "not a valid Secret name"))?;
    }
    let (memory_bytes, memory) = quantity("memory", &o.memory)?;
    let (_, scheduler_memory) = quantity("scheduler_memory", &o.scheduler_memory)?;
    let name = &o.name;
    let scheduler = format!("{name}-scheduler");
    let secret = o
        .token_secret
        .clone()
        .unwrap_or_else(|| format!("{name}-token"));
    let address = format!("tcp://{scheduler}:{SCHEDULER_PORT}");
    let labels = |component: &str| {
        json!({
            "app.kubernetes.io/name": "brisk",
            "app.kubernetes.io/instance": name,
            "app.kubernetes.io/component": component,
        })
    };
    let metadata = |object: &str, component: &str| {
        let mut m = json!({"name": object, "labels": labels(component)});
        if let Some(ns) = &o.namespace {
            m["namespace"] = json!(ns);
        }
        m
    };
    let token_env = json!({
        "name": "BRISK_TOKEN",
        "valueFrom": {"secretKeyRef": {"name": secret, "key": "token"}},
    });
    let field = |env: &str, path: &str| json!({"name": env, "valueFrom": {"fieldRef": {"fieldPath": path}}});
    let resources = |cores: usize, mem: &str| {
        json!({
            "requests": {"cpu": cores.to_string(), "memory": mem},
            "limits": {"cpu": cores.to_string(), "memory": mem},
        })
    };
    let container = |cname: &str, command: Vec<String>, env: Vec<Value>, ports: Value| {
        let mut c = json!({
            "name": cname,
            "image": o.image,
            "command": command,
            "env": env,
            "ports": ports,
        });
        if let Some(p) = &o.image_pull_policy {
            c["imagePullPolicy"] = json!(p);
        }
        c
    };

    let mut docs = Vec::new();
    if o.token_secret.is_none() {
        let token = o
            .token
            .clone()
            .unwrap_or_else(|| crate::env::fresh_token("k8s"));
        docs.push(json!({
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": metadata(&secret, "token"),
            "type": "Opaque",
            "stringData": {"token": token},
        }));
    }

    let health = json!({"httpGet": {"path": "/health", "port": "dashboard"}, "periodSeconds": 10});
    let mut sched = container(
        "scheduler",
        vec![
            o.brisk.clone(),
            "scheduler".into(),
            "--host".into(),
            "0.0.0.0".into(),
            "--port".into(),
            SCHEDULER_PORT.to_string(),
            "--dashboard-port".into(),
            DASHBOARD_PORT.to_string(),
            // A scheduler container that crashes is restarted in the same pod, whose emptyDir
            // survives: from its journal it gives the clients their work back.
            "--journal".into(),
            format!("{JOURNAL_DIR}/scheduler.journal"),
        ],
        vec![token_env.clone()],
        json!([
            {"name": "comm", "containerPort": SCHEDULER_PORT},
            {"name": "dashboard", "containerPort": DASHBOARD_PORT},
        ]),
    );
    sched["resources"] = resources(o.scheduler_cores, &scheduler_memory);
    sched["volumeMounts"] = json!([{"name": "journal", "mountPath": JOURNAL_DIR}]);
    sched["livenessProbe"] = health.clone();
    sched["readinessProbe"] = health;
    docs.push(json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata(&scheduler, "scheduler"),
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": labels("scheduler")},
            "template": {
                "metadata": {"labels": labels("scheduler")},
                "spec": {
                    "containers": [sched],
                    "volumes": [{"name": "journal", "emptyDir": {}}],
                },
            },
        },
    }));
    docs.push(json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": metadata(&scheduler, "scheduler"),
        "spec": {
            "selector": labels("scheduler"),
            "ports": [
                {"name": "comm", "port": SCHEDULER_PORT, "targetPort": "comm"},
                {"name": "dashboard", "port": DASHBOARD_PORT, "targetPort": "dashboard"},
            ],
        },
    }));

    // Workers: the pod's IP is where peers reach it; its name is the worker's.
    let mut env = vec![
        field("POD_IP", "status.podIP"),
        field("POD_NAME", "metadata.name"),
        token_env,
    ];
    let command = match &o.worker_program {
        None => vec![
            o.brisk.clone(),
            "worker".into(),
            address.clone(),
            "--name".into(),
            "$(POD_NAME)".into(),
            "--nthreads".into(),
            o.cores.to_string(),
            "--memory-limit".into(),
            memory_bytes.to_string(),
            "--listen-host".into(),
            "0.0.0.0".into(),
            "--listen-port".into(),
            WORKER_PORT.to_string(),
            "--contact-host".into(),
            "$(POD_IP)".into(),
        ],
        Some(program) => {
            let vars = [
                (crate::env::WORKER_OF, address.clone()),
                (crate::env::WORKER_NAME, "$(POD_NAME)".into()),
                (crate::env::WORKER_NTHREADS, o.cores.to_string()),
                (crate::env::WORKER_MEMORY_LIMIT, memory_bytes.to_string()),
                (brisk_protocol::ENV_WORKER_LISTEN_HOST, "0.0.0.0".into()),
                (
                    brisk_protocol::ENV_WORKER_LISTEN_PORT,
                    WORKER_PORT.to_string(),
                ),
                (brisk_protocol::ENV_WORKER_CONTACT_HOST, "$(POD_IP)".into()),
                (brisk_protocol::ENV_WORKER_DEATH_TIMEOUT, "60".into()),
            ];
            env.extend(vars.iter().map(|(k, v)| json!({"name": k, "value": v})));
            let mut c = vec![program.clone()];
            c.extend(o.worker_program_args.iter().cloned());
            c
        }
    };
    let mut worker = container(
        "worker",
        command,
        env,
        json!([{"name": "peer", "containerPort": WORKER_PORT}]),
    );
    worker["resources"] = resources(o.cores, &memory);
    worker["livenessProbe"] = json!({
        "tcpSocket": {"port": "peer"},
        "initialDelaySeconds": 10,
        "periodSeconds": 20,
    });
    docs.push(json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata(&format!("{name}-worker"), "worker"),
        "spec": {
            "replicas": o.workers,
            "selector": {"matchLabels": labels("worker")},
            "template": {
                "metadata": {"labels": labels("worker")},
                "spec": {
                    // SIGTERM retires the worker (its values move first); give it the time.
                    "terminationGracePeriodSeconds": o.termination_grace_seconds.max(35),
                    "containers": [worker],
                },
            },
        },
    }));
    Ok(docs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_and_their_wiring() {
        let mut o = KubernetesOptions::new("example.org/brisk:1");
        o.token = Some("t0k".into());
        let docs = objects(&o).expect("valid");
        let kinds: Vec<&str> = docs
            .iter()
            .map(|d| d["kind"].as_str().unwrap_or(""))
            .collect();
        assert_eq!(kinds, ["Secret", "Deployment", "Service", "Deployment"]);
        assert_eq!(docs[0]["stringData"]["token"], "t0k");
        let w = &docs[3]["spec"]["template"]["spec"]["containers"][0];
        let cmd: Vec<&str> = w["command"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap())
            .collect();
        assert_eq!(&cmd[..3], ["brisk", "worker", "tcp://brisk-scheduler:8786"]);
        assert!(cmd.contains(&"$(POD_IP)"));
        assert_eq!(w["resources"]["limits"]["memory"], "1908Mi");
        assert_eq!(docs[3]["spec"]["replicas"], 2);
        // The scheduler journals to a volume that outlives a container restart.
        let pod = &docs[1]["spec"]["template"]["spec"];
        let s = &pod["containers"][0];
        let scmd: Vec<&str> = s["command"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap())
            .collect();
        let j = scmd
            .iter()
            .position(|c| *c == "--journal")
            .expect("--journal");
        assert!(scmd[j + 1].starts_with(&format!(
            "{}/",
            s["volumeMounts"][0]["mountPath"].as_str().unwrap()
        )));
        assert_eq!(pod["volumes"][0]["name"], s["volumeMounts"][0]["name"]);
        assert!(pod["volumes"][0]["emptyDir"].is_object());
        // An existing Secret: none written, and it is the one referenced.
        o.token_secret = Some("mine".into());
        let docs = objects(&o).expect("valid");
        assert_eq!(docs.len(), 3);
        assert_eq!(
            docs[0]["spec"]["template"]["spec"]["containers"][0]["env"][0]["valueFrom"]["secretKeyRef"]
                ["name"],
            "mine"
        );
    }

    #[test]
    fn bad_options_name_themselves() {
        for (f, what) in [
            (
                Box::new(|o: &mut KubernetesOptions| o.name = "Brisk".into())
                    as Box<dyn Fn(&mut KubernetesOptions)>,
                "name",
            ),
            (
                Box::new(|o: &mut KubernetesOptions| o.image = String::new()),
                "image",
            ),
            (
                Box::new(|o: &mut KubernetesOptions| o.memory = "lots".into()),
                "memory",
            ),
            (Box::new(|o: &mut KubernetesOptions| o.cores = 0), "cores"),
            (
                Box::new(|o: &mut KubernetesOptions| {
                    o.image_pull_policy = Some("Sometimes".into())
                }),
                "image_pull_policy",
            ),
        ] {
            let mut o = KubernetesOptions::new("img");
            f(&mut o);
            let e = objects(&o).expect_err(what).to_string();
            assert!(e.contains(what), "{what}: {e}");
        }
    }
}
