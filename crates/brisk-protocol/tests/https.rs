//! The dashboard's HTTPS setup ([`Security::https_config`]): with a token, browsers need no
//! certificate (the token is the credential); without one, a certificate of the cluster's CA is
//! the only credential, so it is required. Real TLS handshakes on 127.0.0.1.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::Arc;

use brisk_protocol::Security;
use brisk_protocol::security::TlsFiles;
use rustls_pki_types::{CertificateDer, PrivatePkcs8KeyDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

struct Member {
    files: TlsFiles,
    ca: CertificateDer<'static>,
    cert: CertificateDer<'static>,
    key: Vec<u8>,
}

fn member(dir: &Path) -> Member {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "https test CA");
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec!["127.0.0.1".to_string()])
        .unwrap()
        .signed_by(&key, &ca_cert, &ca_key)
        .unwrap();
    let files = TlsFiles {
        ca: dir.join("ca.pem"),
        cert: dir.join("cert.pem"),
        key: dir.join("key.pem"),
    };
    std::fs::write(&files.ca, ca_cert.pem()).unwrap();
    std::fs::write(&files.cert, cert.pem()).unwrap();
    std::fs::write(&files.key, key.serialize_pem()).unwrap();
    Member {
        files,
        ca: ca_cert.der().clone(),
        cert: cert.der().clone(),
        key: key.serialize_der(),
    }
}

/// Whether the server accepts a browser-like client, with or without a client certificate.
async fn accepted(security: &Security, m: &Member, with_cert: bool) -> bool {
    let server = tokio_rustls::TlsAcceptor::from(security.https_config().unwrap());
    let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = tcp.local_addr().unwrap();
    let srv = tokio::spawn(async move {
        let (s, _) = tcp.accept().await.unwrap();
        match server.accept(s).await {
            Ok(mut tls) => {
                let mut b = [0u8; 4];
                let ok = tls.read_exact(&mut b).await.is_ok() && &b == b"ping";
                let _ = tls.write_all(b"pong").await;
                let _ = tls.shutdown().await;
                ok
            }
            Err(_) => false,
        }
    });
    let mut roots = rustls::RootCertStore::empty();
    roots.add(m.ca.clone()).unwrap();
    let b = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots);
    let cfg = if with_cert {
        b.with_client_auth_cert(
            vec![m.cert.clone()],
            PrivatePkcs8KeyDer::from(m.key.clone()).into(),
        )
        .unwrap()
    } else {
        b.with_no_client_auth()
    };
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let client = tokio_rustls::TlsConnector::from(Arc::new(cfg))
        .connect(ServerName::try_from("127.0.0.1").unwrap(), tcp)
        .await;
    if let Ok(mut c) = client {
        let _ = c.write_all(b"ping").await;
        let mut b = [0u8; 4];
        let _ = c.read_exact(&mut b).await;
    }
    tokio::time::timeout(std::time::Duration::from_secs(10), srv)
        .await
        .unwrap()
        .unwrap()
}

#[test]
fn browsers_need_a_certificate_only_when_there_is_no_token() {
    let dir = tempfile::tempdir().unwrap();
    let m = member(dir.path());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let tls_only = Security::none().with_tls(Some(m.files.clone()));
    let with_token = tls_only.clone().with_token(Some("t".into()));
    rt.block_on(async {
        assert!(
            !accepted(&tls_only, &m, false).await,
            "no certificate, no token"
        );
        assert!(
            accepted(&tls_only, &m, true).await,
            "the cluster's certificate"
        );
        assert!(
            accepted(&with_token, &m, false).await,
            "the token is checked over HTTP"
        );
    });
    assert_eq!(
        with_token.https_config().unwrap().alpn_protocols,
        vec![b"http/1.1".to_vec()]
    );
    let err = Security::none().https_config().unwrap_err();
    assert!(err.to_string().contains("TLS files"), "{err}");
}
