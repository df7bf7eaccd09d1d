//! The model-based property test: random sequences of puts, deletes, txns, compactions,
//! lease grants, revokes and checkpoints, and reopens, run against the store and the
//! reference model; every response, revision, event, past-revision range and watch feed
//! must agree.

use mvcc::*;
use proptest::prelude::*;
use proptest::test_runner::Config;
use proptest::test_runner::RngSeed;
use proptest::test_runner::TestRunner;

use crate::common::Harness;
use crate::common::seed;
use crate::model::Model;

#[derive(Clone, Debug)]
enum Step {
    Write(WriteOp),
    /// Compact at `current - back`.
    Compact(i64),
    /// A range at `current - back` (0: current).
    Read(RangeRequest, i64),
    /// The watch feed from `current - back`.
    Events(Vec<u8>, Vec<u8>, i64),
    Reopen,
}

fn key() -> impl Strategy<Value = Vec<u8>> {
    prop::sample::select(vec![
        b"a".to_vec(),
        b"b".to_vec(),
        b"c".to_vec(),
        b"d".to_vec(),
    ])
}

fn range_end() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![3 => Just(vec![]), 1 => Just(vec![0]), 2 => key(), 1 => Just(b"bb".to_vec())]
}

fn value() -> impl Strategy<Value = Vec<u8>> {
    prop::sample::select(vec![
        b"".to_vec(),
        b"x".to_vec(),
        b"y".to_vec(),
        b"zz".to_vec(),
    ])
}

fn put() -> impl Strategy<Value = PutRequest> {
    (
        key(),
        value(),
        0..3i64,
        any::<bool>(),
        prop::bool::weighted(0.15),
        prop::bool::weighted(0.15),
    )
        .prop_map(
            |(key, value, lease, prev_kv, ignore_value, ignore_lease)| PutRequest {
                key,
                value: if ignore_value { vec![] } else { value },
                lease: if ignore_lease { 0 } else { lease },
                prev_kv,
                ignore_value,
                ignore_lease,
            },
        )
}

fn delete() -> impl Strategy<Value = DeleteRangeRequest> {
    (key(), range_end(), any::<bool>()).prop_map(|(key, range_end, prev_kv)| DeleteRangeRequest {
        key,
        range_end,
        prev_kv,
    })
}

fn range() -> impl Strategy<Value = RangeRequest> {
    let order = prop::sample::select(vec![SortOrder::None, SortOrder::Ascend, SortOrder::Descend]);
    let target = prop::sample::select(vec![
        SortTarget::Key,
        SortTarget::Version,
        SortTarget::Create,
        SortTarget::Mod,
        SortTarget::Value,
    ]);
    let filters = prop_oneof![4 => Just((0, 0, 0, 0)), 1 => (0..6i64, 0..8i64, 0..6i64, 0..8i64)];
    (
        key(),
        range_end(),
        0..4i64,
        order,
        target,
        any::<bool>(),
        prop::bool::weighted(0.2),
        filters,
    )
        .prop_map(
            |(key, range_end, limit, sort_order, sort_target, keys_only, count_only, f)| {
                RangeRequest {
                    key,
                    range_end,
                    limit,
                    sort_order,
                    sort_target,
                    keys_only,
                    count_only,
                    min_mod_revision: f.0,
                    max_mod_revision: f.1,
                    min_create_revision: f.2,
                    max_create_revision: f.3,
                    ..Default::default()
                }
            },
        )
}

fn compare() -> impl Strategy<Value = Compare> {
    let result = prop::sample::select(vec![
        CompareResult::Equal,
        CompareResult::Greater,
        CompareResult::Less,
        CompareResult::NotEqual,
    ]);
    let target = prop::sample::select(vec![
        CompareTarget::Version,
        CompareTarget::Create,
        CompareTarget::Mod,
        CompareTarget::Value,
        CompareTarget::Lease,
    ]);
    let operand = prop_oneof![
        (0..4i64).prop_map(TargetUnion::Version),
        (0..8i64).prop_map(TargetUnion::CreateRevision),
        (0..8i64).prop_map(TargetUnion::ModRevision),
        value().prop_map(TargetUnion::Value),
        (0..3i64).prop_map(TargetUnion::Lease),
    ];
    (
        result,
        target,
        key(),
        prop::option::weighted(0.9, operand),
        prop_oneof![3 => Just(vec![]), 1 => range_end()],
    )
        .prop_map(|(result, target, key, target_union, range_end)| Compare {
            result,
            target,
            key,
            target_union,
            range_end,
        })
}

fn flat_op() -> impl Strategy<Value = RequestOp> {
    prop_oneof![
        put().prop_map(RequestOp::Put),
        delete().prop_map(RequestOp::DeleteRange),
        (range(), 0..3i64).prop_map(|(mut r, rev)| {
            r.revision = rev;
            RequestOp::Range(r)
        }),
    ]
}

