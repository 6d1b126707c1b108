//! Addresses: `tcp://host:port`, `tls://host:port`, or plain `host:port` (TCP).

use std::fmt;

use crate::error::ProtocolError;

/// How to reach an address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// Plain TCP.
    Tcp,
    /// TCP with TLS.
    Tls,
}

/// A parsed address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    /// TCP or TLS.
    pub scheme: Scheme,
    /// Host name or IP.
    pub host: String,
    /// Port.
    pub port: u16,
}

impl Address {
    /// Parse `tcp://host:port`, `tls://host:port` or `host:port`.
    ///
    /// ```
    /// use brisk_protocol::{Address, Scheme};
    /// let a = Address::parse("tls://10.0.0.1:8786").unwrap();
    /// assert_eq!((a.scheme, a.host.as_str(), a.port), (Scheme::Tls, "10.0.0.1", 8786));
    /// assert_eq!(Address::parse("localhost:1").unwrap().to_string(), "tcp://localhost:1");
    /// assert!(Address::parse("udp://x:1").is_err());
    /// ```
    pub fn parse(text: &str) -> Result<Address, ProtocolError> {
        let bad = |reason| ProtocolError::BadAddress {
            address: text.to_string(),
            reason,
        };
        let t = text.trim();
        let (scheme, rest) = match t.split_once("://") {
            Some(("tcp", r)) => (Scheme::Tcp, r),
            Some(("tls", r)) => (Scheme::Tls, r),
            Some(_) => return Err(bad("the scheme must be tcp:// or tls://")),
            None => (Scheme::Tcp, t),
        };
        let (host, port) = rest
            .rsplit_once(':')
            .ok_or_else(|| bad("expected host:port, for example tcp://127.0.0.1:8786"))?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() {
            return Err(bad("the host is empty"));
        }
        let port = port
            .trim_end_matches('/')
            .parse::<u16>()
            .map_err(|_| bad("the port must be a number from 0 to 65535"))?;
        Ok(Address {
            scheme,
            host: host.to_string(),
            port,
        })
    }

    /// `host:port` for connecting a socket.
    pub fn host_port(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self.scheme {
            Scheme::Tcp => "tcp",
            Scheme::Tls => "tls",
        };
        write!(f, "{s}://{}", self.host_port())
    }
}
