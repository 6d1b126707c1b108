//! Pictures of graphs: DOT text always, SVG/PNG through Graphviz when it is installed.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use brisk_core::dot::{to_dot, visualize};
use brisk_core::{Error, graph};

fn inc(x: i64) -> i64 {
    x + 1
}
fn add(x: i64, y: i64) -> i64 {
    x + y
}

fn graphviz_installed() -> bool {
    std::process::Command::new("dot").arg("-V").output().is_ok()
}

#[test]
fn dot_text_draws_tasks_as_circles_and_data_as_boxes() {
    let g = graph! { "a" => 1, "b" => (inc, "a"), "c" => (add, "b", ("x", 0)), ("x", 0) => 5 };
    let dot = to_dot(&g);
    assert_eq!(dot.matches("shape=box").count(), 4, "{dot}");
    assert_eq!(dot.matches("shape=circle").count(), 2, "{dot}");
    assert!(
        dot.contains("label=\"(0)\""),
        "chunk keys show their index: {dot}"
    );
    assert!(dot.contains("rankdir=BT"));
    let dir = tempfile::tempdir().unwrap();
    let p = visualize(&g, dir.path().join("g.dot")).unwrap();
    assert_eq!(std::fs::read_to_string(p).unwrap(), dot);
}

#[test]
fn svg_always_renders_and_png_needs_graphviz_or_says_how_to_get_it() {
    let g = graph! { "a" => 1, "b" => (inc, "a") };
    let dir = tempfile::tempdir().unwrap();
    for ext in ["svg", "png"] {
        let path = dir.path().join(format!("g.{ext}"));
        match visualize(&g, &path) {
            Ok(p) => {
                // SVG has a built-in fallback; PNG needs Graphviz.
                assert!(ext == "svg" || graphviz_installed());
                let bytes = std::fs::read(p).unwrap();
                if ext == "svg" {
                    assert!(String::from_utf8_lossy(&bytes).contains("<svg"));
                } else {
                    assert_eq!(&bytes[1..4], b"PNG");
                }
            }
            Err(e) => {
                assert!(
                    !graphviz_installed(),
                    "graphviz is installed but rendering failed: {e}"
                );
                assert_ne!(ext, "svg", "SVG is drawn without Graphviz too: {e}");
                assert!(e.to_string().contains("apt install graphviz"), "{e}");
            }
        }
    }
    if std::env::var("CI").is_ok() || std::env::var("BRISK_REQUIRE_GRAPHVIZ").is_ok() {
        assert!(graphviz_installed(), "CI installs Graphviz");
    }
}

#[test]
fn svg_without_graphviz_uses_the_built_in_layout() {
    fn inc(x: i64) -> i64 {
        x + 1
    }
    fn add(x: i64, y: i64) -> i64 {
        x + y
    }
    let g = graph! { "a" => 1, "x" => 10, "b" => (inc, "a"), "y" => (inc, "x"), "z" => (add, "b", "y") };
    let svg = brisk_core::dot::to_svg(&g).unwrap();
    assert!(svg.starts_with("<svg") || svg.contains("<svg"), "{svg}");
    for label in ["inc", "add", "z"] {
        assert!(svg.contains(label), "{label} missing from the picture");
    }
    // Too big for the built-in layout: a clear error, not a very slow picture.
    let mut big = brisk_core::Graph::new();
    for i in 0..brisk_core::dot::BUILTIN_MAX_NODES {
        big.insert(("x", i), brisk_core::task!(inc, i as i64))
            .unwrap();
    }
    let err = brisk_core::dot::to_svg(&big).unwrap_err().to_string();
    assert!(err.contains("apt install graphviz"), "{err}");
}

#[test]
fn unknown_formats_and_unwritable_paths_are_clear_errors() {
    let g = graph! { "a" => 1 };
    let err = visualize(&g, "graph.jpeg2000").unwrap_err();
    assert!(matches!(err, Error::Tool { .. }));
    assert!(
        err.to_string().contains(".svg, .png, .pdf or .dot"),
        "{err}"
    );
    let err = visualize(&g, "/no/such/dir/g.dot").unwrap_err();
    assert!(err.to_string().contains("/no/such/dir/g.dot"), "{err}");
}
