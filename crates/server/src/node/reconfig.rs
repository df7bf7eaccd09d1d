//! etcd's safety rules for membership changes, as pure functions of the
//! membership (and, for promotion, the leader's view of replication).
//!
//! A member is *started* once it has published its name (etcd's
//! `IsStarted`); members of the initial cluster are named from the start.
//! With `--strict-reconfig-check` (the default) a change is refused when the
//! voters it leaves, counting only started ones, could not form a quorum.

use serde::Deserialize;
use serde::Serialize;

use super::membership::Membership;
use crate::error::ServerError;

/// etcd 3.5's largest number of learners (`--max-learners` came in 3.6).
pub(crate) const MAX_LEARNERS: usize = 1;

/// etcd's rule: a learner may be promoted once its log reaches 90% of the leader's.
const LEARNER_READY_PERCENT: f64 = 0.9;

/// Flags that shape membership changes.
#[derive(Debug, Clone, Default)]
pub(crate) struct ReconfigConfig {
    /// `--initial-cluster-token`: salts new member ids.
    pub(crate) cluster_token: String,
    /// `--strict-reconfig-check`.
    pub(crate) strict: bool,
}

fn quorum(voters: usize) -> usize {
    voters / 2 + 1
}

fn started_voters(m: &Membership, except: u64) -> (usize, usize) {
    let voters: Vec<_> = m.voters().filter(|v| v.id != except).collect();
    let started = voters.iter().filter(|v| !v.name.is_empty()).count();
    (voters.len(), started)
}

/// MemberAdd: no peer URL may exist; at most [`MAX_LEARNERS`] learners; a
/// new voter needs a quorum of started voters in the grown cluster.
pub(crate) fn check_add(
    m: &Membership,
    peer_urls: &[String],
    is_learner: bool,
    strict: bool,
) -> Result<(), ServerError> {
    if m.peer_url_owner(peer_urls, 0).is_some() {
        return Err(ServerError::PeerUrlExists);
    }
    if is_learner {
        if m.learner_count() >= MAX_LEARNERS {
            return Err(ServerError::TooManyLearners);
        }
        return Ok(());
    }
    let (voters, started) = started_voters(m, 0);
    // etcd lets a one-member cluster grow to two (restoring a cluster from a backup).
    let restoring = voters == 1 && started == 1;
    if strict && !restoring && started < quorum(voters + 1) {
        return Err(ServerError::NotEnoughStartedMembers);
    }
    Ok(())
}

/// MemberRemove: the member must exist; removing a voter must leave a
/// quorum of started voters.
pub(crate) fn check_remove(m: &Membership, id: u64, strict: bool) -> Result<(), ServerError> {
    let member = m.get(id).ok_or(ServerError::MemberNotFound)?;
    if member.is_learner || !strict {
        return Ok(());
    }
    let (voters, started) = started_voters(m, id);
    if started < quorum(voters) {
        return Err(ServerError::NotEnoughStartedMembers);
    }
    Ok(())
}

/// MemberUpdate: the member must exist and no other member may have these URLs.
pub(crate) fn check_update(
    m: &Membership,
    id: u64,
    peer_urls: &[String],
) -> Result<(), ServerError> {
    m.get(id).ok_or(ServerError::MemberNotFound)?;
    if m.peer_url_owner(peer_urls, id).is_some() {
        return Err(ServerError::PeerUrlExists);
    }
    Ok(())
}

/// MemberPromote, before asking the leader: the member must be a learner;
/// counting it as started, the grown voter set needs a started quorum.
pub(crate) fn check_promote(m: &Membership, id: u64, strict: bool) -> Result<(), ServerError> {
    let member = m.get(id).ok_or(ServerError::MemberNotFound)?;
    if !member.is_learner {
        return Err(ServerError::MemberNotLearner);
    }
    let (voters, started) = started_voters(m, id);
    if strict && started + 1 < quorum(voters + 1) {
        return Err(ServerError::NotEnoughStartedMembers);
    }
    Ok(())
}

/// On the leader: is the learner's log within 90% of the leader's?
pub(crate) fn check_learner_ready(status: &raft_core::Status, id: u64) -> Result<(), ServerError> {
    if status.soft_state.role != raft_core::Role::Leader {
        return Err(ServerError::NotLeader);
    }
    let leader_match = status.progress.get(&status.id).map_or(0, |p| p.matched);
    let learner = status
        .progress
        .get(&id)
        .ok_or(ServerError::MemberNotFound)?;
    if !learner.is_learner {
        return Err(ServerError::MemberNotLearner);
    }
    if (learner.matched as f64) < (leader_match as f64) * LEARNER_READY_PERCENT {
        return Err(ServerError::LearnerNotReady);
    }
    Ok(())
}

