//! [`Client`]: a connection to a cluster's scheduler, futures, and the blocking facade.

use std::marker::PhantomData;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use brisk_core::plan::PlanNode;
use brisk_core::{
    Collection, ComputeOptions, Error, Func, Graph, IntoArg, IntoFunc, IntoValue, Key, Plan,
    PlanOptions, Scheduler, Value,
};
use brisk_protocol::conn::connect;
use brisk_protocol::messages::{ClusterInfo, FromClient, NewTask, Role, TaskStream};
use brisk_protocol::peer::PeerPool;
use brisk_protocol::spec::{encode_task_for, encode_value};
use brisk_protocol::{Address, Security, WorkerId};
use parking_lot::{Mutex, RwLock};
use rustc_hash::FxHashMap;
use tokio::sync::{mpsc, oneshot};

use crate::args::{IntoArgs, Returns, call_key, compile_call, unregistered};
use crate::error::ClientError;
use crate::future::{ComputeFuture, Future, KeyCell, Status};
use crate::pieces::Pieces;
use crate::watch::AsCompleted;

/// How a client connects.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Token and TLS (default: from `BRISK_TOKEN` / `BRISK_TLS_*`).
    pub security: Security,
    /// Become the process-wide default scheduler, so that `compute()` of every collection
    /// runs on the cluster (default: yes).
    pub set_as_default: bool,
    /// A name for the scheduler's logs.
    pub name: String,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            security: Security::from_env().unwrap_or_default(),
            set_as_default: true,
            name: format!("client-{}", std::process::id()),
        }
    }
}

/// Options of one submitted call.
#[derive(Debug, Clone, Default)]
pub struct SubmitOptions {
    /// Retry a failing task this many times.
    pub retries: u8,
    /// Use this key instead of one derived from the call.
    pub key: Option<Key>,
}

/// A client of a Brisk cluster. Cheap to clone; every clone is the same connection.
///
/// ```no_run
/// use brisk_client::Client;
/// fn inc(x: i64) -> i64 { x + 1 }
/// brisk_core::register!(inc);
///
/// let client = Client::connect("tcp://127.0.0.1:8786")?;
/// let a = client.submit(inc, (1,))?;           // runs on the cluster, returns at once
/// let b = client.submit(inc, (&a,))?;          // depends on a
/// assert_eq!(b.result()?, 3);
/// let many = client.map(inc, 0..1000)?;
/// let values: Vec<i64> = client.gather(&many)?;
/// # Ok::<(), brisk_core::Error>(())
/// ```
#[derive(Clone)]
pub struct Client {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) rt: Mutex<Option<tokio::runtime::Runtime>>,
    pub(crate) handle: tokio::runtime::Handle,
    pub(crate) out: mpsc::UnboundedSender<Vec<FromClient>>,
    pub(crate) cells: Mutex<FxHashMap<Key, Weak<KeyCell>>>,
    pub(crate) workers: RwLock<FxHashMap<WorkerId, String>>,
    /// How long futures may wait on a cluster without workers (ms; 0: forever).
    pub(crate) no_workers_timeout_ms: AtomicU64,
    /// How long to try to reach a journaling scheduler again after losing it (ms).
    pub(crate) reconnect_ms: AtomicU64,
    pub(crate) peers: PeerPool,
    /// Snapshot requests waiting for their answer (shared with the writer, which sends them
    /// again on a resumed connection).
    pub(crate) info: crate::resume::PendingInfo,
    pub(crate) streams: Mutex<FxHashMap<u64, oneshot::Sender<TaskStream>>>,
    /// This program's hash once uploaded (`upload_executable`): tasks name it.
    pub(crate) program: Mutex<Option<String>>,
    /// Answers about uploaded programs: stored bytes, or why not.
    pub(crate) programs: Mutex<FxHashMap<u64, oneshot::Sender<Result<u64, String>>>>,
    /// The dashboard's address, once known.
    pub(crate) dashboard: Mutex<Option<String>>,
    pub(crate) next: AtomicU64,
    pub(crate) address: String,
    /// Where and how to connect again (see `resume.rs`).
    pub(crate) addr: Address,
    pub(crate) security: brisk_protocol::Security,
    pub(crate) name: String,
    /// This client's id on the scheduler (from its welcome).
    pub(crate) id: std::sync::atomic::AtomicU32,
    /// Messages a journaling scheduler may not have yet.
    pub(crate) resend: Arc<Mutex<crate::resume::Resend>>,
    /// New connections for the writer after a reconnect.
    pub(crate) resume_tx: mpsc::UnboundedSender<crate::resume::Resumed>,
    pub(crate) farewell: Arc<crate::resume::Farewell>,
    pub(crate) said_goodbye: AtomicBool,
    pub(crate) disconnected: Mutex<Option<String>>,
    pub(crate) is_default: AtomicBool,
    /// Set when this client closes the connection on purpose.
    pub(crate) closing: AtomicBool,
    /// Notified once per batch of messages from the scheduler.
    pub(crate) progress: tokio::sync::Notify,
    pub(crate) cluster: Mutex<Option<crate::local::LocalCluster>>,
    /// Graphs go to the scheduler in messages of about this many bytes at most.
    pub(crate) piece_bytes: std::sync::atomic::AtomicUsize,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.goodbye();
        self.cluster.lock().take();
        if let Some(rt) = self.rt.lock().take() {
            rt.shutdown_background();
        }
    }
}

