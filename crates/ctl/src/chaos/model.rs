//! The sequential model of one etcd key, against which each key's history
//! is linearized (keys are independent in it, which makes the check
//! P-compositional: one search per key).
//!
//! Revisions are global in etcd; what one key can check alone is that a
//! write's revision exceeds the key's previous one and that reads return the
//! value and `mod_revision` of the last write. Cross-key revision order is
//! checked separately (see `linearizability::check_revision_order`).

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
    /// A lower bound on the `mod_revision` (the previous write's revision).
    pub(crate) floor_revision: u64,
}

/// The state of one key: absent or present.
pub(crate) type KeyState = Option<KeyValue>;

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
            let present = u64::from(state.is_some());
            let revision_ok = *deleted == 0 || floor(state) < *revision;
            if *deleted == present && revision_ok {
                vec![None]
            } else {
                Vec::new()
            }
        }
        (Request::Delete { .. }, None) => vec![None],
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

fn floor(state: &KeyState) -> u64 {
    state
        .as_ref()
        .map_or(0, |kv| kv.mod_revision.unwrap_or(kv.floor_revision))
}

/// A write of `value` at `revision` (unknown when indeterminate).
fn written(state: &KeyState, value: &str, revision: Option<u64>) -> Option<KeyState> {
    let floor_revision = floor(state);
    if revision.is_some_and(|r| r <= floor_revision) {
        return None;
    }
    Some(Some(KeyValue {
        value: value.to_owned(),
        mod_revision: revision,
        floor_revision,
    }))
}

/// A read that returned `kv` at header `revision`; it may reveal an unknown
/// `mod_revision`.
fn read(state: &KeyState, kv: Option<&ReadKv>, revision: u64) -> Option<KeyState> {
    match (state, kv) {
        (None, None) => Some(None),
        (Some(have), Some(got)) if have.value == got.value && got.mod_revision <= revision => {
            match have.mod_revision {
                Some(m) if m == got.mod_revision => Some(state.clone()),
                None if got.mod_revision > have.floor_revision => Some(Some(KeyValue {
                    mod_revision: Some(got.mod_revision),
                    ..have.clone()
                })),
                _ => None,
            }
        }
        _ => None,
    }
}

/// Whether the compare `mod_revision == expected` holds: `None` when the
/// model cannot tell (unknown revision).
fn compare(state: &KeyState, expected: u64) -> Option<bool> {
    match state {
        None => Some(expected == 0),
        Some(_) if expected == 0 => Some(false),
        Some(kv) => kv.mod_revision.map(|m| m == expected),
    }
}

fn txn(state: &KeyState, expected: u64, value: &str, response: Option<&Response>) -> Vec<KeyState> {
    let holds = compare(state, expected);
    let learned = |s: &KeyState| -> KeyState {
        s.as_ref().map(|kv| KeyValue {
            mod_revision: Some(expected),
            ..kv.clone()
        })
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
