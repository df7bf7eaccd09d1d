//! A small in-memory reference of etcd's key space, written from etcd's documented
//! semantics (full copies of the key space per revision; nothing clever).

use std::collections::BTreeMap;
use std::collections::BTreeSet;

use mvcc::AppliedErrorKind as E;
use mvcc::*;

type Kvs = BTreeMap<Vec<u8>, KeyValue>;
type Answer<T> = Result<T, E>;

#[derive(Debug, Default)]
pub struct Model {
    /// `history[r - 1]` is the key space at revision `r`; revision 1 is empty.
    history: Vec<Kvs>,
    /// `events[r - 1]` are the events of revision `r`.
    events: Vec<Vec<Event>>,
    pub compacted: i64,
    /// id -> (ttl, remaining ttl)
    pub leases: BTreeMap<i64, (i64, i64)>,
}

pub fn in_range(k: &[u8], key: &[u8], end: &[u8]) -> bool {
    match end {
        [] => k == key,
        [0] => k >= key,
        end => k >= key && k < end,
    }
}

fn read(state: &Kvs, req: &RangeRequest, header: i64) -> RangeResponse {
    let mut kvs: Vec<KeyValue> = state
        .values()
        .filter(|kv| in_range(&kv.key, &req.key, &req.range_end))
        .cloned()
        .collect();
    let count = kvs.len() as i64;
    if req.count_only {
        return RangeResponse {
            revision: header,
            kvs: vec![],
            more: false,
            count,
        };
    }
    kvs.retain(|kv| {
        (req.min_mod_revision == 0 || kv.mod_revision >= req.min_mod_revision)
            && (req.max_mod_revision == 0 || kv.mod_revision <= req.max_mod_revision)
            && (req.min_create_revision == 0 || kv.create_revision >= req.min_create_revision)
            && (req.max_create_revision == 0 || kv.create_revision <= req.max_create_revision)
    });
    let field = |kv: &KeyValue| -> (Vec<u8>, i64) {
        match req.sort_target {
            SortTarget::Key => (kv.key.clone(), 0),
            SortTarget::Version => (vec![], kv.version),
            SortTarget::Create => (vec![], kv.create_revision),
            SortTarget::Mod => (vec![], kv.mod_revision),
            SortTarget::Value => (kv.value.clone(), 0),
        }
    };
    match (req.sort_target, req.sort_order) {
        (SortTarget::Key, SortOrder::None | SortOrder::Ascend) => {}
        (_, SortOrder::Descend) => kvs.sort_by_key(|kv| std::cmp::Reverse(field(kv))),
        _ => kvs.sort_by_key(field),
    }
    let mut more = false;
    if req.limit > 0 && kvs.len() > req.limit as usize {
        kvs.truncate(req.limit as usize);
        more = true;
    }
    if req.keys_only {
        kvs.iter_mut().for_each(|kv| kv.value.clear());
    }
    RangeResponse {
        revision: header,
        kvs,
        more,
        count,
    }
}

impl Model {
    pub fn new() -> Self {
        Model {
            history: vec![Kvs::new()],
            events: vec![vec![]],
            compacted: -1,
            ..Default::default()
        }
    }

    pub fn current(&self) -> i64 {
        self.history.len() as i64
    }

    fn at(&self, rev: i64) -> &Kvs {
        &self.history[(rev - 1) as usize]
    }

    pub fn range(&self, req: &RangeRequest) -> Answer<RangeResponse> {
        if req.key.is_empty() {
            return Err(E::EmptyKey);
        }
        if req.revision > self.current() {
            return Err(E::FutureRevision);
        }
        let rev = if req.revision <= 0 {
            self.current()
        } else {
            req.revision
        };
        if rev < self.compacted {
            return Err(E::Compacted);
        }
        Ok(read(self.at(rev), req, self.current()))
    }

    pub fn events_since(&self, start: i64, key: &[u8], end: &[u8]) -> Answer<Vec<Event>> {
        if start < self.compacted {
            return Err(E::Compacted);
        }
        let mut out = vec![];
        for rev in start.max(1)..=self.current() {
            let events = &self.events[(rev - 1) as usize];
            for (i, e) in events.iter().enumerate() {
                if !in_range(&e.kv.key, key, end) {
                    continue;
                }
                // A compaction keeps only the last change of a key in its own revision.
                let superseded = events[i + 1..].iter().any(|later| later.kv.key == e.kv.key);
                if rev == self.compacted && superseded {
                    continue;
                }
                // Versions before the compacted revision are gone: no prev_kv there.
                let mut e = e.clone();
                if rev - 1 < self.compacted {
                    e.prev_kv = None;
                }
                out.push(e);
            }
        }
        Ok(out)
    }

