use raft_core::MessageType;
use raft_core::Role;

use crate::cluster;
use crate::tick_until_leader;
use crate::with_leader;

#[test]
fn leader_elected_by_randomized_timeouts_and_all_agree_on_term() {
    let mut c = cluster(3, |_| {});
    let leader = tick_until_leader(&mut c, 100);
    c.tick_all(5);
    let term = c.term(leader);
    for id in 1..=3 {
        assert_eq!(c.term(id), term);
        assert_eq!(c.node(id).status().soft_state.leader_id, leader);
    }
    assert_eq!(
        c.nodes
            .values()
            .filter(|n| n.status().soft_state.role == Role::Leader)
            .count(),
        1
    );
}

#[test]
fn election_timeout_is_randomized_within_election_and_twice_election() {
    let mut seen = std::collections::BTreeSet::new();
    for seed in 0..40 {
        let mut c = cluster(3, |cfg| cfg.seed = seed);
        c.isolate(1);
        let mut ticks = 0;
        while c.role(1) == Role::Follower {
            c.node_mut(1).tick();
            ticks += 1;
            assert!(
                ticks < 20,
                "seed {seed}: no campaign within 2*election ticks"
            );
        }
        assert!(ticks >= 10, "seed {seed}: campaigned after {ticks} ticks");
        seen.insert(ticks);
    }
    assert!(seen.len() > 3, "timeouts are not randomized: {seen:?}");
}

#[test]
fn one_vote_per_term_survives_restart() {
    let mut c = cluster(3, |cfg| {
        cfg.pre_vote = false;
        cfg.check_quorum = false;
    });
    c.cut(1, 2);
    c.campaign(1);
    assert_eq!(
        c.role(1),
        Role::Leader,
        "node 3's vote elected node 1 in term 1"
    );
    assert_eq!((c.term(3), c.node(3).status().hard_state.vote), (1, 1));
    c.restart(3).unwrap();
    assert_eq!(
        c.node(3).status().hard_state.vote,
        1,
        "the vote was persisted"
    );
    c.isolate(1);
    // Node 2 never heard of term 1: it campaigns in term 1 and node 3 refuses a second vote.
    c.campaign(2);
    assert_eq!(c.term(2), 1);
    assert_ne!(c.role(2), Role::Leader);
    assert_eq!(c.node(3).status().hard_state.vote, 1);
}

#[test]
fn step_down_on_higher_term() {
    let mut c = with_leader(3, |_| {});
    let term = c.term(1);
    c.isolate(1);
    let l = tick_until_leader_excluding(&mut c, 1);
    assert_ne!(l, 1);
    c.heal();
    c.tick_all(3);
    assert_eq!(c.role(1), Role::Follower);
    assert!(c.term(1) > term);
}

fn tick_until_leader_excluding(c: &mut raft_core::testing::cluster::Cluster, old: u64) -> u64 {
    for _ in 0..200 {
        c.tick_all(1);
        let leaders: Vec<u64> = (1..=c.nodes.len() as u64)
            .filter(|&i| i != old && c.role(i) == Role::Leader)
            .collect();
        if let Some(&l) = leaders.first() {
            return l;
        }
    }
    panic!("no new leader");
}

#[test]
fn stale_follower_cannot_win_election() {
    let mut c = with_leader(3, |cfg| {
        cfg.pre_vote = false;
        cfg.check_quorum = false;
    });
    c.isolate(3);
    c.propose(1, b"a").unwrap();
    c.propose(1, b"b").unwrap();
    c.heal();
    c.isolate(1);
    // Node 3 lacks the entries: node 2 refuses its vote however often it campaigns.
    for _ in 0..5 {
        c.campaign(3);
        assert_ne!(c.role(3), Role::Leader);
    }
    c.campaign(2);
    assert_eq!(c.role(2), Role::Leader, "the up-to-date node wins");
    c.heal();
    c.propose(2, b"c").unwrap();
    assert_eq!(c.applied_data(3), crate::bytes(&["a", "b", "c"]));
}

