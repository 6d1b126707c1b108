//! Pictures of task graphs, drawn like Dask's: tasks are circles labelled with their function,
//! data are boxes labelled with their key, and arrows run from inputs up to results.
//!
//! [`to_dot`] writes Graphviz DOT text; [`visualize`] writes `.dot` directly and renders
//! `.svg`, `.png` or `.pdf` with Graphviz's `dot` program when it is installed. Without
//! Graphviz, `.svg` is still drawn, by the pure-Rust `layout-rs` (a plainer layout, for graphs
//! of up to [`BUILTIN_MAX_NODES`] nodes); `.png` and `.pdf` need Graphviz.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use rustc_hash::FxHashMap;

use crate::error::Error;
use crate::{Arg, Graph, Key, Node};

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

/// The label of a data box: the key's prefix and index, shortened like Dask's pictures.
fn data_label(k: &Key) -> String {
    if k.index().is_empty() {
        k.prefix().to_string()
    } else {
        let idx: Vec<String> = k.index().iter().map(u32::to_string).collect();
        format!("({})", idx.join(", "))
    }
}

/// A colour per key prefix, so that each operation has its own colour.
fn colour(prefix: &str) -> String {
    let h = prefix.bytes().fold(2166136261u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(16777619)
    });
    format!("{:.3} 0.45 0.95", f64::from(h % 360) / 360.0)
}

/// Graphviz DOT text for `graph`.
///
/// ```
/// fn inc(x: i64) -> i64 { x + 1 }
/// let g = brisk_core::graph! { "a" => 1, "b" => (inc, "a") };
/// let dot = brisk_core::dot::to_dot(&g);
/// assert!(dot.contains("label=\"inc\""));
/// assert!(dot.contains("shape=box"));
/// ```
pub fn to_dot(graph: &Graph) -> String {
    let keys = graph.sorted_keys();
    let ids: FxHashMap<&Key, usize> = keys.iter().enumerate().map(|(i, k)| (*k, i)).collect();
    let mut s = String::new();
    s.push_str("digraph brisk {\n  graph [rankdir=BT];\n  node [fontname=\"Helvetica\"];\n");
    for (i, key) in keys.iter().enumerate() {
        let Some(node) = graph.get(key) else { continue };
        let fill = colour(key.prefix());
        let _ = writeln!(
            s,
            "  d{i} [label=\"{}\", shape=box, style=filled, fillcolor=\"{fill}\", tooltip=\"{}\"];",
            escape(&data_label(key)),
            escape(&key.to_string())
        );
        match node {
            Node::Literal(_) => {}
            Node::Alias(target) => {
                if let Some(t) = ids.get(target) {
                    let _ = writeln!(s, "  d{t} -> d{i} [style=dashed];");
                }
            }
            Node::Task(task) => {
                let _ = writeln!(
                    s,
                    "  t{i} [label=\"{}\", shape=circle, style=filled, fillcolor=\"{fill}\"];",
                    escape(task.func.label())
                );
                let _ = writeln!(s, "  t{i} -> d{i};");
                let mut seen = Vec::new();
                task.for_each_dependency(&mut |d| {
                    if let Some(&j) = ids.get(d)
                        && !seen.contains(&j)
                    {
                        seen.push(j);
                        let _ = writeln!(s, "  d{j} -> t{i};");
                    }
                });
                let nested = task
                    .args
                    .iter()
                    .filter(|a| matches!(a, Arg::Task(_)))
                    .count();
                if nested > 0 {
                    let _ = writeln!(s, "  t{i} [xlabel=\"+{nested} nested\"];");
                }
            }
        }
    }
    s.push_str("}\n");
    s
}

/// The largest graph (nodes of the picture: data boxes and task circles) that `.svg` draws
/// without Graphviz; the built-in layout's time grows faster than Graphviz's.
pub const BUILTIN_MAX_NODES: usize = 2000;