    /// Applies `op`; returns the response and the events.
    pub fn apply(&mut self, op: &WriteOp) -> (Answer<WriteResponse>, Vec<Event>) {
        let mut tx = Tx {
            m: self,
            work: self.at(self.current()).clone(),
            events: vec![],
        };
        let answer = tx.run(op);
        let (work, events) = (tx.work, tx.events);
        let answer = match answer {
            Ok(Effect::Plain(r)) => Ok(r),
            Ok(Effect::Compact(rev, r)) => {
                self.compacted = rev;
                Ok(r)
            }
            Ok(Effect::Lease(id, Some(ttl), r)) => {
                self.leases.insert(id, ttl);
                Ok(r)
            }
            Ok(Effect::Lease(id, None, r)) => {
                self.leases.remove(&id);
                Ok(r)
            }
            Err(e) => return (Err(e), vec![]),
        };
        if !events.is_empty() {
            self.history.push(work);
            self.events.push(events.clone());
        }
        (answer, events)
    }
}

enum Effect {
    Plain(WriteResponse),
    Compact(i64, WriteResponse),
    Lease(i64, Option<(i64, i64)>, WriteResponse),
}

struct Tx<'m> {
    m: &'m Model,
    work: Kvs,
    events: Vec<Event>,
}

impl Tx<'_> {
    fn begin(&self) -> i64 {
        self.m.current()
    }
    fn rev(&self) -> i64 {
        if self.events.is_empty() {
            self.begin()
        } else {
            self.begin() + 1
        }
    }

    fn run(&mut self, op: &WriteOp) -> Answer<Effect> {
        let cur = self.begin();
        Ok(match op {
            WriteOp::Put(p) => Effect::Plain(WriteResponse::Put(self.put(p)?)),
            WriteOp::DeleteRange(d) => Effect::Plain(WriteResponse::DeleteRange(self.delete(d)?)),
            WriteOp::Txn(t) => {
                dup_check(&t.success)?;
                dup_check(&t.failure)?;
                let mut r = self.txn(t)?;
                r.revision = self.rev();
                Effect::Plain(WriteResponse::Txn(r))
            }
            WriteOp::Compact(c) => {
                if c.revision <= self.m.compacted {
                    return Err(E::Compacted);
                }
                if c.revision > cur {
                    return Err(E::FutureRevision);
                }
                Effect::Compact(
                    c.revision,
                    WriteResponse::Compact(CompactionResponse { revision: cur }),
                )
            }
            WriteOp::LeaseGrant(g) => {
                if g.id == 0 {
                    return Err(E::LeaseNotFound);
                }
                if g.ttl_seconds > MAX_LEASE_TTL_SECONDS {
                    return Err(E::LeaseTtlTooLarge);
                }
                if self.m.leases.contains_key(&g.id) {
                    return Err(E::LeaseExists);
                }
                let r = LeaseGrantResponse {
                    revision: cur,
                    id: g.id,
                    ttl_seconds: g.ttl_seconds,
                };
                Effect::Lease(g.id, Some((g.ttl_seconds, 0)), WriteResponse::LeaseGrant(r))
            }
            WriteOp::LeaseRevoke(r) => {
                if !self.m.leases.contains_key(&r.id) {
                    return Err(E::LeaseNotFound);
                }
                let keys: Vec<Vec<u8>> = self
                    .work
                    .values()
                    .filter(|kv| kv.lease == r.id)
                    .map(|kv| kv.key.clone())
                    .collect();
                for key in keys {
                    self.delete_one(&key);
                }
                let resp = LeaseRevokeResponse {
                    revision: self.rev(),
                };
                Effect::Lease(r.id, None, WriteResponse::LeaseRevoke(resp))
            }
            WriteOp::LeaseCheckpoint(c) => {
                // Applied to the model's lease table by the caller of `checkpoint`.
                let _ = c;
                Effect::Plain(WriteResponse::LeaseCheckpoint(LeaseCheckpointResponse {
                    revision: cur,
                }))
            }
        })
    }

    fn put(&mut self, p: &PutRequest) -> Answer<PutResponse> {
        if p.key.is_empty() {
            return Err(E::EmptyKey);
        }
        if p.ignore_value && !p.value.is_empty() {
            return Err(E::ValueProvided);
        }
        if p.ignore_lease && p.lease != 0 {
            return Err(E::LeaseProvided);
        }
        if p.lease != 0 && !self.m.leases.contains_key(&p.lease) {
            return Err(E::LeaseNotFound);
        }
        let prev = self.work.get(&p.key).cloned();
        if (p.ignore_value || p.ignore_lease) && prev.is_none() {
            return Err(E::KeyNotFound);
        }
        let rev = self.begin() + 1;
        let kv = KeyValue {
            key: p.key.clone(),
            create_revision: prev.as_ref().map_or(rev, |p| p.create_revision),
            mod_revision: rev,
            version: prev.as_ref().map_or(1, |p| p.version + 1),
            value: if p.ignore_value {
                prev.as_ref().unwrap().value.clone()
            } else {
                p.value.clone()
            },
            lease: if p.ignore_lease {
                prev.as_ref().unwrap().lease
            } else {
                p.lease
            },
        };
        self.work.insert(p.key.clone(), kv.clone());
        let event_prev = self.before_txn(&kv);
        self.events.push(Event {
            kind: EventType::Put,
            kv,
            prev_kv: event_prev,
        });
        Ok(PutResponse {
            revision: rev,
            prev_kv: if p.prev_kv { prev } else { None },
        })
    }

    fn delete_one(&mut self, key: &[u8]) {
        if self.work.remove(key).is_some() {
            let kv = KeyValue {
                key: key.to_vec(),
                mod_revision: self.begin() + 1,
                ..Default::default()
            };
            let event_prev = self.before_txn(&kv);
            self.events.push(Event {
                kind: EventType::Delete,
                kv,
                prev_kv: event_prev,
            });
        }
    }

    /// etcd's watch prev_kv: the key at the revision before the txn, none for a creation.
    fn before_txn(&self, kv: &KeyValue) -> Option<KeyValue> {
        if kv.version == 1 {
            return None;
        }
        self.m.at(self.begin()).get(&kv.key).cloned()
    }

    fn delete(&mut self, d: &DeleteRangeRequest) -> Answer<DeleteRangeResponse> {
        if d.key.is_empty() {
            return Err(E::EmptyKey);
        }
        let victims: Vec<KeyValue> = self
            .work
            .values()
            .filter(|kv| in_range(&kv.key, &d.key, &d.range_end))
            .cloned()
            .collect();
        for v in &victims {
            self.delete_one(&v.key);
        }
        Ok(DeleteRangeResponse {
            revision: self.rev(),
            deleted: victims.len() as i64,
            prev_kvs: if d.prev_kv { victims } else { vec![] },
        })
    }

    fn range(&self, r: &RangeRequest) -> Answer<RangeResponse> {
        if r.key.is_empty() {
            return Err(E::EmptyKey);
        }
        if r.revision > self.begin() {
            return Err(E::FutureRevision);
        }
        if r.revision > 0 && r.revision < self.m.compacted {
            return Err(E::Compacted);
        }
        let state = if r.revision > 0 {
            self.m.at(r.revision)
        } else {
            &self.work
        };
        Ok(read(state, r, self.rev()))
    }

    fn holds(&self, c: &Compare) -> bool {
        let kvs: Vec<&KeyValue> = self
            .work
            .values()
            .filter(|kv| in_range(&kv.key, &c.key, &c.range_end))
            .collect();
        let test = |kv: &KeyValue| {
            let ord = match (c.target, &c.target_union) {
                (CompareTarget::Value, Some(TargetUnion::Value(v))) => kv.value.cmp(v),
                (CompareTarget::Value, _) => kv.value.as_slice().cmp(&[][..]),
                (CompareTarget::Version, Some(TargetUnion::Version(v))) => kv.version.cmp(v),
                (CompareTarget::Create, Some(TargetUnion::CreateRevision(v))) => {
                    kv.create_revision.cmp(v)
                }
                (CompareTarget::Mod, Some(TargetUnion::ModRevision(v))) => kv.mod_revision.cmp(v),
                (CompareTarget::Lease, Some(TargetUnion::Lease(v))) => kv.lease.cmp(v),
                (CompareTarget::Version, _) => kv.version.cmp(&0),
                (CompareTarget::Create, _) => kv.create_revision.cmp(&0),
                (CompareTarget::Mod, _) => kv.mod_revision.cmp(&0),
                (CompareTarget::Lease, _) => kv.lease.cmp(&0),
            };
            match c.result {
                CompareResult::Equal => ord.is_eq(),
                CompareResult::NotEqual => ord.is_ne(),
                CompareResult::Greater => ord.is_gt(),
                CompareResult::Less => ord.is_lt(),
            }
        };
        if kvs.is_empty() {
            return c.target != CompareTarget::Value && test(&KeyValue::default());
        }
        kvs.into_iter().all(test)
    }

    /// Decides every branch on the path before any op runs (compares see the pre-txn state).
    fn path(&self, t: &TxnRequest, out: &mut Vec<bool>) {
        let ok = t.compare.iter().all(|c| self.holds(c));
        out.push(ok);
        for op in if ok { &t.success } else { &t.failure } {
            if let RequestOp::Txn(n) = op {
                self.path(n, out);
            }
        }
    }

    fn txn(&mut self, t: &TxnRequest) -> Answer<TxnResponse> {
        let mut path = vec![];
        self.path(t, &mut path);
        let mut path = path.into_iter();
        self.run_txn(t, &mut path)
    }

    fn run_txn(
        &mut self,
        t: &TxnRequest,
        path: &mut std::vec::IntoIter<bool>,
    ) -> Answer<TxnResponse> {
        let ok = path.next().unwrap();
        let mut responses = vec![];
        for op in if ok { &t.success } else { &t.failure } {
            responses.push(match op {
                RequestOp::Range(r) => ResponseOp::Range(self.range(r)?),
                RequestOp::Put(p) => ResponseOp::Put(self.put(p)?),
                RequestOp::DeleteRange(d) => ResponseOp::DeleteRange(self.delete(d)?),
                RequestOp::Txn(n) => ResponseOp::Txn(self.run_txn(n, path)?),
            });
        }
        Ok(TxnResponse {
            revision: 0,
            succeeded: ok,
            responses,
        })
    }
}

