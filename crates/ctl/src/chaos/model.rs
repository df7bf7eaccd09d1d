//! The sequential model of one etcd key, against which each key's history
//! is linearized (keys are independent in it, which makes the check
//! P-compositional: one search per key).
//!
//! Revisions are global in etcd, and they order every write and every read
//! of a key: a write at revision `r` follows everything at or below `r` and
//! precedes everything above it, and a read answered at header revision `h`
//! saw the key exactly as it was at `h`. The model keeps that order as a
//! floor: the highest revision known to lie behind the current point. A
//! write with a known revision must exceed it, a read's header must not be
//! below it, and each raises it. This sorts the writes of a key by revision
//! and pins every read between them, which is what keeps the search small.
//! Cross-key revision order is checked separately (see
//! `linearizability::check_revision_order`).

use super::history::Operation;
use super::history::ReadKv;
use super::history::Request;
use super::history::Response;

/// A key's value as the model knows it: the `mod_revision` is unknown
/// after an indeterminate write until a read reveals it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct KeyValue {
    /// The value.
    pub(crate) value: String,
    /// The `mod_revision`, when known.
    pub(crate) mod_revision: Option<u64>,
    /// A lower bound on the `mod_revision` (the floor when it was written).
    pub(crate) floor_revision: u64,
}

/// The state of one key: its value, if present, and the revision floor.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub(crate) struct KeyState {
    /// The value, or `None` when the key is absent.
    pub(crate) kv: Option<KeyValue>,
    /// The highest revision known to lie behind this point: of a write with
    /// a known revision, or of a read's header.
    pub(crate) floor_revision: u64,
}

/// The states `op` may lead to from `state`; empty when `op` cannot take
/// effect here (its response contradicts the state).
pub(crate) fn step(state: &KeyState, op: &Operation) -> Vec<KeyState> {
    match (&op.request, &op.response) {
        (Request::Put { value, .. }, Some(Response::Put { revision })) => {
            written(state, value, Some(*revision)).into_iter().collect()
        }
        (Request::Put { value, .. }, None) => written(state, value, None).into_iter().collect(),
        (Request::Get { .. }, Some(Response::Get { revision, kv })) => {
            read(state, kv.as_ref(), *revision).into_iter().collect()
        }
        // An unanswered read changes nothing; it is simply dropped.
        (Request::Get { .. }, None) => vec![state.clone()],
        (Request::Delete { .. }, Some(Response::Delete { deleted, revision })) => {
            deleted_at(state, *deleted, *revision).into_iter().collect()
        }
        (Request::Delete { .. }, None) => vec![KeyState {
            kv: None,
            ..state.clone()
        }],
        (
            Request::Txn {
                expected_mod_revision,
                value,
                ..
            },
            response,
        ) => txn(state, *expected_mod_revision, value, response.as_ref()),
        // A response of another kind than its request is never valid.
        _ => Vec::new(),
    }
}

/// A write of `value` at `revision` (unknown when indeterminate).
fn written(state: &KeyState, value: &str, revision: Option<u64>) -> Option<KeyState> {
    if revision.is_some_and(|r| r <= state.floor_revision) {
        return None;
    }
    Some(KeyState {
        kv: Some(KeyValue {
            value: value.to_owned(),
            mod_revision: revision,
            floor_revision: state.floor_revision,
        }),
        floor_revision: revision.unwrap_or(state.floor_revision),
    })
}

/// A delete that removed `deleted` keys at `revision`; one that removed
/// nothing is a read at header `revision`.
fn deleted_at(state: &KeyState, deleted: u64, revision: u64) -> Option<KeyState> {
    match (&state.kv, deleted) {
        (Some(_), 1) if revision > state.floor_revision => Some(KeyState {
            kv: None,
            floor_revision: revision,
        }),
        (None, 0) => read(state, None, revision),
        _ => None,
    }
}

/// A read that returned `kv` at header `revision`; it may reveal an unknown
/// `mod_revision`.
fn read(state: &KeyState, kv: Option<&ReadKv>, revision: u64) -> Option<KeyState> {
    if revision < state.floor_revision {
        return None;
    }
    let kv = match (&state.kv, kv) {
        (None, None) => None,
        (Some(have), Some(got)) if have.value == got.value && got.mod_revision <= revision => {
            match have.mod_revision {
                Some(m) if m == got.mod_revision => Some(have.clone()),
                None if got.mod_revision > have.floor_revision => Some(KeyValue {
                    mod_revision: Some(got.mod_revision),
                    ..have.clone()
                }),
                _ => return None,
            }
        }
        _ => return None,
    };
    Some(KeyState {
        kv,
        floor_revision: revision,
    })
}

/// Whether the compare `mod_revision == expected` holds: `None` when the
/// model cannot tell (unknown revision).
fn compare(state: &KeyState, expected: u64) -> Option<bool> {
    match &state.kv {
        None => Some(expected == 0),
        Some(_) if expected == 0 => Some(false),
        Some(kv) => kv.mod_revision.map(|m| m == expected),
    }
}

fn txn(state: &KeyState, expected: u64, value: &str, response: Option<&Response>) -> Vec<KeyState> {
    let holds = compare(state, expected);
    // The compare held on an unknown revision: it was `expected`.
    let learned = |s: &KeyState| -> KeyState {
        KeyState {
            kv: s.kv.as_ref().map(|kv| KeyValue {
                mod_revision: Some(expected),
                ..kv.clone()
            }),
            ..s.clone()
        }
    };
    match response {
        Some(Response::Txn {
            succeeded: true,
            revision,
            ..
        }) => match holds {
            Some(false) => Vec::new(),
            Some(true) => written(state, value, Some(*revision)).into_iter().collect(),
            None => written(&learned(state), value, Some(*revision))
                .into_iter()
                .collect(),
        },
        Some(Response::Txn {
            succeeded: false,
            revision,
            kv,
        }) if holds != Some(true)
            && kv
                .as_ref()
                .map_or(expected != 0, |k| k.mod_revision != expected) =>
        {
            read(state, kv.as_ref(), *revision).into_iter().collect()
        }
        Some(_) => Vec::new(),
        None => match holds {
            Some(true) => written(state, value, None).into_iter().collect(),
            Some(false) => vec![state.clone()],
            None => {
                let mut next: Vec<KeyState> =
                    written(&learned(state), value, None).into_iter().collect();
                next.push(state.clone());
                next
            }
        },
    }
}
