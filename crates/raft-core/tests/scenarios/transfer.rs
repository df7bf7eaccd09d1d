use raft_core::Error;
use raft_core::MessageType;
use raft_core::Role;

use crate::bytes;
use crate::with_leader;

#[test]
fn leader_transfer_to_caught_up_follower() {
    let mut c = with_leader(3, |_| {});
    c.propose(1, b"a").unwrap();
    c.node_mut(1).transfer_leader(2);
    c.stabilize();
    assert_eq!(c.role(2), Role::Leader);
    assert_eq!(c.role(1), Role::Follower);
    c.propose(2, b"b").unwrap();
    assert_eq!(c.applied_data(1), bytes(&["a", "b"]));
}

#[test]
fn leader_transfer_catches_up_a_lagging_target_first() {
    let mut c = with_leader(3, |_| {});
    c.isolate(3);
    c.propose(1, b"a").unwrap();
    c.heal();
    let timeout_seen_after_catch_up = std::rc::Rc::new(std::cell::Cell::new(false));
    let seen = timeout_seen_after_catch_up.clone();
    c.drop_filter = Some(Box::new(move |m| {
        if m.msg_type == MessageType::TimeoutNow {
            seen.set(true);
        }
        false
    }));
    c.node_mut(1).transfer_leader(3);
    c.stabilize();
    assert!(timeout_seen_after_catch_up.get());
    assert_eq!(c.role(3), Role::Leader);
    assert_eq!(c.applied_data(3), bytes(&["a"]));
}

#[test]
fn transfer_through_a_follower_is_forwarded() {
    let mut c = with_leader(3, |_| {});
    c.node_mut(2).transfer_leader(3);
    c.stabilize();
    assert_eq!(c.role(3), Role::Leader);
}

#[test]
fn proposals_are_dropped_during_transfer_and_it_aborts_after_election_timeout() {
    let mut c = with_leader(3, |_| {});
    c.isolate(3);
    c.node_mut(1).transfer_leader(3);
    c.stabilize();
    assert_eq!(c.node(1).status().lead_transferee, 3);
    assert_eq!(
        c.node_mut(1).propose(bytes::Bytes::from_static(b"x")),
        Err(Error::ProposalDropped)
    );
    c.heal();
    c.drop_filter = Some(Box::new(|m| m.to == 3));
    c.tick_node(1, 10);
    assert_eq!(c.node(1).status().lead_transferee, 0);
    assert_eq!(c.role(1), Role::Leader);
    assert!(c.propose(1, b"y").is_ok());
}

#[test]
fn transfer_campaign_bypasses_the_leader_lease() {
    let mut c = with_leader(3, |_| {});
    let term = c.term(1);
    c.node_mut(1).transfer_leader(2);
    c.stabilize();
    assert_eq!(c.role(2), Role::Leader);
    assert_eq!(
        c.term(2),
        term + 1,
        "node 3 voted although it had just heard from node 1"
    );
}
