//! `brisk demo`: the talk's examples, run on the default scheduler, each with its result and
//! its time. Later collections add their examples here.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use brisk::{Collection, Error, Graph, delayed, graph};

#[cfg(feature = "array")]
mod array;
#[cfg(feature = "bag")]
mod bag;
#[cfg(feature = "dataframe")]
mod dataframe;
#[cfg(feature = "distributed")]
mod distributed;

fn inc(x: i64) -> i64 {
    x + 1
}
fn add(x: i64, y: i64) -> i64 {
    x + y
}
fn total(xs: Vec<i64>) -> i64 {
    xs.iter().sum()
}
brisk::register!(inc, add, total);

/// The talk's dict.
pub fn talk_graph() -> Graph {
    graph! {
        "a" => 1,
        "x" => 10,
        "b" => (inc, "a"),
        "y" => (inc, "x"),
        "z" => (add, "b", "y"),
    }
}

fn timed<T>(f: impl FnOnce() -> Result<T, Error>) -> Result<(T, Duration), Error> {
    let t = Instant::now();
    let v = f()?;
    Ok((v, t.elapsed()))
}

fn fmt_time(d: Duration) -> String {
    if d < Duration::from_millis(1) {
        format!("{:.1} µs", d.as_secs_f64() * 1e6)
    } else if d < Duration::from_secs(1) {
        format!("{:.2} ms", d.as_secs_f64() * 1e3)
    } else {
        format!("{:.2} s", d.as_secs_f64())
    }
}

/// Run every example, printing to `out` and writing pictures under `pictures`.
pub fn run(out: &mut dyn Write, pictures: &Path) -> Result<(), anyhow::Error> {
    let sched = brisk::default_scheduler()?;
    let cfg = brisk::config::config()?;
    writeln!(
        out,
        "Brisk demo: the talk's examples on the default scheduler ({}, {} threads)\n",
        sched.name(),
        cfg.num_threads
    )?;
    std::fs::create_dir_all(pictures)
        .map_err(|e| Error::io("cannot create", pictures.to_path_buf(), e))?;
    let report = |out: &mut dyn Write, name: &str, result: String, elapsed: Duration| {
        let _ = writeln!(out, "   {name:<44} = {result:<22} [{}]", fmt_time(elapsed));
    };

    writeln!(out, "1. A task graph is plain data (the talk's dict)")?;
    let dsk = talk_graph();
    writeln!(out, "   dsk = {dsk:?}")?;
    let (z, t) = timed(|| brisk::threaded::get::<i64>(&dsk, "z"))?;
    report(out, "threaded::get(&dsk, \"z\")", z.to_string(), t);
    let (z, t) = timed(|| brisk::sync::get::<i64>(&dsk, "z"))?;
    report(out, "sync::get(&dsk, \"z\")", z.to_string(), t);
    let pic = picture(&dsk, pictures, "talk-graph")?;
    writeln!(out, "   picture of the graph: {}", pic.display())?;

    writeln!(
        out,
        "\n2. delayed: lazy function calls build the graph for you"
    )?;
    let b = delayed(inc).call(1);
    let y = delayed(inc).call(10);
    let z = delayed(add).call(&b, &y);
    let (v, t) = timed(|| z.compute())?;
    report(out, "add(inc(1), inc(10)).compute()", v.to_string(), t);
    let parts: Vec<_> = (0..1000).map(|i| delayed(inc).call(i)).collect();
    let s = delayed(total).call(parts);
    #[cfg(feature = "dashboard")]
    let (v, t) = {
        let path = pictures.join("delayed-report.html");
        let r = brisk::diagnostics::performance_report(&path, || timed(|| s.compute()))??;
        writeln!(out, "   performance report: {}", path.display())?;
        r
    };
    #[cfg(not(feature = "dashboard"))]
    let (v, t) = timed(|| s.compute())?;
    report(out, "total([inc(i) for i in 0..1000])", v.to_string(), t);
    let pic = picture(&z.graph(), pictures, "delayed-graph")?;
    writeln!(out, "   picture of the graph: {}", pic.display())?;

    writeln!(out, "\n3. Many small tasks: microsecond scheduling")?;
    let n = 100_000usize;
    let mut g = Graph::with_capacity(n + 1);
    let mut keys = Vec::with_capacity(n);
    for i in 0..n {
        let _ = g.insert(("inc", i), brisk::task!(inc, i as i64));
        keys.push(brisk::Arg::Key(brisk::Key::from(("inc", i))));
    }
    let _ = g.insert("sum", brisk::Task::new(total, vec![brisk::Arg::List(keys)]));
    let (v, t) = timed(|| brisk::threaded::get::<i64>(&g, "sum"))?;
    let per = t.as_secs_f64() * 1e6 / (n + 1) as f64;
    report(
        out,
        &format!("sum of {n} inc tasks ({per:.2} µs per task)"),
        v.to_string(),
        t,
    );
    writeln!(out)?;
    #[cfg(feature = "array")]
    array::run(out, pictures)?;
    #[cfg(feature = "bag")]
    bag::run(out, pictures)?;
    #[cfg(feature = "dataframe")]
    dataframe::run(out, pictures)?;
    #[cfg(feature = "distributed")]
    distributed::run(out, pictures)?;
    Ok(())
}

/// Draw `graph` as SVG when Graphviz is installed, else as DOT text.
fn picture(graph: &Graph, dir: &Path, name: &str) -> Result<PathBuf, Error> {
    match brisk::diagnostics::visualize(graph, dir.join(format!("{name}.svg"))) {
        Ok(p) => Ok(p),
        Err(Error::Tool { .. }) => {
            brisk::diagnostics::visualize(graph, dir.join(format!("{name}.dot")))
        }
        Err(e) => Err(e),
    }
}
