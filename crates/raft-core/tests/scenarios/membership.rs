use raft_core::ConfChange;
use raft_core::ConfChangeType;
use raft_core::Config;
use raft_core::Error;
use raft_core::MemStorage;
use raft_core::Role;

use crate::bytes;
use crate::cluster;
use crate::with_leader;

fn cc(change_type: ConfChangeType, node_id: u64) -> ConfChange {
    ConfChange {
        change_type,
        node_id,
        ..ConfChange::default()
    }
}

fn join(c: &mut raft_core::testing::cluster::Cluster, id: u64) {
    // A joining node starts with the membership it joins (a real server learns it when it
    // is added), and is not part of it yet.
    let conf = c.node(1).status().conf_state;
    c.add_node(
        id,
        MemStorage::new_with_conf_state(conf),
        Config {
            id,
            seed: id,
            ..Config::default()
        },
    )
    .unwrap();
}

#[test]
fn add_voter_joins_and_counts_toward_quorum() {
    let mut c = with_leader(3, |_| {});
    c.propose(1, b"a").unwrap();
    join(&mut c, 4);
    c.propose_conf_change(1, cc(ConfChangeType::AddNode, 4))
        .unwrap();
    c.tick_all(3);
    assert_eq!(c.node(1).status().conf_state.voters, vec![1, 2, 3, 4]);
    assert_eq!(c.applied_data(4), bytes(&["a"]));
    // With 4 voters, two of them are no quorum.
    c.isolate(3);
    c.isolate(4);
    c.propose(1, b"b").unwrap();
    assert_eq!(c.applied_data(1), bytes(&["a"]));
}

#[test]
fn learner_receives_the_log_but_never_counts_or_campaigns() {
    let mut c = raft_core::testing::cluster::Cluster::new(&[1, 2, 3], &[4], |id| Config {
        id,
        seed: id,
        ..Config::default()
    })
    .unwrap();
    c.campaign(1);
    c.propose(1, b"a").unwrap();
    assert_eq!(c.applied_data(4), bytes(&["a"]));
    c.isolate(2);
    c.isolate(3);
    c.propose(1, b"b").unwrap();
    assert_eq!(
        c.applied_data(1),
        bytes(&["a"]),
        "the learner's ack is not counted"
    );
    assert_eq!(c.applied_data(4), bytes(&["a"]));
    c.heal();
    c.isolate(1);
    c.tick_node(4, 100);
    assert_eq!(c.role(4), Role::Follower, "a learner never campaigns");
}

#[test]
fn learner_promotion_makes_it_a_voter() {
    let mut c = with_leader(3, |_| {});
    join(&mut c, 4);
    c.propose_conf_change(1, cc(ConfChangeType::AddLearnerNode, 4))
        .unwrap();
    c.tick_all(2);
    assert_eq!(c.node(1).status().conf_state.learners, vec![4]);
    c.propose_conf_change(1, cc(ConfChangeType::AddNode, 4))
        .unwrap();
    c.tick_all(2);
    let cs = c.node(4).status().conf_state;
    assert_eq!((cs.voters, cs.learners), (vec![1, 2, 3, 4], vec![]));
    c.node_mut(1).transfer_leader(4);
    c.stabilize();
    assert_eq!(
        c.role(4),
        Role::Leader,
        "the promoted learner can be elected"
    );
    c.propose(4, b"led by 4").unwrap();
    assert_eq!(c.applied_data(1), bytes(&["led by 4"]));
}

#[test]
fn removal_of_the_leader_makes_it_step_down() {
    let mut c = with_leader(3, |_| {});
    c.propose_conf_change(1, cc(ConfChangeType::RemoveNode, 1))
        .unwrap();
    assert_ne!(c.role(1), Role::Leader, "the removed leader stepped down");
    c.tick_all(30);
    let leader = c.leader().unwrap();
    assert_ne!(leader, 1);
    assert_eq!(c.node(leader).status().conf_state.voters, vec![2, 3]);
    c.propose(leader, b"after").unwrap();
    assert_eq!(c.applied_data(2), bytes(&["after"]));
    c.tick_node(1, 50);
    assert_eq!(c.role(1), Role::Follower, "a removed node never campaigns");
}

#[test]
fn one_conf_change_at_a_time() {
    let mut c = with_leader(3, |_| {});
    join(&mut c, 4);
    join(&mut c, 5);
    c.isolate(2);
    c.isolate(3);
    c.node_mut(1)
        .propose_conf_change(cc(ConfChangeType::AddNode, 4))
        .unwrap();
    let second = c
        .node_mut(1)
        .propose_conf_change(cc(ConfChangeType::AddNode, 5));
    assert_eq!(second, Err(Error::ProposalDropped));
    c.heal();
    c.tick_all(2);
    assert!(
        c.node_mut(1)
            .propose_conf_change(cc(ConfChangeType::AddNode, 5))
            .is_ok(),
        "allowed once applied"
    );
}

#[test]
fn new_leader_refuses_conf_change_until_its_term_entry_commits() {
    let mut c = cluster(3, |_| {});
    c.node_mut(1).campaign().unwrap();
    c.drop_filter = Some(Box::new(|m| {
        m.msg_type == raft_core::MessageType::AppendResponse
    }));
    c.stabilize();
    assert_eq!(c.role(1), Role::Leader);
    let r = c
        .node_mut(1)
        .propose_conf_change(cc(ConfChangeType::RemoveNode, 3));
    assert_eq!(
        r,
        Err(Error::ProposalDropped),
        "the no-op of the term is not committed yet"
    );
    c.drop_filter = None;
    c.tick_all(2);
    assert!(
        c.node_mut(1)
            .propose_conf_change(cc(ConfChangeType::RemoveNode, 3))
            .is_ok()
    );
}

#[test]
fn removed_follower_no_longer_counts() {
    let mut c = with_leader(3, |_| {});
    c.propose_conf_change(1, cc(ConfChangeType::RemoveNode, 3))
        .unwrap();
    c.tick_all(2);
    c.isolate(3);
    c.propose(1, b"two of two").unwrap();
    assert_eq!(c.applied_data(2), bytes(&["two of two"]));
}
