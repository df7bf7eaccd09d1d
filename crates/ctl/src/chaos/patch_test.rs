#![allow(clippy::unwrap_used)]

use super::*;
use crate::history::ReadKv;
use crate::history::WatchEvent;
use crate::linearizability;
use crate::linearizability::Verdict;

fn op(call: u64, ret: Option<u64>, request: Request, response: Option<Response>) -> Operation {
    Operation {
        client: 0,
        call_ns: call,
        return_ns: ret,
        request,
        response,
    }
}

fn put(call: u64, ret: u64, value: &str, revision: u64) -> Operation {
    let request = Request::Put {
        key: "k".into(),
        value: value.into(),
    };
    op(call, Some(ret), request, Some(Response::Put { revision }))
}

fn put_lost(call: u64, value: &str) -> Operation {
    let request = Request::Put {
        key: "k".into(),
        value: value.into(),
    };
    op(call, None, request, None)
}

fn delete_lost(call: u64) -> Operation {
    op(call, None, Request::Delete { key: "k".into() }, None)
}

fn get(call: u64, ret: u64, seen: Option<(&str, u64)>, revision: u64) -> Operation {
    let request = Request::Get {
        key: "k".into(),
        linearizable: true,
    };
    let kv = seen.map(|(v, m)| ReadKv {
        value: v.into(),
        mod_revision: m,
    });
    op(
        call,
        Some(ret),
        request,
        Some(Response::Get { revision, kv }),
    )
}

fn event(revision: u64, value: Option<&str>) -> WatchEvent {
    WatchEvent {
        key: "k".into(),
        revision,
        value: value.map(str::to_owned),
    }
}

/// One watcher from revision 1 that saw `events` and then confirmed `upto`.
fn watched(events: Vec<WatchEvent>, upto: u64) -> Vec<WatchRecord> {
    vec![
        WatchRecord::Start {
            watcher: 0,
            start_revision: 1,
        },
        WatchRecord::Events { watcher: 0, events },
        WatchRecord::Progress {
            watcher: 0,
            revision: upto,
        },
    ]
}

fn verdicts(ops: &[Operation], budget_steps: u64) -> Vec<Verdict> {
    linearizability::check(ops, budget_steps)
}

#[test]
fn a_write_the_watch_saw_is_resolved_and_one_it_never_saw_is_dropped() {
    let ops = vec![
        put_lost(0, "seen"),
        put_lost(1, "unseen"),
        get(10, 11, Some(("seen", 2)), 2),
    ];
    let patched = patch(ops.clone(), &watched(vec![event(2, Some("seen"))], 2));
    assert_eq!((patched.resolved, patched.dropped, patched.left), (1, 1, 0));
    let resolved = patched.ops.first().unwrap();
    assert_eq!(resolved.response, Some(Response::Put { revision: 2 }));
    assert_eq!(resolved.return_ns, None, "its return time stays unknown");
    assert_eq!(patched.ops.len(), 2);
}

#[test]
fn many_indeterminate_writes_resolve_and_check_within_a_small_budget() {
    // Each round: a write that timed out (applied on even rounds), a put
    // that completed, and a read of it; 300 rounds on one key.
    let (mut ops, mut events, mut revision) = (Vec::new(), Vec::new(), 1u64);
    for t in 0..300u64 {
        let base = t * 100;
        ops.push(put_lost(base, &format!("x{t}")));
        if t % 2 == 0 {
            revision += 1;
            events.push(event(revision, Some(&format!("x{t}"))));
        }
        revision += 1;
        ops.push(put(base + 1, base + 50, &format!("p{t}"), revision));
        events.push(event(revision, Some(&format!("p{t}"))));
        ops.push(get(
            base + 60,
            base + 70,
            Some((&format!("p{t}"), revision)),
            revision,
        ));
    }
    let patched = patch(ops.clone(), &watched(events, revision));
    assert_eq!(
        (patched.resolved, patched.dropped, patched.left),
        (150, 150, 0)
    );
    assert!(verdicts(&patched.ops, 2_000).is_empty());
}

#[test]
fn a_stale_read_among_many_indeterminate_writes_is_still_reported() {
    // Thirty writes time out and never apply; then a stale read.
    let mut ops: Vec<Operation> = (0..30).map(|i| put_lost(i, &format!("x{i}"))).collect();
    ops.extend([
        put(100, 110, "a", 2),
        put(120, 130, "b", 3),
        get(140, 150, Some(("a", 2)), 3),
    ]);
    let events = vec![event(2, Some("a")), event(3, Some("b"))];
    let patched = patch(ops.clone(), &watched(events, 3));
    assert_eq!(patched.dropped, 30);
    let found = verdicts(&patched.ops, 100_000);
    assert!(
        matches!(found.as_slice(), [Verdict::Violation { .. }]),
        "{found:?}"
    );
    // Unpatched, the same search gives up: this is what the patch is for.
    let unpatched = verdicts(&ops, 100_000);
    assert!(
        matches!(unpatched.as_slice(), [Verdict::Unknown { .. }]),
        "{unpatched:?}"
    );
}

#[test]
fn a_write_whose_value_was_read_is_never_dropped() {
    // The watch lost the event (the watch check reports that), but a read
    // saw the value: dropping the write would make the read a violation.
    let ops = vec![put_lost(0, "x"), get(10, 11, Some(("x", 2)), 2)];
    let patched = patch(ops.clone(), &watched(Vec::new(), 2));
    assert_eq!((patched.dropped, patched.left), (0, 1));
    assert!(verdicts(&patched.ops, 1_000).is_empty());
    let wrongly_dropped = vec![get(10, 11, Some(("x", 2)), 2)];
    assert!(matches!(
        verdicts(&wrongly_dropped, 1_000).as_slice(),
        [Verdict::Violation { .. }]
    ));
}

