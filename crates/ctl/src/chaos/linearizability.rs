//! A Wing–Gong–Lowe linearizability checker for the KV history.
//!
//! The history is split per key (P-compositionality: the model's keys are
//! independent), and each key's operations are searched depth-first for an
//! order that respects real time and the model ([`super::model::step`]).
//! Visited `(linearized set, state)` pairs are cached, as in Lowe's
//! refinement of Wing & Gong. Indeterminate operations never return: they
//! may take effect anywhere after their invocation, or never, so the search
//! succeeds once every *completed* operation is placed.
//!
//! The search is bounded: past `budget_steps` it gives up with
//! [`Verdict::Unknown`], which is not a violation.
//!
//! Revisions are global, so one cross-key check runs besides:
//! [`check_revision_order`] asserts that an operation that began after
//! another completed observed a revision at least as high (strictly higher
//! for two writes), and that no two writes share a revision.

use std::collections::BTreeMap;
use std::collections::HashSet;

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
    /// The search budget ran out before an answer.
    Unknown { key: String },
}

/// The default per-key search budget, in search steps.
pub(crate) const DEFAULT_BUDGET_STEPS: u64 = 2_000_000;

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
    let mut per_key: BTreeMap<&str, Vec<Operation>> = BTreeMap::new();
    for op in ops.iter().filter(|op| takes_part(op)) {
        per_key
            .entry(op.request.key())
            .or_default()
            .push(op.clone());
    }
    per_key
        .into_iter()
        .map(|(key, ops)| check_key(key, ops, budget_steps))
        .filter(|v| *v != Verdict::Linearizable)
        .collect()
}

/// One search frame: the choices left from the state it reached.
struct Frame {
    choices: Vec<(usize, KeyState)>,
    next: usize,
    chosen: Option<usize>,
}

/// The search over one key's operations.
struct Search {
    ops: Vec<Operation>,
    linearized: Vec<u64>,
    completed_left: usize,
    visited: HashSet<(Vec<u64>, KeyState)>,
}

impl Search {
    fn is_linearized(&self, i: usize) -> bool {
        self.linearized
            .get(i / 64)
            .is_some_and(|w| w & (1 << (i % 64)) != 0)
    }

    fn flip(&mut self, i: usize) {
        if let Some(w) = self.linearized.get_mut(i / 64) {
            *w ^= 1 << (i % 64);
        }
        let linearized = self.is_linearized(i);
        if self.ops.get(i).is_some_and(|op| op.return_ns.is_some()) {
            if linearized {
                self.completed_left -= 1;
            } else {
                self.completed_left += 1;
            }
        }
    }

    /// The earliest completion among operations not yet placed.
    fn min_return(&self) -> u64 {
        (0..self.ops.len())
            .filter(|&i| !self.is_linearized(i))
            .filter_map(|i| self.ops.get(i).and_then(|op| op.return_ns))
            .min()
            .unwrap_or(u64::MAX)
    }

    /// Every (operation, next state) that may come next from `state`:
    /// unplaced operations invoked before the earliest unplaced completion.
    fn choices(&self, state: &KeyState) -> Vec<(usize, KeyState)> {
        let bound = self.min_return();
        let mut out = Vec::new();
        for (i, op) in self.ops.iter().enumerate() {
            if op.call_ns >= bound {
                break;
            }
            if !self.is_linearized(i) {
                out.extend(model::step(state, op).into_iter().map(|s| (i, s)));
            }
        }
        out
    }

    fn frame(&self, state: &KeyState, chosen: Option<usize>) -> Frame {
        let choices = self.choices(state);
        Frame {
            choices,
            next: 0,
            chosen,
        }
    }
}

/// Checks one key's operations.
pub(crate) fn check_key(key: &str, mut ops: Vec<Operation>, budget_steps: u64) -> Verdict {
    ops.sort_by_key(|op| (op.call_ns, op.return_or_max()));
    let completed_left = ops.iter().filter(|op| op.return_ns.is_some()).count();
    let words = ops.len().div_ceil(64);
    let mut search = Search {
        ops,
        linearized: vec![0; words],
        completed_left,
        visited: HashSet::new(),
    };
    let mut stack = vec![search.frame(&None, None)];
    let mut steps = 0u64;
    let mut deepest: (usize, Vec<usize>) = (0, Vec::new());
    while let Some(top) = stack.last_mut() {
        if search.completed_left == 0 {
            return Verdict::Linearizable;
        }
        let Some((i, next_state)) = top.choices.get(top.next).cloned() else {
            let chosen = top.chosen;
            stack.pop();
            if let Some(i) = chosen {
                search.flip(i);
            }
            continue;
        };
        top.next += 1;
        search.flip(i);
        if !search
            .visited
            .insert((search.linearized.clone(), next_state.clone()))
        {
            search.flip(i);
            continue;
        }
        steps += 1;
        if steps > budget_steps {
            return Verdict::Unknown {
                key: key.to_owned(),
            };
        }
        let frame = search.frame(&next_state, Some(i));
        stack.push(frame);
        if stack.len() > deepest.0 {
            deepest = (stack.len(), stack.iter().filter_map(|f| f.chosen).collect());
        }
    }
    Verdict::Violation {
        key: key.to_owned(),
        excerpt: excerpt(&search.ops, &deepest.1),
    }
}

/// The last few operations of the longest linearized prefix, then the
/// completed operation that could not follow them and those concurrent with it.
fn excerpt(ops: &[Operation], path: &[usize]) -> Vec<Operation> {
    let placed: HashSet<usize> = path.iter().copied().collect();
    let mut out: Vec<Operation> = path
        .iter()
        .skip(path.len().saturating_sub(EXCERPT_BEFORE))
        .filter_map(|&i| ops.get(i).cloned())
        .collect();
    let stuck = ops
        .iter()
        .enumerate()
        .filter(|(i, op)| !placed.contains(i) && op.return_ns.is_some())
        .min_by_key(|(_, op)| op.return_or_max());
    if let Some((_, stuck)) = stuck {
        let bound = stuck.return_or_max();
        out.extend(
            ops.iter()
                .enumerate()
                .filter(|(i, op)| !placed.contains(i) && op.call_ns < bound)
                .map(|(_, op)| op.clone()),
        );
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
