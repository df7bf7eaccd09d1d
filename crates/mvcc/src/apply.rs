//! Applying raft entries: every entry is one RocksDB `WriteBatch` that carries the raft index
//! (the consistent index) with the data, so replaying the raft log applies nothing twice.

use std::sync::PoisonError;

use rocksdb::WriteBatch;

use crate::error::Error;
use crate::error::Result;
use crate::kv::Event;
use crate::layout;
use crate::layout::CF_LEASES;
use crate::layout::CF_META;
use crate::layout::CF_REVISIONS;
use crate::layout::LeaseRecord;
use crate::layout::RecordRef;
use crate::messages::CompactionRequest;
use crate::messages::CompactionResponse;
use crate::messages::LeaseCheckpointRequest;
use crate::messages::LeaseCheckpointResponse;
use crate::messages::LeaseGrantRequest;
use crate::messages::LeaseGrantResponse;
use crate::messages::LeaseRevokeRequest;
use crate::messages::LeaseRevokeResponse;
use crate::messages::RequestOp;
use crate::messages::TxnRequest;
use crate::messages::TxnResponse;
use crate::messages::WriteOp;
use crate::messages::WriteResponse;
use crate::options::MAX_LEASE_TTL_SECONDS;
use crate::options::StoreOptions;
use crate::reader::Reader;
use crate::revision::Revision;
use crate::state::LeaseState;
use crate::state::State;
use crate::store::Store;
use crate::store::Writer;
use crate::write_txn::WriteTxn;

/// The outcome of one applied entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Applied {
    /// The raft index applied.
    pub index: u64,
    /// The store's revision after the apply.
    pub revision: i64,
    /// The answer to the client: a response, or etcd's request error (the index is consumed
    /// either way, as in etcd).
    pub response: std::result::Result<WriteResponse, AppliedError>,
    /// The changes of this revision, in sub-revision order, for the watch feed (empty when
    /// nothing changed). Each carries its `prev_kv`.
    pub events: Vec<Event>,
    /// The write added data while the store was above its quota: the server answers
    /// `mvcc: database space exceeded` and raises the NOSPACE alarm (the write itself is
    /// applied, as in etcd, so that every member stays identical).
    pub no_space: bool,
}

/// A request error, kept as its etcd text (errors are not `Clone`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppliedError {
    /// The error's kind.
    pub kind: AppliedErrorKind,
    /// etcd's text for it.
    pub message: String,
}

/// The request errors an apply can answer with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AppliedErrorKind {
    /// See [`Error::Compacted`].
    Compacted,
    /// See [`Error::FutureRevision`].
    FutureRevision,
    /// See [`Error::KeyNotFound`].
    KeyNotFound,
    /// See [`Error::EmptyKey`].
    EmptyKey,
    /// See [`Error::ValueProvided`].
    ValueProvided,
    /// See [`Error::LeaseProvided`].
    LeaseProvided,
    /// See [`Error::TooManyOps`].
    TooManyOps,
    /// See [`Error::DuplicateKey`].
    DuplicateKey,
    /// See [`Error::LeaseNotFound`].
    LeaseNotFound,
    /// See [`Error::LeaseExists`].
    LeaseExists,
    /// See [`Error::LeaseTtlTooLarge`].
    LeaseTtlTooLarge,
    /// See [`Error::NoSpace`].
    NoSpace,
}

impl AppliedError {
    fn from_error(e: &Error) -> Option<AppliedError> {
        use AppliedErrorKind as K;
        let kind = match e {
            Error::Compacted => K::Compacted,
            Error::FutureRevision => K::FutureRevision,
            Error::KeyNotFound => K::KeyNotFound,
            Error::EmptyKey => K::EmptyKey,
            Error::ValueProvided => K::ValueProvided,
            Error::LeaseProvided => K::LeaseProvided,
            Error::TooManyOps => K::TooManyOps,
            Error::DuplicateKey => K::DuplicateKey,
            Error::LeaseNotFound => K::LeaseNotFound,
            Error::LeaseExists => K::LeaseExists,
            Error::LeaseTtlTooLarge => K::LeaseTtlTooLarge,
            Error::NoSpace => K::NoSpace,
            Error::NotReadOnly
            | Error::Corrupt(_)
            | Error::BadSnapshot(_)
            | Error::Storage(_)
            | Error::Io(_) => {
                return None;
            }
        };
        Some(AppliedError {
            kind,
            message: e.to_string(),
        })
    }
}

