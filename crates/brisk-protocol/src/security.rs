//! Security: TLS from certificate files (mutual: both sides present a certificate signed by
//! the cluster's CA) and a shared token checked in the handshake.
//!
//! Environment: `BRISK_TOKEN` (or `BRISK_TOKEN_FILE`, a file holding it), `BRISK_TLS_CA`,
//! `BRISK_TLS_CERT`, `BRISK_TLS_KEY`.
//!
//! The dashboard (HTTP) uses the same credential: [`Security::https_config`] serves it over TLS
//! with the member's certificate (asking browsers for a client certificate only when there is
//! no token to ask for instead).

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::error::ProtocolError;

/// The three PEM files of a TLS setup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// The CA certificate that signs every member's certificate.
    pub ca: PathBuf,
    /// This member's certificate (chain).
    pub cert: PathBuf,
    /// This member's private key.
    pub key: PathBuf,
}

/// How a process authenticates and encrypts its connections. Cheap to clone.
#[derive(Clone, Default)]
pub struct Security {
    /// The shared token (`None`: no token).
    pub token: Option<String>,
    /// TLS files (`None`: plain TCP).
    pub tls: Option<TlsFiles>,
    cache: Arc<Cache>,
}

#[derive(Default)]
struct Cache {
    server: OnceLock<Result<Arc<rustls::ServerConfig>, ProtocolError>>,
    client: OnceLock<Result<Arc<rustls::ClientConfig>, ProtocolError>>,
}

impl std::fmt::Debug for Security {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Security")
            .field("token", &self.token.as_ref().map(|_| "<hidden>"))
            .field("tls", &self.tls)
            .finish()
    }
}

impl Security {
    /// No token, no TLS.
    pub fn none() -> Self {
        Security::default()
    }

    /// With a shared token.
    pub fn with_token(mut self, token: Option<String>) -> Self {
        self.token = token.filter(|t| !t.is_empty());
        self.cache = Arc::default();
        self
    }

    /// With TLS files.
    pub fn with_tls(mut self, tls: Option<TlsFiles>) -> Self {
        self.tls = tls;
        self.cache = Arc::default();
        self
    }

    /// From `BRISK_TOKEN` (or the file named by `BRISK_TOKEN_FILE`) and `BRISK_TLS_CA` /
    /// `BRISK_TLS_CERT` / `BRISK_TLS_KEY` (all three, or none).
    pub fn from_env() -> Result<Self, ProtocolError> {
        let var = |n: &str| std::env::var(n).ok().filter(|v| !v.trim().is_empty());
        let tls = match (
            var("BRISK_TLS_CA"),
            var("BRISK_TLS_CERT"),
            var("BRISK_TLS_KEY"),
        ) {
            (None, None, None) => None,
            (Some(ca), Some(cert), Some(key)) => Some(TlsFiles {
                ca: ca.into(),
                cert: cert.into(),
                key: key.into(),
            }),
            _ => {
                return Err(ProtocolError::SecurityMismatch {
                    message: "set all three of BRISK_TLS_CA, BRISK_TLS_CERT and BRISK_TLS_KEY, \
                              or none"
                        .into(),
                });
            }
        };
        let token = match (
            var(crate::ENV_TOKEN),
            var(crate::credentials::ENV_TOKEN_FILE),
        ) {
            (Some(t), _) => Some(t),
            (None, Some(f)) => Some(crate::credentials::read_token_file(Path::new(&f))?),
            (None, None) => None,
        };
        Ok(Security::none().with_token(token).with_tls(tls))
    }

    /// Whether connections must present a credential (a token, or a certificate of the
    /// cluster's CA).
    pub fn is_authenticated(&self) -> bool {
        self.token.is_some() || self.tls.is_some()
    }

