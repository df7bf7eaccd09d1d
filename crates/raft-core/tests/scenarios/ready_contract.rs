use bytes::Bytes;
use raft_core::ConfState;
use raft_core::Config;
use raft_core::MemStorage;
use raft_core::MessageType;
use raft_core::RawNode;
use raft_core::Role;

use crate::with_leader;

fn single_node() -> RawNode<MemStorage> {
    let storage = MemStorage::new_with_conf_state(ConfState {
        voters: vec![1],
        learners: vec![],
    });
    let mut n = RawNode::new(
        &Config {
            id: 1,
            ..Config::default()
        },
        storage,
    )
    .unwrap();
    n.campaign().unwrap();
    let rd = n.ready();
    n.store_mut().append(&rd.entries).unwrap();
    n.advance(rd);
    while n.has_ready() {
        let rd = n.ready();
        n.advance(rd);
    }
    n
}

#[test]
fn single_member_applies_only_after_its_persist() {
    let mut n = single_node();
    assert_eq!(n.status().soft_state.role, Role::Leader);
    n.propose(Bytes::from_static(b"x")).unwrap();
    let rd = n.ready();
    assert_eq!(rd.entries.len(), 1);
    assert!(rd.must_sync);
    assert!(
        rd.committed_entries.is_empty(),
        "nothing to apply before the entry is durable"
    );
    assert_eq!(n.status().commit, rd.entries[0].index - 1);
    n.store_mut().append(&rd.entries).unwrap();
    n.advance(rd);
    let rd = n.ready();
    assert_eq!(
        rd.committed_entries.last().map(|e| e.data.clone()),
        Some(Bytes::from_static(b"x"))
    );
    assert_eq!(
        rd.hard_state.map(|h| h.commit),
        rd.committed_entries.last().map(|e| e.index)
    );
    n.advance(rd);
    assert!(!n.has_ready());
}

#[test]
fn leader_appends_go_out_before_persist_and_follower_acks_after() {
    let mut c = with_leader(3, |_| {});
    c.node_mut(1).propose(Bytes::from_static(b"x")).unwrap();
    let rd = c.node_mut(1).ready();
    assert_eq!(
        rd.messages
            .iter()
            .filter(|m| m.msg_type == MessageType::Append)
            .count(),
        2
    );
    assert!(rd.persisted_messages.is_empty());
    let append = rd.messages[0].clone();
    c.node_mut(1).store_mut().append(&rd.entries).unwrap();
    c.node_mut(1).advance(rd);
    let follower = append.to;
    c.node_mut(follower).step(append).unwrap();
    let rd = c.node_mut(follower).ready();
    assert!(rd.messages.is_empty());
    assert_eq!(
        rd.persisted_messages.len(),
        1,
        "the ack promises the persisted entry"
    );
    assert_eq!(
        rd.persisted_messages[0].msg_type,
        MessageType::AppendResponse
    );
}

#[test]
fn ready_hands_each_entry_out_once_and_advance_acknowledges() {
    let mut c = with_leader(3, |_| {});
    c.node_mut(1).propose(Bytes::from_static(b"a")).unwrap();
    let rd1 = c.node_mut(1).ready();
    c.node_mut(1).propose(Bytes::from_static(b"b")).unwrap();
    let rd2 = c.node_mut(1).ready();
    assert_eq!(rd1.entries.len(), 1);
    assert_eq!(rd2.entries.len(), 1);
    assert_eq!(rd2.entries[0].index, rd1.entries[0].index + 1);
    let n = c.node_mut(1);
    n.store_mut().append(&rd1.entries).unwrap();
    n.advance(rd1);
    n.store_mut().append(&rd2.entries).unwrap();
    n.advance(rd2);
}

#[test]
fn restart_hands_out_committed_entries_after_applied_again() {
    let mut c = with_leader(3, |_| {});
    c.propose(1, b"a").unwrap();
    let storage = c.node(2).store().clone();
    let mut n = RawNode::new(
        &Config {
            id: 2,
            applied: 1,
            ..Config::default()
        },
        storage,
    )
    .unwrap();
    let rd = n.ready();
    assert_eq!(
        rd.committed_entries
            .iter()
            .map(|e| e.data.clone())
            .collect::<Vec<_>>(),
        vec![Bytes::from_static(b"a")]
    );
}

#[test]
fn step_refuses_local_messages_and_unknown_peers() {
    let mut c = with_leader(3, |_| {});
    let hup = raft_core::Message {
        msg_type: MessageType::Hup,
        from: 2,
        to: 1,
        ..Default::default()
    };
    assert_eq!(c.node_mut(1).step(hup), Err(raft_core::Error::StepLocalMsg));
    let term = c.term(1);
    let resp = raft_core::Message {
        msg_type: MessageType::AppendResponse,
        from: 9,
        to: 1,
        term,
        ..Default::default()
    };
    assert_eq!(
        c.node_mut(1).step(resp),
        Err(raft_core::Error::StepPeerNotFound)
    );
}
