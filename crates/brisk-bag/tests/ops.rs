//! Bag operations on in-memory sequences, checked against plain iterator code for many
//! partition counts.

use std::collections::HashMap;

use brisk_bag::{Bag, BagError};
use brisk_core::{Collection, compute};

fn setup() {
    let _ = brisk_local::LocalScheduler::threaded();
}

fn data(n: i64) -> Vec<i64> {
    // A scrambled sequence with repeats.
    (0..n).map(|i| (i * 7919 + 13) % 101 - 50).collect()
}

#[test]
fn element_wise_and_reductions_match_iterators() -> anyhow::Result<()> {
    setup();
    for n in [0i64, 1, 5, 100, 1000] {
        let xs = data(n);
        for parts in [1usize, 2, 3, 8, 17, 100] {
            let b = Bag::from_sequence(xs.clone(), parts);
            assert!(b.npartitions() >= 1);
            let mapped = b.map(|x| x * 2).filter(|x| x % 3 != 0);
            let want: Vec<i64> = xs.iter().map(|x| x * 2).filter(|x| x % 3 != 0).collect();
            assert_eq!(mapped.compute()?, want, "n {n} parts {parts}");
            let (count, sum) = compute((&mapped.count(), &mapped.sum()))?;
            assert_eq!(count as usize, want.len());
            assert_eq!(sum, want.iter().sum::<i64>());
            let flat = b
                .flat_map(|x| vec![x; (x.rem_euclid(3)) as usize])
                .compute()?;
            let want_flat: Vec<i64> = xs
                .iter()
                .flat_map(|&x| vec![x; x.rem_euclid(3) as usize])
                .collect();
            assert_eq!(flat, want_flat);
            if n == 0 {
                let e = b.min().compute().unwrap_err();
                assert!(e.to_string().contains("min of an empty bag"), "{e}");
                let e = b.mean().compute().unwrap_err();
                assert!(e.to_string().contains("mean of an empty bag"), "{e}");
                assert_eq!(b.count().compute()?, 0);
                assert_eq!(b.sum().compute()?, 0);
                continue;
            }
            assert_eq!(b.min().compute()?, *xs.iter().min().unwrap_or(&0));
            assert_eq!(b.max().compute()?, *xs.iter().max().unwrap_or(&0));
            let mean = b.mean().compute()?;
            let want_mean = xs.iter().sum::<i64>() as f64 / xs.len() as f64;
            assert!((mean - want_mean).abs() < 1e-9);
            let fold = b.fold(0i64, |a, x| a + x * x, |a, c| a + c).compute()?;
            assert_eq!(fold, xs.iter().map(|x| x * x).sum::<i64>());
            let red = b
                .reduction(|p| p.len(), |ps: Vec<usize>| ps.into_iter().sum::<usize>())
                .compute()?;
            assert_eq!(red, xs.len());
        }
    }
    Ok(())
}

#[test]
fn frequencies_topk_distinct_foldby_groupby() -> anyhow::Result<()> {
    setup();
    let xs = data(2000);
    let mut want_freq: HashMap<i64, u64> = HashMap::new();
    for &x in &xs {
        *want_freq.entry(x).or_default() += 1;
    }
    for parts in [1usize, 3, 9, 40] {
        let b = Bag::from_sequence(xs.clone(), parts);
        let freq: HashMap<i64, u64> = b.frequencies().compute()?.into_iter().collect();
        assert_eq!(freq, want_freq);

        let mut sorted = xs.clone();
        sorted.sort_by(|a, b| b.cmp(a));
        assert_eq!(b.topk(7).compute()?, sorted[..7].to_vec());
        // By a key, ties keep their order in the bag (like heapq.nlargest).
        let by_key = b.topk_by(5, |x| x.rem_euclid(10)).compute()?;
        let mut want: Vec<(usize, i64)> = xs.iter().copied().enumerate().collect();
        want.sort_by_key(|(i, x)| (std::cmp::Reverse(x.rem_euclid(10)), *i));
        assert_eq!(by_key, want[..5].iter().map(|p| p.1).collect::<Vec<_>>());
        assert_eq!(b.topk(0).compute()?, Vec::<i64>::new());

        let mut seen = std::collections::HashSet::new();
        let first_seen: Vec<i64> = xs.iter().copied().filter(|x| seen.insert(*x)).collect();
        assert_eq!(b.distinct().compute()?, first_seen);

        let fb: HashMap<i64, i64> = b
            .foldby(|x| x.rem_euclid(7), 0i64, |a, x| a + x, |a, c| a + c)
            .compute()?
            .into_iter()
            .collect();
        let mut want_fb: HashMap<i64, i64> = HashMap::new();
        for &x in &xs {
            *want_fb.entry(x.rem_euclid(7)).or_default() += x;
        }
        assert_eq!(fb, want_fb);

        for out_parts in [None, Some(1), Some(5)] {
            let g = b.groupby(|x| x.rem_euclid(13), out_parts);
            assert_eq!(g.npartitions(), out_parts.unwrap_or(parts));
            let groups = g.compute()?;
            let mut want_g: HashMap<i64, Vec<i64>> = HashMap::new();
            for &x in &xs {
                want_g.entry(x.rem_euclid(13)).or_default().push(x);
            }
            assert_eq!(groups.len(), want_g.len(), "each key in exactly one group");
            let got: HashMap<i64, Vec<i64>> = groups.into_iter().collect();
            assert_eq!(got, want_g, "records keep their order within a group");
        }
    }
    Ok(())
}