/// The leader's answer to a follower asking whether a learner may be promoted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum PromoteVerdict {
    /// In sync: promote.
    Ready,
    /// Lagging ([`ServerError::LearnerNotReady`]).
    NotReady,
    /// A voter already ([`ServerError::MemberNotLearner`]).
    NotLearner,
    /// No such member ([`ServerError::MemberNotFound`]).
    NotFound,
    /// The member asked does not lead.
    NotLeader,
}

impl PromoteVerdict {
    /// The verdict for a check's outcome.
    pub(crate) fn of(checked: &Result<(), ServerError>) -> PromoteVerdict {
        match checked {
            Ok(()) => PromoteVerdict::Ready,
            Err(ServerError::LearnerNotReady) => PromoteVerdict::NotReady,
            Err(ServerError::MemberNotLearner) => PromoteVerdict::NotLearner,
            Err(ServerError::MemberNotFound) => PromoteVerdict::NotFound,
            Err(_) => PromoteVerdict::NotLeader,
        }
    }

    /// Back to the outcome; a member that does not lead means the leader changed.
    pub(crate) fn into_result(self) -> Result<(), ServerError> {
        match self {
            PromoteVerdict::Ready => Ok(()),
            PromoteVerdict::NotReady => Err(ServerError::LearnerNotReady),
            PromoteVerdict::NotLearner => Err(ServerError::MemberNotLearner),
            PromoteVerdict::NotFound => Err(ServerError::MemberNotFound),
            PromoteVerdict::NotLeader => Err(ServerError::LeaderChanged),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {

    use super::*;

    fn member(m: &mut Membership, id: u64, name: &str, learner: bool) {
        m.apply_conf_change(&crate::node::membership::tests::add(id, name, learner));
    }

    fn urls(id: u64) -> Vec<String> {
        vec![format!("http://h:{id}")]
    }

    #[test]
    fn adds_refuse_known_urls_extra_learners_and_unstarted_quorums() {
        let mut m = Membership::default();
        member(&mut m, 1, "a", false);
        assert!(matches!(
            check_add(&m, &urls(1), false, true),
            Err(ServerError::PeerUrlExists)
        ));
        // One started member may grow to two (etcd's restore case).
        check_add(&m, &urls(2), false, true).unwrap();
        member(&mut m, 2, "", false);
        // 1 of 2 voters started: a third voter needs 2 started.
        assert!(matches!(
            check_add(&m, &urls(3), false, true),
            Err(ServerError::NotEnoughStartedMembers)
        ));
        check_add(&m, &urls(3), false, false).unwrap();
        check_add(&m, &urls(3), true, true).unwrap();
        member(&mut m, 3, "", true);
        assert!(matches!(
            check_add(&m, &urls(4), true, true),
            Err(ServerError::TooManyLearners)
        ));
    }

    #[test]
    fn removes_and_promotes_follow_etcds_rules() {
        let mut m = Membership::default();
        member(&mut m, 1, "a", false);
        member(&mut m, 2, "b", false);
        member(&mut m, 3, "", false);
        member(&mut m, 4, "", true);
        assert!(matches!(
            check_remove(&m, 9, true),
            Err(ServerError::MemberNotFound)
        ));
        // Removing a started voter leaves 1 started of 2.
        assert!(matches!(
            check_remove(&m, 2, true),
            Err(ServerError::NotEnoughStartedMembers)
        ));
        check_remove(&m, 2, false).unwrap();
        check_remove(&m, 3, true).unwrap();
        check_remove(&m, 4, true).unwrap();
        assert!(matches!(
            check_promote(&m, 1, true),
            Err(ServerError::MemberNotLearner)
        ));
        // 2 started voters + the learner = 3 of 4 >= quorum 3.
        check_promote(&m, 4, true).unwrap();
        assert!(matches!(
            check_update(&m, 1, &urls(2)),
            Err(ServerError::PeerUrlExists)
        ));
        check_update(&m, 1, &urls(1)).unwrap();
        assert!(matches!(
            check_update(&m, 7, &urls(7)),
            Err(ServerError::MemberNotFound)
        ));
    }

    #[test]
    fn a_learner_is_ready_at_ninety_percent_of_the_leaders_log() {
        let progress = |matched, is_learner| raft_core::PeerProgress {
            matched,
            next: matched + 1,
            state: raft_core::ProgressState::Replicate,
            is_learner,
            inflight: 0,
        };
        let mut status = raft_core::Status {
            id: 1,
            ..Default::default()
        };
        assert!(matches!(
            check_learner_ready(&status, 2),
            Err(ServerError::NotLeader)
        ));
        status.soft_state.role = raft_core::Role::Leader;
        status.progress.insert(1, progress(100, false));
        status.progress.insert(2, progress(89, true));
        assert!(matches!(
            check_learner_ready(&status, 2),
            Err(ServerError::LearnerNotReady)
        ));
        status.progress.insert(2, progress(90, true));
        check_learner_ready(&status, 2).unwrap();
    }
}
