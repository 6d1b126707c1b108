//! Programs that travel to stock workers: a client uploads its own executable to the
//! scheduler (content-addressed by hash, in chunks), tags the tasks it sends with that hash,
//! and a stock `brisk worker` that meets a function it does not know fetches the program once,
//! caches it by hash, and runs the task in it (the program's `main_if_worker()` turns it into
//! a task executor when `BRISK_EXECUTOR=1`). Like Dask's `upload_file`, for compiled code.
//!
//! This module holds what client, scheduler, worker and executor share: the hash, the chunk
//! size, and the pipe protocol between a worker and its executor (length-prefixed MessagePack on the child's
//! standard input and output).

use std::io::{Read, Write};

use brisk_core::Key;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::Payload;
use crate::messages::EncodedValue;
use crate::spec::WireFailure;

/// Set to `1` in the environment of a program a worker starts as its task executor.
pub const ENV_EXECUTOR: &str = "BRISK_EXECUTOR";
/// The executor's thread count.
pub const ENV_EXECUTOR_THREADS: &str = "BRISK_EXECUTOR_THREADS";

/// Upload and download chunk size.
pub const CHUNK: usize = 4 << 20;

/// The largest program a scheduler accepts.
pub const MAX_SIZE: u64 = 4 << 30;

/// The content hash of a program (SHA-256, first 128 bits, hex).
pub fn hash(bytes: &[u8]) -> String {
    let d = Sha256::digest(bytes);
    d[..16].iter().map(|b| format!("{b:02x}")).collect()
}

/// The [`hash`] of a file's content, read in chunks (programs are hundreds of MB).
pub fn hash_file(path: &std::path::Path) -> std::io::Result<String> {
    let mut f = std::fs::File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(h.finalize()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// Whether `text` looks like a [`hash`] (so it can name a file safely).
pub fn is_hash(text: &str) -> bool {
    text.len() == 32
        && text
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

/// Worker → executor.
#[derive(Debug, Serialize, Deserialize)]
pub enum ExecRequest {
    /// Run a task: its encoded spec and its inputs, in order.
    Run {
        /// Matches the reply.
        id: u64,
        /// The task.
        key: Key,
        /// The encoded task (`spec::encode_task`).
        spec: Payload,
        /// Its inputs.
        inputs: Vec<EncodedValue>,
    },
}

/// Executor → worker.
#[derive(Debug, Serialize, Deserialize)]
pub enum ExecReply {
    /// First message: who it is.
    Hello {
        /// The brisk version it was built with.
        brisk: String,
        /// Its wire protocol version.
        protocol: u32,
    },
    /// A task's result.
    Done {
        /// The request.
        id: u64,
        /// The value.
        value: EncodedValue,
    },
    /// A task failed.
    Failed {
        /// The request.
        id: u64,
        /// Why.
        failure: WireFailure,
    },
}

/// Write one message: a little-endian `u32` length, then MessagePack.
pub fn write_msg<W: Write, T: Serialize>(w: &mut W, msg: &T) -> std::io::Result<()> {
    let body = rmp_serde::to_vec(msg).map_err(std::io::Error::other)?;
    let len = u32::try_from(body.len())
        .map_err(|_| std::io::Error::other("an executor message over 4 GiB"))?;
    w.write_all(&len.to_le_bytes())?;
    w.write_all(&body)?;
    w.flush()
}

/// Read one message written by [`write_msg`].
pub fn read_msg<R: Read, T: DeserializeOwned>(r: &mut R) -> std::io::Result<T> {
    let mut len = [0u8; 4];
    r.read_exact(&mut len)?;
    let mut body = vec![0u8; u32::from_le_bytes(len) as usize];
    r.read_exact(&mut body)?;
    rmp_serde::from_slice(&body).map_err(std::io::Error::other)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_and_pipe_messages() {
        let h = hash(b"program");
        assert!(is_hash(&h), "{h}");
        assert_ne!(h, hash(b"programs"));
        assert!(!is_hash("../../etc/passwd"));
        let dir = std::env::temp_dir().join(format!("brisk-hash-test-{}", std::process::id()));
        std::fs::write(&dir, b"program").expect("write");
        assert_eq!(hash_file(&dir).expect("read"), h);
        let _ = std::fs::remove_file(&dir);
        let mut buf = Vec::new();
        write_msg(
            &mut buf,
            &ExecReply::Hello {
                brisk: "1".into(),
                protocol: 5,
            },
        )
        .expect("write");
        let back: ExecReply = read_msg(&mut buf.as_slice()).expect("read");
        assert!(matches!(back, ExecReply::Hello { protocol: 5, .. }));
        // A cut message is an error, not a hang or a panic.
        let mut cut = &buf[..buf.len() - 1];
        assert!(read_msg::<_, ExecReply>(&mut cut).is_err());
    }
}
