//! keel-bench's JSON as xtask reads it, the rounds averaged per workload and
//! server, and the comparison table.

use serde::Deserialize;
use serde::Serialize;

/// The part of keel-bench's `--json` output the comparison uses.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct BenchJson {
    /// keel-bench's statistics.
    pub(crate) summary: SummaryJson,
}

/// keel-bench's summary (other fields are ignored).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct SummaryJson {
    /// Successful requests per second.
    pub(crate) requests_per_sec: f64,
    /// Successful requests.
    pub(crate) requests: u64,
    /// Failed requests.
    pub(crate) errors: u64,
    /// The latency percentiles.
    pub(crate) percentiles: Vec<PercentileJson>,
}

/// One percentile.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct PercentileJson {
    /// e.g. 99.0.
    pub(crate) percent: f64,
    /// Its latency.
    pub(crate) secs: f64,
}

impl SummaryJson {
    /// The latency at `percent`, if keel-bench reported it.
    pub(crate) fn percentile_secs(&self, percent: f64) -> Option<f64> {
        self.percentiles
            .iter()
            .find(|p| p.percent == percent)
            .map(|p| p.secs)
    }
}

/// One workload run against one server in one round.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Run {
    /// `keel` or `etcd`.
    pub(crate) server: String,
    /// The round, from 0.
    pub(crate) round: u32,
    /// The workload's name.
    pub(crate) workload: String,
    /// keel-bench's full JSON report, when it produced one.
    pub(crate) report: Option<serde_json::Value>,
    /// Why the run failed, when it did.
    pub(crate) error: Option<String>,
    /// The sum over the members of their peak resident set during the run.
    pub(crate) peak_rss_kib: Option<u64>,
}

impl Run {
    fn summary(&self) -> Option<SummaryJson> {
        let report = self.report.as_ref()?;
        serde_json::from_value::<BenchJson>(report.clone())
            .ok()
            .map(|b| b.summary)
    }
}

/// One server's figures for one workload, averaged over the rounds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub(crate) struct Figures {
    /// Requests per second.
    pub(crate) rps: f64,
    /// Median latency in milliseconds.
    pub(crate) p50_ms: f64,
    /// 99th percentile latency in milliseconds.
    pub(crate) p99_ms: f64,
    /// Failed requests, summed over the rounds.
    pub(crate) errors: u64,
    /// The largest peak RSS of the rounds, in MiB (all members together).
    pub(crate) peak_rss_mib: Option<f64>,
}

/// One row of the table.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Row {
    /// The workload.
    pub(crate) workload: String,
    /// keel's figures (none if every round failed or keel did not run).
    pub(crate) keel: Option<Figures>,
    /// etcd's figures.
    pub(crate) etcd: Option<Figures>,
}

/// Averages the successful runs of `server` on `workload`.
pub(crate) fn figures(runs: &[Run], server: &str, workload: &str) -> Option<Figures> {
    let mine: Vec<&Run> = runs
        .iter()
        .filter(|r| r.server == server && r.workload == workload)
        .collect();
    let summaries: Vec<SummaryJson> = mine
        .iter()
        .filter_map(|r| r.summary())
        .filter(|s| s.requests > 0)
        .collect();
    if summaries.is_empty() {
        return None;
    }
    let n = summaries.len() as f64;
    let mean = |f: &dyn Fn(&SummaryJson) -> f64| summaries.iter().map(f).sum::<f64>() / n;
    let peak_rss_mib = mine
        .iter()
        .filter_map(|r| r.peak_rss_kib)
        .max()
        .map(|k| k as f64 / 1024.0);
    Some(Figures {
        rps: mean(&|s| s.requests_per_sec),
        p50_ms: mean(&|s| s.percentile_secs(50.0).unwrap_or(0.0) * 1000.0),
        p99_ms: mean(&|s| s.percentile_secs(99.0).unwrap_or(0.0) * 1000.0),
        errors: summaries.iter().map(|s| s.errors).sum(),
        peak_rss_mib,
    })
}

/// The table's rows, in `workloads` order.
pub(crate) fn rows(runs: &[Run], workloads: &[&str]) -> Vec<Row> {
    workloads
        .iter()
        .map(|w| Row {
            workload: w.to_string(),
            keel: figures(runs, "keel", w),
            etcd: figures(runs, "etcd", w),
        })
        .collect()
}

const HEADERS: [&str; 12] = [
    "workload",
    "keel req/s",
    "etcd req/s",
    "keel/etcd",
    "keel p50 ms",
    "etcd p50 ms",
    "keel p99 ms",
    "etcd p99 ms",
    "p99 keel/etcd",
    "keel RSS MiB",
    "etcd RSS MiB",
    "RSS keel/etcd",
];

