//! Resolving indeterminate writes with what the watchers saw, before the
//! linearizability search (etcd's robustness tests do the same).
//!
//! A write that timed out or failed may take effect anywhere after its
//! invocation, or never; each one doubles the search. But every put (plain
//! or in a txn) writes a value unique in the run, and the watchers see every
//! revision, so most of them can be settled:
//!
//! - a put or txn whose value appears in a watch event DID happen, at that
//!   event's revision: it becomes a completed write at that revision (its
//!   return time stays unknown; the search bounds it by the revision);
//! - a put or txn whose value appears in no watch event and in no read,
//!   while the watches vouched for every revision from the highest one
//!   observed before its invocation to the highest one observed in the run,
//!   did not take effect at any revision anyone observed: it is dropped
//!   (the same as placing it after everything, which constrains nothing);
//! - deletes are matched with the delete events on their key that no
//!   completed delete explains: in invocation order where the watches saw
//!   every revision since the first of them (see `delete_claims`), else
//!   only where one event fits exactly one delete; a delete left without an
//!   event, under full coverage, deleted nothing anyone saw and is dropped;
//! - everything else stays indeterminate.
//!
//! Trusting the watch is sound because the watch check (see
//! `watch_check`) asserts that every event agrees with a write of the KV
//! history and that no watcher skipped a revision it vouched for; a patch
//! only ever fixes what a write did, so it can turn a pass into a failure
//! (which the watch check would explain) but never hide an anomaly.

use std::collections::BTreeMap;
use std::collections::HashMap;
use std::collections::HashSet;

use super::history::Operation;
use super::history::Request;
use super::history::Response;
use super::history::WatchRecord;

/// The history with its indeterminate writes settled where possible.
#[derive(Debug, Default)]
pub(crate) struct Patched {
    /// The operations: resolved ones carry a response (and no return time),
    /// dropped ones are gone.
    pub(crate) ops: Vec<Operation>,
    /// Indeterminate writes a watch event showed applied.
    pub(crate) resolved: usize,
    /// Indeterminate writes shown never to have applied where observed.
    pub(crate) dropped: usize,
    /// Indeterminate writes left as they were.
    pub(crate) left: usize,
    /// Revision ranges (inclusive) up to the highest one observed that no
    /// watcher vouched for: where undecided writes may hide.
    pub(crate) uncovered: Vec<(u64, u64)>,
}

/// What the watchers and the completed operations tell about the run.
struct Evidence<'a> {
    /// Put value → (key, revision) of its event.
    put_events: HashMap<&'a str, (&'a str, u64)>,
    /// Key → revisions of delete events no completed delete explains.
    unexplained_deletes: HashMap<&'a str, Vec<u64>>,
    /// Values some completed operation read.
    read_values: HashSet<&'a str>,
    /// Revisions vouched for by some watcher: start → end, inclusive,
    /// disjoint and not adjacent.
    covered: BTreeMap<u64, u64>,
    /// The highest revision any response showed.
    max_revision: u64,
    /// (return time, highest revision observed by then), by return time.
    observed_by: Vec<(u64, u64)>,
}

/// Settles the indeterminate writes of `ops` with the watch `records`.
pub(crate) fn patch(ops: Vec<Operation>, records: &[WatchRecord]) -> Patched {
    let (uncovered, settled): (_, Vec<Option<Settled>>) = {
        let evidence = Evidence::gather(&ops, records);
        let claims = delete_claims(&ops, &evidence);
        let settled = ops
            .iter()
            .enumerate()
            .map(|(i, op)| {
                (op.response.is_none() && op.request.is_write())
                    .then(|| settle(op, claims.get(&i).copied(), &evidence))
            })
            .collect();
        (evidence.uncovered(), settled)
    };
    let mut patched = Patched {
        uncovered,
        ..Patched::default()
    };
    for (mut op, settled) in ops.into_iter().zip(settled) {
        match settled {
            None => {}
            Some(Settled::Applied(response)) => {
                patched.resolved += 1;
                op.response = Some(response);
            }
            Some(Settled::Never) => {
                patched.dropped += 1;
                continue;
            }
            Some(Settled::Unknown) => patched.left += 1,
        }
        patched.ops.push(op);
    }
    patched
}

/// What became of one indeterminate write.
enum Settled {
    Applied(Response),
    Never,
    Unknown,
}

/// How a delete's claim on the delete events came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Claim {
    /// Exactly this event fits it, and it is the only delete the event fits.
    Event(u64),
    /// No unexplained event fits it.
    Nothing,
}

