//! The front end, compiled into the binary: no CDN and no files needed at run time.

pub(crate) const STYLE: &str = include_str!("../assets/style.css");
pub(crate) const APP_JS: &str = include_str!("../assets/app.js");
pub(crate) const STATUS_HTML: &str = include_str!("../assets/status.html");
pub(crate) const TASK_HTML: &str = include_str!("../assets/task.html");
pub(crate) const GRAPH_HTML: &str = include_str!("../assets/graph.html");
pub(crate) const REPORT_HTML: &str = include_str!("../assets/report.html");
pub(crate) const UPLOT_JS: &str = include_str!("../assets/vendor/uPlot.iife.min.js");
pub(crate) const UPLOT_CSS: &str = include_str!("../assets/vendor/uPlot.min.css");

/// A static asset by file name: (content type, body).
pub(crate) fn get(name: &str) -> Option<(&'static str, &'static str)> {
    Some(match name {
        "style.css" => ("text/css; charset=utf-8", STYLE),
        "app.js" => ("text/javascript; charset=utf-8", APP_JS),
        "uPlot.iife.min.js" => ("text/javascript; charset=utf-8", UPLOT_JS),
        "uPlot.min.css" => ("text/css; charset=utf-8", UPLOT_CSS),
        _ => return None,
    })
}
