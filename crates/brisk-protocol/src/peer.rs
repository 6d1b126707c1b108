//! Fetching values from workers: the peer protocol's client side, with a small pool of open
//! connections per worker (used by workers for their inputs and by clients to gather).

use std::collections::HashMap;

use brisk_core::Key;

use crate::addr::Address;
use crate::conn::{Connection, connect};
use crate::error::ProtocolError;
use crate::messages::{EncodedValue, PeerReply, PeerRequest, Role};
use crate::security::Security;

/// Open connections to workers, reused between requests.
pub struct PeerPool {
    security: Security,
    name: String,
    idle: tokio::sync::Mutex<HashMap<String, Vec<Connection>>>,
}

impl PeerPool {
    /// A pool that connects with `security`, naming itself `name`.
    pub fn new(security: Security, name: impl Into<String>) -> Self {
        PeerPool {
            security,
            name: name.into(),
            idle: tokio::sync::Mutex::new(HashMap::new()),
        }
    }

    /// The credentials this pool connects with.
    pub fn security(&self) -> &Security {
        &self.security
    }

    /// Ask the worker at `address` for `keys`; each key gets its value or `None` (not held
    /// there).
    pub async fn get_data(
        &self,
        address: &str,
        keys: Vec<Key>,
    ) -> Result<Vec<(Key, Option<EncodedValue>)>, ProtocolError> {
        let conn = self.idle.lock().await.get_mut(address).and_then(Vec::pop);
        let mut conn = match conn {
            Some(c) => c,
            None => {
                let a = Address::parse(address)?;
                connect(&a, &self.security, Role::Peer, &self.name).await?
            }
        };
        conn.writer
            .send_msg(&vec![PeerRequest::GetData { keys }])
            .await?;
        let reply: PeerReply = conn.reader.recv_msg().await?;
        let items = match reply {
            PeerReply::Data { items } => items,
            PeerReply::Error { key, message } => {
                return Err(ProtocolError::Malformed {
                    message: format!("{address} could not send {key}: {message}"),
                });
            }
        };
        let mut idle = self.idle.lock().await;
        let v = idle.entry(address.to_string()).or_default();
        if v.len() < 4 {
            v.push(conn);
        }
        Ok(items)
    }

    /// Close every idle connection to `address`.
    pub async fn forget(&self, address: &str) {
        self.idle.lock().await.remove(address);
    }
}
