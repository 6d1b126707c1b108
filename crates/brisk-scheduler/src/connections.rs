//! The scheduler's connections: accepting them, the handshake, reading each one's batches
//! into events for the core task (`core_loop.rs`) and writing what it sends back.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use brisk_protocol::ProtocolError;
use brisk_protocol::conn::{Connection, Listener, MessageWriter};
use brisk_protocol::frame::encode_message;
use brisk_protocol::messages::{FromClient, FromWorker, Role};
use serde::Serialize;
use tokio::sync::{mpsc, oneshot, watch};

use crate::client_line::ClientLine;
use crate::server::Event;

pub(crate) async fn accept_loop(
    listener: Listener,
    first_id: u32,
    events: mpsc::UnboundedSender<Event>,
    mut stop: watch::Receiver<bool>,
    programs: Arc<crate::executables::Executables>,
) {
    let mut next_id: u32 = first_id.max(1);
    loop {
        let pending = tokio::select! {
            p = listener.accept() => p,
            _ = stop.changed() => return,
        };
        let pending = match pending {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let id = next_id;
        next_id = next_id.wrapping_add(1).max(1);
        let events = events.clone();
        let stop = stop.clone();
        let programs = Arc::clone(&programs);
        tokio::spawn(async move {
            let peer = pending.peer().to_string();
            match pending
                .handshake("scheduler", &[Role::Worker, Role::Client])
                .await
            {
                Ok(conn) => serve_connection(id, conn, events, stop, programs).await,
                // Closed before a byte: a port probe (a test waiting for the port, a load
                // balancer's health check), not an attack.
                Err(ProtocolError::Closed { .. }) => {
                    tracing::debug!(peer = %peer, "a connection closed before its handshake")
                }
                Err(e) => tracing::warn!(peer = %peer, error = %e, "rejected a connection"),
            }
        });
    }
}

async fn serve_connection(
    id: u32,
    conn: Connection,
    events: mpsc::UnboundedSender<Event>,
    stop: watch::Receiver<bool>,
    programs: Arc<crate::executables::Executables>,
) {
    let Connection {
        mut reader,
        writer,
        peer,
        hello,
    } = conn;
    let role = hello.as_ref().map(|h| h.role);
    match role {
        Some(Role::Worker) => {
            let first: Result<Vec<FromWorker>, _> = reader.recv_msg().await;
            let (reg, rest) = match first {
                Ok(mut v) if matches!(v.first(), Some(FromWorker::Register(_))) => {
                    let FromWorker::Register(reg) = v.remove(0) else {
                        return;
                    };
                    (reg, v)
                }
                Ok(_) => {
                    tracing::warn!(peer = %peer, "a worker connection did not register first");
                    return;
                }
                Err(e) => {
                    tracing::warn!(peer = %peer, error = %e, "a worker failed to register");
                    return;
                }
            };
            let (tx, rx) = mpsc::unbounded_channel();
            let _ = events.send(Event::WorkerJoined(id, reg, tx));
            // What came with the registration (the values it holds) after it joined.
            if !rest.is_empty() {
                let _ = events.send(Event::Worker(id, rest));
            }
            tokio::spawn(write_loop(writer, rx, stop, None));
            let reason = loop {
                match reader.recv_msg::<Vec<FromWorker>>().await {
                    Ok(msgs) => {
                        if events.send(Event::Worker(id, msgs)).is_err() {
                            return;
                        }
                    }
                    Err(e) if e.is_disconnect() => break "connection closed".to_string(),
                    Err(e) => {
                        tracing::warn!(peer = %peer, error = %e, "bad message from a worker");
                        break e.to_string();
                    }
                }
            };
            let _ = events.send(Event::WorkerGone(id, reason));
        }
        Some(Role::Client) => {
            let (tx, rx) = mpsc::unbounded_channel();
            let replies = tx.clone();
            let queued = Arc::new(std::sync::atomic::AtomicUsize::new(0));
            let (kick, mut kicked) = watch::channel(false);
            let (id_tx, id_rx) = oneshot::channel();
            let _ = events.send(Event::ClientJoined(
                id,
                ClientLine {
                    tx,
                    queued: Arc::clone(&queued),
                    kick: Arc::new(kick),
                },
                hello.as_ref().and_then(|h| h.resume),
                id_tx,
            ));
            // A resumed client goes on under the id it had.
            let Ok(id) = id_rx.await else { return };
            // The writer stops on the scheduler's stop or on this client's kick.
            let (both_tx, both_rx) = watch::channel(false);
            {
                let mut stop = stop.clone();
                let mut kicked = kicked.clone();
                tokio::spawn(async move {
                    tokio::select! {
                        _ = stop.changed() => {}
                        _ = kicked.changed() => {}
                    }
                    let _ = both_tx.send(true);
                });
            }
            tokio::spawn(write_loop(writer, rx, both_rx, Some(Arc::clone(&queued))));
            loop {
                let got = tokio::select! {
                    m = reader.recv_msg::<Vec<FromClient>>() => m,
                    _ = kicked.changed() => break,
                };
                match got {
                    Ok(mut msgs) => {
                        // Programs for the workers are files, answered here.
                        if msgs.iter().any(crate::executables::is_program_message) {
                            let (prog, rest): (Vec<_>, Vec<_>) = msgs
                                .into_iter()
                                .partition(crate::executables::is_program_message);
                            for m in prog {
                                let p = Arc::clone(&programs);
                                if let Ok(reply) = tokio::task::spawn_blocking(move || {
                                    crate::executables::program_reply(&p, m)
                                })
                                .await
                                {
                                    queued.fetch_add(1, Ordering::Relaxed);
                                    let _ = replies.send(vec![reply]);
                                }
                            }
                            msgs = rest;
                            if msgs.is_empty() {
                                continue;
                            }
                        }
                        if events.send(Event::Client(id, msgs)).is_err() {
                            return;
                        }
                    }
                    Err(e) => {
                        if !e.is_disconnect() {
                            tracing::warn!(peer = %peer, error = %e, "bad message from a client");
                        }
                        break;
                    }
                }
            }
            let _ = events.send(Event::ClientGone(id));
        }
        _ => {}
    }
}

async fn write_loop<T: Serialize>(
    mut writer: MessageWriter,
    mut rx: mpsc::UnboundedReceiver<Vec<T>>,
    mut stop: watch::Receiver<bool>,
    queued: Option<Arc<std::sync::atomic::AtomicUsize>>,
) {
    loop {
        let batch = tokio::select! {
            b = rx.recv() => b,
            _ = stop.changed() => None,
        };
        let Some(mut batch) = batch else { break };
        while let Ok(more) = rx.try_recv() {
            batch.extend(more);
            if batch.len() > 20_000 {
                break;
            }
        }
        let raw = match encode_message(&batch) {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(error = %e, "cannot encode a message");
                continue;
            }
        };
        if writer.send(&raw).await.is_err() {
            break;
        }
        if let Some(q) = &queued {
            q.fetch_sub(batch.len(), Ordering::Relaxed);
        }
    }
    writer.shutdown().await;
}