#[test]
fn join_sample_take_partitions() -> anyhow::Result<()> {
    setup();
    let people = Bag::from_sequence(
        vec![("alice", 1), ("bob", 2), ("carol", 3), ("dan", 9)]
            .into_iter()
            .map(|(n, c)| (n.to_string(), c))
            .collect::<Vec<(String, i64)>>(),
        2,
    );
    let cities = vec![(1i64, "Paris"), (2, "Lima"), (3, "Oslo"), (3, "Kyoto")];
    let joined = people
        .join(cities, |p| p.1, |c| c.0)
        .map(|(p, c)| format!("{} {}", p.0, c.1))
        .compute()?;
    assert_eq!(
        joined,
        ["alice Paris", "bob Lima", "carol Oslo", "carol Kyoto"]
    );

    let b = brisk_bag::range(10_000, 7);
    let s1 = b.random_sample(0.1, Some(42))?.compute()?;
    let s2 = b.random_sample(0.1, Some(42))?.compute()?;
    assert_eq!(s1, s2, "a seed makes the sample reproducible");
    assert!((800..1200).contains(&s1.len()), "{}", s1.len());
    assert!(
        s1.windows(2).all(|w| w[0] < w[1]),
        "a sample keeps the order"
    );
    assert_eq!(b.random_sample(0.0, None)?.count().compute()?, 0);
    assert_eq!(b.random_sample(1.0, None)?.count().compute()?, 10_000);
    let e = b.random_sample(1.5, None).unwrap_err();
    assert!(e.to_string().contains("prob=1.5"), "{e}");

    assert_eq!(b.take(5)?, vec![0, 1, 2, 3, 4]);
    // More than the first partition holds: the next partitions are read too.
    assert_eq!(b.take(3000)?, (0..3000).collect::<Vec<u64>>());
    assert_eq!(b.take(20_000)?.len(), 10_000);

    let sums = b
        .map_partitions(|p| vec![p.iter().sum::<u64>()])
        .compute()?;
    assert_eq!(sums.len(), 7);
    assert_eq!(sums.iter().sum::<u64>(), (0..10_000u64).sum::<u64>());
    let nested = Bag::from_sequence(vec![vec![1, 2], vec![], vec![3]], 2);
    assert_eq!(nested.flatten().compute()?, vec![1, 2, 3]);

    let p = b.map(|x| x % 10).persist()?;
    assert_eq!(p.sum().compute()?, 45_000);
    assert_eq!(p.npartitions(), 7);
    Ok(())
}

#[test]
fn user_errors_name_the_task() -> anyhow::Result<()> {
    setup();
    let b = Bag::from_sequence(vec!["1".to_string(), "2".into(), "x3".into()], 2);
    let e = b.try_map(|s| s.parse::<i64>()).sum().compute().unwrap_err();
    let text = e.to_string();
    assert!(text.contains("try_map failed"), "{text}");
    assert!(text.contains("invalid digit"), "{text}");
    let e = b
        .map(|s| {
            if s == "2" {
                panic!("boom on {s}")
            }
            s
        })
        .count()
        .compute()
        .unwrap_err();
    assert!(e.to_string().contains("boom on 2"), "{e}");
    let be = BagError::Compute(e);
    assert!(matches!(be.root(), BagError::Compute(_)));
    Ok(())
}