impl Client {
    /// A task for the wire, naming this client's uploaded program if there is one.
    fn encode(
        &self,
        key: &Key,
        task: &brisk_core::plan::PlanTask,
    ) -> Result<brisk_protocol::Payload, Error> {
        let program = self.inner.program.lock().clone();
        encode_task_for(key, task, program.as_deref())
    }

    /// Connect to the scheduler at `address` (`tcp://host:8786`) and make this client the
    /// default scheduler (which keeps the connection open until [`Client::close`]).
    pub fn connect(address: &str) -> Result<Client, Error> {
        Client::connect_with(address, ClientOptions::default())
    }

    /// Connect to the scheduler named by `BRISK_SCHEDULER_ADDRESS` (set by deployers such as
    /// `brisk mpi` for the program they run; like Dask's `DASK_SCHEDULER_ADDRESS`), with the
    /// credentials of the environment (`BRISK_TOKEN`, `BRISK_TOKEN_FILE`, `BRISK_TLS_*`).
    pub fn from_env() -> Result<Client, Error> {
        let var = brisk_protocol::ENV_SCHEDULER_ADDRESS;
        match std::env::var(var) {
            Ok(a) if !a.trim().is_empty() => Client::connect(a.trim()),
            _ => Err(ClientError::NoAddress { var }.into()),
        }
    }

    /// Connect with options.
    pub fn connect_with(address: &str, options: ClientOptions) -> Result<Client, Error> {
        let addr = Address::parse(address).map_err(ClientError::from)?;
        let rt = runtime()?;
        let conn = match crate::connection::block_on_anywhere(
            rt.handle(),
            connect(&addr, &options.security, Role::Client, &options.name),
        ) {
            Ok(conn) => conn,
            Err(e) => {
                // Called from async code, dropping the runtime there would panic.
                rt.shutdown_background();
                return Err(ClientError::from(e).into());
            }
        };
        Ok(Client::start(rt, conn, addr, options))
    }

    /// Connect from async code (the blocking [`Client::connect_with`] must not run on an
    /// async runtime's thread). Use the `*_async` methods of the client and its futures there.
    pub async fn connect_async(address: &str, options: ClientOptions) -> Result<Client, Error> {
        let addr = Address::parse(address).map_err(ClientError::from)?;
        let rt = runtime()?;
        let (a, s, n) = (addr.clone(), options.security.clone(), options.name.clone());
        let joined = rt
            .spawn(async move { connect(&a, &s, Role::Client, &n).await })
            .await;
        // Dropping a runtime on an async thread panics: on failure it goes in the background.
        let conn = match joined {
            Ok(Ok(conn)) => conn,
            Ok(Err(e)) => {
                rt.shutdown_background();
                return Err(ClientError::from(e).into());
            }
            Err(e) => {
                rt.shutdown_background();
                return Err(ClientError::from(brisk_protocol::ProtocolError::io(
                    "connecting",
                    std::io::Error::other(e.to_string()),
                ))
                .into());
            }
        };
        Ok(Client::start(rt, conn, addr, options))
    }

