#![allow(clippy::unwrap_used)]

use super::*;
use crate::history::ReadKv;
use crate::history::Response;

fn op(call: u64, ret: Option<u64>, request: Request, response: Option<Response>) -> Operation {
    Operation {
        client: 0,
        call_ns: call,
        return_ns: ret,
        request,
        response,
    }
}

fn put_request(value: &str) -> Request {
    Request::Put {
        key: "k".into(),
        value: value.into(),
    }
}

fn put(call: u64, ret: u64, value: &str, revision: u64) -> Operation {
    op(
        call,
        Some(ret),
        put_request(value),
        Some(Response::Put { revision }),
    )
}

fn put_lost(call: u64, value: &str) -> Operation {
    op(call, None, put_request(value), None)
}

/// A put the watch showed applied at `revision`: no return time.
fn put_resolved(call: u64, value: &str, revision: u64) -> Operation {
    op(
        call,
        None,
        put_request(value),
        Some(Response::Put { revision }),
    )
}

fn get(call: u64, ret: u64, seen: Option<(&str, u64)>, revision: u64) -> Operation {
    op(
        call,
        Some(ret),
        Request::Get {
            key: "k".into(),
            linearizable: true,
        },
        Some(Response::Get {
            revision,
            kv: seen.map(|(v, m)| ReadKv {
                value: v.into(),
                mod_revision: m,
            }),
        }),
    )
}

fn delete(call: u64, ret: u64, deleted: u64, revision: u64) -> Operation {
    op(
        call,
        Some(ret),
        Request::Delete { key: "k".into() },
        Some(Response::Delete { revision, deleted }),
    )
}

fn txn(
    call: u64,
    ret: u64,
    expected: u64,
    value: &str,
    succeeded: bool,
    revision: u64,
) -> Operation {
    op(
        call,
        Some(ret),
        Request::Txn {
            key: "k".into(),
            expected_mod_revision: expected,
            value: value.into(),
        },
        Some(Response::Txn {
            revision,
            succeeded,
            kv: None,
        }),
    )
}

fn verdict(ops: Vec<Operation>) -> Verdict {
    check_key("k", ops, DEFAULT_BUDGET_STEPS)
}

#[test]
fn sequential_put_then_get_is_linearizable() {
    let ops = vec![
        put(0, 1, "a", 2),
        get(2, 3, Some(("a", 2)), 2),
        delete(4, 5, 1, 3),
        get(6, 7, None, 3),
    ];
    assert_eq!(verdict(ops), Verdict::Linearizable);
}

#[test]
fn a_read_concurrent_with_a_write_may_see_either_value() {
    let before = vec![
        put(0, 1, "a", 2),
        put(2, 6, "b", 3),
        get(3, 4, Some(("a", 2)), 2),
    ];
    let after = vec![
        put(0, 1, "a", 2),
        put(2, 6, "b", 3),
        get(3, 4, Some(("b", 3)), 3),
    ];
    assert_eq!(verdict(before), Verdict::Linearizable);
    assert_eq!(verdict(after), Verdict::Linearizable);
}

#[test]
fn a_stale_read_after_a_completed_write_is_a_violation() {
    let ops = vec![
        put(0, 1, "a", 2),
        put(2, 3, "b", 3),
        get(4, 5, Some(("a", 2)), 3),
    ];
    let Verdict::Violation { key, excerpt } = verdict(ops) else {
        panic!("stale read passed")
    };
    assert_eq!(key, "k");
    assert!(
        excerpt
            .iter()
            .any(|o| matches!(o.request, Request::Get { .. })),
        "{excerpt:?}"
    );
}

#[test]
fn a_lost_acknowledged_write_is_a_violation() {
    let ops = vec![put(0, 1, "a", 2), get(2, 3, None, 2)];
    assert!(matches!(verdict(ops), Verdict::Violation { .. }));
}

#[test]
fn an_indeterminate_write_may_apply_late_or_never() {
    let never = vec![put_lost(0, "x"), get(5, 6, None, 1)];
    let late = vec![
        put_lost(0, "x"),
        get(5, 6, None, 1),
        get(7, 8, Some(("x", 9)), 9),
    ];
    assert_eq!(verdict(never), Verdict::Linearizable);
    assert_eq!(verdict(late), Verdict::Linearizable);
}

#[test]
fn an_indeterminate_write_cannot_apply_before_its_invocation() {
    let ops = vec![get(0, 1, Some(("x", 2)), 2), put_lost(5, "x")];
    assert!(matches!(verdict(ops), Verdict::Violation { .. }));
}

#[test]
fn a_read_of_a_value_never_written_is_a_violation() {
    assert!(matches!(
        verdict(vec![get(0, 1, Some(("z", 2)), 2)]),
        Verdict::Violation { .. }
    ));
}