/// How often the writer asks RocksDB for the store's size (for the quota).
const SIZE_REFRESH_APPLIES: u32 = 64;

/// Everything one entry changes besides the consistent index.
#[derive(Debug, Default)]
struct Mutation {
    events: Vec<Event>,
    lease_puts: Vec<LeaseRecord>,
    lease_delete: Option<i64>,
    compact: Option<i64>,
}

impl Store {
    /// Applies `op` at raft index `index`. An index at or below [`Store::applied_index`] was
    /// applied before and is skipped (`Ok(None)`). `Err` means the storage failed: the
    /// node must stop, as etcd does.
    pub fn apply(&self, index: u64, op: WriteOp) -> Result<Option<Applied>> {
        let mut writer = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        if index <= self.applied_index() {
            return Ok(None);
        }
        let quota_bytes = self.shared.opts.effective_quota_bytes();
        let no_space = adds_data(&op) && self.cached_size_bytes(&mut writer) > quota_bytes;
        let state = self.shared.read();
        let outcome = compute(
            &state,
            Reader::Live(&self.shared.db),
            &op,
            &self.shared.opts,
        );
        drop(state);
        let (response, mutation) = match outcome {
            Ok((response, mutation)) => (Ok(response), mutation),
            Err(e) => match AppliedError::from_error(&e) {
                Some(answer) => (Err(answer), Mutation::default()),
                None => return Err(e),
            },
        };
        self.commit(index, &mutation)?;
        let revision = self.current_revision();
        Ok(Some(Applied {
            index,
            revision,
            response,
            events: mutation.events,
            no_space,
        }))
    }

    /// The store's size, refreshed every [`SIZE_REFRESH_APPLIES`] applies.
    fn cached_size_bytes(&self, writer: &mut Writer) -> u64 {
        writer.applies_since_size += 1;
        match writer.size_bytes {
            Some(size) if writer.applies_since_size < SIZE_REFRESH_APPLIES => size,
            _ => {
                writer.applies_since_size = 0;
                *writer.size_bytes.insert(self.size_bytes())
            }
        }
    }

    /// Advances the consistent index only (conf changes, empty entries).
    pub fn apply_noop(&self, index: u64) -> Result<()> {
        let _writer = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        if index > self.applied_index() {
            self.commit(index, &Mutation::default())?;
        }
        Ok(())
    }

    /// Writes the batch, then publishes the change to readers.
    fn commit(&self, index: u64, mutation: &Mutation) -> Result<()> {
        let shared = &self.shared;
        let mut batch = WriteBatch::default();
        let meta = shared.cf(CF_META)?;
        let stored_index =
            i64::try_from(index).map_err(|_| Error::Corrupt(format!("index {index}")))?;
        batch.put_cf(
            meta,
            layout::META_CONSISTENT_INDEX,
            layout::meta_bytes(stored_index),
        );
        // The versions carry the new revision; no meta entry does (see
        // `layout::META_CURRENT_REVISION`).
        let new_revision = mutation.events.first().map(|e| e.kv.mod_revision);
        if let Some(rev) = new_revision {
            let revisions = shared.cf(CF_REVISIONS)?;
            for (sub, event) in mutation.events.iter().enumerate() {
                let record = RecordRef {
                    kv: &event.kv,
                    tombstone: event.kind == crate::kv::EventType::Delete,
                };
                let rev = Revision {
                    main: rev,
                    sub: i64::try_from(sub).unwrap_or(i64::MAX),
                };
                layout::check_record(rev, record)?;
                batch.put_cf(revisions, rev.to_bytes(), layout::encode(&record)?);
            }
        }
        let leases = shared.cf(CF_LEASES)?;
        for record in &mutation.lease_puts {
            batch.put_cf(
                leases,
                layout::lease_key(record.id),
                layout::encode(record)?,
            );
        }
        if let Some(id) = mutation.lease_delete {
            batch.delete_cf(leases, layout::lease_key(id));
        }
        if let Some(rev) = mutation.compact {
            batch.put_cf(
                meta,
                layout::META_COMPACT_SCHEDULED,
                layout::meta_bytes(rev),
            );
        }
        shared.write_batch(batch)?;
        self.publish(index, mutation, new_revision);
        Ok(())
    }

