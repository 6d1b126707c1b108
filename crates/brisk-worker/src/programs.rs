//! Running tasks of programs this worker was not built with.
//!
//! A client that called `Client::upload_executable()` stored its own executable at the
//! scheduler and tags its tasks with the program's hash (`brisk_protocol::executable`). When
//! this worker cannot decode such a task (a function, or a literal's type, it does not know),
//! [`Programs::run`] runs it in that program:
//!
//! 1. **Fetch once, cache by hash.** The program is downloaded from the scheduler in chunks
//!    over a short-lived client connection (with the worker's credentials), written to a
//!    private directory (`<local directory>/brisk-programs`, mode 0700) under its hash, and
//!    its content is checked against the hash every time an executor starts from it, so a
//!    planted or truncated file is never run.
//! 2. **One executor per program.** The program runs with `BRISK_EXECUTOR=1`: its
//!    `main_if_worker()` turns it into a task executor ([`crate::executor`]) reading tasks on
//!    standard input and writing results on standard output, with as many threads as this
//!    worker. It says hello first with its wire protocol version; a program built against
//!    another protocol is refused with both versions named.
//! 3. **Values stay encoded where this worker cannot read them.** Inputs go to the executor
//!    encoded (an input of the user's own type is an `Opaque` here and goes back as its
//!    original bytes); a result of a type this worker has no codec for is stored as an
//!    `Opaque`, which other workers, executors and the client receive unchanged.
//!
//! An executor that dies fails the tasks it was running with an error naming the program and
//! how it ended; the next task starts a new one. Executors exit when this worker does (their
//! standard input closes).

use std::collections::HashMap;
use std::io::{BufReader, BufWriter};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use brisk_core::{Key, Value};
use brisk_protocol::conn::connect;
use brisk_protocol::executable::{
    CHUNK, ENV_EXECUTOR, ENV_EXECUTOR_THREADS, ExecReply, ExecRequest, hash_file, read_msg,
    write_msg,
};
use brisk_protocol::messages::{EncodedValue, FromClient, Role, ToClient};
use brisk_protocol::spec::{WireFailure, decode_value_or_opaque, encode_value};
use brisk_protocol::{Address, PROTOCOL_VERSION, Payload, Security};
use parking_lot::Mutex;

/// Programs kept in a machine's cache.
const CACHED: usize = 4;

/// How long a download or an executor's hello may take.
const PATIENCE: Duration = Duration::from_secs(120);

/// The programs of one worker.
pub(crate) struct Programs {
    scheduler: String,
    security: Security,
    dir: PathBuf,
    threads: usize,
    running: Mutex<HashMap<String, Arc<Executor>>>,
    fetching: Mutex<()>,
}

fn fail(message: impl Into<String>) -> WireFailure {
    WireFailure::msg("error", message)
}

impl Programs {
    pub(crate) fn new(scheduler: &str, security: Security, base: &Path, threads: usize) -> Self {
        Programs {
            scheduler: scheduler.to_string(),
            security,
            dir: base.join("brisk-programs"),
            threads: threads.max(1),
            running: Mutex::new(HashMap::new()),
            fetching: Mutex::new(()),
        }
    }

    /// Run task `key` (its encoded `spec`) in program `h` with `inputs`.
    pub(crate) fn run(
        &self,
        h: &str,
        key: &Key,
        spec: &[u8],
        inputs: &[Value],
    ) -> Result<Value, WireFailure> {
        let exec = self.executor(h).map_err(|m| {
            fail(format!(
                "task {key} needs a function of the client's program {h}, which this worker \
                 cannot run: {m}"
            ))
        })?;
        let mut encoded = Vec::with_capacity(inputs.len());
        for v in inputs {
            encoded.push(
                encode_value(v)
                    .map_err(|e| fail(format!("an input of task {key} cannot travel: {e}")))?,
            );
        }
        let value = exec.call(key, spec, encoded)?;
        decode_value_or_opaque(&value)
            .map_err(|e| fail(format!("the result of task {key} from program {h}: {e}")))
    }

    fn executor(&self, h: &str) -> Result<Arc<Executor>, String> {
        if let Some(e) = self.running.lock().get(h)
            && e.dead.lock().is_none()
        {
            return Ok(Arc::clone(e));
        }
        let _one = self.fetching.lock();
        if let Some(e) = self.running.lock().get(h)
            && e.dead.lock().is_none()
        {
            return Ok(Arc::clone(e));
        }
        let path = self.fetch(h)?;
        let e = Arc::new(Executor::start(&path, h, self.threads)?);
        self.running.lock().insert(h.to_string(), Arc::clone(&e));
        Ok(e)
    }

