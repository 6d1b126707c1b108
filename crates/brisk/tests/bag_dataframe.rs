//! `Bag::to_dataframe` is `DataFrame::from_records` over the bag's partitions (its conversions
//! are tested against pandas in brisk-dataframe's `tests/records.rs`): one dataframe partition
//! per bag partition, inferred and declared schemas, and its errors.
#![cfg(all(feature = "bag", feature = "dataframe"))]

use brisk::bag::Bag;
use brisk::dataframe::polars::prelude::{DataType, Schema};
use brisk::{BagToDataFrame, Collection, ToDataFrameError};
use serde_json::json;

#[derive(Clone, serde::Serialize)]
struct Visit {
    id: i64,
    user: String,
}

#[test]
fn bags_become_dataframes_partition_by_partition() -> anyhow::Result<()> {
    let _ = brisk::LocalScheduler::threaded();
    let visits: Vec<Visit> = (0..200)
        .map(|id| Visit {
            id,
            user: format!("u{}", id % 7),
        })
        .collect();
    let bag = Bag::from_sequence(visits.clone(), 10).filter(|v| !(40..60).contains(&v.id));
    let df = bag.to_dataframe()?;
    assert_eq!(df.npartitions(), 10);
    assert_eq!(df.columns(), ["id", "user"]);
    let out = df.compute()?;
    let want: Vec<i64> = visits
        .iter()
        .map(|v| v.id)
        .filter(|i| !(40..60).contains(i))
        .collect();
    let got: Vec<i64> = out.column("id")?.i64()?.into_no_null_iter().collect();
    assert_eq!(got, want);
    // A declared schema casts; a record that does not fit it is named when computing.
    let meta = Schema::from_iter([("id".into(), DataType::Int8)]);
    let small = bag
        .filter(|v| v.id < 30)
        .to_dataframe_with(meta.clone())?
        .compute()?;
    assert_eq!(small.column("id")?.dtype(), &DataType::Int8);
    assert_eq!(small.height(), 30);
    // (On one thread, so that the first record that does not fit is the one reported: on the
    // pool, a later partition may fail first.)
    let bad = bag.to_dataframe_with(meta)?;
    let sync: std::sync::Arc<dyn brisk::Scheduler> =
        std::sync::Arc::new(brisk::LocalScheduler::sync());
    let e = brisk::with_scheduler(sync, || bad.compute())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("record 8 of partition 6") && e.contains("128"),
        "{e}"
    );
    // Errors keep their type through the facade.
    let e = Bag::from_sequence(vec![json!(1), json!(2)], 1)
        .to_dataframe()
        .unwrap_err();
    assert!(
        matches!(e, ToDataFrameError::NotARecord { record: 0, .. }),
        "{e:?}"
    );
    Ok(())
}
