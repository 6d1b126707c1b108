//! Performance reports: one self-contained HTML file with a computation's task stream, the
//! time per operation and a summary. Works offline: styles, scripts and data are inlined.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use crate::assets;
use crate::error::DashboardError;
use crate::model::TaskSpan;

/// Time spent in one operation (key prefix).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PrefixProfile {
    /// The key prefix.
    pub prefix: String,
    /// Tasks run.
    pub count: u64,
    /// Seconds spent in them.
    pub total: f64,
    /// The longest one, in seconds.
    pub max: f64,
}

/// The data of a performance report.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// A title (what was computed).
    pub title: String,
    /// Wall-clock seconds from the first start to the last end.
    pub duration: f64,
    /// Every task.
    pub spans: Vec<TaskSpan>,
    /// Time per operation, longest first.
    pub profile: Vec<PrefixProfile>,
    /// Extra facts shown in the summary (scheduler, threads, …).
    pub metadata: Vec<(String, String)>,
}

impl Report {
    /// A report from task spans; the profile and duration are derived from them.
    pub fn from_spans(
        title: impl Into<String>,
        spans: Vec<TaskSpan>,
        metadata: Vec<(String, String)>,
    ) -> Report {
        let mut by_prefix: BTreeMap<&str, PrefixProfile> = BTreeMap::new();
        let (mut first, mut last) = (f64::INFINITY, f64::NEG_INFINITY);
        for s in &spans {
            first = first.min(s.start);
            last = last.max(s.stop);
            let d = (s.stop - s.start).max(0.0);
            let p = by_prefix.entry(&s.prefix).or_insert_with(|| PrefixProfile {
                prefix: s.prefix.clone(),
                count: 0,
                total: 0.0,
                max: 0.0,
            });
            p.count += 1;
            p.total += d;
            p.max = p.max.max(d);
        }
        let mut profile: Vec<PrefixProfile> = by_prefix.into_values().collect();
        profile.sort_by(|a, b| b.total.total_cmp(&a.total));
        Report {
            title: title.into(),
            duration: if spans.is_empty() { 0.0 } else { last - first },
            spans,
            profile,
            metadata,
        }
    }

    /// The report as one HTML document.
    pub fn to_html(&self) -> Result<String, DashboardError> {
        // `<` is escaped so that no string in the data can close the script element.
        let data = serde_json::to_string(self)?.replace('<', "\\u003c");
        Ok(assets::REPORT_HTML
            .replacen("/*STYLE*/", assets::STYLE, 1)
            .replacen("/*UPLOT_CSS*/", assets::UPLOT_CSS, 1)
            .replacen("/*DATA*/", &data, 1)
            .replacen("/*UPLOT_JS*/", assets::UPLOT_JS, 1)
            .replacen("/*APP_JS*/", assets::APP_JS, 1))
    }

    /// Write the report to `path`.
    pub fn write(&self, path: impl AsRef<Path>) -> Result<(), DashboardError> {
        let path = path.as_ref();
        std::fs::write(path, self.to_html()?).map_err(|source| DashboardError::Write {
            path: path.to_path_buf(),
            source,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(key: &str, prefix: &str, start: f64, stop: f64) -> TaskSpan {
        TaskSpan {
            key: key.into(),
            prefix: prefix.into(),
            worker: "local".into(),
            thread: 0,
            start,
            stop,
            ok: true,
        }
    }

    #[test]
    fn profile_and_self_contained_html() {
        let r = Report::from_spans(
            "test </script><b>",
            vec![
                span("a-1", "a", 0.0, 1.0),
                span("a-2", "a", 1.0, 1.5),
                span("b", "b", 0.5, 3.0),
            ],
            vec![("scheduler".into(), "threads".into())],
        );
        assert_eq!(r.duration, 3.0);
        assert_eq!(r.profile[0].prefix, "b");
        assert_eq!(r.profile[1].count, 2);
        assert_eq!(r.profile[1].total, 1.5);
        let html = r.to_html().unwrap();
        assert!(!html.contains("/*DATA*/") && !html.contains("/*APP_JS*/"));
        assert!(
            !html.contains("src=\"http") && !html.contains("href=\"http"),
            "no network at view time"
        );
        assert_eq!(
            html.matches("</script>").count(),
            3,
            "the title cannot close a script"
        );
        assert!(html.contains("uPlot"));
    }
}
