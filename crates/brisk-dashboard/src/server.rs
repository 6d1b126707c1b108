//! The live dashboard's HTTP server: pages, static assets, the JSON API, server-sent events and
//! Prometheus metrics, over any [`Source`].
//!
//! | path | what |
//! |---|---|
//! | `/`, `/status` | the status page (task stream, progress per prefix, workers, memory) |
//! | `/task?key=K` | why a task is where it is |
//! | `/graph` | the current graph (small graphs) |
//! | `/api/snapshot?since=N` | the status as JSON |
//! | `/api/events` | the status pushed every `interval` as server-sent events |
//! | `/api/task?key=K`, `/api/graph?max=N` | the task and graph pages' data |
//! | `/metrics` | Prometheus text, metric names prefixed `brisk_` |
//!
//! With an [`Access`] token every route but `/static/*` and `/health` needs the token (see [`crate::auth`]);
//! with an [`Access`] TLS setup it is served over HTTPS only.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use futures_util::Stream;

pub use crate::auth::Access;
use crate::auth::Guard;
use crate::error::DashboardError;
use crate::model::Source;
use crate::{assets, metrics};

#[derive(Clone)]
struct AppState {
    source: Arc<dyn Source>,
    interval: Duration,
}

/// The dashboard's routes over `source`, pushing updates every `interval`.
pub fn router(source: Arc<dyn Source>, interval: Duration) -> Router {
    routes(source, interval)
}

fn guarded(source: Arc<dyn Source>, interval: Duration, guard: Option<Guard>) -> Router {
    let r = routes(source, interval);
    match guard {
        Some(g) => r.layer(axum::middleware::from_fn_with_state(
            Arc::new(g),
            crate::auth::check,
        )),
        None => r,
    }
}

fn routes(source: Arc<dyn Source>, interval: Duration) -> Router {
    Router::new()
        .route("/", get(|| async { Redirect::temporary("/status") }))
        .route("/status", get(|| async { Html(assets::STATUS_HTML) }))
        .route("/task", get(|| async { Html(assets::TASK_HTML) }))
        .route("/graph", get(|| async { Html(assets::GRAPH_HTML) }))
        .route("/static/{name}", get(static_asset))
        .route("/api/snapshot", get(snapshot))
        .route("/api/events", get(events))
        .route("/api/task", get(task))
        .route("/api/graph", get(graph))
        .route("/metrics", get(prometheus))
        // Liveness for process managers (Kubernetes probes): says nothing about the cluster,
        // so it needs no token.
        .route("/health", get(|| async { "ok" }))
        .with_state(AppState { source, interval })
}

async fn static_asset(axum::extract::Path(name): axum::extract::Path<String>) -> Response {
    match assets::get(&name) {
        Some((ty, body)) => ([(header::CONTENT_TYPE, ty)], body).into_response(),
        None => (StatusCode::NOT_FOUND, format!("no asset {name}")).into_response(),
    }
}

fn since(q: &HashMap<String, String>) -> u64 {
    q.get("since").and_then(|s| s.parse().ok()).unwrap_or(0)
}

async fn snapshot(
    State(st): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let source = Arc::clone(&st.source);
    let since = since(&q);
    match tokio::task::spawn_blocking(move || source.snapshot(since)).await {
        Ok(s) => axum::Json(s).into_response(),
        Err(_) => (StatusCode::INTERNAL_SERVER_ERROR, "snapshot failed").into_response(),
    }
}

async fn events(State(st): State<AppState>) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let stream = futures_util::stream::unfold((st, 0u64, true), |(st, cursor, first)| async move {
        if !first {
            tokio::time::sleep(st.interval).await;
        }
        let source = Arc::clone(&st.source);
        let snap = tokio::task::spawn_blocking(move || source.snapshot(cursor))
            .await
            .unwrap_or_default();
        let next = snap.cursor.max(cursor);
        let event = match serde_json::to_string(&snap) {
            Ok(json) => Event::default().data(json),
            Err(e) => Event::default().event("error").data(e.to_string()),
        };
        Some((Ok(event), (st, next, false)))
    });
    Sse::new(stream).keep_alive(KeepAlive::default())
}

async fn task(State(st): State<AppState>, Query(q): Query<HashMap<String, String>>) -> Response {
    let key = q.get("key").cloned().unwrap_or_default();
    let source = Arc::clone(&st.source);
    let k = key.clone();
    match tokio::task::spawn_blocking(move || source.task(&k)).await {
        Ok(Some(t)) => axum::Json(t).into_response(),
        _ => (StatusCode::NOT_FOUND, format!("no task {key} is known")).into_response(),
    }
}

