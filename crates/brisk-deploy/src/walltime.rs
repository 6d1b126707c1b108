//! Slurm's time formats (`sbatch --time`): `minutes`, `minutes:seconds`,
//! `hours:minutes:seconds`, `days-hours`, `days-hours:minutes`, `days-hours:minutes:seconds`.

use std::time::Duration;

use crate::error::DeployError;

/// Parse a walltime in one of Slurm's formats.
pub fn parse_walltime(text: &str) -> Result<Duration, DeployError> {
    let bad = |reason: &str| DeployError::BadOption {
        name: "walltime",
        value: text.to_string(),
        reason: reason.to_string(),
    };
    let t = text.trim();
    let num = |s: &str| -> Result<u64, DeployError> {
        if s.is_empty() || !s.chars().all(|c| c.is_ascii_digit()) {
            return Err(bad(
                "expected minutes, MM:SS, HH:MM:SS, D-HH, D-HH:MM or D-HH:MM:SS",
            ));
        }
        s.parse::<u64>().map_err(|_| bad("a number is too large"))
    };
    let (days, rest) = match t.split_once('-') {
        Some((d, r)) => (Some(num(d)?), r),
        None => (None, t),
    };
    let parts: Vec<&str> = rest.split(':').collect();
    let secs = match (days, parts.as_slice()) {
        (None, [m]) => num(m)? * 60,
        (None, [m, s]) => num(m)? * 60 + num(s)?,
        (None, [h, m, s]) => num(h)? * 3600 + num(m)? * 60 + num(s)?,
        (Some(d), [h]) => d * 86400 + num(h)? * 3600,
        (Some(d), [h, m]) => d * 86400 + num(h)? * 3600 + num(m)? * 60,
        (Some(d), [h, m, s]) => d * 86400 + num(h)? * 3600 + num(m)? * 60 + num(s)?,
        _ => {
            return Err(bad(
                "expected minutes, MM:SS, HH:MM:SS, D-HH, D-HH:MM or D-HH:MM:SS",
            ));
        }
    };
    if secs == 0 {
        return Err(bad("a job needs some time"));
    }
    Ok(Duration::from_secs(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slurm_formats() {
        let s = |t: &str| parse_walltime(t).map(|d| d.as_secs()).ok();
        assert_eq!(s("30"), Some(1800));
        assert_eq!(s("1:30"), Some(90));
        assert_eq!(s("01:30:00"), Some(5400));
        assert_eq!(s("2-00"), Some(172_800));
        assert_eq!(s("1-02:03"), Some(93_780));
        assert_eq!(s("1-00:00:10"), Some(86_410));
        for bad in ["", "0", "1:2:3:4", "-5", "a", "1-", "1h", "00:00:00"] {
            let e = parse_walltime(bad).expect_err(bad).to_string();
            assert!(e.contains("walltime"), "{bad}: {e}");
        }
    }
}
