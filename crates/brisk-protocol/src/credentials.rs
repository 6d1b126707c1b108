//! Credentials on disk and the "secure by default" rule.
//!
//! A cluster that listens only on the loopback interface is reachable only from this machine,
//! so it may run without a credential (like a Jupyter server's port before it had tokens). A
//! cluster that listens on any other address needs a token or TLS: `brisk scheduler` makes a
//! token and saves it to a file only its user can read (the way Jupyter does), and every other
//! listener refuses with a message that says how ([`check_listen`]).
//!
//! Tokens are 32 random bytes from the operating system, written as 64 hex digits. Token files
//! hold the token on one line; [`read_token_file`] trims whitespace and refuses empty files.
//! On Unix a new token file has mode 0600 inside a directory of mode 0700 when it makes one.

use std::io::Write;
use std::net::ToSocketAddrs;
use std::path::{Path, PathBuf};

use crate::error::ProtocolError;
use crate::security::Security;

/// Environment variable with the path of a file that holds the shared token.
pub const ENV_TOKEN_FILE: &str = "BRISK_TOKEN_FILE";

/// A new random token (64 hex digits).
pub fn generate_token() -> Result<String, ProtocolError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| {
        ProtocolError::io(
            "cannot draw random bytes for a token",
            std::io::Error::other(e.to_string()),
        )
    })?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// The token in `path` (whitespace trimmed). Warns when others may read the file.
pub fn read_token_file(path: &Path) -> Result<String, ProtocolError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        ProtocolError::io(format!("cannot read the token file {}", path.display()), e)
    })?;
    let token = text.trim();
    if token.is_empty() {
        return Err(ProtocolError::SecurityMismatch {
            message: format!("the token file {} is empty", path.display()),
        });
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(m) = std::fs::metadata(path)
            && m.permissions().mode() & 0o077 != 0
        {
            tracing::warn!(
                file = %path.display(),
                "the token file is readable by other users; `chmod 600` it"
            );
        }
    }
    Ok(token.to_string())
}

/// Write `token` to `path`, readable and writable only by this user (a new directory is made
/// with mode 0700). An existing file is replaced.
pub fn write_token_file(path: &Path, token: &str) -> Result<(), ProtocolError> {
    let ctx = |what: &str| format!("cannot {what} the token file {}", path.display());
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
        && !dir.exists()
    {
        let mut b = std::fs::DirBuilder::new();
        b.recursive(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt;
            b.mode(0o700);
        }
        b.create(dir)
            .map_err(|e| ProtocolError::io(ctx("make the directory of"), e))?;
    }
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    let mut f = o
        .open(path)
        .map_err(|e| ProtocolError::io(ctx("create"), e))?;
    // An existing file keeps its mode on open: make it private before the token goes in.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        f.set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(|e| ProtocolError::io(ctx("restrict"), e))?;
    }
    f.write_all(format!("{token}\n").as_bytes())
        .map_err(|e| ProtocolError::io(ctx("write"), e))
}

/// Where `brisk scheduler` saves a token it made when not told where: `$BRISK_RUNTIME_DIR`, or
/// `$XDG_RUNTIME_DIR/brisk`, or `~/.brisk`, then `scheduler-<port>.token`.
pub fn default_token_path(port: u16) -> PathBuf {
    let var = |n: &str| std::env::var_os(n).filter(|v| !v.is_empty());
    let dir = var("BRISK_RUNTIME_DIR")
        .map(PathBuf::from)
        .or_else(|| var("XDG_RUNTIME_DIR").map(|d| PathBuf::from(d).join("brisk")))
        .or_else(|| var("HOME").map(|h| PathBuf::from(h).join(".brisk")))
        .unwrap_or_else(|| std::env::temp_dir().join("brisk"));
    dir.join(format!("scheduler-{port}.token"))
}

/// Whether `host` reaches only this machine: `localhost`, a loopback address, or a name that
/// resolves to loopback addresses only. The unspecified address (`0.0.0.0`, `::`) means every
/// interface, so it is not loopback.
pub fn is_loopback_host(host: &str) -> bool {
    let h = host.trim().trim_start_matches('[').trim_end_matches(']');
    if h.eq_ignore_ascii_case("localhost") {
        return true;
    }
    if let Ok(ip) = h.parse::<std::net::IpAddr>() {
        return ip.is_loopback();
    }
    match (h, 0u16).to_socket_addrs() {
        Ok(addrs) => {
            let addrs: Vec<_> = addrs.collect();
            !addrs.is_empty() && addrs.iter().all(|a| a.ip().is_loopback())
        }
        Err(_) => false,
    }
}

/// Refuse to listen on `host` when it is reachable from other machines and `security` has
/// neither a token nor TLS, unless `insecure` says the operator accepts that. `what` names the
/// listener in the message ("the scheduler", "the worker's peer port").
pub fn check_listen(
    what: &str,
    host: &str,
    security: &Security,
    insecure: bool,
) -> Result<(), ProtocolError> {
    if insecure || security.is_authenticated() || is_loopback_host(host) {
        return Ok(());
    }
    Err(ProtocolError::Insecure {
        what: what.to_string(),
        host: host.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_and_distinct() {
        let a = generate_token().unwrap();
        let b = generate_token().unwrap();
        assert_eq!(a.len(), 64);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }

    #[test]
    fn loopback_hosts() {
        for h in ["127.0.0.1", "127.0.0.2", "localhost", "::1", "[::1]"] {
            assert!(is_loopback_host(h), "{h}");
        }
        for h in [
            "0.0.0.0",
            "::",
            "10.0.0.1",
            "192.168.1.5",
            "no-such-host.invalid",
        ] {
            assert!(!is_loopback_host(h), "{h}");
        }
    }

    #[test]
    fn open_listeners_need_a_credential() {
        let none = Security::none();
        assert!(check_listen("x", "127.0.0.1", &none, false).is_ok());
        let err = check_listen("the scheduler", "0.0.0.0", &none, false).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("the scheduler") && text.contains("0.0.0.0"),
            "{text}"
        );
        assert!(
            text.contains("--token") && text.contains("--insecure"),
            "{text}"
        );
        assert!(check_listen("x", "0.0.0.0", &none, true).is_ok());
        let tok = Security::none().with_token(Some("t".into()));
        assert!(check_listen("x", "0.0.0.0", &tok, false).is_ok());
    }

    #[test]
    fn token_files_are_private_and_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("new").join("t.token");
        write_token_file(&path, "abc").unwrap();
        assert_eq!(read_token_file(&path).unwrap(), "abc");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
            let dmode = std::fs::metadata(path.parent().unwrap())
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(dmode & 0o777, 0o700);
        }
        std::fs::write(&path, "  \n").unwrap();
        let err = read_token_file(&path).unwrap_err();
        assert!(err.to_string().contains("empty"), "{err}");
        let err = read_token_file(&dir.path().join("missing")).unwrap_err();
        assert!(err.to_string().contains("missing"), "{err}");
    }
}
