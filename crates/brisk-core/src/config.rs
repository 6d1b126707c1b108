//! Configuration: defaults that need nothing, environment overrides, and programmatic ones.
//!
//! | variable | values | default |
//! |---|---|---|
//! | `BRISK_NUM_THREADS` | a positive integer | the number of cores |
//! | `BRISK_SCHEDULER` | `threads`, `sync` (or any linked scheduler's name) | `threads` |
//! | `BRISK_PROGRESS` | `auto` (on a terminal), `on`, `off` | `auto` |
//! | `BRISK_PROGRESS_DELAY_MS` | milliseconds before a progress bar appears | `500` |
//!
//! A bad value is an [`Error::Config`] naming the variable, reported by the first computation.

use std::sync::OnceLock;
use std::time::Duration;

use parking_lot::RwLock;

use crate::error::Error;

/// When to show a progress bar for local computations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProgressMode {
    /// When standard output is a terminal.
    Auto,
    /// Always (drawn on standard error).
    On,
    /// Never.
    Off,
}

/// The effective configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Threads of the threaded scheduler.
    pub num_threads: usize,
    /// The default scheduler's name.
    pub scheduler: String,
    /// Progress bar policy.
    pub progress: ProgressMode,
    /// How long a computation runs before its progress bar appears.
    pub progress_delay: Duration,
}

#[derive(Default, Clone)]
struct Overrides {
    num_threads: Option<usize>,
    scheduler: Option<String>,
    progress: Option<ProgressMode>,
}

static OVERRIDES: RwLock<Option<Overrides>> = RwLock::new(None);
static ENV: OnceLock<Result<Config, Error>> = OnceLock::new();

fn cores() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

fn from_env() -> Result<Config, Error> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    let num_threads = match var("BRISK_NUM_THREADS") {
        None => cores(),
        Some(v) => match v.trim().parse::<usize>() {
            Ok(n) if n > 0 => n,
            _ => {
                return Err(Error::Config {
                    name: "BRISK_NUM_THREADS".into(),
                    value: v,
                    reason: "expected a positive integer".into(),
                });
            }
        },
    };
    let scheduler = var("BRISK_SCHEDULER")
        .map(|s| s.trim().to_ascii_lowercase())
        .unwrap_or_else(|| "threads".into());
    let progress = match var("BRISK_PROGRESS") {
        None => ProgressMode::Auto,
        Some(v) => parse_progress(&v).ok_or_else(|| Error::Config {
            name: "BRISK_PROGRESS".into(),
            value: v.clone(),
            reason: "expected auto, on or off".into(),
        })?,
    };
    let progress_delay = match var("BRISK_PROGRESS_DELAY_MS") {
        None => Duration::from_millis(500),
        Some(v) => Duration::from_millis(v.trim().parse::<u64>().map_err(|_| Error::Config {
            name: "BRISK_PROGRESS_DELAY_MS".into(),
            value: v.clone(),
            reason: "expected a number of milliseconds".into(),
        })?),
    };
    Ok(Config {
        num_threads,
        scheduler,
        progress,
        progress_delay,
    })
}

fn parse_progress(v: &str) -> Option<ProgressMode> {
    match v.trim().to_ascii_lowercase().as_str() {
        "auto" => Some(ProgressMode::Auto),
        "on" | "1" | "true" | "yes" => Some(ProgressMode::On),
        "off" | "0" | "false" | "no" => Some(ProgressMode::Off),
        _ => None,
    }
}

/// The effective configuration: programmatic overrides over the environment (read once) over
/// defaults.
pub fn config() -> Result<Config, Error> {
    let mut c = ENV.get_or_init(from_env).clone()?;
    if let Some(o) = OVERRIDES.read().as_ref() {
        if let Some(n) = o.num_threads {
            c.num_threads = n;
        }
        if let Some(s) = &o.scheduler {
            c.scheduler = s.clone();
        }
        if let Some(p) = o.progress {
            c.progress = p;
        }
    }
    Ok(c)
}

fn update(f: impl FnOnce(&mut Overrides)) {
    let mut guard = OVERRIDES.write();
    f(guard.get_or_insert_with(Overrides::default));
}

/// Set the threaded scheduler's thread count for this process (`None` restores the default).
pub fn set_num_threads(n: Option<usize>) {
    update(|o| o.num_threads = n.filter(|&n| n > 0));
}

/// Set the default scheduler by name for this process (`None` restores the default).
pub fn set_scheduler(name: Option<&str>) {
    update(|o| o.scheduler = name.map(|s| s.to_ascii_lowercase()));
}

/// Set the progress bar policy for this process (`None` restores the default).
pub fn set_progress(mode: Option<ProgressMode>) {
    update(|o| o.progress = mode);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_progress_words() {
        assert_eq!(parse_progress("OFF"), Some(ProgressMode::Off));
        assert_eq!(parse_progress(" on "), Some(ProgressMode::On));
        assert_eq!(parse_progress("auto"), Some(ProgressMode::Auto));
        assert_eq!(parse_progress("sometimes"), None);
    }
}
