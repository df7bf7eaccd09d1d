//! Checks of what the watchers saw, as etcd documents its watch guarantees:
//! ordered, unique, reliable (no gap), atomic (a revision never split across
//! responses), resumable (a restarted watch continues without a gap) and
//! bookmarkable (a progress notification never runs ahead of delivered
//! events); and every event agrees with the KV history.

use std::collections::BTreeMap;
use std::collections::HashMap;
use std::collections::HashSet;

use super::history::Operation;
use super::history::Request;
use super::history::WatchEvent;
use super::history::WatchRecord;

/// One watch anomaly, as a sentence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct WatchAnomaly {
    /// The watcher that saw it.
    pub(crate) watcher: u32,
    /// What is wrong.
    pub(crate) what: String,
    /// True for a progress notification that ran ahead of events (etcd
    /// before 3.4.24 does this: etcd-io/etcd#15220), which a run may
    /// choose to tolerate.
    pub(crate) early_progress: bool,
}

/// A watcher's unbroken stretch: from its start revision, the responses it
/// delivered, up to the highest revision it vouched for.
#[derive(Debug, Default)]
struct Segment {
    start_revision: u64,
    /// Revision → events delivered at it.
    events: BTreeMap<u64, Vec<WatchEvent>>,
    /// The highest revision delivered or confirmed by a progress notification.
    covered_revision: u64,
    /// The highest revision delivered in an event.
    delivered_revision: u64,
}

/// Runs every watch check over `records` for keys starting with `prefix`;
/// `ops` is the KV history.
pub(crate) fn check(records: &[WatchRecord], ops: &[Operation], prefix: &str) -> Vec<WatchAnomaly> {
    let mut anomalies = Vec::new();
    let mut segments: Vec<(u32, Segment)> = Vec::new();
    let mut watchers: HashMap<u32, usize> = HashMap::new();
    for record in records {
        match record {
            WatchRecord::Start {
                watcher,
                start_revision,
            } => {
                watchers.insert(*watcher, segments.len());
                segments.push((
                    *watcher,
                    Segment {
                        start_revision: *start_revision,
                        covered_revision: start_revision.saturating_sub(1),
                        delivered_revision: start_revision.saturating_sub(1),
                        ..Segment::default()
                    },
                ));
            }
            WatchRecord::Events { watcher, events } => {
                if let Some((_, segment)) = watchers.get(watcher).and_then(|&i| segments.get_mut(i))
                {
                    deliver(*watcher, segment, events, &mut anomalies);
                }
            }
            WatchRecord::Progress { watcher, revision } => {
                if let Some((_, segment)) = watchers.get(watcher).and_then(|&i| segments.get_mut(i))
                {
                    segment.covered_revision = segment.covered_revision.max(*revision);
                }
            }
        }
    }
    let truth = agreed_events(&segments, &mut anomalies);
    check_against_kv(&truth, ops, &mut anomalies);
    let mut written: Vec<u64> = ops
        .iter()
        .filter(|op| op.request.key().starts_with(prefix))
        .filter_map(|op| op.response.as_ref().and_then(|r| r.write_revision()))
        .collect();
    written.sort_unstable();
    for (watcher, segment) in &segments {
        check_no_gap(*watcher, segment, &truth, &written, &mut anomalies);
    }
    anomalies
}

/// Takes in one response: ordered, unique, atomic, not behind a progress
/// notification, not before the watch's start.
fn deliver(
    watcher: u32,
    segment: &mut Segment,
    events: &[WatchEvent],
    out: &mut Vec<WatchAnomaly>,
) {
    let mut problem = |what: String, early_progress: bool| {
        out.push(WatchAnomaly {
            watcher,
            what,
            early_progress,
        })
    };
    let mut previous = None;
    for event in events {
        if event.revision < segment.start_revision {
            problem(
                format!(
                    "event at {} before the watch's start {}",
                    event.revision, segment.start_revision
                ),
                false,
            );
        }
        if previous.is_some_and(|p| event.revision < p) {
            problem(
                format!(
                    "events out of order in one response: {} after {previous:?}",
                    event.revision
                ),
                false,
            );
        }
        if event.revision <= segment.delivered_revision {
            problem(
                format!(
                    "event at {} after events up to {} (reordered, duplicated or split revision)",
                    event.revision, segment.delivered_revision
                ),
                false,
            );
        } else if event.revision <= segment.covered_revision {
            problem(
                format!(
                    "event at {} after a progress notification at {}",
                    event.revision, segment.covered_revision
                ),
                true,
            );
        }
        previous = Some(event.revision);
    }
    for event in events {
        segment
            .events
            .entry(event.revision)
            .or_default()
            .push(event.clone());
    }
    if let Some(p) = previous {
        segment.delivered_revision = segment.delivered_revision.max(p);
        segment.covered_revision = segment.covered_revision.max(p);
    }
}

