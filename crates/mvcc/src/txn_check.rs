//! etcd's request validation (`checkTxnRequest`, `checkIntervals`): the server runs
//! [`check_txn`] at its gRPC edge; apply repeats the duplicate-key rule.

use std::collections::BTreeSet;

use crate::error::Error;
use crate::error::Result;
use crate::messages::PutRequest;
use crate::messages::RequestOp;
use crate::messages::TxnRequest;

/// Validates a txn as etcd's gRPC edge does: at most `max_txn_ops` compares and ops per
/// branch (nested txns share the budget), no empty keys, no `ignore_*` misuse, and no key
/// written twice ([`Error::DuplicateKey`]).
pub fn check_txn(req: &TxnRequest, max_txn_ops: usize) -> Result<()> {
    check_shape(req, max_txn_ops)?;
    check_intervals(&req.success)?;
    check_intervals(&req.failure)?;
    Ok(())
}

/// Validates a put as etcd's gRPC edge does.
pub fn check_put(req: &PutRequest) -> Result<()> {
    if req.key.is_empty() {
        return Err(Error::EmptyKey);
    }
    if req.ignore_value && !req.value.is_empty() {
        return Err(Error::ValueProvided);
    }
    if req.ignore_lease && req.lease != 0 {
        return Err(Error::LeaseProvided);
    }
    Ok(())
}

fn check_shape(req: &TxnRequest, max_txn_ops: usize) -> Result<()> {
    let ops = req
        .compare
        .len()
        .max(req.success.len())
        .max(req.failure.len());
    if ops > max_txn_ops {
        return Err(Error::TooManyOps);
    }
    if req.compare.iter().any(|c| c.key.is_empty()) {
        return Err(Error::EmptyKey);
    }
    for op in req.success.iter().chain(&req.failure) {
        match op {
            RequestOp::Range(r) if r.key.is_empty() => return Err(Error::EmptyKey),
            RequestOp::DeleteRange(d) if d.key.is_empty() => return Err(Error::EmptyKey),
            RequestOp::Put(p) => check_put(p)?,
            RequestOp::Txn(t) => check_shape(t, max_txn_ops - ops)?,
            RequestOp::Range(_) | RequestOp::DeleteRange(_) => {}
        }
    }
    Ok(())
}

/// A deleted interval as etcd's affine string intervals: an empty end is +infinity, which
/// never happens here since `range_end == "\0"` is kept literally (as etcd does, so such a
/// delete conflicts with no put).
#[derive(Clone, Debug)]
pub(crate) struct Deleted {
    start: Vec<u8>,
    end: Option<Vec<u8>>,
}

impl Deleted {
    fn contains(&self, key: &[u8]) -> bool {
        match &self.end {
            None => key == self.start.as_slice(),
            Some(end) => self.start.as_slice() <= key && key < end.as_slice(),
        }
    }
}

/// etcd's `checkIntervals`: returns the puts and deletes of one branch, failing when a key
/// is put twice or put inside a deleted interval (puts in the two branches of a nested txn
/// may overlap, as only one branch runs).
pub(crate) fn check_intervals(ops: &[RequestOp]) -> Result<(BTreeSet<Vec<u8>>, Vec<Deleted>)> {
    let mut dels: Vec<Deleted> = ops
        .iter()
        .filter_map(|op| match op {
            RequestOp::DeleteRange(d) => Some(Deleted {
                start: d.key.clone(),
                end: (!d.range_end.is_empty()).then(|| d.range_end.clone()),
            }),
            _ => None,
        })
        .collect();
    let mut puts = BTreeSet::new();
    let conflict = |puts: &BTreeSet<Vec<u8>>, dels: &[Deleted], key: &[u8]| {
        puts.contains(key) || dels.iter().any(|d| d.contains(key))
    };
    for op in ops {
        let RequestOp::Txn(t) = op else { continue };
        let (puts_then, dels_then) = check_intervals(&t.success)?;
        let (puts_else, dels_else) = check_intervals(&t.failure)?;
        for key in &puts_then {
            if conflict(&puts, &dels, key) {
                return Err(Error::DuplicateKey);
            }
            puts.insert(key.clone());
        }
        for key in &puts_else {
            let dup = puts.contains(key) && !puts_then.contains(key);
            if dup || dels.iter().any(|d| d.contains(key)) {
                return Err(Error::DuplicateKey);
            }
            puts.insert(key.clone());
        }
        dels.extend(dels_then);
        dels.extend(dels_else);
    }
    for op in ops {
        let RequestOp::Put(p) = op else { continue };
        if conflict(&puts, &dels, &p.key) {
            return Err(Error::DuplicateKey);
        }
        puts.insert(p.key.clone());
    }
    Ok((puts, dels))
}
