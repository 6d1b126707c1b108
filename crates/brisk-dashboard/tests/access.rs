//! The dashboard behind the cluster's token, over plain HTTP and over TLS, on 127.0.0.1.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::Duration;

use brisk_dashboard::server::{Access, Running};
use brisk_dashboard::*;
use rustls_pki_types::{CertificateDer, PrivatePkcs8KeyDer, ServerName};

/// A source whose snapshot names a secret key and a worker address.
struct Secretive;

impl Source for Secretive {
    fn snapshot(&self, _since: u64) -> Snapshot {
        Snapshot {
            workers: vec![WorkerRow {
                name: "tcp://10.1.2.3:4567".into(),
                nthreads: 1,
                ..Default::default()
            }],
            stream: vec![TaskSpan {
                key: "('payroll-secret', 0)".into(),
                prefix: "payroll-secret".into(),
                worker: "tcp://10.1.2.3:4567".into(),
                thread: 0,
                start: 0.0,
                stop: 1.0,
                ok: true,
            }],
            cursor: 1,
            ..Default::default()
        }
    }
    fn task(&self, key: &str) -> Option<TaskDetail> {
        Some(TaskDetail {
            key: key.into(),
            state: "memory".into(),
            explanation: "payroll-secret is in memory".into(),
            ..Default::default()
        })
    }
    fn graph(&self, _max: usize) -> GraphView {
        GraphView {
            nodes: vec![GraphNode {
                key: "payroll-secret".into(),
                prefix: "payroll-secret".into(),
                state: "memory".into(),
            }],
            edges: vec![],
            truncated: false,
        }
    }
}

/// Status, headers and body of `GET path` with extra header lines, over any stream.
fn request(mut s: impl Read + Write, path: &str, headers: &[&str]) -> (u16, String, String) {
    let mut req = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n");
    for h in headers {
        req.push_str(h);
        req.push_str("\r\n");
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    let mut raw = Vec::new();
    // A TLS peer may close without close_notify after the body: keep what came.
    let _ = s.read_to_end(&mut raw);
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    (status, head.to_string(), body.to_string())
}

fn get(addr: std::net::SocketAddr, path: &str, headers: &[&str]) -> (u16, String, String) {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    request(s, path, headers)
}

const DATA_PATHS: [&str; 7] = [
    "/status",
    "/api/snapshot",
    "/api/task?key=x",
    "/api/graph",
    "/metrics",
    "/task?key=x",
    "/graph",
];

#[test]
fn the_token_guards_pages_and_api() {
    let dash = Running::start_with(
        "127.0.0.1:0",
        Arc::new(Secretive),
        Duration::from_millis(50),
        Access {
            token: Some("s3cret".into()),
            tls: None,
        },
    )
    .unwrap();
    let addr = dash.addr();
    // Nothing without the token, or with a wrong one: no key names, no worker addresses.
    for path in DATA_PATHS {
        for headers in [
            &[][..],
            &["Authorization: Bearer wrong"][..],
            &["Cookie: brisk-token-1=733363726574"][..],
        ] {
            let (code, _, body) = get(addr, path, headers);
            assert_eq!(code, 401, "{path} {headers:?}");
            assert!(
                !body.contains("payroll") && !body.contains("10.1.2.3"),
                "{body}"
            );
        }
    }
    // The event stream refuses too (it would otherwise never end).
    assert_eq!(get(addr, "/api/events", &[]).0, 401);
    // Liveness for process managers needs no token and tells nothing.
    let (code, _, body) = get(addr, "/health", &[]);
    assert_eq!((code, body.as_str()), (200, "ok"));
    assert_eq!(get(addr, "/status?token=wrong", &[]).0, 401);
    // Assets carry no data and stay public.
    assert_eq!(get(addr, "/static/app.js", &[]).0, 200);
    // A header works (scripts, Prometheus).
    for h in [
        "Authorization: Bearer s3cret",
        "Authorization: token s3cret",
    ] {
        let (code, _, body) = get(addr, "/api/snapshot", &[h]);
        assert_eq!(code, 200, "{h}");
        assert!(body.contains("payroll-secret"));
    }
    // The ?token= link sets a cookie and redirects to the page without the token.
    let (code, head, _) = get(addr, "/task?key=x&token=s3cret", &[]);
    assert_eq!(code, 303, "{head}");
    let lower = head.to_ascii_lowercase();
    assert!(lower.contains("location: /task?key=x\r\n"), "{head}");
    let cookie = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .starts_with("set-cookie:")
                .then(|| l["set-cookie:".len()..].trim().to_string())
        })
        .expect("a cookie");
    assert!(
        cookie.contains("HttpOnly") && !cookie.contains("s3cret"),
        "{cookie}"
    );
    let pair = cookie.split(';').next().unwrap();
    for path in DATA_PATHS {
        let (code, _, body) = get(addr, path, &[&format!("Cookie: {pair}")]);
        assert_eq!(code, 200, "{path}");
        if path.starts_with("/api") {
            assert!(body.contains("payroll-secret"), "{path}: {body}");
        }
    }
}

struct Certs {
    ca: CertificateDer<'static>,
    server: Arc<rustls::ServerConfig>,
}

fn certs() -> Certs {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "dashboard test CA");
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec!["127.0.0.1".to_string()])
        .unwrap()
        .signed_by(&key, &ca_cert, &ca_key)
        .unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut server = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.der().clone()],
            PrivatePkcs8KeyDer::from(key.serialize_der()).into(),
        )
        .unwrap();
    server.alpn_protocols = vec![b"http/1.1".to_vec()];
    Certs {
        ca: ca_cert.der().clone(),
        server: Arc::new(server),
    }
}

fn https_get(
    addr: std::net::SocketAddr,
    ca: &CertificateDer<'static>,
    path: &str,
    headers: &[&str],
) -> (u16, String, String) {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca.clone()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let conn =
        rustls::ClientConnection::new(Arc::new(cfg), ServerName::try_from("127.0.0.1").unwrap())
            .unwrap();
    let tcp = TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    request(rustls::StreamOwned::new(conn, tcp), path, headers)
}

#[test]
fn with_tls_it_serves_https_only() {
    let c = certs();
    let dash = Running::start_with(
        "127.0.0.1:0",
        Arc::new(Secretive),
        Duration::from_millis(50),
        Access {
            token: Some("s3cret".into()),
            tls: Some(c.server.clone()),
        },
    )
    .unwrap();
    assert!(
        dash.link().starts_with("https://127.0.0.1:"),
        "{}",
        dash.link()
    );
    let addr = dash.addr();
    // Plain HTTP gets no page (the TLS handshake fails and the connection closes).
    let (code, _, body) = get(addr, "/api/snapshot", &["Authorization: Bearer s3cret"]);
    assert_ne!(code, 200);
    assert!(!body.contains("payroll"));
    // HTTPS with the token works; without it, 401.
    let (code, _, body) = https_get(
        addr,
        &c.ca,
        "/api/snapshot",
        &["Authorization: Bearer s3cret"],
    );
    assert_eq!(code, 200, "{body}");
    assert!(body.contains("payroll-secret"));
    assert_eq!(https_get(addr, &c.ca, "/api/snapshot", &[]).0, 401);
    let (code, head, _) = https_get(addr, &c.ca, "/status?token=s3cret", &[]);
    assert_eq!(code, 303);
    assert!(head.contains("; Secure"), "{head}");
}