#[test]
fn txn_compares_on_mod_revision() {
    let mut lost_race = txn(4, 5, 2, "c", false, 3);
    lost_race.response = Some(Response::Txn {
        revision: 3,
        succeeded: false,
        kv: Some(ReadKv {
            value: "b".into(),
            mod_revision: 3,
        }),
    });
    let ok = vec![put(0, 1, "a", 2), txn(2, 3, 2, "b", true, 3), lost_race];
    let wrong = vec![put(0, 1, "a", 2), txn(2, 3, 2, "b", false, 2)];
    let create = vec![txn(0, 1, 0, "a", true, 2), txn(2, 3, 0, "b", true, 3)];
    assert_eq!(verdict(ok), Verdict::Linearizable);
    assert!(matches!(verdict(wrong), Verdict::Violation { .. }));
    assert!(
        matches!(verdict(create), Verdict::Violation { .. }),
        "two creates both succeeded"
    );
}

#[test]
fn a_delete_must_report_what_it_deleted() {
    assert!(matches!(
        verdict(vec![delete(0, 1, 1, 2)]),
        Verdict::Violation { .. }
    ));
    assert_eq!(verdict(vec![delete(0, 1, 0, 1)]), Verdict::Linearizable);
}

#[test]
fn an_exhausted_budget_is_unknown_not_a_violation() {
    let mut ops: Vec<Operation> = (0..12).map(|i| put_lost(i, &format!("v{i}"))).collect();
    ops.push(get(100, 101, Some(("v11", 50)), 50));
    ops.push(get(102, 103, Some(("nope", 51)), 51));
    assert!(matches!(
        check_key("k", ops, 5),
        Verdict::Unknown { key, .. } if key == "k"
    ));
}

#[test]
fn keys_are_checked_independently() {
    let mut other = put(0, 1, "a", 2);
    other.request = Request::Put {
        key: "j".into(),
        value: "a".into(),
    };
    let ops = vec![other, get(2, 3, None, 2)];
    assert!(check(&ops, DEFAULT_BUDGET_STEPS).is_empty());
}

#[test]
fn serializable_reads_are_left_out() {
    let mut stale = get(2, 3, None, 1);
    stale.request = Request::Get {
        key: "k".into(),
        linearizable: false,
    };
    assert!(check(&[put(0, 1, "a", 2), stale], DEFAULT_BUDGET_STEPS).is_empty());
}

#[test]
fn a_read_behind_a_completed_write_on_another_key_is_a_revision_anomaly() {
    let mut other = put(0, 1, "a", 5);
    other.request = Request::Put {
        key: "j".into(),
        value: "a".into(),
    };
    let anomalies = check_revision_order(&[other, get(2, 3, None, 4)], 10);
    assert_eq!(anomalies.len(), 1, "{anomalies:?}");
    assert!(check_revision_order(&[put(0, 1, "a", 5), get(2, 3, None, 5)], 10).is_empty());
}

#[test]
fn writes_must_have_distinct_increasing_revisions() {
    assert_eq!(
        check_revision_order(&[put(0, 1, "a", 5), put(2, 3, "b", 5)], 10).len(),
        2
    );
    assert!(check_revision_order(&[put(0, 3, "a", 6), put(1, 2, "b", 5)], 10).is_empty());
}

#[test]
fn revisions_order_writes_across_a_delete() {
    // All three writes are concurrent; the delete at 4 must come after the
    // put of b at 3, so the key ends absent.
    let writes = || vec![put(0, 10, "a", 2), delete(0, 10, 1, 4), put(0, 10, "b", 3)];
    let mut absent = writes();
    absent.push(get(11, 12, None, 4));
    assert_eq!(verdict(absent), Verdict::Linearizable);
    let mut resurrected = writes();
    resurrected.push(get(11, 12, Some(("b", 3)), 4));
    assert!(matches!(verdict(resurrected), Verdict::Violation { .. }));
}

#[test]
fn a_read_sees_the_key_as_it_was_at_its_header_revision() {
    // The put of b at 3 is concurrent with the read at header 2, so the read
    // must come before it, and then it must see a.
    let before = vec![
        put(0, 1, "a", 2),
        put(2, 10, "b", 3),
        get(3, 4, Some(("a", 2)), 2),
    ];
    assert_eq!(verdict(before), Verdict::Linearizable);
    // At header 2 the key held a: absent there contradicts it even though
    // the key is absent after the delete at 3.
    let absent_too_early = vec![put(0, 1, "a", 2), delete(2, 3, 1, 3), get(4, 5, None, 2)];
    assert!(matches!(
        verdict(absent_too_early),
        Verdict::Violation { .. }
    ));
}

#[test]
fn writes_resolved_far_ahead_cost_no_search_until_their_revision() {
    // Three writes invoked at the start and settled by the watch at
    // revisions far ahead (no return time), then a long run of puts and
    // reads below those revisions.
    let mut ops = vec![
        put_resolved(0, "far-a", 10_001),
        put_resolved(1, "far-b", 10_002),
        put_resolved(2, "far-c", 10_003),
    ];
    for n in 1..=2_000u64 {
        let t = 10 * n;
        ops.push(put(t, t + 2, &format!("v{n}"), 1 + 2 * n));
        ops.push(get(
            t + 3,
            t + 5,
            Some((&format!("v{n}"), 1 + 2 * n)),
            2 + 2 * n,
        ));
    }
    ops.push(get(1_000_000, 1_000_001, Some(("far-c", 10_003)), 10_003));
    // Two steps per operation and nothing more: a search that tried the
    // far writes at every step would run out.
    assert_eq!(check_key("k", ops, 0), Verdict::Linearizable);
}
