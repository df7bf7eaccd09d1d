//! A Wing–Gong–Lowe linearizability checker for the KV history.
//!
//! The history is split per key (P-compositionality: the model's keys are
//! independent), and each key's operations are searched depth-first for an
//! order that respects real time and the model ([`super::model::step`]).
//! Visited `(linearized set, state)` pairs are cached (as fingerprints), as
//! in Lowe's refinement of Wing & Gong. Operations without a response
//! (indeterminate writes) never return: they may take effect anywhere after
//! their invocation, or never, so the search succeeds once every operation
//! with a response is placed. Most indeterminate writes are settled before
//! the search from the watch (see `patch`); the ones it resolved carry a
//! response but no return time.
//!
//! Revisions bound the search further: a write at revision `r` took effect
//! before any operation that observed a revision at or above `r` returned,
//! on any key, so its deadline is the earliest such return. The search keeps
//! the unplaced operations and the deadlines of those that must be placed in
//! ordered sets, so each step costs the width of the window of concurrent
//! operations, not the length of the history.
//!
//! The search is bounded: past `budget_steps` it gives up with
//! [`Verdict::Unknown`], which is not a violation.
//!
//! Revisions are global, so one cross-key check runs besides:
//! [`check_revision_order`] asserts that an operation that began after
//! another completed observed a revision at least as high (strictly higher
//! for two writes), and that no two writes share a revision.

use std::collections::BTreeMap;
use std::collections::BTreeSet;
use std::collections::HashSet;
use std::hash::Hash;
use std::hash::Hasher;

use super::history::Operation;
use super::history::Request;
use super::model;
use super::model::KeyState;

/// The outcome of checking one key or a whole history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// A linearization exists.
    Linearizable,
    /// None exists; `excerpt` holds the operations around the point where
    /// the deepest search got stuck.
    Violation {
        key: String,
        excerpt: Vec<Operation>,
    },
    /// The search budget ran out before an answer, with `deepest` of the
    /// key's `ops` operations placed at most.
    Unknown {
        key: String,
        deepest: usize,
        ops: usize,
    },
}

/// The default per-key search budget, in search steps beyond
/// [`STEPS_PER_OP`] per operation of the key (a search that never
/// backtracks takes one step per operation).
pub(crate) const DEFAULT_BUDGET_STEPS: u64 = 2_000_000;

/// Search steps allowed per operation of a key, besides the budget.
const STEPS_PER_OP: u64 = 2;

/// How many linearized operations before the stuck point the excerpt shows.
const EXCERPT_BEFORE: usize = 3;

/// The KV operations that take part: all writes, and linearizable reads
/// that completed (a serializable read may be stale by design).
fn takes_part(op: &Operation) -> bool {
    match &op.request {
        Request::Get { linearizable, .. } => *linearizable && op.response.is_some(),
        _ => true,
    }
}

/// Checks every key of `ops`; the first violation (by key order) wins over
/// an unknown.
pub(crate) fn check(ops: &[Operation], budget_steps: u64) -> Vec<Verdict> {
    let deadlines = Deadlines::new(ops);
    let mut per_key: BTreeMap<&str, Vec<&Operation>> = BTreeMap::new();
    for op in ops.iter().filter(|op| takes_part(op)) {
        per_key.entry(op.request.key()).or_default().push(op);
    }
    per_key
        .into_iter()
        .map(|(key, ops)| search_key(key, ops, &deadlines, budget_steps))
        .filter(|v| *v != Verdict::Linearizable)
        .collect()
}

/// Deadlines from revisions: for a revision `r`, the earliest return of an
/// operation that observed `r` or more.
struct Deadlines {
    /// (observed revision, earliest return among those at or above it).
    by_revision: Vec<(u64, u64)>,
}

impl Deadlines {
    fn new(ops: &[Operation]) -> Self {
        let mut by_revision: Vec<(u64, u64)> = ops
            .iter()
            .filter_map(|op| Some((observed_revision(op)?.0, op.return_ns?)))
            .collect();
        by_revision.sort_unstable();
        let mut earliest = u64::MAX;
        for entry in by_revision.iter_mut().rev() {
            earliest = earliest.min(entry.1);
            entry.1 = earliest;
        }
        Deadlines { by_revision }
    }

