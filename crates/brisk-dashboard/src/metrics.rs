//! Prometheus text exposition of a [`Snapshot`]; every metric is prefixed `brisk_`.

use std::fmt::Write;

use crate::model::Snapshot;

fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn head(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// The metrics page for `s`.
pub fn render(s: &Snapshot) -> String {
    let mut o = String::new();
    head(&mut o, "brisk_workers", "gauge", "Connected workers.");
    let _ = writeln!(o, "brisk_workers {}", s.workers.len());
    head(&mut o, "brisk_clients", "gauge", "Connected clients.");
    let _ = writeln!(o, "brisk_clients {}", s.totals.clients);
    head(
        &mut o,
        "brisk_tasks",
        "gauge",
        "Tasks known to the scheduler, by state.",
    );
    let mut by_state = [0u64; 4];
    for p in &s.prefixes {
        by_state[0] += p.waiting;
        by_state[1] += p.processing;
        by_state[2] += p.memory;
        by_state[3] += p.erred;
    }
    for (state, n) in ["waiting", "processing", "memory", "erred"]
        .iter()
        .zip(by_state)
    {
        let _ = writeln!(o, "brisk_tasks{{state=\"{state}\"}} {n}");
    }
    head(
        &mut o,
        "brisk_tasks_completed_total",
        "counter",
        "Tasks finished since start.",
    );
    let _ = writeln!(o, "brisk_tasks_completed_total {}", s.totals.completed);
    head(
        &mut o,
        "brisk_tasks_erred_total",
        "counter",
        "Tasks failed since start.",
    );
    let _ = writeln!(o, "brisk_tasks_erred_total {}", s.totals.erred);
    head(
        &mut o,
        "brisk_tasks_per_second",
        "gauge",
        "Recent task throughput.",
    );
    let _ = writeln!(o, "brisk_tasks_per_second {}", s.totals.tasks_per_second);
    head(
        &mut o,
        "brisk_prefix_tasks",
        "gauge",
        "Tasks by key prefix and state.",
    );
    for p in &s.prefixes {
        let l = label(&p.prefix);
        for (state, n) in [
            ("waiting", p.waiting),
            ("processing", p.processing),
            ("memory", p.memory),
            ("erred", p.erred),
            ("done", p.done),
        ] {
            let _ = writeln!(
                o,
                "brisk_prefix_tasks{{prefix=\"{l}\",state=\"{state}\"}} {n}"
            );
        }
    }
    head(
        &mut o,
        "brisk_worker_memory_bytes",
        "gauge",
        "Worker memory by kind.",
    );
    for w in &s.workers {
        let l = label(&w.name);
        for (kind, n) in [
            ("managed", w.memory_managed),
            ("unmanaged", w.memory_unmanaged),
            ("spilled", w.memory_spilled),
            ("limit", w.memory_limit),
        ] {
            let _ = writeln!(
                o,
                "brisk_worker_memory_bytes{{worker=\"{l}\",kind=\"{kind}\"}} {n}"
            );
        }
    }
    head(
        &mut o,
        "brisk_worker_cpu_percent",
        "gauge",
        "Worker CPU use, percent of a core.",
    );
    for w in &s.workers {
        let _ = writeln!(
            o,
            "brisk_worker_cpu_percent{{worker=\"{}\"}} {}",
            label(&w.name),
            w.cpu_percent
        );
    }
    head(
        &mut o,
        "brisk_worker_running_tasks",
        "gauge",
        "Tasks running on each worker.",
    );
    for w in &s.workers {
        let _ = writeln!(
            o,
            "brisk_worker_running_tasks{{worker=\"{}\"}} {}",
            label(&w.name),
            w.running
        );
    }
    head(
        &mut o,
        "brisk_worker_transfer_bytes_total",
        "counter",
        "Bytes moved by each worker.",
    );
    for w in &s.workers {
        let l = label(&w.name);
        let _ = writeln!(
            o,
            "brisk_worker_transfer_bytes_total{{worker=\"{l}\",direction=\"in\"}} {}",
            w.bytes_in
        );
        let _ = writeln!(
            o,
            "brisk_worker_transfer_bytes_total{{worker=\"{l}\",direction=\"out\"}} {}",
            w.bytes_out
        );
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{PrefixRow, WorkerRow};

    #[test]
    fn renders_prefixed_metrics_with_escaped_labels() {
        let s = Snapshot {
            workers: vec![WorkerRow {
                name: "w\"1".into(),
                memory_managed: 10,
                ..Default::default()
            }],
            prefixes: vec![PrefixRow {
                prefix: "inc".into(),
                waiting: 2,
                memory: 3,
                ..Default::default()
            }],
            ..Default::default()
        };
        let text = render(&s);
        assert!(text.contains("brisk_workers 1\n"));
        assert!(text.contains("brisk_tasks{state=\"waiting\"} 2\n"));
        assert!(
            text.contains("brisk_worker_memory_bytes{worker=\"w\\\"1\",kind=\"managed\"} 10\n")
        );
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            assert!(line.starts_with("brisk_"), "{line}");
        }
    }
}
