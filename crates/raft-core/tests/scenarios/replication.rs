use raft_core::Entry;
use raft_core::Error;
use raft_core::MessageType;
use raft_core::Role;
use raft_core::Storage;

use crate::bytes;
use crate::cluster;
use crate::tick_until_leader;
use crate::with_leader;

#[test]
fn proposal_replicates_and_commits_on_every_node() {
    let mut c = with_leader(3, |_| {});
    c.propose(1, b"a").unwrap();
    c.propose(2, b"b").unwrap(); // forwarded by a follower
    for id in 1..=3 {
        assert_eq!(c.applied_data(id), bytes(&["a", "b"]), "node {id}");
    }
}

#[test]
fn five_node_partition_minority_leader_writes_roll_back_after_heal() {
    let mut c = with_leader(5, |_| {});
    c.propose(1, b"a").unwrap();
    c.partition(&[&[1, 2], &[3, 4, 5]]);
    c.propose(1, b"lost").unwrap();
    assert_eq!(
        c.applied_data(1),
        bytes(&["a"]),
        "the minority cannot commit"
    );
    let mut leader = 1;
    for _ in 0..200 {
        c.tick_all(1);
        if let Some(l) = (3..=5).find(|&i| c.role(i) == Role::Leader) {
            leader = l;
            break;
        }
    }
    assert!((3..=5).contains(&leader), "the majority elected a leader");
    c.propose(leader, b"kept").unwrap();
    assert_eq!(c.applied_data(leader), bytes(&["a", "kept"]));
    c.heal();
    c.tick_all(5);
    for id in 1..=5 {
        assert_eq!(c.applied_data(id), bytes(&["a", "kept"]), "node {id}");
        let status = c.node(id).status();
        let log = c
            .node(id)
            .store()
            .entries(1, status.last_index + 1, None)
            .unwrap();
        assert!(
            log.iter().all(|e| e.data.as_ref() != b"lost"),
            "node {id} rolled back the minority write"
        );
    }
}

#[test]
fn follower_conflicting_suffix_is_replaced() {
    let mut c = with_leader(3, |cfg| {
        cfg.pre_vote = false;
        cfg.check_quorum = false;
    });
    c.isolate(1);
    // The cut-off leader appends entries that reach nobody.
    for d in ["x1", "x2", "x3"] {
        c.propose(1, d.as_bytes()).unwrap();
    }
    let stale_last = c.node(1).status().last_index;
    c.campaign(2);
    c.propose(2, b"y").unwrap();
    c.heal();
    c.tick_all(3);
    let last = c.node(2).status().last_index;
    let log1 = c.node(1).store().entries(1, last + 1, None).unwrap();
    let log2 = c.node(2).store().entries(1, last + 1, None).unwrap();
    assert_eq!(
        log1, log2,
        "node 1's conflicting suffix was replaced by the leader's log"
    );
    assert!(stale_last > 1 && c.applied_data(1) == bytes(&["y"]));
}

#[test]
fn figure_8_previous_term_entry_on_a_quorum_is_not_committed_by_counting() {
    let (mut c, x_index) = figure_8(false);
    c.drop_filter = None;
    c.propose(5, b"z").unwrap();
    c.tick_all(2);
    for id in 2..=5 {
        let applied = c.applied.get(&id).unwrap();
        let at_x = applied.iter().find(|e| e.index == x_index).unwrap();
        assert_ne!(
            at_x.data.as_ref(),
            b"x",
            "node {id}: the overwritten entry was never applied"
        );
    }
    assert!(c.applied_data(1).is_empty(), "node 1 never applied x");
}

#[test]
fn figure_8_with_the_rule_broken_elects_a_leader_without_an_applied_entry() {
    let (c, x_index) = figure_8(true);
    let on_1 = c
        .applied
        .get(&1)
        .unwrap()
        .iter()
        .find(|e| e.index == x_index)
        .cloned();
    assert_eq!(
        on_1.map(|e| e.data),
        Some(bytes::Bytes::from_static(b"x")),
        "node 1 applied x by counting"
    );
    let on_5 = c
        .node(5)
        .store()
        .entries(x_index, x_index + 1, None)
        .unwrap();
    assert_ne!(
        on_5[0].data.as_ref(),
        b"x",
        "the new leader lacks an applied entry: safety broken"
    );
}