#[test]
fn a_gap_in_the_watch_keeps_writes_indeterminate() {
    let ops = vec![put_lost(0, "x"), put(10, 11, "a", 5)];
    // Watches covered 1..=2 and 4..=5: revision 3 is unaccounted for.
    let mut records = watched(Vec::new(), 2);
    records.extend([
        WatchRecord::Start {
            watcher: 1,
            start_revision: 4,
        },
        WatchRecord::Progress {
            watcher: 1,
            revision: 5,
        },
    ]);
    let patched = patch(ops.clone(), &records);
    assert_eq!((patched.dropped, patched.left), (0, 1));
    // Covered from the write's invocation on, it is dropped.
    let later = vec![put(0, 1, "a", 4), put_lost(5, "x"), put(10, 11, "b", 5)];
    let patched = patch(later.clone(), &records);
    assert_eq!((patched.dropped, patched.left), (1, 0));
}

#[test]
fn a_resolved_write_must_be_placed_before_its_revision_is_observed() {
    // The watch shows x applied at 3, yet a later read at 3 saw a.
    let ops = vec![
        put(0, 1, "a", 2),
        put_lost(2, "x"),
        get(10, 11, Some(("a", 2)), 3),
    ];
    let patched = patch(
        ops,
        &watched(vec![event(2, Some("a")), event(3, Some("x"))], 3),
    );
    assert_eq!(patched.resolved, 1);
    assert!(matches!(
        verdicts(&patched.ops, 1_000).as_slice(),
        [Verdict::Violation { .. }]
    ));
}

#[test]
fn a_delete_takes_the_one_unexplained_delete_event_that_fits_it() {
    let ops = vec![put(0, 1, "a", 2), delete_lost(2), get(10, 11, None, 3)];
    let records = watched(vec![event(2, Some("a")), event(3, None)], 3);
    let patched = patch(ops.clone(), &records);
    assert_eq!(patched.resolved, 1);
    assert_eq!(
        patched.ops.get(1).and_then(|o| o.response.clone()),
        Some(Response::Delete {
            revision: 3,
            deleted: 1
        })
    );
    assert!(verdicts(&patched.ops, 1_000).is_empty());
    // Two deletes and one event the watch saw in full: the first invoked takes it.
    let two = vec![put(0, 1, "a", 2), delete_lost(2), delete_lost(3)];
    let patched = patch(two.clone(), &records);
    assert_eq!((patched.resolved, patched.dropped, patched.left), (1, 1, 0));
    assert_eq!(patched.ops.get(1).map(|o| o.call_ns), Some(2));
    // With a gap in the watches (revision 3) after the deletes' floor, which
    // one made the deletion at 4 stays unknown.
    let gap = vec![
        WatchRecord::Start {
            watcher: 0,
            start_revision: 1,
        },
        WatchRecord::Events {
            watcher: 0,
            events: vec![event(2, Some("a"))],
        },
        WatchRecord::Start {
            watcher: 0,
            start_revision: 4,
        },
        WatchRecord::Events {
            watcher: 0,
            events: vec![event(4, None)],
        },
    ];
    let two = vec![
        put(0, 1, "a", 2),
        delete_lost(2),
        delete_lost(3),
        get(20, 21, None, 4),
    ];
    let patched = patch(two, &gap);
    assert_eq!((patched.resolved, patched.left), (0, 2));
    assert_eq!(patched.uncovered, vec![(3, 3)]);
    // No event fits: nothing was deleted that anyone saw.
    let none = vec![
        put(0, 1, "a", 2),
        delete_lost(2),
        get(10, 11, Some(("a", 2)), 2),
    ];
    let patched = patch(none.clone(), &watched(vec![event(2, Some("a"))], 2));
    assert_eq!(patched.dropped, 1);
}

/// A watcher that saw "a" put at 2, deleted at 3, "b" put at 4, deleted at 5.
fn two_puts_two_deletions() -> Vec<WatchRecord> {
    watched(
        vec![
            event(2, Some("a")),
            event(3, None),
            event(4, Some("b")),
            event(5, None),
        ],
        5,
    )
}

#[test]
fn deletes_take_the_delete_events_in_invocation_order() {
    // Three lost deletes interleaved with puts: the watch saw two deletions.
    let ops = vec![
        put(0, 1, "a", 2),
        delete_lost(2),
        delete_lost(3),
        put_lost(4, "b"),
        delete_lost(5),
        get(20, 21, None, 5),
    ];
    let records = two_puts_two_deletions();
    let patched = patch(ops, &records);
    assert_eq!((patched.resolved, patched.dropped, patched.left), (3, 1, 0));
    let deleted: Vec<(u64, Option<Response>)> = patched
        .ops
        .iter()
        .filter(|o| matches!(o.request, Request::Delete { .. }))
        .map(|o| (o.call_ns, o.response.clone()))
        .collect();
    let at = |revision| {
        Some(Response::Delete {
            revision,
            deleted: 1,
        })
    };
    assert_eq!(deleted, vec![(2, at(3)), (3, at(5))]);
    assert!(verdicts(&patched.ops, 1_000).is_empty());
}

#[test]
fn more_delete_events_than_deletes_leave_the_deletes_to_the_search() {
    let ops = vec![
        put(0, 1, "a", 2),
        delete_lost(2),
        put(3, 4, "b", 4),
        get(20, 21, None, 5),
    ];
    let records = two_puts_two_deletions();
    let patched = patch(ops, &records);
    assert_eq!((patched.resolved, patched.dropped, patched.left), (0, 0, 1));
}