    /// When `op` must have taken effect by: its return, or earlier when it
    /// is a write whose revision someone observed first; `u64::MAX` when
    /// it need not take effect at all.
    fn of(&self, op: &Operation) -> u64 {
        let Some(response) = &op.response else {
            return u64::MAX;
        };
        let by_revision = response.write_revision().map_or(u64::MAX, |r| {
            let i = self.by_revision.partition_point(|&(seen, _)| seen < r);
            self.by_revision.get(i).map_or(u64::MAX, |&(_, t)| t)
        });
        op.return_or_max().min(by_revision)
    }
}

/// One search frame: the choices left from the state it reached.
struct Frame {
    choices: Vec<(usize, KeyState)>,
    next: usize,
    /// The operation placed to reach this frame, and `high` before it.
    chosen: Option<(usize, usize)>,
}

/// The search over one key's operations, sorted by invocation.
struct Search<'a> {
    ops: Vec<&'a Operation>,
    /// Unplaced operations, by index (that is, by invocation).
    unplaced: BTreeSet<usize>,
    /// (deadline, index) of the unplaced operations that must be placed.
    due: BTreeSet<(u64, usize)>,
    deadline_ns: Vec<u64>,
    /// (observed revision, index) of the unplaced operations that must be
    /// placed and observed one.
    pending_revisions: BTreeSet<(u64, usize)>,
    /// Each operation's observed revision, if it has one.
    revision_of: Vec<Option<u64>>,
    /// One past the highest placed index: every operation from here on is
    /// unplaced, so the linearized set is `high` and the unplaced below it.
    high: usize,
    visited: HashSet<u128>,
}

impl Search<'_> {
    fn place(&mut self, i: usize) {
        let removed = self.unplaced.remove(&i);
        assert!(removed, "operation {i} placed twice");
        if let Some(&d) = self.deadline_ns.get(i).filter(|_| self.must_place(i)) {
            self.due.remove(&(d, i));
        }
        if let Some(r) = self.pending_revision(i) {
            self.pending_revisions.remove(&(r, i));
        }
        self.high = self.high.max(i + 1);
    }

    fn unplace(&mut self, i: usize, high: usize) {
        let inserted = self.unplaced.insert(i);
        assert!(inserted, "operation {i} unplaced twice");
        if let Some(&d) = self.deadline_ns.get(i).filter(|_| self.must_place(i)) {
            self.due.insert((d, i));
        }
        if let Some(r) = self.pending_revision(i) {
            self.pending_revisions.insert((r, i));
        }
        self.high = high;
    }

    fn must_place(&self, i: usize) -> bool {
        self.ops.get(i).is_some_and(|op| op.response.is_some())
    }

    /// The revision operation `i` observed, if it must be placed.
    fn pending_revision(&self, i: usize) -> Option<u64> {
        self.revision_of.get(i).copied().flatten()
    }

    /// Whether `i` may be placed before every other unplaced operation
    /// with a revision: the model raises its floor to each observed
    /// revision and refuses any revision below the floor afterwards, so
    /// placing `i` while one below it waits leads nowhere. Without this a
    /// write resolved at a far revision, invoked long before, would be
    /// tried (and fail) at every step until then.
    fn in_revision_order(&self, i: usize) -> bool {
        match (self.pending_revision(i), self.pending_revisions.first()) {
            (Some(r), Some(&(lowest, _))) => r <= lowest,
            _ => true,
        }
    }

    /// The earliest deadline among operations not yet placed.
    fn bound(&self) -> u64 {
        self.due.first().map_or(u64::MAX, |&(d, _)| d)
    }

    /// The unplaced operations that may come next: invoked before the
    /// earliest deadline of an unplaced one.
    fn window(&self) -> impl Iterator<Item = usize> + '_ {
        let bound = self.bound();
        self.unplaced
            .iter()
            .copied()
            .take_while(move |&i| self.ops.get(i).is_some_and(|op| op.call_ns < bound))
    }

    /// Every (operation, next state) that may come next from `state`.
    fn choices(&self, state: &KeyState) -> Vec<(usize, KeyState)> {
        let mut out = Vec::new();
        for i in self.window().filter(|&i| self.in_revision_order(i)) {
            if let Some(op) = self.ops.get(i) {
                out.extend(model::step(state, op).into_iter().map(|s| (i, s)));
            }
        }
        out
    }

    /// Records the (linearized set, state) pair; false when seen before.
    /// A 128-bit fingerprint stands for the pair: a collision could only
    /// prune a branch, never accept a history.
    fn visit(&mut self, state: &KeyState) -> bool {
        let mut halves = [0u64; 2];
        for (salt, half) in halves.iter_mut().enumerate() {
            let mut h = std::hash::DefaultHasher::new();
            salt.hash(&mut h);
            self.high.hash(&mut h);
            for i in self.unplaced.range(..self.high) {
                i.hash(&mut h);
            }
            state.hash(&mut h);
            *half = h.finish();
        }
        let [a, b] = halves;
        self.visited.insert((u128::from(a) << 64) | u128::from(b))
    }
}