/// Figure 8 of the Raft paper: returns the cluster after (d), and the index of entry `x`.
fn figure_8(broken: bool) -> (raft_core::testing::cluster::Cluster, u64) {
    let mut c = cluster(5, |cfg| {
        cfg.pre_vote = false;
        cfg.check_quorum = false;
        cfg.max_size_per_msg_bytes = 1;
        cfg.unsafe_commit_previous_terms = broken;
    });
    c.campaign(1);
    // (a) Node 1 (term 1) replicates x to node 2 only.
    c.partition(&[&[1, 2], &[3, 4, 5]]);
    c.propose(1, b"x").unwrap();
    let x_index = c.node(1).status().last_index;
    // (b) Node 5 wins term 2 with votes of 3 and 4; its entry reaches no one.
    c.heal();
    c.isolate(1);
    c.drop_filter = Some(Box::new(|m| m.from == 5 && !m.entries.is_empty()));
    c.campaign(5);
    assert_eq!(c.role(5), Role::Leader);
    // (c) Node 1 restarts, wins term 3 and replicates x to 3 and 4, but not its own
    // term's entry.
    c.heal();
    c.isolate(5);
    c.restart(1).unwrap();
    c.drop_filter = Some(Box::new(|m| {
        m.entries.retain(|e: &Entry| e.term == 1);
        false
    }));
    c.campaign(1);
    if c.role(1) != Role::Leader {
        c.campaign(1);
    }
    assert_eq!(c.role(1), Role::Leader);
    let status = c.node(1).status();
    assert_eq!(
        status
            .progress
            .values()
            .filter(|p| p.matched >= x_index)
            .count(),
        4,
        "x is on a quorum"
    );
    assert_eq!(
        status.commit >= x_index,
        broken,
        "x commits only if the rule is broken"
    );
    // (d) Node 1 goes away; node 5 restarts and wins with its term-2 entry; its appends,
    // which overwrite x, are held back.
    c.drop_filter = Some(Box::new(|m| m.msg_type == MessageType::Append));
    c.heal();
    c.isolate(1);
    c.restart(5).unwrap();
    for _ in 0..3 {
        if c.role(5) != Role::Leader {
            c.campaign(5);
        }
    }
    assert_eq!(c.role(5), Role::Leader);
    (c, x_index)
}

#[test]
fn rejected_append_backtracks_past_a_whole_term_with_the_hint() {
    let mut c = with_leader(3, |cfg| {
        cfg.pre_vote = false;
        cfg.check_quorum = false;
    });
    // The cut-off leader collects 50 entries of term 1 that never commit.
    c.isolate(1);
    for i in 0..50u8 {
        let _ = c.node_mut(1).propose(vec![i].into());
    }
    c.stabilize();
    // A new leader writes 30 entries of term 2 at the same indexes, then hands over to
    // node 3, which starts by probing every follower at its last index.
    c.campaign(2);
    for i in 0..30u8 {
        c.node_mut(2).propose(vec![100 + i].into()).unwrap();
    }
    c.stabilize();
    c.node_mut(2).transfer_leader(3);
    c.stabilize();
    assert_eq!(c.role(3), Role::Leader);
    let rejections = std::rc::Rc::new(std::cell::Cell::new(0));
    let r = rejections.clone();
    c.drop_filter = Some(Box::new(move |m| {
        if m.msg_type == MessageType::AppendResponse && m.reject {
            r.set(r.get() + 1);
        }
        false
    }));
    c.heal();
    c.tick_all(3);
    assert_eq!(c.applied_data(1), c.applied_data(2));
    assert_eq!(c.applied_data(1).len(), 30);
    assert_eq!(
        rejections.get(),
        1,
        "one round trip skips all 30 conflicting entries"
    );
}

#[test]
fn max_size_per_msg_limits_each_append() {
    let mut c = with_leader(3, |cfg| cfg.max_size_per_msg_bytes = 100);
    c.isolate(3);
    for _ in 0..10 {
        c.propose(1, &[7u8; 40]).unwrap();
    }
    c.heal();
    let max_seen = std::rc::Rc::new(std::cell::Cell::new(0usize));
    let seen = max_seen.clone();
    c.drop_filter = Some(Box::new(move |m| {
        if m.msg_type == MessageType::Append {
            seen.set(seen.get().max(m.entries.len()));
        }
        false
    }));
    c.tick_all(2);
    assert_eq!(c.applied_data(3).len(), 10);
    assert!(
        max_seen.get() >= 1 && max_seen.get() <= 1,
        "each 64-byte entry fills a 100-byte message"
    );
}