/// The events every watcher agrees on, by revision; disagreements are anomalies.
fn agreed_events(
    segments: &[(u32, Segment)],
    out: &mut Vec<WatchAnomaly>,
) -> BTreeMap<u64, Vec<WatchEvent>> {
    let mut truth: BTreeMap<u64, (u32, Vec<WatchEvent>)> = BTreeMap::new();
    for (watcher, segment) in segments {
        for (revision, events) in &segment.events {
            match truth.get(revision) {
                Some((first, seen)) if seen != events => out.push(WatchAnomaly {
                    watcher: *watcher,
                    early_progress: false,
                    what: format!(
                        "at revision {revision} saw {events:?}, watcher {first} saw {seen:?}"
                    ),
                }),
                Some(_) => {}
                None => {
                    truth.insert(*revision, (*watcher, events.clone()));
                }
            }
        }
    }
    truth.into_iter().map(|(r, (_, e))| (r, e)).collect()
}

/// Every event must come from a write of the history: same key, and the
/// write's revision when it completed.
fn check_against_kv(
    truth: &BTreeMap<u64, Vec<WatchEvent>>,
    ops: &[Operation],
    out: &mut Vec<WatchAnomaly>,
) {
    let mut by_value: HashMap<&str, &Operation> = HashMap::new();
    // Per key: the revisions of completed deletes, and whether an
    // indeterminate delete (which may have applied at any revision) exists.
    let mut deletes: HashMap<&str, (HashSet<u64>, bool)> = HashMap::new();
    for op in ops {
        match &op.request {
            Request::Put { value, .. } | Request::Txn { value, .. } => {
                by_value.insert(value, op);
            }
            Request::Delete { key } => {
                let entry = deletes.entry(key.as_str()).or_default();
                match &op.response {
                    None => entry.1 = true,
                    Some(r) => entry.0.extend(r.write_revision()),
                }
            }
            Request::Get { .. } => {}
        }
    }
    for events in truth.values() {
        for event in events {
            let fine = match &event.value {
                Some(v) => by_value.get(v.as_str()).is_some_and(|op| {
                    op.request.key() == event.key
                        && op
                            .response
                            .as_ref()
                            .is_none_or(|r| r.write_revision() == Some(event.revision))
                }),
                None => {
                    deletes
                        .get(event.key.as_str())
                        .is_some_and(|(revisions, indeterminate)| {
                            *indeterminate || revisions.contains(&event.revision)
                        })
                }
            };
            if !fine {
                out.push(WatchAnomaly {
                    watcher: 0,
                    early_progress: false,
                    what: format!("event {event:?} agrees with no write of the history"),
                });
            }
        }
    }
}

/// Reliability: within what a segment vouched for, no event may be missing,
/// neither one another watcher saw nor a completed write's (`written`: the
/// revisions of completed writes under the prefix, sorted).
fn check_no_gap(
    watcher: u32,
    segment: &Segment,
    truth: &BTreeMap<u64, Vec<WatchEvent>>,
    written: &[u64],
    out: &mut Vec<WatchAnomaly>,
) {
    let range = segment.start_revision..=segment.covered_revision;
    if range.is_empty() {
        return;
    }
    let first = written.partition_point(|r| *r < segment.start_revision);
    let written = written
        .iter()
        .skip(first)
        .take_while(|r| range.contains(r))
        .copied();
    let missing = truth
        .range(range.clone())
        .map(|(r, _)| *r)
        .chain(written)
        .find(|r| !segment.events.contains_key(r));
    if let Some(r) = missing {
        out.push(WatchAnomaly {
            watcher,
            early_progress: false,
            what: format!(
                "no event at revision {r} though the watch from {} delivered or confirmed up to {}",
                segment.start_revision, segment.covered_revision
            ),
        });
    }
}

#[cfg(test)]
#[path = "watch_check_test.rs"]
mod tests;