fn settle(op: &Operation, claim: Option<Claim>, evidence: &Evidence<'_>) -> Settled {
    let covered = || evidence.covers_after(op.call_ns);
    match &op.request {
        Request::Put { key, value } | Request::Txn { key, value, .. } => {
            match evidence.put_events.get(value.as_str()) {
                Some(&(event_key, revision)) if event_key == key => {
                    Settled::Applied(applied(&op.request, revision))
                }
                // An event on another key: the watch check reports it.
                Some(_) => Settled::Unknown,
                None if !evidence.read_values.contains(value.as_str()) && covered() => {
                    Settled::Never
                }
                None => Settled::Unknown,
            }
        }
        Request::Delete { .. } => match claim {
            Some(Claim::Event(revision)) => Settled::Applied(applied(&op.request, revision)),
            Some(Claim::Nothing) if covered() => Settled::Never,
            _ => Settled::Unknown,
        },
        Request::Get { .. } => Settled::Unknown,
    }
}

/// The response a write applied at `revision` would have had.
fn applied(request: &Request, revision: u64) -> Response {
    match request {
        Request::Delete { .. } => Response::Delete {
            revision,
            deleted: 1,
        },
        Request::Txn { .. } => Response::Txn {
            revision,
            succeeded: true,
            kv: None,
        },
        _ => Response::Put { revision },
    }
}

/// Which unexplained delete event each indeterminate delete (by index in
/// `ops`) can claim; deletes with an ambiguous claim are absent.
///
/// Deletes carry no value, so on a key whose delete events the watches saw
/// in full they are matched in order: the i-th unexplained event goes to the
/// i-th indeterminate delete by invocation. That is sound: whichever deletes
/// really made the first i events were all invoked before the i-th event
/// happened, so the i-th delete to be invoked was too, and the patched
/// history has the real one's linearization with the deletes relabelled.
/// Deletes left over changed nothing anyone saw. Where the watches have a
/// gap, only a delete that exactly one event fits, and that event fits no
/// other delete, claims it.
fn delete_claims(ops: &[Operation], evidence: &Evidence<'_>) -> HashMap<usize, Claim> {
    let mut by_key: HashMap<&str, Vec<(u64, usize)>> = HashMap::new();
    for (i, op) in ops.iter().enumerate() {
        if op.response.is_none() && matches!(op.request, Request::Delete { .. }) {
            by_key
                .entry(op.request.key())
                .or_default()
                .push((op.call_ns, i));
        }
    }
    let mut claims = HashMap::new();
    for (key, mut deletes) in by_key {
        deletes.sort_unstable();
        let events = evidence
            .unexplained_deletes
            .get(key)
            .map_or(&[][..], Vec::as_slice);
        let matched = deletes
            .first()
            .filter(|&&(call_ns, _)| evidence.covers_after(call_ns))
            .and_then(|_| match_in_order(&deletes, events, evidence));
        match matched {
            Some(matched) => claims.extend(matched),
            None => claims.extend(unique_claims(&deletes, events, evidence)),
        }
    }
    claims
}

/// The in-order matching of one key's deletes (by invocation) with its
/// unexplained delete events above the first delete's floor; `None` when
/// the events outnumber the deletes or one comes too early for its delete.
fn match_in_order(
    deletes: &[(u64, usize)],
    events: &[u64],
    evidence: &Evidence<'_>,
) -> Option<Vec<(usize, Claim)>> {
    let mut fitting = above(events, evidence.observed_before(deletes.first()?.0));
    fitting.sort_unstable();
    if fitting.len() > deletes.len() {
        return None;
    }
    let mut matched = Vec::with_capacity(deletes.len());
    for (n, &(call_ns, i)) in deletes.iter().enumerate() {
        let claim = match fitting.get(n) {
            Some(&r) if r > evidence.observed_before(call_ns) => Claim::Event(r),
            Some(_) => return None,
            None => Claim::Nothing,
        };
        matched.push((i, claim));
    }
    Some(matched)
}

/// Claims that need no ordering: a delete fitting exactly one event that
/// fits no other delete, or fitting none.
fn unique_claims(
    deletes: &[(u64, usize)],
    events: &[u64],
    evidence: &Evidence<'_>,
) -> Vec<(usize, Claim)> {
    let fits: Vec<(usize, Vec<u64>)> = deletes
        .iter()
        .map(|&(call_ns, i)| (i, above(events, evidence.observed_before(call_ns))))
        .collect();
    let mut claimants: HashMap<u64, usize> = HashMap::new();
    for (_, revisions) in &fits {
        for &r in revisions {
            *claimants.entry(r).or_default() += 1;
        }
    }
    fits.into_iter()
        .filter_map(|(i, revisions)| match revisions.as_slice() {
            [] => Some((i, Claim::Nothing)),
            [r] if claimants.get(r) == Some(&1) => Some((i, Claim::Event(*r))),
            _ => None,
        })
        .collect()
}

/// The delete events after `floor`: those a delete invoked when `floor`
/// was the highest revision observed could have made.
fn above(events: &[u64], floor: u64) -> Vec<u64> {
    events.iter().copied().filter(|&r| r > floor).collect()
}

