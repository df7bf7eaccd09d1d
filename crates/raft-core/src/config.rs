//! The configuration of one raft node, with etcd server's defaults.

use crate::Error;
use crate::Result;

/// Largest election timeout accepted, in ticks; beyond it a node would wait for minutes.
pub const MAX_ELECTION_TICKS: usize = 1 << 20;

/// The configuration of a raft node.
///
/// Construct it with struct-update syntax so that fields added later keep their defaults:
/// `Config { id: 1, seed: 7, ..Config::default() }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// This node's id; never 0.
    pub id: u64,
    /// A follower that hears nothing from a leader for a random number of ticks in
    /// `[election_ticks, 2 * election_ticks)` starts an election.
    pub election_ticks: usize,
    /// A leader sends heartbeats every `heartbeat_ticks`; must be less than `election_ticks`.
    pub heartbeat_ticks: usize,
    /// The last applied index, when restarting; raft hands out no entry at or below it.
    pub applied: u64,
    /// Upper bound on the bytes of entries in one append message (at least one entry is sent).
    pub max_size_per_msg_bytes: u64,
    /// How many append messages may be in flight to one follower in the replicate state.
    pub max_inflight_msgs: usize,
    /// A leader refuses proposals while the payload bytes of its uncommitted entries
    /// exceed this; 0 means no limit.
    pub max_uncommitted_entries_bytes: u64,
    /// Upper bound on the bytes of committed entries handed out in one `Ready`
    /// (at least one entry is handed out); 0 means `max_size_per_msg_bytes`.
    pub max_committed_size_per_ready_bytes: u64,
    /// A leader steps down when it has not heard from a quorum within an election timeout,
    /// and a follower that heard from a leader within the election timeout ignores votes.
    pub check_quorum: bool,
    /// Run a pre-election before bumping the term, so that a partitioned node rejoining
    /// cannot depose a healthy leader.
    pub pre_vote: bool,
    /// Seed of the random election timeouts.
    pub seed: u64,
    /// Testing only: count entries of previous terms toward commit (the Figure 8 bug),
    /// to show that the simulator catches a broken rule. Never set this.
    #[doc(hidden)]
    pub unsafe_commit_previous_terms: bool,
    /// Testing only: grant votes without the election restriction (the candidate's log
    /// need not be up to date), to show that the simulator catches it. Never set this.
    #[doc(hidden)]
    pub unsafe_skip_election_restriction: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            id: 0,
            election_ticks: 10,
            heartbeat_ticks: 1,
            applied: 0,
            max_size_per_msg_bytes: 1024 * 1024,
            max_inflight_msgs: 512,
            max_uncommitted_entries_bytes: 1 << 30,
            max_committed_size_per_ready_bytes: 0,
            check_quorum: true,
            pre_vote: true,
            seed: 0,
            unsafe_commit_previous_terms: false,
            unsafe_skip_election_restriction: false,
        }
    }
}

impl Config {
    /// Checks the configuration, naming the first field that is wrong.
    pub fn validate(&self) -> Result<()> {
        if self.id == 0 {
            return invalid("id must not be 0");
        }
        if self.heartbeat_ticks == 0 {
            return invalid("heartbeat_ticks must be greater than 0");
        }
        if self.election_ticks <= self.heartbeat_ticks {
            return invalid(format!(
                "election_ticks ({}) must be greater than heartbeat_ticks ({})",
                self.election_ticks, self.heartbeat_ticks
            ));
        }
        if self.election_ticks > MAX_ELECTION_TICKS {
            return invalid(format!(
                "election_ticks must be at most {MAX_ELECTION_TICKS}"
            ));
        }
        if self.max_inflight_msgs == 0 {
            return invalid("max_inflight_msgs must be greater than 0");
        }
        if self.max_size_per_msg_bytes == 0 {
            return invalid("max_size_per_msg_bytes must be greater than 0");
        }
        Ok(())
    }

    /// The effective limit on committed bytes per `Ready`.
    pub(crate) fn committed_size_per_ready_bytes(&self) -> u64 {
        match self.max_committed_size_per_ready_bytes {
            0 => self.max_size_per_msg_bytes,
            n => n,
        }
    }
}

fn invalid(why: impl Into<String>) -> Result<()> {
    Err(Error::ConfigInvalid(why.into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_etcd_server_values_and_needs_an_id() {
        let c = Config::default();
        assert_eq!((c.election_ticks, c.heartbeat_ticks), (10, 1));
        assert_eq!(
            (c.max_inflight_msgs, c.max_size_per_msg_bytes),
            (512, 1 << 20)
        );
        assert!(c.check_quorum && c.pre_vote);
        assert!(matches!(c.validate(), Err(Error::ConfigInvalid(s)) if s.contains("id")));
        assert!(Config { id: 1, ..c }.validate().is_ok());
    }

    #[test]
    fn election_must_exceed_heartbeat() {
        let c = Config {
            id: 1,
            election_ticks: 3,
            heartbeat_ticks: 3,
            ..Config::default()
        };
        assert!(
            matches!(c.validate(), Err(Error::ConfigInvalid(s)) if s.contains("election_ticks"))
        );
        let c = Config {
            id: 1,
            max_inflight_msgs: 0,
            ..Config::default()
        };
        assert!(matches!(c.validate(), Err(Error::ConfigInvalid(s)) if s.contains("inflight")));
    }
}
