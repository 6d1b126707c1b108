//! Named functions and registered values cross a process boundary; closures are a clear error.
//!
//! The parent test encodes a graph, starts this same test binary again as a child (running
//! the ignored `child_runs_encoded_graph` entry point), and reads back the encoded result.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::process::Command;

use brisk::crates::core::{codec, wire};
use brisk::{Error, Graph, graph, lit};

fn inc(x: i64) -> i64 {
    x + 1
}
fn add(x: i64, y: i64) -> i64 {
    x + y
}
fn norm(p: Point) -> f64 {
    (p.x * p.x + p.y * p.y).sqrt()
}
brisk::register!(inc, add, norm);

#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
struct Point {
    x: f64,
    y: f64,
}
brisk::data!(Point, serde);

fn talk_with_point() -> Graph {
    graph! {
        "a" => 1, "x" => 10,
        "b" => (inc, "a"), "y" => (inc, "x"),
        "z" => (add, "b", "y"),
        "p" => lit(Point { x: 3.0, y: 4.0 }),
        "n" => (norm, "p"),
    }
}

#[test]
fn registered_functions_and_values_run_in_another_process() {
    let dir = tempfile::tempdir().unwrap();
    let graph_path = dir.path().join("graph.bin");
    let out_path = dir.path().join("out.bin");
    std::fs::write(&graph_path, wire::encode_graph(&talk_with_point()).unwrap()).unwrap();
    let status = Command::new(std::env::current_exe().unwrap())
        .args([
            "--ignored",
            "--exact",
            "child_runs_encoded_graph",
            "--test-threads=1",
        ])
        .env("BRISK_CHILD_GRAPH", &graph_path)
        .env("BRISK_CHILD_OUT", &out_path)
        .status()
        .unwrap();
    assert!(status.success());
    let text = std::fs::read_to_string(&out_path).expect("the child wrote its result");
    let values: Vec<brisk::Value> = text
        .lines()
        .map(|line| {
            let (tag, hex) = line.split_once('\t').unwrap();
            let bytes: Vec<u8> = (0..hex.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
                .collect();
            codec::decode(tag, &bytes).unwrap()
        })
        .collect();
    assert_eq!(values[0].get::<i64>().unwrap(), 13);
    assert_eq!(values[1].get::<f64>().unwrap(), 5.0);
}

/// Entry point of the child process (ignored in normal runs).
#[test]
#[ignore = "run by registered_functions_and_values_run_in_another_process in a child process"]
fn child_runs_encoded_graph() {
    let Ok(graph_path) = std::env::var("BRISK_CHILD_GRAPH") else {
        return;
    };
    let out_path = PathBuf::from(std::env::var("BRISK_CHILD_OUT").unwrap());
    let g = wire::decode_graph(&std::fs::read(graph_path).unwrap()).unwrap();
    let values = brisk::sync::get_many(&g, &["z".into(), "n".into()]).unwrap();
    let mut text = String::new();
    for v in &values {
        let (tag, bytes) = codec::encode(v).unwrap();
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        text.push_str(&format!("{tag}\t{hex}\n"));
    }
    std::fs::write(out_path, text).unwrap();
}

#[test]
fn an_unregistered_closure_is_a_clear_error_before_sending() {
    let offset = 5;
    let g = graph! { "a" => 1, "b" => (move |x: i64| x + offset, "a") };
    let err = wire::encode_graph(&g).unwrap_err();
    let Error::UnregisteredFunction { key, function } = &err else {
        panic!("{err}")
    };
    assert_eq!(key.to_string(), "b");
    assert!(function.contains("{{closure}}"), "{function}");
    let msg = err.to_string();
    assert!(msg.contains("#[brisk::func]"), "{msg}");
    assert!(msg.contains("task b"), "{msg}");
}

#[test]
fn an_unknown_function_or_type_is_a_clear_error_on_arrival() {
    let task = wire::WireNode::Task(wire::WireTask {
        func: "some_other_program::secret".into(),
        args: vec![],
    });
    let err = wire::decode_node(&"k".into(), &task).unwrap_err();
    assert!(matches!(err, Error::UnknownFunction { .. }));
    assert!(err.to_string().contains("same binary"), "{err}");
    let lit = wire::WireNode::Literal(wire::WireValue {
        tag: "nope::Type".into(),
        bytes: vec![],
    });
    let err = wire::decode_node(&"k".into(), &lit).unwrap_err();
    assert!(err.to_string().contains("nope::Type"), "{err}");
    let err = wire::decode_graph(b"\xff\x00garbage").unwrap_err();
    assert!(err.to_string().contains("graph"), "{err}");
}