/// Checks one key's operations, with deadlines from their own revisions.
#[cfg(test)]
pub(crate) fn check_key(key: &str, ops: Vec<Operation>, budget_steps: u64) -> Verdict {
    let deadlines = Deadlines::new(&ops);
    search_key(key, ops.iter().collect(), &deadlines, budget_steps)
}

/// Searches one key's operations for a linearization.
fn search_key(key: &str, mut ops: Vec<&Operation>, deadlines: &Deadlines, budget: u64) -> Verdict {
    ops.sort_by_key(|op| (op.call_ns, op.return_or_max()));
    let deadline_ns: Vec<u64> = ops.iter().map(|op| deadlines.of(op)).collect();
    let due = (0..ops.len())
        .filter(|&i| ops.get(i).is_some_and(|op| op.response.is_some()))
        .filter_map(|i| Some((*deadline_ns.get(i)?, i)))
        .collect();
    let revision_of: Vec<Option<u64>> = ops
        .iter()
        .map(|op| observed_revision(op).map(|(r, _)| r))
        .collect();
    let pending_revisions = revision_of
        .iter()
        .enumerate()
        .filter_map(|(i, r)| Some(((*r)?, i)))
        .collect();
    let mut search = Search {
        unplaced: (0..ops.len()).collect(),
        ops,
        due,
        deadline_ns,
        pending_revisions,
        revision_of,
        high: 0,
        visited: HashSet::new(),
    };
    let first = Frame {
        choices: search.choices(&KeyState::default()),
        next: 0,
        chosen: None,
    };
    let mut stack = vec![first];
    let mut steps = 0u64;
    let ops_count = u64::try_from(search.ops.len()).unwrap_or(u64::MAX);
    let budget = budget.saturating_add(ops_count.saturating_mul(STEPS_PER_OP));
    let mut deepest = (0usize, Vec::new());
    while let Some(top) = stack.last_mut() {
        if search.due.is_empty() {
            return Verdict::Linearizable;
        }
        let Some((i, next_state)) = top.choices.get(top.next).cloned() else {
            if let Some((i, high)) = stack.pop().and_then(|f| f.chosen) {
                search.unplace(i, high);
            }
            continue;
        };
        top.next += 1;
        let high = search.high;
        search.place(i);
        if !search.visit(&next_state) {
            search.unplace(i, high);
            continue;
        }
        steps += 1;
        if steps > budget {
            return Verdict::Unknown {
                key: key.to_owned(),
                deepest: deepest.0.saturating_sub(1),
                ops: search.ops.len(),
            };
        }
        stack.push(Frame {
            choices: search.choices(&next_state),
            next: 0,
            chosen: Some((i, high)),
        });
        if stack.len() > deepest.0 {
            deepest = (stack.len(), stuck_point(&search, &stack));
        }
    }
    Verdict::Violation {
        key: key.to_owned(),
        excerpt: deepest
            .1
            .iter()
            .filter_map(|&i| search.ops.get(i).map(|&op| op.clone()))
            .collect(),
    }
}