    fn start(
        rt: tokio::runtime::Runtime,
        conn: brisk_protocol::conn::Connection,
        addr: Address,
        options: ClientOptions,
    ) -> Client {
        let (out_tx, out_rx) = mpsc::unbounded_channel::<Vec<FromClient>>();
        let (resume_tx, resume_rx) = mpsc::unbounded_channel();
        let resend = Arc::new(Mutex::new(crate::resume::Resend::default()));
        let farewell = Arc::new(crate::resume::Farewell::default());
        let info: crate::resume::PendingInfo = Arc::new(Mutex::new(FxHashMap::default()));
        let handle = rt.handle().clone();
        let inner = Arc::new(Inner {
            rt: Mutex::new(Some(rt)),
            handle: handle.clone(),
            out: out_tx,
            cells: Mutex::new(FxHashMap::default()),
            workers: RwLock::new(FxHashMap::default()),
            no_workers_timeout_ms: AtomicU64::new(crate::no_workers::timeout_ms_from_env()),
            reconnect_ms: AtomicU64::new(crate::resume::reconnect_timeout().as_millis() as u64),
            peers: PeerPool::new(options.security.clone(), options.name.clone()),
            info: Arc::clone(&info),
            streams: Mutex::new(FxHashMap::default()),
            programs: Mutex::new(FxHashMap::default()),
            program: Mutex::new(None),
            dashboard: Mutex::new(None),
            next: AtomicU64::new(1),
            address: addr.to_string(),
            addr,
            security: options.security.clone(),
            name: options.name.clone(),
            id: std::sync::atomic::AtomicU32::new(0),
            resend: Arc::clone(&resend),
            resume_tx,
            farewell: Arc::clone(&farewell),
            said_goodbye: AtomicBool::new(false),
            disconnected: Mutex::new(None),
            is_default: AtomicBool::new(false),
            closing: AtomicBool::new(false),
            progress: tokio::sync::Notify::new(),
            cluster: Mutex::new(None),
            piece_bytes: std::sync::atomic::AtomicUsize::new(crate::pieces::default_piece_bytes()),
        });
        let brisk_protocol::conn::Connection { reader, writer, .. } = conn;
        handle.spawn(crate::connection::write_loop(
            writer,
            out_rx,
            crate::connection::Resuming {
                resumed: resume_rx,
                resend,
                farewell,
                info,
            },
        ));
        handle.spawn(crate::connection::read_loop(Arc::downgrade(&inner), reader));
        handle.spawn(crate::no_workers::watchdog(Arc::downgrade(&inner)));
        let client = Client { inner };
        if options.set_as_default {
            client.set_as_default();
        }
        client
    }

    /// How long this client's futures may wait while the cluster has no workers before they
    /// fail with an error saying so (default 300 s, or `BRISK_NO_WORKERS_TIMEOUT` seconds;
    /// `None` waits forever).
    pub fn set_no_workers_timeout(&self, timeout: Option<Duration>) {
        let ms = timeout.map_or(0, |t| (t.as_millis() as u64).max(1));
        self.inner
            .no_workers_timeout_ms
            .store(ms, Ordering::Relaxed);
    }

    /// How long this client tries to reach its scheduler again after losing the connection,
    /// when the scheduler journals its work (`brisk scheduler --journal`): its futures stay
    /// pending meanwhile and resume with the scheduler (default 60 s, or
    /// `BRISK_RECONNECT_TIMEOUT` seconds). Past it they fail. A scheduler without a journal
    /// cannot give the work back: its clients' futures fail as soon as it is lost.
    pub fn set_reconnect_timeout(&self, timeout: Duration) {
        self.inner
            .reconnect_ms
            .store(timeout.as_millis() as u64, Ordering::Relaxed);
    }

    /// Make this client the process-wide default scheduler.
    pub fn set_as_default(&self) {
        brisk_core::set_default_scheduler(Some(Arc::new(self.clone())));
        self.inner.is_default.store(true, Ordering::SeqCst);
        *crate::observe::DEFAULT.lock() = Some(Arc::downgrade(&self.inner));
    }