    /// The program's file, downloaded if need be, its content checked.
    fn fetch(&self, h: &str) -> Result<PathBuf, String> {
        if !brisk_protocol::executable::is_hash(h) {
            return Err(format!("{h:?} is not a program hash"));
        }
        make_private_dir(&self.dir)?;
        let path = self.dir.join(h);
        if path.exists() {
            if hash_file(&path).is_ok_and(|got| got == h) {
                // Used now: the cache evicts the least recently used.
                if let Ok(f) = std::fs::File::options().append(true).open(&path) {
                    let _ = f.set_modified(std::time::SystemTime::now());
                }
                return Ok(path);
            }
            tracing::warn!(program = %h, "a cached program has another content; fetching it again");
        }
        let tmp = self.dir.join(format!("{h}.{}.tmp", std::process::id()));
        let size = self.download(h, &tmp).inspect_err(|_| {
            let _ = std::fs::remove_file(&tmp);
        })?;
        if !hash_file(&tmp).is_ok_and(|got| got == h) {
            let _ = std::fs::remove_file(&tmp);
            return Err(format!(
                "the scheduler sent another content for program {h}"
            ));
        }
        std::fs::rename(&tmp, &path)
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        tracing::info!(program = %h, bytes = size, "fetched a client's program");
        self.evict(h);
        Ok(path)
    }

    /// Keep at most [`CACHED`] programs in the cache (shared by the workers of a machine):
    /// the least recently used go, never one this worker runs or the one just fetched.
    fn evict(&self, keep: &str) {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return;
        };
        let running: Vec<String> = self.running.lock().keys().cloned().collect();
        let mut files: Vec<(std::time::SystemTime, PathBuf)> = entries
            .flatten()
            .filter_map(|e| {
                let name = e.file_name().to_str()?.to_string();
                if !brisk_protocol::executable::is_hash(&name)
                    || name == keep
                    || running.contains(&name)
                {
                    return None;
                }
                Some((e.metadata().ok()?.modified().ok()?, e.path()))
            })
            .collect();
        files.sort();
        let extra = (files.len() + 1).saturating_sub(CACHED);
        for (_, p) in files.into_iter().take(extra) {
            let _ = std::fs::remove_file(p);
        }
    }

    /// Download program `h` into `file`, chunk by chunk; its size.
    fn download(&self, h: &str, file: &Path) -> Result<u64, String> {
        let mut out =
            open_executable(file).map_err(|e| format!("cannot write {}: {e}", file.display()))?;
        let address = Address::parse(&self.scheduler).map_err(|e| e.to_string())?;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        let name = format!("worker-{}-fetch", std::process::id());
        rt.block_on(async {
            let mut c = connect(&address, &self.security, Role::Client, &name)
                .await
                .map_err(|e| format!("cannot reach the scheduler for the program: {e}"))?;
            let mut done = 0u64;
            let mut total = u64::MAX;
            let mut request = 0u64;
            while done < total {
                request += 1;
                let ask = vec![FromClient::GetExecutable {
                    request,
                    hash: h.to_string(),
                    offset: done,
                    len: CHUNK as u64,
                }];
                c.writer.send_msg(&ask).await.map_err(|e| e.to_string())?;
                let (t, data) = tokio::time::timeout(PATIENCE, async {
                    loop {
                        let msgs: Vec<ToClient> =
                            c.reader.recv_msg().await.map_err(|e| e.to_string())?;
                        for m in msgs {
                            if let ToClient::Executable {
                                request: r,
                                total,
                                data,
                                error,
                                ..
                            } = m
                                && r == request
                            {
                                return match error {
                                    Some(e) => Err(e),
                                    None => Ok((total, data)),
                                };
                            }
                        }
                    }
                })
                .await
                .map_err(|_| "the scheduler did not send the program in time".to_string())??;
                if data.0.is_empty() {
                    return Err(format!("the scheduler sent {done} of {t} bytes"));
                }
                total = t;
                std::io::Write::write_all(&mut out, &data.0)
                    .map_err(|e| format!("cannot write {}: {e}", file.display()))?;
                done += data.0.len() as u64;
            }
            out.sync_all().map_err(|e| e.to_string())?;
            Ok(done)
        })
    }
}

impl Drop for Programs {
    fn drop(&mut self) {
        for (_, e) in self.running.lock().drain() {
            e.stop();
        }
    }
}

fn make_private_dir(dir: &Path) -> Result<(), String> {
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        b.mode(0o700);
    }
    b.create(dir)
        .map_err(|e| format!("cannot create {}: {e}", dir.display()))
}

/// A new executable file, readable and runnable only by this user.
fn open_executable(path: &Path) -> std::io::Result<std::fs::File> {
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o700);
    }
    o.open(path)
}

type Pending = HashMap<u64, std::sync::mpsc::SyncSender<Result<EncodedValue, WireFailure>>>;

/// A program running as this worker's task executor.
struct Executor {
    program: String,
    stdin: Mutex<Option<BufWriter<ChildStdin>>>,
    pending: Arc<Mutex<Pending>>,
    dead: Arc<Mutex<Option<String>>>,
    child: Arc<Mutex<Child>>,
    next: AtomicU64,
}

