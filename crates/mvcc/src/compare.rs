//! Txn compares, evaluated as etcd's `applyCompare`/`compareKV`.

use std::cmp::Ordering;

use crate::kv::KeyValue;
use crate::messages::Compare;
use crate::messages::CompareResult;
use crate::messages::CompareTarget;
use crate::messages::TargetUnion;

/// Evaluates `c` over the kvs its key range holds (empty: the key is missing).
pub(crate) fn holds(c: &Compare, kvs: &[KeyValue]) -> bool {
    if kvs.is_empty() {
        // A missing key has no value to compare (nil equals empty in gRPC), so value
        // compares fail; the numeric targets compare against 0.
        return c.target != CompareTarget::Value && compare_kv(c, &KeyValue::default());
    }
    kvs.iter().all(|kv| compare_kv(c, kv))
}

fn compare_kv(c: &Compare, kv: &KeyValue) -> bool {
    let number = |field: i64, pick: fn(&TargetUnion) -> Option<i64>| {
        field.cmp(&c.target_union.as_ref().and_then(pick).unwrap_or(0))
    };
    let order = match c.target {
        CompareTarget::Value => {
            let given = match &c.target_union {
                Some(TargetUnion::Value(v)) => v.as_slice(),
                _ => &[],
            };
            kv.value.as_slice().cmp(given)
        }
        CompareTarget::Version => number(kv.version, |t| match t {
            TargetUnion::Version(v) => Some(*v),
            _ => None,
        }),
        CompareTarget::Create => number(kv.create_revision, |t| match t {
            TargetUnion::CreateRevision(v) => Some(*v),
            _ => None,
        }),
        CompareTarget::Mod => number(kv.mod_revision, |t| match t {
            TargetUnion::ModRevision(v) => Some(*v),
            _ => None,
        }),
        CompareTarget::Lease => number(kv.lease, |t| match t {
            TargetUnion::Lease(v) => Some(*v),
            _ => None,
        }),
    };
    match c.result {
        CompareResult::Equal => order == Ordering::Equal,
        CompareResult::NotEqual => order != Ordering::Equal,
        CompareResult::Greater => order == Ordering::Greater,
        CompareResult::Less => order == Ordering::Less,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_key_compares_as_zero_but_never_by_value() {
        let c = Compare {
            target: CompareTarget::Create,
            ..Compare::default()
        };
        assert!(
            holds(&c, &[]),
            "create_revision == 0 holds for a missing key"
        );
        let c = Compare {
            target: CompareTarget::Value,
            result: CompareResult::NotEqual,
            target_union: Some(TargetUnion::Value(b"x".to_vec())),
            ..Compare::default()
        };
        assert!(!holds(&c, &[]));
        let kv = KeyValue {
            value: b"y".to_vec(),
            version: 3,
            ..KeyValue::default()
        };
        assert!(holds(&c, std::slice::from_ref(&kv)));
        let c = Compare {
            target: CompareTarget::Version,
            result: CompareResult::Greater,
            target_union: Some(TargetUnion::ModRevision(99)),
            ..Compare::default()
        };
        assert!(holds(&c, &[kv]), "a mismatched operand compares against 0");
    }
}