/// etcd's duplicate-key rule for one branch: returns (puts, deleted intervals).
type Deleted = Vec<(Vec<u8>, Vec<u8>)>;

fn dup_check(ops: &[RequestOp]) -> Answer<(BTreeSet<Vec<u8>>, Deleted)> {
    let hit = |dels: &[(Vec<u8>, Vec<u8>)], k: &[u8]| {
        dels.iter().any(|(s, e)| {
            if e.is_empty() {
                k == s.as_slice()
            } else {
                s.as_slice() <= k && k < e.as_slice()
            }
        })
    };
    let mut dels: Vec<(Vec<u8>, Vec<u8>)> = ops
        .iter()
        .filter_map(|op| match op {
            RequestOp::DeleteRange(d) => Some((d.key.clone(), d.range_end.clone())),
            _ => None,
        })
        .collect();
    let mut puts = BTreeSet::new();
    for op in ops {
        if let RequestOp::Txn(t) = op {
            let (then_puts, then_dels) = dup_check(&t.success)?;
            let (else_puts, else_dels) = dup_check(&t.failure)?;
            for k in &then_puts {
                if puts.contains(k) || hit(&dels, k) {
                    return Err(E::DuplicateKey);
                }
                puts.insert(k.clone());
            }
            for k in &else_puts {
                if (puts.contains(k) && !then_puts.contains(k)) || hit(&dels, k) {
                    return Err(E::DuplicateKey);
                }
                puts.insert(k.clone());
            }
            dels.extend(then_dels);
            dels.extend(else_dels);
        }
    }
    for op in ops {
        if let RequestOp::Put(p) = op {
            if puts.contains(&p.key) || hit(&dels, &p.key) {
                return Err(E::DuplicateKey);
            }
            puts.insert(p.key.clone());
        }
    }
    Ok((puts, dels))
}

impl Model {
    /// Records lease checkpoints (no revision, no events).
    pub fn checkpoint(&mut self, c: &LeaseCheckpointRequest) {
        for cp in &c.checkpoints {
            if let Some(l) = self.leases.get_mut(&cp.id) {
                l.1 = cp.remaining_ttl_seconds;
            }
        }
    }

    /// Keys attached to each lease.
    pub fn lease_keys(&self, id: i64) -> Vec<Vec<u8>> {
        self.at(self.current())
            .values()
            .filter(|kv| kv.lease == id)
            .map(|kv| kv.key.clone())
            .collect()
    }
}