    /// Send graphs in messages of at most about `bytes` each (default 8 MiB, or
    /// `BRISK_GRAPH_PIECE_BYTES`): a larger graph goes in several pieces, which the scheduler
    /// starts on as they arrive.
    pub fn set_graph_piece_bytes(&self, bytes: usize) {
        self.inner
            .piece_bytes
            .store(bytes.max(1), Ordering::Relaxed);
    }

    /// The scheduler's address.
    pub fn address(&self) -> &str {
        &self.inner.address
    }

    /// Run `f(args)` on the cluster; returns at once. The same call submitted twice shares
    /// one result.
    pub fn submit<M: Returns, F: IntoFunc<M>>(
        &self,
        f: F,
        args: impl IntoArgs,
    ) -> Result<Future<M::Output>, Error> {
        self.submit_with(f, args, SubmitOptions::default())
    }

    /// [`Client::submit`] with options (retries, an explicit key).
    pub fn submit_with<M: Returns, F: IntoFunc<M>>(
        &self,
        f: F,
        args: impl IntoArgs,
        options: SubmitOptions,
    ) -> Result<Future<M::Output>, Error> {
        let func = f.into_func();
        let (task, key) = self.call_task(&func, args.into_args(), &options)?;
        let cell = self.inner.cell(&key);
        self.inner.send(vec![FromClient::UpdateGraph {
            tasks: vec![task],
            wanted: vec![key],
        }])?;
        Ok(Future {
            cell,
            _t: PhantomData,
        })
    }

    fn call_task(
        &self,
        func: &Func,
        args: Vec<brisk_core::Arg>,
        options: &SubmitOptions,
    ) -> Result<(NewTask, Key), Error> {
        let label = Key::from(func.label());
        if let Some(e) = unregistered(options.key.as_ref().unwrap_or(&label), func) {
            return Err(e);
        }
        let (task, deps) = compile_call(func.clone(), args);
        let spec = self.encode(&label, &task)?;
        let key = match &options.key {
            Some(k) => k.clone(),
            None => call_key(func.label(), &spec, &deps),
        };
        Ok((
            NewTask {
                key: key.clone(),
                deps,
                priority: 0,
                spec,
                retries: options.retries,
            },
            key,
        ))
    }

    /// Run `f` on every item (one argument each) in one batch; returns at once.
    pub fn map<M: Returns, F: IntoFunc<M>, A: IntoArg>(
        &self,
        f: F,
        items: impl IntoIterator<Item = A>,
    ) -> Result<Vec<Future<M::Output>>, Error> {
        self.map_args(f, items.into_iter().map(|a| (a,)))
    }

    /// Run `f` on every argument tuple in one batch; returns at once.
    pub fn map_args<M: Returns, F: IntoFunc<M>, A: IntoArgs>(
        &self,
        f: F,
        items: impl IntoIterator<Item = A>,
    ) -> Result<Vec<Future<M::Output>>, Error> {
        let func = f.into_func();
        let mut pieces = Pieces::new(&self.inner);
        let mut futures = Vec::new();
        for (i, args) in items.into_iter().enumerate() {
            let (mut task, key) =
                self.call_task(&func, args.into_args(), &SubmitOptions::default())?;
            task.priority = i as u32;
            futures.push(Future {
                cell: self.inner.cell(&key),
                _t: PhantomData,
            });
            pieces.task(task)?;
            pieces.want(key)?;
        }
        pieces.finish()?;
        Ok(futures)
    }

    /// Wait for every future and read their values.
    pub fn gather<T: brisk_core::FromValue>(&self, futures: &[Future<T>]) -> Result<Vec<T>, Error> {
        let erased: Vec<Future<Value>> = futures.iter().map(Future::erase).collect();
        let values = self.inner.block_on(self.inner.gather_values(&erased))?;
        read_values(values, futures)
    }

    /// Wait for every future and read their values (async).
    pub async fn gather_async<T: brisk_core::FromValue>(
        &self,
        futures: &[Future<T>],
    ) -> Result<Vec<T>, Error> {
        let erased: Vec<Future<Value>> = futures.iter().map(Future::erase).collect();
        let values = self.inner.gather_values(&erased).await?;
        read_values(values, futures)
    }

