//! The disk shuffle writes its pieces under the temporary directory and removes them; runs at
//! once do not share files.

mod common;

use brisk_core::Collection;
use brisk_dataframe::{DataFrame as BriskFrame, How, JoinOptions, ShuffleMethod};
use polars::prelude::*;

#[test]
fn disk_shuffles_clean_up_their_files() -> anyhow::Result<()> {
    common::init();
    let tmp = tempfile::tempdir()?;
    // This test binary has one test, so the global setting races with nothing.
    brisk_dataframe::set_temporary_directory(Some(tmp.path().to_path_buf()));
    let data = common::events(5000, 500, 4);
    let df = BriskFrame::from_polars(data.clone(), 8)?;
    let sorted =
        df.sort_values_with(vec!["value".into()], vec![false], true, ShuffleMethod::Disk)?;
    assert_eq!(sorted.compute()?.height(), 5000);
    let users = df!("user_id" => (1i64..=500).collect::<Vec<_>>(), "k" => (1i64..=500).collect::<Vec<_>>())?;
    let j = df.join_with(
        &BriskFrame::from_polars(users, 3)?,
        JoinOptions::new("user_id", "user_id", How::Inner).shuffle_method(ShuffleMethod::Disk),
    )?;
    assert_eq!(
        j.compute()?.height(),
        5000 - data.column("user_id")?.null_count()
    );
    // Two runs of the same graph at once each get their own spill directory.
    let expected = sorted.compute()?;
    let runs: Vec<_> = (0..2)
        .map(|_| {
            let s = sorted.clone();
            std::thread::spawn(move || s.compute())
        })
        .collect();
    for r in runs {
        let got = r.join().map_err(|_| anyhow::anyhow!("a run panicked"))??;
        assert!(got.equals_missing(&expected));
    }
    let left: Vec<_> = std::fs::read_dir(tmp.path())?.collect();
    assert!(left.is_empty(), "spill files left behind: {left:?}");
    Ok(())
}