/// The last few operations placed, then the operation due first and those
/// that could have gone before it: where the search is stuck if it goes no
/// deeper.
fn stuck_point(search: &Search<'_>, stack: &[Frame]) -> Vec<usize> {
    let recent = stack.iter().rev().take(EXCERPT_BEFORE);
    let mut out: Vec<usize> = recent.filter_map(|f| f.chosen.map(|(i, _)| i)).collect();
    out.reverse();
    out.extend(search.window());
    if let Some(&(_, first_due)) = search.due.first()
        && !out.contains(&first_due)
    {
        out.push(first_due);
    }
    out
}

/// A cross-key revision anomaly: `later` began after `earlier` completed yet
/// observed an older revision (or, for two writes, not a newer one), or two
/// writes share a revision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RevisionAnomaly {
    /// What is wrong, in a sentence.
    pub(crate) what: String,
    /// The two operations.
    pub(crate) earlier: Operation,
    /// The operation that contradicts `earlier`.
    pub(crate) later: Operation,
}

/// The revision an operation observed: its write's revision for a write,
/// the header revision for a linearizable read.
fn observed_revision(op: &Operation) -> Option<(u64, bool)> {
    let response = op.response.as_ref()?;
    if let Some(r) = response.write_revision() {
        return Some((r, true));
    }
    match &op.request {
        Request::Get {
            linearizable: false,
            ..
        } => None,
        _ => Some((response.revision(), false)),
    }
}

/// Checks revision order across keys (see the module doc); returns the
/// first anomalies found (at most `limit`).
pub(crate) fn check_revision_order(ops: &[Operation], limit: usize) -> Vec<RevisionAnomaly> {
    let mut anomalies = Vec::new();
    let mut writers: BTreeMap<u64, &Operation> = BTreeMap::new();
    for op in ops {
        if let Some((r, true)) = observed_revision(op)
            && let Some(other) = writers.insert(r, op)
        {
            anomalies.push(RevisionAnomaly {
                what: format!("two writes report revision {r}"),
                earlier: other.clone(),
                later: op.clone(),
            });
        }
    }
    let mut by_return: Vec<&Operation> = ops
        .iter()
        .filter(|o| observed_revision(o).is_some())
        .collect();
    by_return.sort_by_key(|o| o.return_or_max());
    let mut by_call = by_return.clone();
    by_call.sort_by_key(|o| o.call_ns);
    // Sweep invocations in time order, keeping the completed operation with
    // the highest revision (and the highest write revision) so far.
    let (mut done, mut best, mut best_write) = (0usize, None::<&Operation>, None::<&Operation>);
    for op in by_call {
        while let Some(prev) = by_return
            .get(done)
            .filter(|p| p.return_or_max() < op.call_ns)
        {
            let rev = |o: Option<&Operation>| o.and_then(observed_revision).map_or(0, |(r, _)| r);
            if observed_revision(prev).map_or(0, |(r, _)| r) > rev(best) {
                best = Some(prev);
            }
            if observed_revision(prev).is_some_and(|(_, w)| w)
                && observed_revision(prev).map_or(0, |(r, _)| r) > rev(best_write)
            {
                best_write = Some(prev);
            }
            done += 1;
        }
        let Some((r, is_write)) = observed_revision(op) else {
            continue;
        };
        let stale = best.filter(|b| observed_revision(b).is_some_and(|(br, _)| r < br));
        let not_newer =
            best_write.filter(|b| is_write && observed_revision(b).is_some_and(|(br, _)| r <= br));
        if let Some(earlier) = stale.or(not_newer) {
            anomalies.push(RevisionAnomaly {
                what: format!(
                    "observed revision {r} after an operation that completed at revision {}",
                    observed_revision(earlier).map_or(0, |(r, _)| r)
                ),
                earlier: earlier.clone(),
                later: op.clone(),
            });
        }
        if anomalies.len() >= limit {
            break;
        }
    }
    anomalies.truncate(limit);
    anomalies
}

#[cfg(test)]
#[path = "linearizability_test.rs"]
mod tests;
