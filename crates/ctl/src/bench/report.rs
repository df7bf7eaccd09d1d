//! The report: etcd's benchmark text, and the JSON that `--json` writes.

use std::fmt::Write;

use serde::Deserialize;
use serde::Serialize;

use crate::stats::Summary;

/// The bar character and the longest bar of etcd's histogram.
const BAR: char = '∎';
const BAR_MAX_CHARS: u64 = 40;

/// What `--json FILE` holds: the run's parameters and its summary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct JsonReport {
    /// The workload, e.g. `put`.
    pub(crate) workload: String,
    /// The command line, without the program name.
    pub(crate) args: Vec<String>,
    /// The endpoints used.
    pub(crate) endpoints: Vec<String>,
    /// gRPC connections.
    pub(crate) conns: usize,
    /// Concurrent clients.
    pub(crate) clients: usize,
    /// The statistics.
    pub(crate) summary: Summary,
}

/// The report as etcd's benchmark prints it.
pub(crate) fn text(s: &Summary) -> String {
    let mut out = String::new();
    if s.requests > 0 {
        summary_text(&mut out, s);
        histogram_text(&mut out, s);
        latencies_text(&mut out, s);
    }
    if !s.error_distribution.is_empty() {
        out.push_str("\nError distribution:\n");
        for (message, count) in &s.error_distribution {
            let _ = writeln!(out, "  [{count}]\t{message}");
        }
    }
    out
}

fn summary_text(out: &mut String, s: &Summary) {
    out.push_str("\nSummary:\n");
    let _ = writeln!(out, "  Total:\t{:.4} secs.", s.total_secs);
    let _ = writeln!(out, "  Slowest:\t{:.4} secs.", s.slowest_secs);
    let _ = writeln!(out, "  Fastest:\t{:.4} secs.", s.fastest_secs);
    let _ = writeln!(out, "  Average:\t{:.4} secs.", s.average_secs);
    let _ = writeln!(out, "  Stddev:\t{:.4} secs.", s.stddev_secs);
    let _ = writeln!(out, "  Requests/sec:\t{:.4}", s.requests_per_sec);
}

fn histogram_text(out: &mut String, s: &Summary) {
    out.push_str("\nResponse time histogram:\n");
    let max = s.histogram.iter().map(|b| b.count).max().unwrap_or(0);
    for b in &s.histogram {
        let len = (b.count * BAR_MAX_CHARS).checked_div(max).unwrap_or(0);
        let bar: String = std::iter::repeat_n(BAR, len as usize).collect();
        let _ = writeln!(out, "  {:.4} [{}]\t|{bar}", b.le_secs, b.count);
    }
}

fn latencies_text(out: &mut String, s: &Summary) {
    out.push_str("\nLatency distribution:\n");
    for p in s.percentiles.iter().filter(|p| p.secs > 0.0) {
        let _ = writeln!(out, "  {}% in {:.3} ms.", p.percent, p.secs * 1000.0);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::stats::Recorder;

    #[test]
    fn text_has_etcds_sections_and_lines() {
        let mut r = Recorder::new();
        for _ in 0..30 {
            r.success(Duration::from_millis(1));
        }
        for _ in 0..10 {
            r.success(Duration::from_millis(3));
        }
        r.error("etcdserver: request timed out");
        let t = text(&Summary::new(&r, Duration::from_secs(4)));
        assert!(t.starts_with("\nSummary:\n  Total:\t4.0000 secs.\n"), "{t}");
        assert!(t.contains("  Fastest:\t0.0010 secs.\n"), "{t}");
        assert!(t.contains("  Requests/sec:\t10.0000\n"), "{t}");
        assert!(
            t.contains("\nResponse time histogram:\n  0.0010 [30]\t|"),
            "{t}"
        );
        let full_bar: String = std::iter::repeat_n(BAR, 40).collect();
        assert!(t.contains(&format!("[30]\t|{full_bar}\n")), "{t}");
        let third_bar: String = std::iter::repeat_n(BAR, 13).collect();
        assert!(t.contains(&format!("[10]\t|{third_bar}\n")), "{t}");
        assert!(
            t.contains("\nLatency distribution:\n  10% in 1.000 ms.\n"),
            "{t}"
        );
        assert!(t.contains("  99.9% in 3.00"), "{t}");
        assert!(
            t.ends_with("\nError distribution:\n  [1]\tetcdserver: request timed out\n"),
            "{t}"
        );
    }

    #[test]
    fn only_errors_prints_only_the_error_distribution() {
        let mut r = Recorder::new();
        r.error("connection refused");
        let t = text(&Summary::new(&r, Duration::from_secs(1)));
        assert_eq!(t, "\nError distribution:\n  [1]\tconnection refused\n");
    }

    #[test]
    fn json_round_trips() {
        let mut r = Recorder::new();
        r.success(Duration::from_millis(2));
        let report = JsonReport {
            workload: "put".into(),
            args: vec!["put".into()],
            endpoints: vec!["127.0.0.1:2379".into()],
            conns: 1,
            clients: 1,
            summary: Summary::new(&r, Duration::from_secs(1)),
        };
        let json = serde_json::to_string(&report).unwrap();
        assert!(json.contains("\"requests_per_sec\":1.0"), "{json}");
        let back: JsonReport = serde_json::from_str(&json).unwrap();
        assert_eq!(back, report);
    }
}