fn txn() -> impl Strategy<Value = TxnRequest> {
    let nested = (
        prop::collection::vec(compare(), 0..2),
        prop::collection::vec(flat_op(), 0..3),
        prop::collection::vec(flat_op(), 0..3),
    )
        .prop_map(|(compare, success, failure)| {
            RequestOp::Txn(TxnRequest {
                compare,
                success,
                failure,
            })
        });
    let op = prop_oneof![5 => flat_op(), 1 => nested];
    (
        prop::collection::vec(compare(), 0..3),
        prop::collection::vec(op.clone(), 0..4),
        prop::collection::vec(op, 0..4),
    )
        .prop_map(|(compare, success, failure)| TxnRequest {
            compare,
            success,
            failure,
        })
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        6 => put().prop_map(|p| Step::Write(WriteOp::Put(p))),
        2 => delete().prop_map(|d| Step::Write(WriteOp::DeleteRange(d))),
        4 => txn().prop_map(|t| Step::Write(WriteOp::Txn(t))),
        1 => (-1..6i64).prop_map(Step::Compact),
        1 => (0..4i64, 1..100i64).prop_map(|(id, ttl_seconds)| {
            Step::Write(WriteOp::LeaseGrant(LeaseGrantRequest { id, ttl_seconds }))
        }),
        1 => (0..4i64).prop_map(|id| Step::Write(WriteOp::LeaseRevoke(LeaseRevokeRequest { id }))),
        1 => (1..3i64, 1..50i64).prop_map(|(id, remaining_ttl_seconds)| {
            let checkpoints = vec![LeaseCheckpoint { id, remaining_ttl_seconds }];
            Step::Write(WriteOp::LeaseCheckpoint(LeaseCheckpointRequest { checkpoints }))
        }),
        4 => (range(), 0..8i64).prop_map(|(r, back)| Step::Read(r, back)),
        1 => (key(), range_end(), 0..8i64).prop_map(|(k, e, back)| Step::Events(k, e, back)),
        1 => Just(Step::Reopen),
    ]
}

fn check_write(h: &mut Harness, model: &mut Model, op: WriteOp) -> Result<(), TestCaseError> {
    if let WriteOp::LeaseCheckpoint(c) = &op {
        model.checkpoint(c);
    }
    let (expected, expected_events) = model.apply(&op);
    let applied = h.apply(op.clone());
    let got = applied.response.map_err(|e| e.kind);
    prop_assert_eq!(&got, &expected, "response to {:?}", op);
    // An applied write's events carry no prev_kv; the store finds it on demand.
    let (events, prevs): (Vec<Event>, Vec<Option<KeyValue>>) = expected_events
        .into_iter()
        .map(|mut e| {
            let prev = e.prev_kv.take();
            (e, prev)
        })
        .unzip();
    prop_assert_eq!(&applied.events, &events, "events of {:?}", op);
    let found = h
        .store()
        .prev_kvs(&applied.events)
        .map_err(|e| e.to_string());
    prop_assert_eq!(found, Ok(prevs), "prev_kv of the events of {:?}", op);
    prop_assert_eq!(applied.revision, model.current());
    prop_assert_eq!(h.store().current_revision(), model.current());
    prop_assert_eq!(h.store().compacted_revision(), model.compacted);
    Ok(())
}

fn run_step(h: &mut Harness, model: &mut Model, step: Step) -> Result<(), TestCaseError> {
    let current = model.current();
    match step {
        Step::Write(op) => check_write(h, model, op)?,
        Step::Compact(back) => {
            let op = WriteOp::Compact(CompactionRequest {
                revision: current - back,
                physical: false,
            });
            check_write(h, model, op)?;
        }
        Step::Read(mut req, back) => {
            req.revision = if back == 0 { 0 } else { current - back };
            let got = h.store().range(&req).map_err(|e| e.to_string());
            let expected = model.range(&req).map_err(|e| format!("{e:?}"));
            match (&got, &expected) {
                (Ok(g), Ok(e)) => prop_assert_eq!(g, e, "range {:?}", req),
                (Err(_), Err(_)) => {}
                _ => prop_assert!(
                    false,
                    "range {:?}: store {:?} model {:?}",
                    req,
                    got,
                    expected
                ),
            }
        }
        Step::Events(key, end, back) => {
            let start = current - back;
            let got = h
                .store()
                .events_since(start, &key, &end, 0)
                .map_err(|e| e.to_string());
            let expected = model
                .events_since(start, &key, &end)
                .map_err(|e| format!("{e:?}"));
            match (&got, &expected) {
                (Ok(g), Ok(e)) => prop_assert_eq!(g, e, "events from {}", start),
                (Err(_), Err(_)) => {}
                _ => prop_assert!(
                    false,
                    "events from {start}: store {:?} model {:?}",
                    got,
                    expected
                ),
            }
        }
        Step::Reopen => {
            h.reopen();
            prop_assert_eq!(h.store().applied_index(), h.index);
            prop_assert_eq!(h.store().current_revision(), model.current());
        }
    }
    for (&id, &(ttl, remaining)) in &model.leases {
        let lease = h.store().lease(id);
        prop_assert!(lease.is_some(), "lease {} missing", id);
        let lease = lease.unwrap();
        prop_assert_eq!(
            (lease.ttl_seconds, lease.remaining_ttl_seconds),
            (ttl, remaining)
        );
        prop_assert_eq!(lease.keys, model.lease_keys(id));
    }
    prop_assert_eq!(h.store().leases().len(), model.leases.len());
    Ok(())
}

#[test]
fn store_matches_the_reference_model() {
    let seed = seed("store_matches_the_reference_model");
    let cases = std::env::var("MVCC_MODEL_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(48);
    let config = Config {
        cases,
        rng_seed: RngSeed::Fixed(seed),
        failure_persistence: None,
        max_shrink_iters: 256,
        ..Config::default()
    };
    let mut runner = TestRunner::new(config);
    let result = runner.run(&prop::collection::vec(step(), 1..60), |steps| {
        let mut h = Harness::new();
        let mut model = Model::new();
        for step in steps {
            run_step(&mut h, &mut model, step)?;
        }
        // Whatever the compactor did, the full feed and the hash stay as the model says.
        h.store().wait_compaction(model.compacted).unwrap();
        let feed = h
            .store()
            .events_since(model.compacted.max(1), &[0], &[0], 0)
            .unwrap();
        prop_assert_eq!(
            feed,
            model
                .events_since(model.compacted.max(1), &[0], &[0])
                .unwrap()
        );
        Ok(())
    });
    if let Err(e) = result {
        panic!("seed {seed}: {e}");
    }
}