    fn publish(&self, index: u64, mutation: &Mutation, new_revision: Option<i64>) {
        let shared = &self.shared;
        let mut state = shared.write();
        for (sub, event) in mutation.events.iter().enumerate() {
            state.record_event(sub, event);
        }
        if let Some(rev) = new_revision {
            assert_eq!(rev, state.current_revision + 1, "revisions advance by one");
            state.current_revision = rev;
        }
        for record in &mutation.lease_puts {
            let lease = state.leases.entry(record.id).or_default();
            lease.ttl_seconds = record.ttl_seconds;
            lease.remaining_ttl_seconds = record.remaining_ttl_seconds;
        }
        if let Some(id) = mutation.lease_delete {
            state.leases.remove(&id);
        }
        if let Some(rev) = mutation.compact {
            state.compacted_revision = rev;
        }
        shared
            .applied_index
            .store(index, std::sync::atomic::Ordering::Release);
        drop(state);
        if let Some(rev) = mutation.compact {
            shared.progress().scheduled = rev;
            shared.progress_changed.notify_all();
        }
    }
}

/// etcd's `IsTxnReadonly`: no put or delete in any branch, at any depth.
pub fn is_read_only(req: &TxnRequest) -> bool {
    req.success.iter().chain(&req.failure).all(|op| match op {
        RequestOp::Range(_) => true,
        RequestOp::Txn(t) => is_read_only(t),
        RequestOp::Put(_) | RequestOp::DeleteRange(_) => false,
    })
}

impl Store {
    /// Evaluates a read-only txn against the current state without a raft index, as etcd
    /// serves them after a read barrier. A txn that writes is [`Error::NotReadOnly`].
    pub fn txn_read_only(&self, req: &TxnRequest) -> Result<TxnResponse> {
        if !is_read_only(req) {
            return Err(Error::NotReadOnly);
        }
        // The read lock is held throughout, so the compactor cannot remove a version the
        // evaluation looked up; reads are short and writers wait at most that long.
        let state = self.shared.read();
        let mut txn = WriteTxn::new(&state, Reader::Live(&self.shared.db));
        let resp = txn.txn(req)?;
        assert!(
            txn.into_events().is_empty(),
            "a read-only txn changed something"
        );
        Ok(resp)
    }
}

/// Whether etcd's quota applier charges the op (puts, txns with puts, lease grants).
fn adds_data(op: &WriteOp) -> bool {
    fn txn_puts(ops: &[RequestOp]) -> bool {
        ops.iter().any(|op| match op {
            RequestOp::Put(_) => true,
            RequestOp::Txn(t) => txn_puts(&t.success) || txn_puts(&t.failure),
            RequestOp::Range(_) | RequestOp::DeleteRange(_) => false,
        })
    }
    match op {
        WriteOp::Put(_) | WriteOp::LeaseGrant(_) => true,
        WriteOp::Txn(t) => txn_puts(&t.success) || txn_puts(&t.failure),
        _ => false,
    }
}

