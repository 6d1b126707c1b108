//! Blocked matmul adds the block products of an output block in a tree of bounded fan-in.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use brisk_array::{self as da, ArrayError};
use brisk_core::{Collection, Node};
use ndarray::Ix2;

fn sum_fan_ins(g: &brisk_core::Graph) -> Vec<usize> {
    g.iter()
        .filter_map(|(_, n)| match n {
            Node::Task(t) if t.func.name() == Some("brisk_array::sum_blocks") => Some(t.args.len()),
            _ => None,
        })
        .collect()
}

#[test]
fn many_contracted_blocks_sum_in_a_tree() {
    let _ = brisk_local::LocalScheduler::threaded();
    let rs = da::RandomState::new(9);
    // 20 blocks along the contracted axis.
    let a = rs.random([6, 40], [3, 2]).unwrap();
    let b = rs.random([40, 5], [2, 5]).unwrap();
    let want = a
        .compute()
        .unwrap()
        .into_dimensionality::<Ix2>()
        .unwrap()
        .dot(&b.compute().unwrap().into_dimensionality::<Ix2>().unwrap());
    for split_every in [2, 3, 4, 16, 32] {
        let c = a.matmul_with(&b, split_every).unwrap();
        let fan = sum_fan_ins(&c.graph());
        assert!(!fan.is_empty());
        assert!(
            fan.iter().all(|&f| (2..=split_every).contains(&f)),
            "split_every={split_every}: fan-ins {fan:?}"
        );
        // Two output blocks; 20 products each need 19 pairwise additions at most in total.
        let got = c.compute().unwrap().into_dimensionality::<Ix2>().unwrap();
        for (x, y) in got.iter().zip(want.iter()) {
            assert!((x - y).abs() <= 1e-12 * y.abs().max(1.0), "{x} vs {y}");
        }
    }
    // The default is DEFAULT_SPLIT_EVERY.
    let fan = sum_fan_ins(&a.matmul(&b).unwrap().graph());
    assert!(fan.iter().all(|&f| f <= da::DEFAULT_SPLIT_EVERY), "{fan:?}");
    // tensordot builds on the same tree.
    let t = da::tensordot(&a, &b, &[1], &[0]).unwrap();
    let got = t.compute().unwrap().into_dimensionality::<Ix2>().unwrap();
    for (x, y) in got.iter().zip(want.iter()) {
        assert!((x - y).abs() <= 1e-12 * y.abs().max(1.0));
    }
    assert!(matches!(
        a.matmul_with(&b, 1),
        Err(ArrayError::InvalidArgument { .. })
    ));
}