/// Write a picture of `graph` to `path`: `.dot` as text; `.svg`/`.png`/`.pdf` rendered by
/// Graphviz when its `dot` program is installed; without it `.svg` is drawn by the built-in
/// layout (graphs up to [`BUILTIN_MAX_NODES`] picture nodes), and anything else is a clear error
/// saying how to install Graphviz. Returns the path.
pub fn visualize(graph: &Graph, path: impl AsRef<Path>) -> Result<PathBuf, Error> {
    let path = path.as_ref().to_path_buf();
    let dot = to_dot(graph);
    if graph.len() > 5000 {
        tracing::warn!(
            nodes = graph.len(),
            "drawing a large graph; the picture will be dense"
        );
    }
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    match ext.as_str() {
        "dot" | "gv" => {
            std::fs::write(&path, dot).map_err(|e| Error::io("cannot write", &path, e))?;
        }
        "svg" | "png" | "pdf" => {
            if !render(&dot, &ext, &path)? {
                if ext != "svg" {
                    return Err(Error::Tool {
                        tool: "Graphviz dot",
                        path,
                        message: format!(
                            "Graphviz is not installed; install it (apt install graphviz), or ask \
                             for a .svg (drawn without Graphviz) or a .dot file instead of .{ext}"
                        ),
                    });
                }
                let svg =
                    render_builtin(&dot, picture_nodes(graph)).map_err(|message| Error::Tool {
                        tool: "built-in SVG layout",
                        path: path.clone(),
                        message,
                    })?;
                std::fs::write(&path, svg).map_err(|e| Error::io("cannot write", &path, e))?;
            }
        }
        _ => {
            return Err(Error::Tool {
                tool: "visualize",
                path,
                message: "unknown picture format; name the file .svg, .png, .pdf or .dot".into(),
            });
        }
    }
    Ok(path)
}

/// Data boxes plus task circles: what the picture draws.
fn picture_nodes(graph: &Graph) -> usize {
    graph.len()
        + graph
            .sorted_keys()
            .iter()
            .filter(|k| matches!(graph.get(k), Some(Node::Task(_))))
            .count()
}

/// A picture of `graph` as SVG text, drawn by the built-in layout (`layout-rs`, no Graphviz):
/// what [`visualize`] writes to a `.svg` file when Graphviz is not installed.
///
/// ```
/// fn inc(x: i64) -> i64 { x + 1 }
/// let g = brisk_core::graph! { "a" => 1, "b" => (inc, "a") };
/// let svg = brisk_core::dot::to_svg(&g).unwrap();
/// assert!(svg.contains("<svg") && svg.contains("inc"));
/// ```
pub fn to_svg(graph: &Graph) -> Result<String, Error> {
    render_builtin(&to_dot(graph), picture_nodes(graph)).map_err(|message| Error::Tool {
        tool: "built-in SVG layout",
        path: PathBuf::new(),
        message,
    })
}

/// SVG from DOT text with the pure-Rust `layout-rs`; the error says what to do instead.
fn render_builtin(dot: &str, nodes: usize) -> Result<String, String> {
    if nodes > BUILTIN_MAX_NODES {
        return Err(format!(
            "the graph has {nodes} picture nodes, more than the built-in SVG layout draws \
             ({BUILTIN_MAX_NODES}); install Graphviz (apt install graphviz) or ask for a .dot file"
        ));
    }
    // `layout-rs` asserts on shapes it does not expect; our DOT is generated, but a panic in
    // a picture must never take the program down.
    let dot = dot.to_string();
    let drawn = std::panic::catch_unwind(move || {
        let mut parser = layout::gv::DotParser::new(&dot);
        let ast = parser.process()?;
        let mut builder = layout::gv::GraphBuilder::new();
        builder.visit_graph(&ast);
        let mut graph = builder.get();
        let mut svg = layout::backends::svg::SVGWriter::new();
        graph.do_it(false, false, false, &mut svg);
        Ok::<String, String>(svg.finalize())
    });
    match drawn {
        Ok(r) => r,
        Err(_) => Err(
            "the layout failed on this graph; install Graphviz (apt install graphviz) \
                       or ask for a .dot file"
                .into(),
        ),
    }
}

/// Render with Graphviz's `dot`: `Ok(false)` when it is not installed.
fn render(dot: &str, format: &str, path: &Path) -> Result<bool, Error> {
    let child = Command::new("dot")
        .arg(format!("-T{format}"))
        .arg("-o")
        .arg(path)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(Error::io("cannot start Graphviz for", path, e)),
    };
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(dot.as_bytes())
            .map_err(|e| Error::io("cannot send the graph to Graphviz for", path, e))?;
    }
    let out = child
        .wait_with_output()
        .map_err(|e| Error::io("Graphviz did not finish", path, e))?;
    if !out.status.success() {
        return Err(Error::Tool {
            tool: "Graphviz dot",
            path: path.to_path_buf(),
            message: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(true)
}