#[test]
fn prevote_rejoining_node_leaves_leader_in_place() {
    let mut c = with_leader(3, |_| {});
    let term = c.term(1);
    c.isolate(3);
    c.tick_node(3, 100);
    assert_eq!(c.term(3), term, "pre-votes do not bump the term");
    c.heal();
    c.tick_all(20);
    assert_eq!(c.leader(), Some(1));
    assert_eq!(c.term(1), term);
    c.propose(1, b"x").unwrap();
    assert_eq!(c.applied_data(3), crate::bytes(&["x"]));
}

#[test]
fn without_prevote_rejoining_node_disrupts_leader() {
    let mut c = with_leader(3, |cfg| {
        cfg.pre_vote = false;
        cfg.check_quorum = false;
    });
    let term = c.term(1);
    c.isolate(3);
    c.tick_node(3, 50);
    assert!(c.term(3) > term + 1, "the isolated node bumped its term");
    c.heal();
    // Node 3's next campaign, within two election timeouts, reaches the leader.
    for _ in 0..20 {
        c.tick_all(1);
        if c.term(1) > term {
            break;
        }
    }
    assert!(
        c.term(1) > term,
        "the leader saw the higher term and stepped down"
    );
    let leader = tick_until_leader(&mut c, 100);
    assert!(c.term(leader) > term, "a new election was forced");
}

#[test]
fn check_quorum_isolated_leader_steps_down() {
    let mut c = with_leader(3, |_| {});
    c.isolate(1);
    // The followers were heard from in the current check interval; the next one fails.
    c.tick_node(1, 10);
    assert_eq!(c.role(1), Role::Leader);
    c.tick_node(1, 10);
    assert_eq!(c.role(1), Role::Follower);
    assert_eq!(c.node(1).status().soft_state.leader_id, 0);
}

#[test]
fn leader_lease_followers_ignore_votes_while_leader_is_heard() {
    let mut c = with_leader(3, |cfg| cfg.pre_vote = false);
    let term = c.term(1);
    // Node 3 is cut from the leader only: it times out and campaigns, but node 2 hears
    // from the leader and ignores the vote request without bumping its term.
    c.cut(1, 3);
    for _ in 0..30 {
        c.tick_all(1);
    }
    assert_eq!(c.leader(), Some(1));
    assert_eq!(
        c.term(2),
        term,
        "node 2 ignored the higher-term vote request"
    );
    assert!(c.term(3) > term);
}

#[test]
fn vote_request_counts_as_sent_after_persist() {
    let mut c = cluster(3, |_| {});
    c.node_mut(1).campaign().unwrap();
    let rd = c.node_mut(1).ready();
    assert!(
        rd.messages.is_empty(),
        "a pre-candidate's requests wait for the persist"
    );
    assert!(
        rd.persisted_messages
            .iter()
            .all(|m| m.msg_type == MessageType::RequestPreVote)
    );
    assert_eq!(rd.persisted_messages.len(), 2);
}

#[test]
fn leader_sends_heartbeats_every_heartbeat_interval_and_followers_stay() {
    let mut c = with_leader(3, |cfg| cfg.heartbeat_ticks = 2);
    let heartbeats = std::rc::Rc::new(std::cell::Cell::new(0));
    let h = heartbeats.clone();
    c.drop_filter = Some(Box::new(move |m| {
        if m.msg_type == MessageType::Heartbeat {
            h.set(h.get() + 1);
        }
        false
    }));
    let term = c.term(1);
    c.tick_all(40);
    assert_eq!(
        heartbeats.get(),
        40,
        "20 heartbeat intervals to 2 followers"
    );
    assert_eq!(
        (c.leader(), c.term(2)),
        (Some(1), term),
        "heartbeats keep followers from campaigning"
    );
}