    /// Put values into the cluster's memory; returns their futures once they are stored.
    pub fn scatter<T: IntoValue>(
        &self,
        values: impl IntoIterator<Item = T>,
    ) -> Result<Vec<Future<T>>, Error> {
        let mut items = Vec::new();
        let mut futures = Vec::new();
        for v in values {
            let v = v.into_value();
            let short = v.type_name().rsplit("::").next().unwrap_or("data");
            let key = Key::from(&*brisk_core::tokenize(short));
            let enc = encode_value(&v).map_err(|source| ClientError::Codec {
                key: key.clone(),
                source,
            })?;
            futures.push(Future {
                cell: self.inner.cell(&key),
                _t: PhantomData,
            });
            items.push((key, enc));
        }
        self.inner.send(vec![FromClient::Scatter { items }])?;
        self.inner.block_on(async {
            for f in &futures {
                if let Status::Erred(e) = f.cell.settled().await {
                    return Err(e);
                }
            }
            Ok(())
        })?;
        Ok(futures)
    }

    /// Start computing a collection on the cluster; returns at once. The finishing step runs
    /// here when the result is read.
    pub fn compute<C>(&self, collection: &C) -> Result<ComputeFuture<C::Output>, Error>
    where
        C: Collection + Clone + Send + Sync + 'static,
    {
        let graph = collection.graph();
        let keys = collection.output_keys();
        let futures = self.submit_graph(&graph, &keys, true)?;
        let c = collection.clone();
        Ok(ComputeFuture {
            literals: vec![None; futures.len()],
            parts: futures,
            finalize: Box::new(move |values| c.finalize(values)),
        })
    }

    /// Send a graph; returns a future per requested key (in order).
    pub fn submit_graph(
        &self,
        graph: &Graph,
        keys: &[Key],
        fuse: bool,
    ) -> Result<Vec<Future<Value>>, Error> {
        let plan = Plan::compile(
            graph,
            keys,
            &PlanOptions {
                fuse,
                ..PlanOptions::default()
            },
        )?;
        let outputs: Vec<Key> = plan
            .outputs()
            .iter()
            .map(|&id| plan.key(id).clone())
            .collect();
        let futures: Vec<Future<Value>> = outputs
            .iter()
            .map(|k| Future {
                cell: self.inner.cell(k),
                _t: PhantomData,
            })
            .collect();
        let mut pieces = Pieces::new(&self.inner);
        for &id in plan.order() {
            let key = plan.key(id);
            let spec = match plan.node(id) {
                PlanNode::Task(t) => self.encode(key, t)?,
                // Persisted on the cluster: the scheduler has it under this key already.
                PlanNode::Value(v) if brisk_core::Held::of(v).is_some() => continue,
                PlanNode::Value(v) => {
                    let (t, _) = compile_call(
                        Func::by_name(brisk_protocol::identity_function())?,
                        vec![brisk_core::Arg::Literal(v.clone())],
                    );
                    self.encode(key, &t)?
                }
            };
            pieces.task(NewTask {
                key: key.clone(),
                deps: plan.deps(id).iter().map(|&d| plan.key(d).clone()).collect(),
                priority: plan.priority(id),
                spec,
                retries: 0,
            })?;
        }
        let mut wanted = outputs;
        wanted.sort_unstable();
        wanted.dedup();
        for k in wanted {
            pieces.want(k)?;
        }
        pieces.finish()?;
        Ok(futures)
    }

    /// Block until every future is done (or failed).
    pub fn wait<T>(&self, futures: &[Future<T>]) {
        self.inner.block_on(async {
            for f in futures {
                f.cell.settled().await;
            }
        });
    }

