//! Programs uploaded by clients for stock workers (see `brisk_protocol::executable`): stored
//! in a directory of the scheduler's own, content-addressed, and read back in chunks by the
//! workers that need them.
//!
//! Chunks of one program arrive in order; when the last is in, the content must hash to the
//! name it was uploaded under (a client cannot plant a program under another's hash), and only
//! then is the program served. Handled by the client connections' tasks, not by the
//! scheduler's state machine: it is file I/O, and no task state depends on it.

use std::collections::HashMap;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::PathBuf;

use brisk_protocol::Payload;
use brisk_protocol::executable::{CHUNK, MAX_SIZE, hash_file, is_hash};
use brisk_protocol::messages::{FromClient, ToClient};
use parking_lot::Mutex;

/// The programs of one scheduler.
pub(crate) struct Executables {
    dir: PathBuf,
    /// Uploads in progress: bytes stored so far and the announced size.
    partial: Mutex<HashMap<String, (u64, u64)>>,
    /// Complete programs and their sizes.
    done: Mutex<HashMap<String, u64>>,
}

impl Executables {
    pub(crate) fn new() -> Executables {
        sweep_dead_schedulers();
        let dir =
            std::env::temp_dir().join(format!("brisk-scheduler-{}-programs", std::process::id()));
        Executables {
            dir,
            partial: Mutex::new(HashMap::new()),
            done: Mutex::new(HashMap::new()),
        }
    }

    /// Store a chunk; bytes stored so far and the size.
    pub(crate) fn put(
        &self,
        h: &str,
        offset: u64,
        total: u64,
        data: &[u8],
    ) -> Result<(u64, u64), String> {
        if !is_hash(h) {
            return Err(format!("{h:?} is not a program hash"));
        }
        if let Some(&size) = self.done.lock().get(h) {
            return Ok((size, size));
        }
        if total == 0 || total > MAX_SIZE {
            return Err(format!("a program of {total} bytes (at most {MAX_SIZE})"));
        }
        let mut partial = self.partial.lock();
        let stored = partial.get(h).map_or(0, |p| p.0);
        if data.is_empty() && offset == 0 {
            return Ok((stored, total));
        }
        if offset != stored {
            return Err(format!(
                "program {h}: a chunk at byte {offset}, but {stored} bytes are stored (chunks go in order)"
            ));
        }
        if offset + data.len() as u64 > total || data.len() > CHUNK {
            return Err(format!("program {h}: a chunk past its size {total}"));
        }
        std::fs::create_dir_all(&self.dir)
            .map_err(|e| format!("cannot create {}: {e}", self.dir.display()))?;
        let part = self.dir.join(format!("{h}.part"));
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&part)
            .map_err(|e| format!("cannot write {}: {e}", part.display()))?;
        if offset == 0 {
            f.set_len(0).map_err(|e| e.to_string())?;
        }
        f.write_all(data)
            .map_err(|e| format!("cannot write {}: {e}", part.display()))?;
        let now = offset + data.len() as u64;
        if now < total {
            partial.insert(h.to_string(), (now, total));
            return Ok((now, total));
        }
        partial.remove(h);
        drop(f);
        let got = hash_file(&part).map_err(|e| e.to_string())?;
        if got != h {
            let _ = std::fs::remove_file(&part);
            return Err(format!(
                "the program uploaded as {h} has another content (hash {got})"
            ));
        }
        std::fs::rename(&part, self.dir.join(h)).map_err(|e| e.to_string())?;
        self.done.lock().insert(h.to_string(), total);
        tracing::info!(program = %h, bytes = total, "a client uploaded a program for the workers");
        Ok((total, total))
    }

    /// Read a chunk of a complete program: the size and the bytes.
    pub(crate) fn get(&self, h: &str, offset: u64, len: u64) -> Result<(u64, Vec<u8>), String> {
        let size = self
            .done
            .lock()
            .get(h)
            .copied()
            .ok_or_else(|| format!("no program {h} was uploaded to this scheduler"))?;
        let len = len.min(CHUNK as u64).min(size.saturating_sub(offset));
        let mut f = std::fs::File::open(self.dir.join(h)).map_err(|e| e.to_string())?;
        f.seek(SeekFrom::Start(offset)).map_err(|e| e.to_string())?;
        let mut buf = vec![0u8; len as usize];
        f.read_exact(&mut buf).map_err(|e| e.to_string())?;
        Ok((size, buf))
    }
}

/// Whether a client message is about programs (answered by the connection, not the state).
pub(crate) fn is_program_message(m: &FromClient) -> bool {
    matches!(
        m,
        FromClient::PutExecutable { .. } | FromClient::GetExecutable { .. }
    )
}

/// The answer to a program upload or download (see `executables.rs`).
pub(crate) fn program_reply(programs: &Executables, m: FromClient) -> ToClient {
    let (request, r) = match m {
        FromClient::PutExecutable {
            request,
            hash,
            offset,
            total,
            data,
        } => (
            request,
            programs
                .put(&hash, offset, total, &data.0)
                .map(|(stored, total)| (stored, total, Vec::new())),
        ),
        FromClient::GetExecutable {
            request,
            hash,
            offset,
            len,
        } => (
            request,
            programs
                .get(&hash, offset, len)
                .map(|(total, bytes)| (offset, total, bytes)),
        ),
        _ => (0, Err("not a program message".into())),
    };
    match r {
        Ok((offset, total, bytes)) => ToClient::Executable {
            request,
            offset,
            total,
            data: Payload::from(bytes),
            error: None,
        },
        Err(e) => ToClient::Executable {
            request,
            offset: 0,
            total: 0,
            data: Payload::default(),
            error: Some(e),
        },
    }
}

/// Remove the program directories of schedulers that died without cleaning up (`kill -9`):
/// each holds whole executables. A directory is another scheduler's while its process lives
/// (`/proc/<pid>`, Linux; elsewhere nothing is swept).
fn sweep_dead_schedulers() {
    if !std::path::Path::new("/proc/self").exists() {
        return;
    }
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let pid = name
            .to_str()
            .and_then(|n| n.strip_prefix("brisk-scheduler-"))
            .and_then(|r| r.strip_suffix("-programs"))
            .and_then(|p| p.parse::<u32>().ok());
        if let Some(pid) = pid
            && pid != std::process::id()
            && !std::path::Path::new(&format!("/proc/{pid}")).exists()
        {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

impl Drop for Executables {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use brisk_protocol::executable::hash;

    #[test]
    fn chunks_in_order_checked_against_the_hash() {
        let ex = Executables::new();
        let body = vec![7u8; 10];
        let h = hash(&body);
        assert_eq!(ex.put(&h, 0, 10, &[]).unwrap(), (0, 10));
        assert!(
            ex.put(&h, 4, 10, &body[4..])
                .unwrap_err()
                .contains("in order")
        );
        assert_eq!(ex.put(&h, 0, 10, &body[..4]).unwrap(), (4, 10));
        assert!(ex.get(&h, 0, 4).is_err(), "served before it is complete");
        assert_eq!(ex.put(&h, 4, 10, &body[4..]).unwrap(), (10, 10));
        assert_eq!(ex.get(&h, 2, 100).unwrap(), (10, vec![7u8; 8]));
        // Another content under a hash: refused, nothing served.
        let other = hash(b"x");
        let e = ex.put(&other, 0, 3, b"abc").unwrap_err();
        assert!(e.contains("another content"), "{e}");
        assert!(ex.get(&other, 0, 3).is_err());
        assert!(ex.put("../x", 0, 1, b"a").is_err());
    }
}
