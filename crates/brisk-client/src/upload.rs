//! `Client::upload_executable`: this program travels to the stock workers of a running
//! cluster, so that its own functions (`#[brisk::func]`, `register!`, its `data!` types) run
//! there without restarting the cluster — Dask's `upload_file` for compiled code.
//!
//! The executable is read, hashed (`brisk_protocol::executable::hash`) and sent to the
//! scheduler in 4 MiB chunks, each acknowledged, resuming where the scheduler's copy ends (a
//! second upload of the same build sends nothing). From then on every task this client sends
//! names the program; a worker that does not know a task's function fetches the program once,
//! checks its hash, and runs the task in it (see `brisk-worker`'s `programs.rs`). The program's
//! `main` must call `brisk::worker::main_if_worker()` first: that is where it becomes a task
//! executor instead of running the program.

use std::io::{Read, Seek, SeekFrom};
use std::sync::atomic::Ordering;
use std::time::Duration;

use brisk_protocol::Payload;
use brisk_protocol::executable::{CHUNK, MAX_SIZE, hash_file};
use brisk_protocol::messages::FromClient;
use tokio::sync::oneshot;

use crate::client::Client;
use brisk_core::Error;

use crate::error::ClientError;

fn upload_error(message: impl Into<String>) -> Error {
    ClientError::Upload {
        message: message.into(),
    }
    .into()
}

impl Client {
    /// Upload this program's executable to the cluster, so that stock `brisk worker`s run the
    /// functions it registers (its `main` must call `brisk::worker::main_if_worker()` first);
    /// returns the program's hash. Uploading the same build again sends nothing.
    pub fn upload_executable(&self) -> Result<String, Error> {
        if !brisk_protocol::launch::is_worker_capable() {
            return Err(upload_error(
                "workers run this program as their task executor, so its `main` must call \
                 `brisk::worker::main_if_worker()` first (otherwise each copy would run the \
                 program itself)",
            ));
        }
        let path = std::env::current_exe()
            .map_err(|e| upload_error(format!("cannot find this program's file: {e}")))?;
        let read_err =
            |e: std::io::Error| upload_error(format!("cannot read {}: {e}", path.display()));
        let total = std::fs::metadata(&path).map_err(read_err)?.len();
        if total > MAX_SIZE {
            return Err(upload_error(format!(
                "{} is {total} bytes; the scheduler takes programs of at most {MAX_SIZE}",
                path.display()
            )));
        }
        let h = hash_file(&path).map_err(read_err)?;
        let mut stored = self.put_chunk(&h, 0, total, Vec::new())?;
        let mut file = std::fs::File::open(&path).map_err(read_err)?;
        while stored < total {
            let len = (total - stored).min(CHUNK as u64) as usize;
            let mut chunk = vec![0u8; len];
            file.seek(SeekFrom::Start(stored)).map_err(read_err)?;
            file.read_exact(&mut chunk).map_err(read_err)?;
            let now = self.put_chunk(&h, stored, total, chunk)?;
            if now <= stored {
                return Err(upload_error(format!(
                    "the scheduler stored {now} of {total} bytes and no more"
                )));
            }
            stored = now;
        }
        *self.inner.program.lock() = Some(h.clone());
        tracing::info!(program = %h, bytes = total, "uploaded this program for the workers");
        Ok(h)
    }

    fn put_chunk(&self, h: &str, offset: u64, total: u64, data: Vec<u8>) -> Result<u64, Error> {
        let (tx, rx) = oneshot::channel();
        let request = self.inner.next.fetch_add(1, Ordering::Relaxed);
        self.inner.programs.lock().insert(request, tx);
        self.inner.send(vec![FromClient::PutExecutable {
            request,
            hash: h.to_string(),
            offset,
            total,
            data: Payload::from(data),
        }])?;
        self.inner.block_on(async {
            match tokio::time::timeout(Duration::from_secs(120), rx).await {
                Ok(Ok(Ok(stored))) => Ok(stored),
                Ok(Ok(Err(e))) => Err(upload_error(e)),
                _ => Err(self.inner.gone()),
            }
        })
    }
}