    /// The futures in the order they finish: an [`Iterator`] for blocking code and a
    /// [`futures_core::Stream`] for async code.
    pub fn as_completed<T: 'static>(&self, futures: Vec<Future<T>>) -> AsCompleted<T> {
        AsCompleted::new(&self.inner.handle, futures)
    }

    /// Stop waiting for these futures: their work is dropped unless other futures need it.
    pub fn cancel<T>(&self, futures: &[Future<T>]) {
        let keys: Vec<Key> = futures.iter().map(|f| f.key().clone()).collect();
        for f in futures {
            f.cell.set(Status::Erred(
                ClientError::Cancelled {
                    key: f.key().clone(),
                }
                .into(),
            ));
        }
        let _ = self.inner.send(vec![FromClient::Release { keys }]);
    }

    /// A snapshot of the cluster: workers, their memory, task counts.
    pub fn scheduler_info(&self) -> Result<ClusterInfo, Error> {
        let (tx, rx) = oneshot::channel();
        let request = self.inner.next.fetch_add(1, Ordering::Relaxed);
        self.inner.info.lock().insert(request, tx);
        self.inner.send(vec![FromClient::Info { request }])?;
        self.inner.block_on(async {
            match tokio::time::timeout(Duration::from_secs(30), rx).await {
                Ok(Ok(info)) => Ok(info),
                _ => Err(self.inner.gone()),
            }
        })
    }

    /// Wait until at least `n` workers have joined (or `timeout` passes).
    pub fn wait_for_workers(&self, n: usize, timeout: Duration) -> Result<(), Error> {
        let start = std::time::Instant::now();
        loop {
            if self.scheduler_info()?.workers.len() >= n {
                return Ok(());
            }
            if start.elapsed() > timeout {
                return Err(ClientError::LocalCluster {
                    message: format!("fewer than {n} workers joined within {timeout:?}"),
                }
                .into());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Ask the scheduler to close every worker and stop; closes a local cluster.
    pub fn shutdown(&self) {
        self.inner.closing.store(true, Ordering::SeqCst);
        let _ = self.inner.send(vec![FromClient::Shutdown]);
        std::thread::sleep(Duration::from_millis(50));
        self.close();
    }

    /// Stop being the default scheduler and stop a local cluster started by this client.
    pub fn close(&self) {
        self.inner.closing.store(true, Ordering::SeqCst);
        if self.inner.is_default.swap(false, Ordering::SeqCst) {
            brisk_core::set_default_scheduler(None);
        }
        self.inner.cluster.lock().take();
    }
}

/// Typed values of gathered futures.
fn read_values<T: brisk_core::FromValue>(
    values: Vec<Value>,
    futures: &[Future<T>],
) -> Result<Vec<T>, Error> {
    values
        .into_iter()
        .zip(futures)
        .map(|(v, f)| {
            v.get::<T>().map_err(|mismatch| Error::WrongType {
                key: f.key().clone(),
                mismatch,
            })
        })
        .collect()
}

fn runtime() -> Result<tokio::runtime::Runtime, Error> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("brisk-client")
        .enable_all()
        .build()
        .map_err(|e| {
            ClientError::from(brisk_protocol::ProtocolError::io(
                "cannot start the client's runtime",
                e,
            ))
            .into()
        })
}

impl Scheduler for Client {
    fn name(&self) -> &str {
        "distributed"
    }

    fn get(
        &self,
        graph: &Graph,
        keys: &[Key],
        options: &ComputeOptions,
    ) -> Result<Vec<Value>, Error> {
        let futures = self.submit_graph(graph, keys, options.fuse)?;
        self.inner.block_on(self.inner.gather_values(&futures))
    }

    /// Compute and keep on the workers: each output comes back as a [`brisk_core::Held`] (its
    /// key, its future as the keep-alive, a fetch through this client) once it is in memory
    /// there; nothing is fetched. A failure is returned as the error it is.
    fn persist(
        &self,
        graph: &Graph,
        keys: &[Key],
        options: &ComputeOptions,
    ) -> Result<Vec<Value>, Error> {
        let futures = self.submit_graph(graph, keys, options.fuse)?;
        self.inner.block_on(async {
            for f in &futures {
                if let Status::Erred(e) = f.cell.settled().await {
                    return Err(e);
                }
            }
            Ok(())
        })?;
        Ok(futures
            .into_iter()
            .map(|f| {
                let fetch = f.clone();
                brisk_core::Held::new_value(f.key().clone(), move || fetch.result(), f)
            })
            .collect())
    }
}