#[test]
fn inflight_window_bounds_unacknowledged_appends() {
    let mut c = with_leader(3, |cfg| cfg.max_inflight_msgs = 3);
    c.drop_filter = Some(Box::new(|m| m.to == 3 && m.msg_type == MessageType::Append));
    for i in 0..10u8 {
        c.node_mut(1).propose(vec![i].into()).unwrap();
        c.stabilize();
    }
    let status = c.node(1).status();
    let p3 = status.progress.get(&3).unwrap();
    assert_eq!(
        p3.inflight, 3,
        "the window is full and no more appends go to node 3"
    );
    assert_eq!(
        c.applied_data(1).len(),
        10,
        "the quorum of 1 and 2 still commits"
    );
    c.drop_filter = None;
    c.tick_all(3);
    assert_eq!(c.applied_data(3).len(), 10);
}

#[test]
fn uncommitted_size_limit_refuses_proposals() {
    let mut c = with_leader(3, |cfg| cfg.max_uncommitted_entries_bytes = 1000);
    c.isolate(1);
    assert!(c.propose(1, &[0u8; 600]).is_ok());
    assert!(
        c.propose(1, &[0u8; 600])
            .is_err_and(|e| e == Error::ProposalDropped)
    );
    c.heal();
    c.tick_all(2);
    assert!(
        c.propose(1, &[0u8; 600]).is_ok(),
        "committing frees the budget"
    );
}

#[test]
fn commit_needs_a_quorum_of_match_indexes() {
    let mut c = with_leader(5, |_| {});
    c.isolate(4);
    c.isolate(5);
    c.cut(1, 3);
    c.propose(1, b"a").unwrap();
    assert!(c.applied_data(1).is_empty(), "2 of 5 is no quorum");
    c.heal();
    c.isolate(4);
    c.isolate(5);
    c.tick_all(2);
    assert_eq!(c.applied_data(1), bytes(&["a"]), "3 of 5 is");
}

#[test]
fn leader_elected_after_term_as_logical_clock_outlives_restarts() {
    let mut c = cluster(3, |_| {});
    let l = tick_until_leader(&mut c, 100);
    let term = c.term(l);
    for id in 1..=3 {
        c.restart(id).unwrap();
        assert!(c.term(id) >= term);
    }
    let l2 = tick_until_leader(&mut c, 100);
    c.propose(l2, b"after").unwrap();
    assert!(
        c.applied_data(1)
            .contains(&bytes::Bytes::from_static(b"after"))
    );
}

#[test]
fn propose_batch_replicates_in_one_append_per_follower() {
    let mut c = with_leader(3, |_| {});
    let appends = std::rc::Rc::new(std::cell::Cell::new(0));
    let a = appends.clone();
    c.drop_filter = Some(Box::new(move |m| {
        if m.msg_type == MessageType::Append && !m.entries.is_empty() {
            a.set(a.get() + 1);
        }
        false
    }));
    let batch: Vec<bytes::Bytes> = ["a", "b", "c"]
        .iter()
        .map(|s| bytes::Bytes::from_static(s.as_bytes()))
        .collect();
    c.node_mut(1).propose_batch(batch).unwrap();
    c.stabilize();
    assert_eq!(c.applied_data(3), bytes(&["a", "b", "c"]));
    assert_eq!(
        appends.get(),
        2,
        "one append per follower carries the batch"
    );
}

#[test]
fn append_beyond_the_log_end_is_rejected_not_applied_with_a_gap() {
    let mut c = with_leader(3, |_| {});
    let (term, last) = (c.term(1), c.node(2).status().last_index);
    let entry = Entry {
        index: last + 6,
        term,
        ..Entry::default()
    };
    let m = raft_core::Message {
        msg_type: MessageType::Append,
        from: 1,
        to: 2,
        term,
        index: last + 5,
        log_term: 0,
        entries: vec![entry],
        ..Default::default()
    };
    c.node_mut(2).step(m).unwrap();
    assert_eq!(c.node(2).status().last_index, last);
    let rd = c.node_mut(2).ready();
    assert!(
        rd.persisted_messages
            .iter()
            .any(|m| m.msg_type == MessageType::AppendResponse && m.reject)
    );
}
