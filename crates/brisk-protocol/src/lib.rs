//! # brisk-protocol: how Brisk's scheduler, workers and clients talk
//!
//! Everything the three distributed crates share, and nothing else (they never depend on each
//! other):
//!
//! - [`frame`]: length-framed messages. A message is one small control header (MessagePack of
//!   a batch of serde messages) plus any number of raw payload frames (encoded values, task
//!   specs), which travel as separate buffers: never re-encoded, never concatenated, sliced
//!   out of the receive buffer without a copy. Every length is checked against [`Limits`]
//!   before anything is allocated.
//! - [`Payload`]: a `Bytes` field of a message that travels as its own frame.
//! - [`messages`]: the serde messages between worker, scheduler, client and peers.
//! - [`conn`]: connections over TCP or TLS with a version handshake and a shared token; a
//!   wrong version, a bad token, or garbage bytes are a clear error on both sides.
//! - [`addr`] (`tcp://host:port`, `tls://host:port`), [`security`] (TLS files, tokens),
//!   [`credentials`] (token files, and the rule that only loopback listeners may go without one),
//!   [`spec`] (task specs and failures on the wire), [`launch`] (the seam that lets a client
//!   start a scheduler in its own process).
//!
//! ```
//! use brisk_protocol::{frame, messages::FromClient, Payload};
//! let msgs = vec![FromClient::Release { keys: vec!["x".into()] }];
//! let raw = frame::encode_message(&msgs).unwrap();
//! let mut wire = bytes::BytesMut::new();
//! frame::write_to_buf(&raw, &mut wire);
//! let mut dec = frame::FrameDecoder::new(frame::Limits::default());
//! let got = dec.decode(&mut wire).unwrap().unwrap();
//! let back: Vec<FromClient> = frame::decode_message(&got).unwrap();
//! assert!(matches!(&back[0], FromClient::Release { keys } if keys[0] == "x".into()));
//! # let _ = Payload::default();
//! ```

pub mod addr;
mod builtins;
pub mod conn;
pub mod credentials;
mod error;
pub mod executable;
pub mod frame;
pub mod inflight;
pub mod launch;
pub mod messages;
mod payload;
pub mod peer;
pub mod security;
pub mod spec;

pub use addr::{Address, Scheme};
pub use error::ProtocolError;
pub use frame::{Limits, RawMessage};
pub use messages::{ClientId, WorkerId};
pub use payload::Payload;
pub use security::Security;

/// The version of the wire protocol; both ends must agree.
pub const PROTOCOL_VERSION: u32 = 5;

/// The first four bytes each side sends on a connection.
pub const MAGIC: [u8; 4] = *b"BRSK";

/// Environment variable that turns a program into a worker of the scheduler at this address
/// (set by `Client::local` for its worker subprocesses, read by `main_if_worker`).
pub const ENV_WORKER_OF: &str = "BRISK_WORKER_OF";
/// Environment variable with the shared token of a cluster.
pub const ENV_TOKEN: &str = "BRISK_TOKEN";
/// Environment variable with the scheduler's address for a program a deployer runs
/// (`Client::from_env`).
pub const ENV_SCHEDULER_ADDRESS: &str = "BRISK_SCHEDULER_ADDRESS";
/// Environment variable with the worker's thread count for `main_if_worker`.
pub const ENV_WORKER_NTHREADS: &str = "BRISK_WORKER_NTHREADS";
/// Environment variable with the worker's name for `main_if_worker`.
pub const ENV_WORKER_NAME: &str = "BRISK_WORKER_NAME";
/// Environment variable with the worker's memory limit (`4GB`, bytes, …) for `main_if_worker`.
pub const ENV_WORKER_MEMORY_LIMIT: &str = "BRISK_WORKER_MEMORY_LIMIT";
/// Environment variable with the worker's spill directory for `main_if_worker`.
pub const ENV_WORKER_LOCAL_DIRECTORY: &str = "BRISK_WORKER_LOCAL_DIRECTORY";
/// Environment variable with the host a `main_if_worker` worker listens on for peers
/// (default `127.0.0.1`: a local cluster; deployers on several hosts set `0.0.0.0`).
pub const ENV_WORKER_LISTEN_HOST: &str = "BRISK_WORKER_LISTEN_HOST";
/// Environment variable with the port a `main_if_worker` worker listens on for peers
/// (default 0: any free port).
pub const ENV_WORKER_LISTEN_PORT: &str = "BRISK_WORKER_LISTEN_PORT";
/// Environment variable with the host others reach a `main_if_worker` worker at (default: the
/// address it uses to reach the scheduler).
pub const ENV_WORKER_CONTACT_HOST: &str = "BRISK_WORKER_CONTACT_HOST";
/// Environment variable with the seconds a `main_if_worker` worker keeps trying to reach a
/// lost scheduler (default 0: exit at once, as a local cluster's worker whose parent is gone).
pub const ENV_WORKER_DEATH_TIMEOUT: &str = "BRISK_WORKER_DEATH_TIMEOUT";
/// Environment variable with the seconds after which a `main_if_worker` worker retires
/// gracefully and exits (a batch job's walltime minus a margin; unset: no limit).
pub const ENV_WORKER_LIFETIME: &str = "BRISK_WORKER_LIFETIME";
/// Environment variable with the process id of the program that started a local cluster's
/// worker: the worker exits as soon as that process is gone (it does not wait to be killed,
/// nor for its reconnect timeout), so nothing outlives a program that exits without closing
/// its cluster.
pub const ENV_WORKER_PARENT: &str = "BRISK_WORKER_PARENT";

/// The registered name of the identity function (used to put known values into a cluster).
pub fn identity_function() -> &'static str {
    builtins::IDENTITY
}