impl Executor {
    fn start(path: &Path, h: &str, threads: usize) -> Result<Executor, String> {
        let mut child = Command::new(path)
            .env(ENV_EXECUTOR, "1")
            .env(ENV_EXECUTOR_THREADS, threads.to_string())
            .env_remove(brisk_protocol::ENV_WORKER_OF)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("cannot start it: {e}"))?;
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            let _ = child.kill();
            return Err("no pipes to it".into());
        };
        let child = Arc::new(Mutex::new(child));
        let ended = |child: &Arc<Mutex<Child>>| -> String {
            let mut c = child.lock();
            let _ = c.kill();
            match c.wait() {
                Ok(st) => format!("it exited ({st})"),
                Err(e) => format!("it ended ({e})"),
            }
        };
        // The hello, read on the thread that then serves replies.
        let (hello_tx, hello_rx) = std::sync::mpsc::channel::<Result<(String, u32), String>>();
        let pending: Arc<Mutex<Pending>> = Arc::new(Mutex::new(HashMap::new()));
        let dead: Arc<Mutex<Option<String>>> = Arc::new(Mutex::new(None));
        {
            let pending = Arc::clone(&pending);
            let dead = Arc::clone(&dead);
            let child = Arc::clone(&child);
            let program = h.to_string();
            std::thread::Builder::new()
                .name(format!("brisk-program-{}", &h[..8.min(h.len())]))
                .spawn(move || {
                    let mut r = BufReader::new(stdout);
                    let first = match read_msg::<_, ExecReply>(&mut r) {
                        Ok(ExecReply::Hello { brisk, protocol }) => Ok((brisk, protocol)),
                        Ok(_) => Err("it did not say hello first".to_string()),
                        Err(e) => Err(format!(
                            "it did not start as a task executor ({e}): does its `main` call \
                             `brisk::worker::main_if_worker()` first?"
                        )),
                    };
                    let ok = first.is_ok();
                    let _ = hello_tx.send(first);
                    let why = if ok {
                        loop {
                            match read_msg::<_, ExecReply>(&mut r) {
                                Ok(ExecReply::Done { id, value }) => {
                                    if let Some(tx) = pending.lock().remove(&id) {
                                        let _ = tx.send(Ok(value));
                                    }
                                }
                                Ok(ExecReply::Failed { id, failure }) => {
                                    if let Some(tx) = pending.lock().remove(&id) {
                                        let _ = tx.send(Err(failure));
                                    }
                                }
                                Ok(ExecReply::Hello { .. }) => {}
                                Err(_) => break ended(&child),
                            }
                        }
                    } else {
                        ended(&child)
                    };
                    let message = format!("the client's program {program} stopped: {why}");
                    *dead.lock() = Some(message.clone());
                    for (_, tx) in pending.lock().drain() {
                        let _ = tx.send(Err(fail(message.clone())));
                    }
                })
                .map_err(|e| format!("cannot start a thread: {e}"))?;
        }
        match hello_rx.recv_timeout(PATIENCE) {
            Ok(Ok((brisk, protocol))) if protocol == PROTOCOL_VERSION => {
                tracing::info!(program = %h, brisk = %brisk, "started a client's program as a task executor");
            }
            Ok(Ok((brisk, protocol))) => {
                let _ = child.lock().kill();
                return Err(format!(
                    "it was built with brisk {brisk} (wire protocol {protocol}); this worker runs \
                     brisk {} (wire protocol {PROTOCOL_VERSION}): build your program against the \
                     cluster's brisk, or run workers of yours",
                    env!("CARGO_PKG_VERSION")
                ));
            }
            Ok(Err(e)) => return Err(e),
            Err(_) => {
                let _ = child.lock().kill();
                return Err("it did not say hello in time".into());
            }
        }
        Ok(Executor {
            program: h.to_string(),
            stdin: Mutex::new(Some(BufWriter::new(stdin))),
            pending,
            dead,
            child,
            next: AtomicU64::new(1),
        })
    }

    fn call(
        &self,
        key: &Key,
        spec: &[u8],
        inputs: Vec<EncodedValue>,
    ) -> Result<EncodedValue, WireFailure> {
        if let Some(d) = self.dead.lock().clone() {
            return Err(fail(d));
        }
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.pending.lock().insert(id, tx);
        let req = ExecRequest::Run {
            id,
            key: key.clone(),
            spec: Payload::from(spec.to_vec()),
            inputs,
        };
        let sent = match self.stdin.lock().as_mut() {
            Some(w) => write_msg(w, &req).map_err(|e| e.to_string()),
            None => Err("stopped".into()),
        };
        if let Err(e) = sent {
            self.pending.lock().remove(&id);
            return Err(fail(format!(
                "cannot send task {key} to the client's program {}: {e}",
                self.program
            )));
        }
        match rx.recv() {
            Ok(r) => r,
            Err(_) => Err(fail(self.dead.lock().clone().unwrap_or_else(|| {
                format!("the client's program {} stopped", self.program)
            }))),
        }
    }

    /// Close its input (it exits when its tasks are done) and reap it, killing it if need be.
    fn stop(&self) {
        self.stdin.lock().take();
        let mut c = self.child.lock();
        for _ in 0..50 {
            if let Ok(Some(_)) = c.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = c.kill();
        let _ = c.wait();
    }
}
