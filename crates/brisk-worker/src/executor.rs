//! The other side of [`crate::programs`]: a user's program started by a stock worker with
//! `BRISK_EXECUTOR=1` serves tasks on its standard input and output until the input closes.
//! `main_if_worker()` calls [`serve`] before anything else of the program runs.
//!
//! Standard output is the reply channel, so it is moved out of the way first: the protocol
//! keeps the original descriptor, and descriptor 1 is pointed at standard error, so a
//! `println!` in a user's function goes to the worker's log instead of corrupting replies.

use std::io::{BufReader, BufWriter, Write};
use std::sync::Arc;

use brisk_core::eval::run_task;
use brisk_protocol::executable::{
    ENV_EXECUTOR_THREADS, ExecReply, ExecRequest, read_msg, write_msg,
};
use brisk_protocol::spec::{WireFailure, decode_task, decode_value_or_opaque, encode_value};
use parking_lot::Mutex;

/// The reply channel: the original standard output, with descriptor 1 sent to stderr.
// Two libc calls on the process's own descriptors; std has no dup2.
#[allow(unsafe_code)]
fn reply_channel() -> std::io::Result<std::fs::File> {
    #[cfg(unix)]
    {
        use std::os::fd::FromRawFd;
        // SAFETY: dup and dup2 on the process's own standard descriptors; the duplicate is
        // owned by the returned File alone.
        unsafe {
            let fd = libc::dup(1);
            if fd < 0 {
                return Err(std::io::Error::last_os_error());
            }
            if libc::dup2(2, 1) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(std::fs::File::from_raw_fd(fd))
        }
    }
    #[cfg(not(unix))]
    {
        Err(std::io::Error::other("task executors need a unix system"))
    }
}

/// Run one request.
fn answer(req: ExecRequest) -> ExecReply {
    let ExecRequest::Run {
        id,
        key,
        spec,
        inputs,
    } = req;
    let failed = |m: String| ExecReply::Failed {
        id,
        failure: WireFailure::msg("error", m),
    };
    let task = match decode_task(&key, &spec.0) {
        Ok(t) => t,
        Err(e) => return failed(format!("{e} (in the client's program too)")),
    };
    let mut values = Vec::with_capacity(inputs.len());
    for v in &inputs {
        match decode_value_or_opaque(v) {
            Ok(x) => values.push(x),
            Err(e) => return failed(format!("an input of task {key}: {e}")),
        }
    }
    drop(inputs);
    match run_task(&task, &values) {
        Ok(v) => match encode_value(&v) {
            Ok(value) => ExecReply::Done { id, value },
            Err(e) => failed(format!("the result of {key}: {e}")),
        },
        Err(f) => ExecReply::Failed {
            id,
            failure: WireFailure::from(&f),
        },
    }
}

/// Serve tasks until standard input closes, then exit.
pub(crate) fn serve() -> ! {
    let out = match reply_channel() {
        Ok(f) => Arc::new(Mutex::new(BufWriter::new(f))),
        Err(e) => {
            eprintln!("brisk executor: cannot set up its output: {e}");
            std::process::exit(1);
        }
    };
    let hello = ExecReply::Hello {
        brisk: env!("CARGO_PKG_VERSION").to_string(),
        protocol: brisk_protocol::PROTOCOL_VERSION,
    };
    if write_msg(&mut *out.lock(), &hello).is_err() {
        std::process::exit(1);
    }
    let threads = std::env::var(ENV_EXECUTOR_THREADS)
        .ok()
        .and_then(|t| t.parse::<usize>().ok())
        .unwrap_or(1)
        .clamp(1, 1024);
    let (tx, rx) = std::sync::mpsc::channel::<ExecRequest>();
    let rx = Arc::new(Mutex::new(rx));
    let mut pool = Vec::with_capacity(threads);
    for i in 0..threads {
        let rx = Arc::clone(&rx);
        let out = Arc::clone(&out);
        let t = std::thread::Builder::new()
            .name(format!("brisk-executor-{i}"))
            .spawn(move || {
                loop {
                    let req = rx.lock().recv();
                    let Ok(req) = req else { break };
                    let reply = answer(req);
                    let mut o = out.lock();
                    if write_msg(&mut *o, &reply).is_err() {
                        // The worker is gone.
                        std::process::exit(0);
                    }
                }
            });
        match t {
            Ok(t) => pool.push(t),
            Err(e) => {
                eprintln!("brisk executor: cannot start a thread: {e}");
                std::process::exit(1);
            }
        }
    }
    let mut input = BufReader::new(std::io::stdin().lock());
    while let Ok(req) = read_msg::<_, ExecRequest>(&mut input) {
        if tx.send(req).is_err() {
            break;
        }
    }
    drop(tx);
    for t in pool {
        let _ = t.join();
    }
    let _ = out.lock().flush();
    std::process::exit(0)
}