async fn graph(State(st): State<AppState>, Query(q): Query<HashMap<String, String>>) -> Response {
    let max = q
        .get("max")
        .and_then(|s| s.parse().ok())
        .unwrap_or(500usize)
        .min(5000);
    let source = Arc::clone(&st.source);
    match tokio::task::spawn_blocking(move || source.graph(max)).await {
        Ok(g) => axum::Json(g).into_response(),
        Err(_) => (StatusCode::INTERNAL_SERVER_ERROR, "graph failed").into_response(),
    }
}

async fn prometheus(State(st): State<AppState>) -> Response {
    let source = Arc::clone(&st.source);
    match tokio::task::spawn_blocking(move || source.snapshot(u64::MAX)).await {
        Ok(s) => (
            [(
                header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            )],
            metrics::render(&s),
        )
            .into_response(),
        Err(_) => (StatusCode::INTERNAL_SERVER_ERROR, "metrics failed").into_response(),
    }
}

/// Serve the dashboard on `listener` until `shutdown` resolves (open, plain HTTP).
pub async fn serve(
    listener: tokio::net::TcpListener,
    source: Arc<dyn Source>,
    interval: Duration,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), DashboardError> {
    serve_with(listener, source, interval, Access::default(), shutdown).await
}

/// Serve the dashboard on `listener` until `shutdown` resolves, protected by `access`.
pub async fn serve_with(
    listener: tokio::net::TcpListener,
    source: Arc<dyn Source>,
    interval: Duration,
    access: Access,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), DashboardError> {
    let local = listener.local_addr();
    let addr = local.as_ref().map(|a| a.to_string()).unwrap_or_default();
    let bind_err = |source| DashboardError::Bind {
        addr: addr.clone(),
        source,
    };
    let port = local.as_ref().map(|a| a.port()).unwrap_or(0);
    let guard = access
        .token
        .as_deref()
        .filter(|t| !t.is_empty())
        .map(|t| Guard::new(t, port, access.tls.is_some()));
    let app = guarded(source, interval, guard);
    match access.tls {
        None => axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await
            .map_err(bind_err),
        Some(cfg) => {
            let tls = crate::tls::TlsListener::new(listener, cfg).map_err(bind_err)?;
            axum::serve(tls, app)
                .with_graceful_shutdown(shutdown)
                .await
                .map_err(bind_err)
        }
    }
}

/// A dashboard running on its own thread (for programs without a tokio runtime).
pub struct Running {
    addr: std::net::SocketAddr,
    https: bool,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Running {
    /// Start serving `source` on `addr` (`127.0.0.1:0` picks a free port), open, plain HTTP.
    pub fn start(
        addr: &str,
        source: Arc<dyn Source>,
        interval: Duration,
    ) -> Result<Running, DashboardError> {
        Running::start_with(addr, source, interval, Access::default())
    }

    /// Start serving `source` on `addr`, protected by `access`.
    pub fn start_with(
        addr: &str,
        source: Arc<dyn Source>,
        interval: Duration,
        access: Access,
    ) -> Result<Running, DashboardError> {
        let https = access.tls.is_some();
        let bind_err = |source| DashboardError::Bind {
            addr: addr.to_string(),
            source,
        };
        let std_listener = std::net::TcpListener::bind(addr).map_err(bind_err)?;
        std_listener.set_nonblocking(true).map_err(bind_err)?;
        let local = std_listener.local_addr().map_err(bind_err)?;
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("brisk-dashboard")
            .enable_all()
            .build()
            .map_err(bind_err)?;
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("brisk-dashboard".into())
            .spawn(move || {
                rt.block_on(async move {
                    match tokio::net::TcpListener::from_std(std_listener) {
                        Ok(l) => {
                            let stop = async move {
                                let _ = rx.await;
                            };
                            if let Err(e) = serve_with(l, source, interval, access, stop).await {
                                tracing::warn!(error = %e, "dashboard stopped");
                            }
                        }
                        Err(e) => tracing::warn!(error = %e, "dashboard could not start"),
                    }
                });
            })
            .map_err(bind_err)?;
        Ok(Running {
            addr: local,
            https,
            stop: Some(tx),
            thread: Some(thread),
        })
    }

    /// Where it listens.
    pub fn addr(&self) -> std::net::SocketAddr {
        self.addr
    }

    /// Whether it serves HTTPS.
    pub fn is_https(&self) -> bool {
        self.https
    }

    /// Its status page's URL.
    pub fn link(&self) -> String {
        let scheme = if self.https { "https" } else { "http" };
        format!("{scheme}://{}/status", self.addr)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