fn cells(row: &Row) -> Vec<String> {
    let (k, e) = (row.keel.as_ref(), row.etcd.as_ref());
    let num = |f: Option<f64>, digits: usize| {
        f.map(|v| format!("{v:.digits$}"))
            .unwrap_or_else(|| "-".into())
    };
    let ratio = |a: Option<f64>, b: Option<f64>| match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => format!("{:.2}x", a / b),
        _ => "-".into(),
    };
    let errors = |f: Option<&Figures>| match f {
        Some(f) if f.errors > 0 => format!(" ({} err)", f.errors),
        _ => String::new(),
    };
    let rps = |f: Option<&Figures>| f.map(|f| f.rps);
    let p50 = |f: Option<&Figures>| f.map(|f| f.p50_ms);
    let p99 = |f: Option<&Figures>| f.map(|f| f.p99_ms);
    let rss = |f: Option<&Figures>| f.and_then(|f| f.peak_rss_mib);
    vec![
        row.workload.clone(),
        format!("{}{}", num(rps(k), 0), errors(k)),
        format!("{}{}", num(rps(e), 0), errors(e)),
        ratio(rps(k), rps(e)),
        num(p50(k), 3),
        num(p50(e), 3),
        num(p99(k), 3),
        num(p99(e), 3),
        ratio(p99(k), p99(e)),
        num(rss(k), 0),
        num(rss(e), 0),
        ratio(rss(k), rss(e)),
    ]
}

/// The table as aligned text for the terminal.
pub(crate) fn text_table(rows: &[Row]) -> String {
    let body: Vec<Vec<String>> = rows.iter().map(cells).collect();
    let widths: Vec<usize> = (0..HEADERS.len())
        .map(|c| {
            body.iter()
                .map(|r| r[c].len())
                .chain([HEADERS[c].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cols: Vec<String>| {
        cols.iter()
            .zip(&widths)
            .enumerate()
            .map(|(c, (s, w))| {
                if c == 0 {
                    format!("{s:<w$}")
                } else {
                    format!("{s:>w$}")
                }
            })
            .collect::<Vec<_>>()
            .join("  ")
    };
    let mut out = line(HEADERS.iter().map(|h| h.to_string()).collect());
    out.push('\n');
    for r in body {
        out.push_str(&line(r));
        out.push('\n');
    }
    out
}

/// The table in Markdown, for docs/benchmarks.md.
pub(crate) fn markdown_table(rows: &[Row]) -> String {
    let mut out = format!("| {} |\n", HEADERS.join(" | "));
    out.push_str(&format!("|{}\n", " --- |".repeat(HEADERS.len())));
    for r in rows {
        out.push_str(&format!("| {} |\n", cells(r).join(" | ")));
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn run(server: &str, round: u32, rps: f64, p99: f64, rss: u64) -> Run {
        let report = serde_json::json!({
            "workload": "put",
            "summary": {
                "requests_per_sec": rps, "requests": 10, "errors": 0,
                "percentiles": [{"percent": 50.0, "secs": 0.001}, {"percent": 99.0, "secs": p99}],
                "histogram": []
            }
        });
        Run {
            server: server.into(),
            round,
            workload: "put".into(),
            report: Some(report),
            error: None,
            peak_rss_kib: Some(rss),
        }
    }

    #[test]
    fn rounds_are_averaged_and_ratios_shown() {
        let runs = vec![
            run("keel", 0, 300.0, 0.002, 10240),
            run("keel", 1, 100.0, 0.004, 20480),
            run("etcd", 0, 100.0, 0.006, 40960),
        ];
        let rows = rows(&runs, &["put", "range"]);
        let k = rows[0].keel.unwrap();
        assert_eq!(
            (k.rps, k.p50_ms, k.p99_ms, k.peak_rss_mib),
            (200.0, 1.0, 3.0, Some(20.0))
        );
        let t = text_table(&rows);
        assert!(t.contains("2.00x"), "{t}");
        assert!(t.contains("0.50x"), "{t}");
        assert!(rows[1].keel.is_none());
        let md = markdown_table(&rows);
        assert_eq!(md.lines().count(), 4);
        assert!(
            md.lines().nth(3).unwrap().starts_with("| range | - | - |"),
            "{md}"
        );
    }

    #[test]
    fn failed_runs_do_not_count() {
        let mut failed = run("etcd", 0, 0.0, 0.0, 1);
        failed.report = None;
        failed.error = Some("timeout".into());
        assert!(figures(&[failed], "etcd", "put").is_none());
    }
}