    /// The TLS setup of an HTTPS server (the dashboard) with this member's certificate, for
    /// HTTP/1.1. Browsers must present a certificate of the cluster's CA only when there is
    /// no token (then the certificate is the only credential).
    pub fn https_config(&self) -> Result<Arc<rustls::ServerConfig>, ProtocolError> {
        let files = self.tls.as_ref().ok_or_else(no_tls)?;
        let builder = rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(tls_err("protocol versions"))?;
        let builder = if self.token.is_some() {
            builder.with_no_client_auth()
        } else {
            let roots = Arc::new(root_store(&files.ca)?);
            let verifier =
                rustls::server::WebPkiClientVerifier::builder_with_provider(roots, provider())
                    .build()
                    .map_err(tls_err("client verifier"))?;
            builder.with_client_cert_verifier(verifier)
        };
        let mut cfg = builder
            .with_single_cert(certs(&files.cert)?, key(&files.key)?)
            .map_err(tls_err("certificate and key"))?;
        cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(cfg))
    }

    /// Whether `given` matches the token (constant time; no token configured accepts all).
    pub fn token_ok(&self, given: Option<&str>) -> bool {
        match &self.token {
            None => true,
            Some(t) => {
                let g = given.unwrap_or("").as_bytes();
                let t = t.as_bytes();
                let mut diff = u8::from(g.len() != t.len());
                for (i, b) in t.iter().enumerate() {
                    diff |= b ^ g.get(i).copied().unwrap_or(0);
                }
                diff == 0
            }
        }
    }

    pub(crate) fn server_config(&self) -> Result<Arc<rustls::ServerConfig>, ProtocolError> {
        self.cache
            .server
            .get_or_init(|| {
                let files = self.tls.as_ref().ok_or_else(no_tls)?;
                let roots = Arc::new(root_store(&files.ca)?);
                let verifier =
                    rustls::server::WebPkiClientVerifier::builder_with_provider(roots, provider())
                        .build()
                        .map_err(tls_err("client verifier"))?;
                let cfg = rustls::ServerConfig::builder_with_provider(provider())
                    .with_safe_default_protocol_versions()
                    .map_err(tls_err("protocol versions"))?
                    .with_client_cert_verifier(verifier)
                    .with_single_cert(certs(&files.cert)?, key(&files.key)?)
                    .map_err(tls_err("certificate and key"))?;
                Ok(Arc::new(cfg))
            })
            .clone()
    }

    pub(crate) fn client_config(&self) -> Result<Arc<rustls::ClientConfig>, ProtocolError> {
        self.cache
            .client
            .get_or_init(|| {
                let files = self.tls.as_ref().ok_or_else(no_tls)?;
                let cfg = rustls::ClientConfig::builder_with_provider(provider())
                    .with_safe_default_protocol_versions()
                    .map_err(tls_err("protocol versions"))?
                    .with_root_certificates(root_store(&files.ca)?)
                    .with_client_auth_cert(certs(&files.cert)?, key(&files.key)?)
                    .map_err(tls_err("certificate and key"))?;
                Ok(Arc::new(cfg))
            })
            .clone()
    }
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn no_tls() -> ProtocolError {
    ProtocolError::SecurityMismatch {
        message: "a tls:// address needs TLS files (--tls-ca, --tls-cert, --tls-key or \
                  BRISK_TLS_CA, BRISK_TLS_CERT, BRISK_TLS_KEY)"
            .into(),
    }
}

fn tls_err<E: std::fmt::Display>(what: &'static str) -> impl Fn(E) -> ProtocolError {
    move |e| ProtocolError::Tls {
        message: format!("{what}: {e}"),
    }
}

fn certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, ProtocolError> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| ProtocolError::Tls {
            message: format!("cannot read certificates from {}: {e}", path.display()),
        })?;
    if certs.is_empty() {
        return Err(ProtocolError::Tls {
            message: format!("no certificate in {}", path.display()),
        });
    }
    Ok(certs)
}

fn key(path: &Path) -> Result<PrivateKeyDer<'static>, ProtocolError> {
    PrivateKeyDer::from_pem_file(path).map_err(|e| ProtocolError::Tls {
        message: format!("cannot read a private key from {}: {e}", path.display()),
    })
}

fn root_store(ca: &Path) -> Result<rustls::RootCertStore, ProtocolError> {
    let mut roots = rustls::RootCertStore::empty();
    for c in certs(ca)? {
        roots.add(c).map_err(|e| ProtocolError::Tls {
            message: format!("bad CA certificate in {}: {e}", ca.display()),
        })?;
    }
    Ok(roots)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_comparison() {
        let s = Security::none().with_token(Some("secret".into()));
        assert!(s.token_ok(Some("secret")));
        assert!(!s.token_ok(Some("secreT")));
        assert!(!s.token_ok(Some("secret2")));
        assert!(!s.token_ok(None));
        assert!(Security::none().token_ok(None));
    }

    #[test]
    fn missing_files_are_named() {
        let s = Security::none().with_tls(Some(TlsFiles {
            ca: "/nonexistent/ca.pem".into(),
            cert: "/nonexistent/cert.pem".into(),
            key: "/nonexistent/key.pem".into(),
        }));
        let err = s.client_config().unwrap_err();
        assert!(err.to_string().contains("/nonexistent/ca.pem"), "{err}");
    }
}
