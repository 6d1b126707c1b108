//! Watching cluster work: [`progress`] (a terminal bar, like Dask's `progress`), [`wait`],
//! [`as_completed`] (an iterator for blocking code, a `Stream` for async code), and
//! `.await` on futures ([`std::future::IntoFuture`]).
//!
//! Each waits on the futures' own cells: the client's connection task settles a cell when the
//! scheduler reports the key finished or failed, and settles every cell with an error when the
//! connection is lost, so these waits end in an answer or an error.

use std::io::IsTerminal;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use brisk_core::{Error, FromValue};
use tokio::sync::mpsc;

use crate::future::{ComputeFuture, Future, Status};

/// How a set of futures ended ([`progress`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Finished {
    /// Futures whose value is ready.
    pub done: usize,
    /// Futures that failed (or were cancelled, or lost with the connection).
    pub erred: usize,
}

/// Block until every future is done or failed, drawing a progress bar on stderr when it is a
/// terminal (Dask's `distributed.progress`). Returns how many finished and how many failed;
/// read a failure with [`Future::result`].
pub fn progress<T>(futures: &[Future<T>]) -> Finished {
    let bar = if std::io::stderr().is_terminal() {
        indicatif::ProgressBar::new(futures.len() as u64)
    } else {
        indicatif::ProgressBar::hidden()
    };
    if let Ok(style) =
        indicatif::ProgressStyle::with_template("[{elapsed_precise}] {bar:40} {pos}/{len} {msg}")
    {
        bar.set_style(style);
    }
    bar.enable_steady_tick(Duration::from_millis(200));
    let mut finished = Finished::default();
    for f in as_completed(futures.iter().map(Future::erase).collect()) {
        if f.cell.is_erred() {
            finished.erred += 1;
            bar.set_message(format!("{} failed", finished.erred));
        } else {
            finished.done += 1;
        }
        bar.inc(1);
    }
    bar.finish();
    finished
}

/// Block until every future is done or failed (Dask's `distributed.wait`).
pub fn wait<T>(futures: &[Future<T>]) {
    for _ in as_completed(futures.iter().map(Future::erase).collect()) {}
}

/// The futures in the order they finish (Dask's `distributed.as_completed`), whichever
/// clients they belong to.
pub fn as_completed<T: 'static>(futures: Vec<Future<T>>) -> AsCompleted<T> {
    match futures.iter().find_map(|f| f.cell.client.upgrade()) {
        Some(inner) => AsCompleted::new(&inner.handle, futures),
        // The client is gone: every cell is settled already (with the disconnection).
        None => AsCompleted::settled(futures),
    }
}

/// Futures in the order they finish ([`crate::Client::as_completed`], [`as_completed`]): an
/// [`Iterator`] that blocks, and a [`futures_core::Stream`] for async code.
pub struct AsCompleted<T> {
    rx: mpsc::UnboundedReceiver<usize>,
    slots: Vec<Option<Future<T>>>,
    left: usize,
}

impl<T: 'static> AsCompleted<T> {
    pub(crate) fn new(handle: &tokio::runtime::Handle, futures: Vec<Future<T>>) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        let left = futures.len();
        let mut slots = Vec::with_capacity(left);
        for (i, f) in futures.into_iter().enumerate() {
            let cell = Arc::clone(&f.cell);
            let tx = tx.clone();
            handle.spawn(async move {
                cell.settled().await;
                let _ = tx.send(i);
            });
            slots.push(Some(f));
        }
        AsCompleted { rx, slots, left }
    }

    fn settled(futures: Vec<Future<T>>) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        for i in 0..futures.len() {
            let _ = tx.send(i);
        }
        let left = futures.len();
        AsCompleted {
            rx,
            slots: futures.into_iter().map(Some).collect(),
            left,
        }
    }

    fn take_slot(&mut self, i: usize) -> Option<Future<T>> {
        self.left -= 1;
        self.slots.get_mut(i).and_then(Option::take)
    }
}

impl<T: 'static> Iterator for AsCompleted<T> {
    type Item = Future<T>;
    fn next(&mut self) -> Option<Future<T>> {
        if self.left == 0 {
            return None;
        }
        let i = if tokio::runtime::Handle::try_current().is_ok() {
            // On an async runtime's thread tokio forbids blocking_recv: wait on our own thread.
            let rx = &mut self.rx;
            std::thread::scope(|s| s.spawn(|| rx.blocking_recv()).join().ok().flatten())?
        } else {
            self.rx.blocking_recv()?
        };
        self.take_slot(i)
    }
}

impl<T: 'static> futures_core::Stream for AsCompleted<T> {
    type Item = Future<T>;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Future<T>>> {
        if self.left == 0 {
            return Poll::Ready(None);
        }
        match self.rx.poll_recv(cx) {
            Poll::Ready(Some(i)) => Poll::Ready(self.take_slot(i)),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<T: 'static> Unpin for AsCompleted<T> {}

type BoxFuture<T> = Pin<Box<dyn std::future::Future<Output = Result<T, Error>> + Send>>;

/// `future.await` in async code: the value, as [`Future::result_async`].
impl<T: FromValue + Send + 'static> std::future::IntoFuture for Future<T> {
    type Output = Result<T, Error>;
    type IntoFuture = BoxFuture<T>;
    fn into_future(self) -> BoxFuture<T> {
        Box::pin(async move { self.result_async().await })
    }
}

/// `compute_future.await` in async code: the collection's result, as
/// [`ComputeFuture::result_async`].
impl<T: Send + 'static> std::future::IntoFuture for ComputeFuture<T> {
    type Output = Result<T, Error>;
    type IntoFuture = BoxFuture<T>;
    fn into_future(self) -> BoxFuture<T> {
        Box::pin(async move { self.result_async().await })
    }
}

impl crate::future::KeyCell {
    /// Whether the key failed (settled with an error).
    pub(crate) fn is_erred(&self) -> bool {
        matches!(*self.status.lock(), Status::Erred(_))
    }
}
