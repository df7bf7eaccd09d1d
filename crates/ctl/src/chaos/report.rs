//! Runs every check over a recorded history and turns the findings into
//! the lines keel-chaos prints.

use super::driver::KV_PREFIX;
use super::history::Operation;
use super::history::WatchRecord;
use super::linearizability;
use super::linearizability::Verdict;
use super::patch;
use super::watch_check;

/// How many revision anomalies are collected at most.
const REVISION_ANOMALIES_MAX: usize = 10;

/// The findings: anomalies (each a paragraph with its excerpt) and the keys
/// whose search ran out of budget.
#[derive(Debug, Default)]
pub(crate) struct Report {
    /// Violations of a checked property.
    pub(crate) anomalies: Vec<String>,
    /// Keys the linearizability search could not decide.
    pub(crate) unknown_keys: Vec<String>,
    /// Progress notifications ahead of events, when tolerated.
    pub(crate) tolerated_early_progress: usize,
    /// Indeterminate writes the watch showed applied, never applied, and
    /// left undecided (see `patch`).
    pub(crate) indeterminate: (usize, usize, usize),
    /// Revision ranges no watcher vouched for (see `patch`).
    pub(crate) uncovered: Vec<(u64, u64)>,
}

/// Checks the KV history and the watch records; `found` holds anomalies
/// the run itself noticed (member revisions, leases, HashKV).
pub(crate) fn check(
    ops: Vec<Operation>,
    watches: &[WatchRecord],
    found: Vec<String>,
    budget_steps: u64,
    allow_early_progress: bool,
) -> Report {
    let mut report = Report {
        anomalies: found,
        ..Report::default()
    };
    // The watch check judges the history as recorded; the KV checks take it
    // with the indeterminate writes the watch settles. Watch anomalies are
    // listed last.
    let mut watch_anomalies = Vec::new();
    for a in watch_check::check(watches, &ops, KV_PREFIX) {
        if a.early_progress && allow_early_progress {
            report.tolerated_early_progress += 1;
            continue;
        }
        watch_anomalies.push(format!("watcher {}: {}", a.watcher, a.what));
    }
    let patched = patch::patch(ops, watches);
    report.indeterminate = (patched.resolved, patched.dropped, patched.left);
    report.uncovered = patched.uncovered;
    for verdict in linearizability::check(&patched.ops, budget_steps) {
        match verdict {
            Verdict::Linearizable => {}
            Verdict::Unknown { key, deepest, ops } => report
                .unknown_keys
                .push(format!("{key} (placed {deepest} of {ops})")),
            Verdict::Violation { key, excerpt } => report.anomalies.push(format!(
                "the history of key {key} is not linearizable; the deepest linearization got stuck here:\n{}",
                lines(&excerpt)
            )),
        }
    }
    for a in linearizability::check_revision_order(&patched.ops, REVISION_ANOMALIES_MAX) {
        report
            .anomalies
            .push(format!("{}:\n{}", a.what, lines(&[a.earlier, a.later])));
    }
    report.anomalies.extend(watch_anomalies);
    report
}

/// How many revisions no watcher vouched for, and the first ranges.
fn uncovered_line(gaps: &[(u64, u64)]) -> String {
    const SHOWN: usize = 8;
    let revisions: u64 = gaps.iter().map(|(a, b)| b - a + 1).sum();
    let shown: Vec<String> = gaps
        .iter()
        .take(SHOWN)
        .map(|(a, b)| {
            if a == b {
                format!("{a}")
            } else {
                format!("{a}..={b}")
            }
        })
        .collect();
    let more = if gaps.len() > SHOWN { ", ..." } else { "" };
    format!(
        "revisions no watcher vouched for: {revisions} in {} ranges ({}{more})",
        gaps.len(),
        shown.join(", ")
    )
}

/// Operations as JSON lines, indented.
fn lines(ops: &[Operation]) -> String {
    ops.iter()
        .map(|op| format!("  {}", serde_json::to_string(op).unwrap_or_default()))
        .collect::<Vec<_>>()
        .join("\n")
}

impl Report {
    /// Prints the anomalies (the first `limit`) with the fault schedule,
    /// then the summary line; `injected` faults were applied.
    pub(crate) fn print(&self, ops: usize, injected: usize, faults: &[String], limit: usize) {
        for a in self.anomalies.iter().take(limit) {
            println!("ANOMALY: {a}");
        }
        if self.anomalies.len() > limit {
            println!("... and {} more anomalies", self.anomalies.len() - limit);
        }
        if !self.anomalies.is_empty() && !faults.is_empty() {
            println!("fault schedule:");
            for f in faults {
                println!("  {f}");
            }
        }
        let (resolved, dropped, left) = self.indeterminate;
        if resolved + dropped + left > 0 {
            println!(
                "indeterminate writes: {resolved} applied (seen by the watch), {dropped} never applied, {left} undecided"
            );
        }
        if !self.uncovered.is_empty() {
            println!("{}", uncovered_line(&self.uncovered));
        }
        if !self.unknown_keys.is_empty() {
            println!(
                "unknown (search budget exceeded) for {} keys: {}",
                self.unknown_keys.len(),
                self.unknown_keys.join(", ")
            );
        }
        if self.tolerated_early_progress > 0 {
            println!(
                "tolerated: {} events after a progress notification at or past their revision (etcd-io/etcd#15220)",
                self.tolerated_early_progress
            );
        }
        println!(
            "ops={ops} faults={injected} anomalies={} unknown={}",
            self.anomalies.len(),
            self.unknown_keys.len()
        );
    }
}
