use bytes::Bytes;
use raft_core::Role;

use crate::cluster;
use crate::with_leader;

#[test]
fn read_index_served_after_heartbeat_quorum() {
    let mut c = with_leader(3, |_| {});
    c.propose(1, b"a").unwrap();
    let commit = c.node(1).status().commit;
    c.isolate(2);
    c.isolate(3);
    c.node_mut(1).read_index(Bytes::from_static(b"r1"));
    c.stabilize();
    assert!(
        c.read_states.get(&1).unwrap().is_empty(),
        "not before a heartbeat quorum answers"
    );
    c.heal();
    c.tick_all(1);
    let rs = c.read_states.get(&1).unwrap();
    assert_eq!(rs.len(), 1);
    assert_eq!(
        (rs[0].index, rs[0].request_ctx.clone()),
        (commit, Bytes::from_static(b"r1"))
    );
}

#[test]
fn read_index_from_follower_is_forwarded_to_the_leader() {
    let mut c = with_leader(3, |_| {});
    c.propose(1, b"a").unwrap();
    c.node_mut(3).read_index(Bytes::from_static(b"f"));
    c.stabilize();
    let rs = c.read_states.get(&3).unwrap();
    assert_eq!(rs.len(), 1);
    assert_eq!(rs[0].index, c.node(1).status().commit);
}

#[test]
fn read_index_refused_by_deposed_leader() {
    let mut c = with_leader(3, |cfg| {
        cfg.check_quorum = false;
        cfg.pre_vote = false;
    });
    c.isolate(1);
    c.campaign(2);
    assert_eq!(c.role(2), Role::Leader);
    c.propose(2, b"newer").unwrap();
    // Node 1 still believes it leads; its read is never confirmed.
    assert_eq!(c.role(1), Role::Leader);
    c.node_mut(1).read_index(Bytes::from_static(b"stale"));
    c.stabilize();
    c.tick_node(1, 3);
    assert!(c.read_states.get(&1).unwrap().is_empty());
    c.heal();
    c.tick_all(3);
    assert_eq!(c.role(1), Role::Follower);
    assert!(
        c.read_states.get(&1).unwrap().is_empty(),
        "a deposed leader never answers the read"
    );
}

#[test]
fn read_index_waits_until_the_leader_commits_in_its_term() {
    let mut c = cluster(3, |_| {});
    c.node_mut(1).campaign().unwrap();
    // Elect node 1 but hold back everything after the votes: its no-op is uncommitted.
    c.drop_filter = Some(Box::new(|m| {
        m.msg_type == raft_core::MessageType::AppendResponse
    }));
    c.stabilize();
    assert_eq!(c.role(1), Role::Leader);
    c.node_mut(1).read_index(Bytes::from_static(b"early"));
    c.tick_all(2);
    assert!(
        c.read_states.get(&1).unwrap().is_empty(),
        "no read before the term's first commit"
    );
    c.drop_filter = None;
    c.tick_all(2);
    assert_eq!(
        c.read_states.get(&1).unwrap().len(),
        1,
        "served once the no-op committed"
    );
}

#[test]
fn single_member_read_index_is_immediate() {
    let mut c = with_leader(1, |_| {});
    c.node_mut(1).read_index(Bytes::from_static(b"x"));
    c.stabilize();
    assert_eq!(c.read_states.get(&1).unwrap().len(), 1);
}
