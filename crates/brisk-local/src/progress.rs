//! Progress bars for local computations that run longer than a moment.
//!
//! A computation registers a cheap [`Tracker`] (an atomic counter); one background thread,
//! started on first use, draws a bar for every tracker older than the configured delay
//! (`BRISK_PROGRESS_DELAY_MS`, 500 ms by default). Quick computations never draw anything, and
//! the bar is finished by the computation itself so that it never overlaps what the program
//! prints next. Shown when standard output is a terminal (`BRISK_PROGRESS=auto`, the default),
//! always (`on`) or never (`off`); nested computations never show one.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock, Weak};
use std::time::{Duration, Instant};

use brisk_core::config::{ProgressMode, config};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use parking_lot::{Condvar, Mutex};

/// The progress of one computation.
pub(crate) struct Tracker {
    total: usize,
    done: AtomicUsize,
    start: Instant,
    delay: Duration,
    forced: bool,
    finished: AtomicBool,
    bar: Mutex<Option<ProgressBar>>,
}

impl Tracker {
    pub(crate) fn task_done(&self) {
        self.done.fetch_add(1, Ordering::Relaxed);
    }

    fn draw(&self, now: Instant) {
        if self.finished.load(Ordering::Acquire) || now.duration_since(self.start) < self.delay {
            return;
        }
        let mut bar = self.bar.lock();
        if self.finished.load(Ordering::Acquire) {
            return;
        }
        let b = bar.get_or_insert_with(|| new_bar(self.total as u64, self.start, self.forced));
        b.set_position(self.done.load(Ordering::Relaxed) as u64);
    }

    /// End the bar (if one was drawn) before the computation returns.
    pub(crate) fn finish(&self, ok: bool) {
        self.finished.store(true, Ordering::Release);
        if let Some(b) = self.bar.lock().take() {
            b.set_position(self.done.load(Ordering::Relaxed) as u64);
            if ok {
                b.finish();
            } else {
                b.abandon();
            }
        }
    }
}

fn new_bar(total: u64, start: Instant, forced: bool) -> ProgressBar {
    let target = if forced && !std::io::stdout().is_terminal() {
        ProgressDrawTarget::term_like(Box::new(PlainOut))
    } else {
        ProgressDrawTarget::stdout()
    };
    let style = ProgressStyle::with_template(
        "[{bar:40.cyan/blue}] | {percent:>3}% Completed | {pos}/{len} tasks | {elapsed}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar())
    .progress_chars("#>-");
    let b = ProgressBar::with_draw_target(Some(total), target)
        .with_style(style)
        .with_elapsed(start.elapsed());
    b.enable_steady_tick(Duration::from_millis(100));
    b
}

/// Standard output when it is not a terminal but a bar was asked for (`BRISK_PROGRESS=on`):
/// each redraw is a plain line.
#[derive(Debug)]
struct PlainOut;

impl indicatif::TermLike for PlainOut {
    fn width(&self) -> u16 {
        100
    }
    fn move_cursor_up(&self, _: usize) -> std::io::Result<()> {
        Ok(())
    }
    fn move_cursor_down(&self, _: usize) -> std::io::Result<()> {
        Ok(())
    }
    fn move_cursor_right(&self, _: usize) -> std::io::Result<()> {
        Ok(())
    }
    fn move_cursor_left(&self, _: usize) -> std::io::Result<()> {
        Ok(())
    }
    fn write_line(&self, s: &str) -> std::io::Result<()> {
        use std::io::Write;
        writeln!(std::io::stdout().lock(), "{s}")
    }
    fn write_str(&self, s: &str) -> std::io::Result<()> {
        use std::io::Write;
        write!(std::io::stdout().lock(), "{s}")
    }
    fn clear_line(&self) -> std::io::Result<()> {
        Ok(())
    }
    fn flush(&self) -> std::io::Result<()> {
        use std::io::Write;
        std::io::stdout().flush()
    }
}

struct Watcher {
    trackers: Mutex<Vec<Weak<Tracker>>>,
    cv: Condvar,
}

fn watcher() -> &'static Watcher {
    static W: OnceLock<Watcher> = OnceLock::new();
    static STARTED: AtomicBool = AtomicBool::new(false);
    let w = W.get_or_init(|| Watcher {
        trackers: Mutex::new(Vec::new()),
        cv: Condvar::new(),
    });
    if !STARTED.swap(true, Ordering::AcqRel) {
        let spawned = std::thread::Builder::new()
            .name("brisk-progress".into())
            .spawn(|| watch_loop(watcher()));
        if let Err(e) = spawned {
            tracing::warn!(error = %e, "no progress bars: could not start their thread");
        }
    }
    w
}

fn watch_loop(w: &Watcher) {
    loop {
        let live: Vec<Arc<Tracker>> = {
            let mut list = w.trackers.lock();
            list.retain(|t| {
                t.upgrade()
                    .is_some_and(|t| !t.finished.load(Ordering::Acquire))
            });
            if list.is_empty() {
                w.cv.wait(&mut list);
                continue;
            }
            list.iter().filter_map(Weak::upgrade).collect()
        };
        let now = Instant::now();
        for t in &live {
            t.draw(now);
        }
        drop(live);
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn stdout_is_terminal() -> bool {
    static TTY: OnceLock<bool> = OnceLock::new();
    *TTY.get_or_init(|| std::io::stdout().is_terminal())
}

/// A tracker for a computation of `total` tasks, if a bar may be shown for it. `forced`
/// overrides the configuration (`Some(false)` = never).
pub(crate) fn track(total: usize, nested: bool, forced: Option<bool>) -> Option<Arc<Tracker>> {
    if nested || total == 0 {
        return None;
    }
    let cfg = config().ok()?;
    let show = match forced {
        Some(f) => f,
        None => match cfg.progress {
            ProgressMode::Off => false,
            ProgressMode::On => true,
            ProgressMode::Auto => stdout_is_terminal(),
        },
    };
    if !show {
        return None;
    }
    let t = Arc::new(Tracker {
        total,
        done: AtomicUsize::new(0),
        start: Instant::now(),
        delay: cfg.progress_delay,
        forced: forced == Some(true) || cfg.progress == ProgressMode::On,
        finished: AtomicBool::new(false),
        bar: Mutex::new(None),
    });
    let w = watcher();
    w.trackers.lock().push(Arc::downgrade(&t));
    w.cv.notify_one();
    Some(t)
}