impl<'a> Evidence<'a> {
    fn gather(ops: &'a [Operation], records: &'a [WatchRecord]) -> Self {
        let mut evidence = Evidence {
            put_events: HashMap::new(),
            unexplained_deletes: HashMap::new(),
            read_values: HashSet::new(),
            covered: coverage(records),
            max_revision: 0,
            observed_by: observed_by(ops),
        };
        let explained: HashSet<(&str, u64)> = ops
            .iter()
            .filter(|op| matches!(op.request, Request::Delete { .. }))
            .filter_map(|op| Some((op.request.key(), op.response.as_ref()?.write_revision()?)))
            .collect();
        for record in records {
            let WatchRecord::Events { events, .. } = record else {
                continue;
            };
            for event in events {
                match &event.value {
                    Some(v) => {
                        evidence
                            .put_events
                            .insert(v.as_str(), (event.key.as_str(), event.revision));
                    }
                    None if !explained.contains(&(event.key.as_str(), event.revision)) => {
                        let revisions = evidence
                            .unexplained_deletes
                            .entry(event.key.as_str())
                            .or_default();
                        if !revisions.contains(&event.revision) {
                            revisions.push(event.revision);
                        }
                    }
                    None => {}
                }
            }
        }
        for op in ops {
            let Some(response) = &op.response else {
                continue;
            };
            evidence.max_revision = evidence.max_revision.max(response.revision());
            if let Response::Get { kv: Some(kv), .. } | Response::Txn { kv: Some(kv), .. } =
                response
            {
                evidence.read_values.insert(kv.value.as_str());
            }
        }
        evidence
    }

    /// The highest revision observed by an operation that completed before
    /// `call_ns`: a write invoked then can only apply above it.
    fn observed_before(&self, call_ns: u64) -> u64 {
        let n = self.observed_by.partition_point(|&(t, _)| t < call_ns);
        n.checked_sub(1)
            .and_then(|i| self.observed_by.get(i))
            .map_or(0, |&(_, r)| r)
    }

    /// The revision ranges from 1 to the highest observed revision that no
    /// watcher vouched for.
    fn uncovered(&self) -> Vec<(u64, u64)> {
        let mut gaps = Vec::new();
        let mut next = 1;
        for (&start, &end) in &self.covered {
            if start > self.max_revision {
                break;
            }
            if start > next {
                gaps.push((next, start - 1));
            }
            next = next.max(end.saturating_add(1));
        }
        if next <= self.max_revision {
            gaps.push((next, self.max_revision));
        }
        gaps
    }

    /// Whether the watches vouched for every revision a write invoked at
    /// `call_ns` could have applied at, up to the highest one observed.
    fn covers_after(&self, call_ns: u64) -> bool {
        let from = self.observed_before(call_ns) + 1;
        if from > self.max_revision {
            return true;
        }
        self.covered
            .range(..=from)
            .next_back()
            .is_some_and(|(_, &end)| end >= self.max_revision)
    }
}

/// Completed operations' (return time, highest revision observed so far),
/// by return time.
fn observed_by(ops: &[Operation]) -> Vec<(u64, u64)> {
    let mut out: Vec<(u64, u64)> = ops
        .iter()
        .filter_map(|op| Some((op.return_ns?, op.response.as_ref()?.revision())))
        .collect();
    out.sort_unstable();
    let mut highest = 0;
    for entry in &mut out {
        highest = highest.max(entry.1);
        entry.1 = highest;
    }
    out
}

/// The revisions the watchers vouched for: each watch (from a `Start` to
/// the watcher's next one) covers its start revision up to the highest
/// revision it delivered or a progress notification confirmed.
fn coverage(records: &[WatchRecord]) -> BTreeMap<u64, u64> {
    let mut spans: Vec<(u64, u64)> = Vec::new();
    let mut current: HashMap<u32, usize> = HashMap::new();
    for record in records {
        match record {
            WatchRecord::Start {
                watcher,
                start_revision,
            } => {
                current.insert(*watcher, spans.len());
                spans.push((*start_revision, start_revision.saturating_sub(1)));
            }
            WatchRecord::Events { watcher, events } => {
                let last = events.iter().map(|e| e.revision).max();
                if let (Some(span), Some(last)) =
                    (current.get(watcher).and_then(|&i| spans.get_mut(i)), last)
                {
                    span.1 = span.1.max(last);
                }
            }
            WatchRecord::Progress { watcher, revision } => {
                if let Some(span) = current.get(watcher).and_then(|&i| spans.get_mut(i)) {
                    span.1 = span.1.max(*revision);
                }
            }
        }
    }
    merge(spans)
}

/// Merges inclusive spans into disjoint, non-adjacent ones.
fn merge(mut spans: Vec<(u64, u64)>) -> BTreeMap<u64, u64> {
    spans.retain(|(start, end)| start <= end);
    spans.sort_unstable();
    let mut merged: Vec<(u64, u64)> = Vec::new();
    for (start, end) in spans {
        match merged.last_mut() {
            Some(last) if start <= last.1.saturating_add(1) => last.1 = last.1.max(end),
            _ => merged.push((start, end)),
        }
    }
    merged.into_iter().collect()
}

#[cfg(test)]
#[path = "patch_test.rs"]
mod tests;
