use raft_core::MessageType;
use raft_core::ProgressState;

use crate::with_leader;

#[test]
fn snapshot_sent_to_far_behind_follower_and_installed() {
    let mut c = with_leader(3, |_| {});
    c.isolate(3);
    for i in 0..20u8 {
        c.propose(1, &[i]).unwrap();
    }
    c.compact(1);
    let snaps = std::rc::Rc::new(std::cell::Cell::new(0));
    let s = snaps.clone();
    c.drop_filter = Some(Box::new(move |m| {
        if m.msg_type == MessageType::Snapshot {
            s.set(s.get() + 1);
        }
        false
    }));
    c.heal();
    c.tick_all(3);
    assert_eq!(snaps.get(), 1, "the compacted entries went as one snapshot");
    assert_eq!(c.applied_data(3), c.applied_data(1));
    assert_eq!(
        c.node(3).store().snapshot_index(),
        c.node(1).store().snapshot_index()
    );
    c.propose(1, b"after").unwrap();
    assert_eq!(c.applied_data(3).len(), 21);
    let status = c.node(1).status();
    assert_eq!(
        status.progress.get(&3).unwrap().state,
        ProgressState::Replicate
    );
}

#[test]
fn failed_snapshot_is_retried() {
    let mut c = with_leader(3, |_| {});
    c.isolate(3);
    for i in 0..5u8 {
        c.propose(1, &[i]).unwrap();
    }
    c.compact(1);
    c.heal();
    let failures = std::rc::Rc::new(std::cell::Cell::new(0));
    let f = failures.clone();
    c.drop_filter = Some(Box::new(move |m| {
        let drop = m.msg_type == MessageType::Snapshot && f.get() == 0;
        if drop {
            f.set(1);
        }
        drop
    }));
    c.tick_all(5);
    assert_eq!(failures.get(), 1);
    assert_eq!(
        c.applied_data(3),
        c.applied_data(1),
        "the second snapshot got through"
    );
}

#[test]
fn restart_from_snapshot_and_log() {
    let mut c = with_leader(3, |_| {});
    for i in 0..5u8 {
        c.propose(1, &[i]).unwrap();
    }
    c.compact(2);
    c.propose(1, b"tail").unwrap();
    c.restart(2).unwrap();
    c.tick_all(2);
    c.propose(1, b"more").unwrap();
    assert_eq!(c.applied_data(2), c.applied_data(1));
    assert_eq!(c.node(2).status().commit, c.node(1).status().commit);
}
