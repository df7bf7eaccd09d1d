//! etcd's checks at the gRPC edge (`v3rpc/key.go`), made before a request
//! reaches raft. The txn and put rules are the store's own
//! ([`mvcc::check_txn`], [`mvcc::check_put`]), so edge and apply agree.

use mvcc::Error;

use crate::error::ServerError;

/// Range: the key must be given.
pub(crate) fn range(r: &mvcc::RangeRequest) -> Result<(), ServerError> {
    Ok(non_empty(&r.key)?)
}

/// Put: the key must be given; `ignore_value`/`ignore_lease` exclude a value/lease.
pub(crate) fn put(r: &mvcc::PutRequest) -> Result<(), ServerError> {
    Ok(mvcc::check_put(r)?)
}

/// DeleteRange: the key must be given.
pub(crate) fn delete(r: &mvcc::DeleteRangeRequest) -> Result<(), ServerError> {
    Ok(non_empty(&r.key)?)
}

/// Txn: at most `max_ops` compares and ops per branch (nested txns share
/// what is left), every op valid, and no key written twice on one path.
pub(crate) fn txn(t: &mvcc::TxnRequest, max_ops: usize) -> Result<(), ServerError> {
    Ok(mvcc::check_txn(t, max_ops)?)
}

fn non_empty(key: &[u8]) -> Result<(), Error> {
    if key.is_empty() {
        Err(Error::EmptyKey)
    } else {
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn empty_keys_are_refused() {
        assert!(matches!(
            range(&mvcc::RangeRequest::default()),
            Err(ServerError::Mvcc(Error::EmptyKey))
        ));
        assert!(matches!(
            delete(&mvcc::DeleteRangeRequest::default()),
            Err(ServerError::Mvcc(Error::EmptyKey))
        ));
        assert!(matches!(
            put(&mvcc::PutRequest::default()),
            Err(ServerError::Mvcc(Error::EmptyKey))
        ));
    }

    #[test]
    fn txn_writing_a_key_twice_is_refused() {
        let put = |k: &str| {
            mvcc::RequestOp::Put(mvcc::PutRequest {
                key: k.into(),
                ..Default::default()
            })
        };
        let t = mvcc::TxnRequest {
            compare: vec![],
            success: vec![put("a"), put("a")],
            failure: vec![],
        };
        assert!(matches!(
            txn(&t, 128),
            Err(ServerError::Mvcc(Error::DuplicateKey))
        ));
    }
}