/// Computes the response and the mutation of `op` without writing anything.
fn compute(
    state: &State,
    reader: Reader<'_>,
    op: &WriteOp,
    opts: &StoreOptions,
) -> Result<(WriteResponse, Mutation)> {
    let mut txn = WriteTxn::new(state, reader);
    let mut mutation = Mutation::default();
    let response = match op {
        WriteOp::Put(req) => WriteResponse::Put(txn.lone_put(req)?),
        WriteOp::DeleteRange(req) => WriteResponse::DeleteRange(txn.delete_range(req)?),
        WriteOp::Txn(req) => WriteResponse::Txn(txn.txn(req)?),
        WriteOp::Compact(req) => WriteResponse::Compact(compact(state, req, &mut mutation)?),
        WriteOp::LeaseGrant(req) => WriteResponse::LeaseGrant(grant(
            state,
            req,
            opts.min_lease_ttl_seconds,
            &mut mutation,
        )?),
        WriteOp::LeaseRevoke(req) => {
            WriteResponse::LeaseRevoke(revoke(state, &mut txn, req, &mut mutation)?)
        }
        WriteOp::LeaseCheckpoint(req) => {
            WriteResponse::LeaseCheckpoint(checkpoint(state, req, &mut mutation))
        }
    };
    mutation.events = txn.into_events();
    Ok((response, mutation))
}

/// etcd's compaction rule: at or below the compacted revision is compacted, above the
/// current one is a future revision.
fn compact(state: &State, req: &CompactionRequest, m: &mut Mutation) -> Result<CompactionResponse> {
    if req.revision <= state.compacted_revision {
        return Err(Error::Compacted);
    }
    if req.revision > state.current_revision {
        return Err(Error::FutureRevision);
    }
    m.compact = Some(req.revision);
    Ok(CompactionResponse {
        revision: state.current_revision,
    })
}

/// etcd's `lessor.Grant`: id 0 is refused, then a too large TTL, then an existing id; a TTL
/// below the minimum is raised to it.
fn grant(
    state: &State,
    req: &LeaseGrantRequest,
    min_ttl_seconds: i64,
    m: &mut Mutation,
) -> Result<LeaseGrantResponse> {
    if req.id == 0 {
        return Err(Error::LeaseNotFound);
    }
    if req.ttl_seconds > MAX_LEASE_TTL_SECONDS {
        return Err(Error::LeaseTtlTooLarge);
    }
    if state.leases.contains_key(&req.id) {
        return Err(Error::LeaseExists);
    }
    let ttl_seconds = req.ttl_seconds.max(min_ttl_seconds);
    m.lease_puts.push(LeaseRecord {
        id: req.id,
        ttl_seconds,
        remaining_ttl_seconds: 0,
    });
    Ok(LeaseGrantResponse {
        revision: state.current_revision,
        id: req.id,
        ttl_seconds,
    })
}

/// Deletes the lease's keys in key order, all in one revision, and the lease.
fn revoke(
    state: &State,
    txn: &mut WriteTxn<'_>,
    req: &LeaseRevokeRequest,
    m: &mut Mutation,
) -> Result<LeaseRevokeResponse> {
    let lease: &LeaseState = state.leases.get(&req.id).ok_or(Error::LeaseNotFound)?;
    for key in &lease.keys {
        txn.delete_key(key)?;
    }
    m.lease_delete = Some(req.id);
    Ok(LeaseRevokeResponse {
        revision: txn.read_revision(),
    })
}

/// Stores remaining TTLs; unknown leases are ignored, as in etcd.
fn checkpoint(
    state: &State,
    req: &LeaseCheckpointRequest,
    m: &mut Mutation,
) -> LeaseCheckpointResponse {
    for c in &req.checkpoints {
        if let Some(lease) = state.leases.get(&c.id) {
            m.lease_puts.push(LeaseRecord {
                id: c.id,
                ttl_seconds: lease.ttl_seconds,
                remaining_ttl_seconds: c.remaining_ttl_seconds,
            });
        }
    }
    LeaseCheckpointResponse {
        revision: state.current_revision,
    }
}
