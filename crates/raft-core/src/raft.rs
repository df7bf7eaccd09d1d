//! The raft state machine: its state, role changes, ticks and the term rules of `step`.
//! Role-specific handling lives in `step_leader`, `step_candidate` and `step_follower`.

use bytes::Bytes;
use rand::Rng;
use rand::SeedableRng;
use rand::rngs::SmallRng;

use crate::Config;
use crate::Error;
use crate::HardState;
use crate::Message;
use crate::MessageType;
use crate::ReadState;
use crate::Result;
use crate::Role;
use crate::SoftState;
use crate::Storage;
use crate::raft_log::RaftLog;
use crate::read_only::ReadOnly;
use crate::tracker::Tracker;

/// The context of a vote request sent on a leader's `TimeoutNow`: it bypasses leases.
pub(crate) const CAMPAIGN_TRANSFER: &[u8] = b"CampaignTransfer";

/// Which election to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CampaignKind {
    PreElection,
    Election,
    Transfer,
}

/// One raft node.
#[derive(Debug)]
pub(crate) struct Raft<S: Storage> {
    pub(crate) id: u64,
    // Invariant: term never decreases; vote is for `term`.
    pub(crate) term: u64,
    pub(crate) vote: u64,
    pub(crate) leader_id: u64,
    pub(crate) role: Role,
    pub(crate) log: RaftLog<S>,
    pub(crate) tracker: Tracker,
    /// Messages that may be sent at once.
    pub(crate) msgs: Vec<Message>,
    /// Messages to send after the next persist.
    pub(crate) msgs_after_persist: Vec<Message>,
    pub(crate) read_states: Vec<ReadState>,
    pub(crate) election_elapsed: usize,
    pub(crate) heartbeat_elapsed: usize,
    pub(crate) randomized_election_ticks: usize,
    pub(crate) lead_transferee: u64,
    /// Index of the newest configuration change that may not be applied yet.
    pub(crate) pending_conf_index: u64,
    pub(crate) uncommitted_bytes: u64,
    pub(crate) read_only: ReadOnly,
    /// Reads received before the leader committed an entry of its term.
    pub(crate) pending_reads: Vec<Message>,
    pub(crate) config: Config,
    rng: SmallRng,
}

impl<S: Storage> Raft<S> {
    pub(crate) fn new(config: &Config, storage: S) -> Result<Self> {
        config.validate()?;
        let state = storage.initial_state()?;
        let hs = state.hard_state;
        let log = RaftLog::new(storage, hs.commit, config.applied)?;
        if config.applied > hs.commit.max(log.first_index() - 1) {
            return Err(Error::ConfigInvalid(format!(
                "applied ({}) is beyond the persisted commit index ({})",
                config.applied, hs.commit
            )));
        }
        let tracker = Tracker::new(
            &state.conf_state,
            log.last_index() + 1,
            config.max_inflight_msgs,
        );
        let mut r = Raft {
            id: config.id,
            term: hs.term,
            vote: hs.vote,
            leader_id: 0,
            role: Role::Follower,
            log,
            tracker,
            msgs: Vec::new(),
            msgs_after_persist: Vec::new(),
            read_states: Vec::new(),
            election_elapsed: 0,
            heartbeat_elapsed: 0,
            randomized_election_ticks: config.election_ticks,
            lead_transferee: 0,
            pending_conf_index: 0,
            uncommitted_bytes: 0,
            read_only: ReadOnly::default(),
            pending_reads: Vec::new(),
            config: config.clone(),
            rng: SmallRng::seed_from_u64(config.seed ^ config.id.rotate_left(32)),
        };
        r.become_follower(hs.term, 0);
        Ok(r)
    }

    pub(crate) fn hard_state(&self) -> HardState {
        HardState {
            term: self.term,
            vote: self.vote,
            commit: self.log.committed,
        }
    }

    pub(crate) fn soft_state(&self) -> SoftState {
        SoftState {
            leader_id: self.leader_id,
            role: self.role,
        }
    }

    /// True when this node may become leader: it is a voter of its configuration.
    pub(crate) fn promotable(&self) -> bool {
        self.tracker.is_voter(self.id)
    }

    fn reset(&mut self, term: u64) {
        if self.term != term {
            self.term = term;
            self.vote = 0;
        }
        self.leader_id = 0;
        self.election_elapsed = 0;
        self.heartbeat_elapsed = 0;
        self.randomized_election_ticks =
            self.config.election_ticks + self.rng.random_range(0..self.config.election_ticks);
        self.lead_transferee = 0;
        self.tracker.reset_votes();
        let next = self.log.last_index() + 1;
        let persisted = self.log.persisted_index();
        let id = self.id;
        for (pid, p) in &mut self.tracker.progress {
            *p = crate::progress::Progress::new(next, self.config.max_inflight_msgs, p.is_learner);
            if *pid == id {
                p.matched = persisted;
                p.recent_active = true;
            }
        }
        self.pending_conf_index = 0;
        self.uncommitted_bytes = 0;
        self.read_only.clear();
        self.pending_reads.clear();
    }

    pub(crate) fn become_follower(&mut self, term: u64, leader_id: u64) {
        self.reset(term);
        self.leader_id = leader_id;
        self.role = Role::Follower;
    }

    pub(crate) fn become_pre_candidate(&mut self) {
        // A pre-election changes neither term nor vote.
        self.tracker.reset_votes();
        self.leader_id = 0;
        self.role = Role::PreCandidate;
    }

    pub(crate) fn become_candidate(&mut self) {
        assert!(self.role != Role::Leader, "leader cannot become candidate");
        self.reset(self.term + 1);
        self.vote = self.id;
        self.role = Role::Candidate;
    }

    pub(crate) fn become_leader(&mut self) {
        assert!(
            self.role != Role::Follower,
            "follower cannot become leader without an election"
        );
        self.reset(self.term);
        self.leader_id = self.id;
        self.role = Role::Leader;
        if let Some(p) = self.tracker.progress.get_mut(&self.id) {
            p.become_replicate();
        }
        // The no-op entry of the new term; configuration changes wait until it is applied,
        // so that a change never overlaps one a previous leader left uncommitted.
        let index = self.log.last_index() + 1;
        self.log.append(&[crate::Entry {
            term: self.term,
            index,
            ..Default::default()
        }]);
        self.pending_conf_index = index;
    }

    pub(crate) fn tick(&mut self) {
        match self.role {
            Role::Leader => self.tick_heartbeat(),
            _ => self.tick_election(),
        }
    }

    fn past_election_timeout(&self) -> bool {
        self.election_elapsed >= self.randomized_election_ticks
    }

    fn tick_election(&mut self) {
        self.election_elapsed += 1;
        if self.promotable() && self.past_election_timeout() {
            self.election_elapsed = 0;
            self.step_local(MessageType::Hup);
        }
    }

    fn tick_heartbeat(&mut self) {
        self.heartbeat_elapsed += 1;
        self.election_elapsed += 1;
        if self.election_elapsed >= self.config.election_ticks {
            self.election_elapsed = 0;
            if self.config.check_quorum {
                self.step_local(MessageType::CheckQuorum);
            }
            if self.role == Role::Leader && self.lead_transferee != 0 {
                self.lead_transferee = 0;
            }
        }
        if self.role == Role::Leader && self.heartbeat_elapsed >= self.config.heartbeat_ticks {
            self.heartbeat_elapsed = 0;
            self.step_local(MessageType::Beat);
        }
    }

    /// Steps a local message that cannot fail.
    fn step_local(&mut self, msg_type: MessageType) {
        let m = Message {
            msg_type,
            from: self.id,
            ..Default::default()
        };
        // Local ticks only produce messages that step() accepts.
        let _ = self.step(m);
    }

    /// Queues a message, stamping sender and term.
    pub(crate) fn send(&mut self, mut m: Message) {
        if m.from == 0 {
            m.from = self.id;
        }
        let keeps_term = matches!(
            m.msg_type,
            MessageType::RequestVote
                | MessageType::RequestVoteResponse
                | MessageType::RequestPreVote
                | MessageType::RequestPreVoteResponse
        );
        if !keeps_term && !matches!(m.msg_type, MessageType::Propose | MessageType::ReadIndex) {
            m.term = self.term;
        }
        let leader_traffic = matches!(
            m.msg_type,
            MessageType::Append
                | MessageType::Heartbeat
                | MessageType::Snapshot
                | MessageType::TimeoutNow
                | MessageType::ReadIndexResponse
        );
        if self.role == Role::Leader && leader_traffic {
            self.msgs.push(m);
        } else {
            self.msgs_after_persist.push(m);
        }
    }

    /// Starts a (pre-)election.
    pub(crate) fn campaign(&mut self, kind: CampaignKind) {
        let (vote_type, term) = if kind == CampaignKind::PreElection {
            self.become_pre_candidate();
            (MessageType::RequestPreVote, self.term + 1)
        } else {
            self.become_candidate();
            (MessageType::RequestVote, self.term)
        };
        if self.poll(self.id, true) == crate::tracker::VoteResult::Won {
            // A single voter wins at once.
            return self.on_election_won(kind == CampaignKind::PreElection);
        }
        let context = if kind == CampaignKind::Transfer {
            Bytes::from_static(CAMPAIGN_TRANSFER)
        } else {
            Bytes::new()
        };
        let voters: Vec<u64> = self
            .tracker
            .voters
            .iter()
            .copied()
            .filter(|&id| id != self.id)
            .collect();
        let (index, log_term) = (self.log.last_index(), self.log.last_term());
        for to in voters {
            let m = Message {
                msg_type: vote_type,
                to,
                term,
                index,
                log_term,
                context: context.clone(),
                ..Default::default()
            };
            self.send(m);
        }
    }

    pub(crate) fn on_election_won(&mut self, pre: bool) {
        if pre {
            self.campaign(CampaignKind::Election);
        } else {
            self.become_leader();
            self.bcast_append();
        }
    }

    /// Records a vote and returns the election's outcome so far.
    pub(crate) fn poll(&mut self, from: u64, granted: bool) -> crate::tracker::VoteResult {
        self.tracker.record_vote(from, granted);
        self.tracker.tally_votes().2
    }

    /// Handles a message: the term rules here, then the role's handler.
    pub(crate) fn step(&mut self, m: Message) -> Result<()> {
        if m.term > self.term {
            if !self.step_higher_term(&m) {
                return Ok(());
            }
        } else if m.term < self.term && m.term != 0 {
            self.step_lower_term(&m);
            return Ok(());
        }
        match m.msg_type {
            MessageType::Hup => {
                self.hup(false);
                Ok(())
            }
            MessageType::RequestVote | MessageType::RequestPreVote => {
                self.handle_vote_request(&m);
                Ok(())
            }
            _ => match self.role {
                Role::Leader => self.step_leader(m),
                Role::Candidate | Role::PreCandidate => self.step_candidate(m),
                Role::Follower => self.step_follower(m),
            },
        }
    }

    /// A message of a higher term; false if it must be ignored.
    fn step_higher_term(&mut self, m: &Message) -> bool {
        let is_vote = matches!(
            m.msg_type,
            MessageType::RequestVote | MessageType::RequestPreVote
        );
        if is_vote {
            let force = m.context.as_ref() == CAMPAIGN_TRANSFER;
            let in_lease = self.config.check_quorum
                && self.leader_id != 0
                && self.election_elapsed < self.config.election_ticks;
            if !force && in_lease {
                // A leader was heard from within the election timeout: the candidate is
                // probably a disrupted node, so neither bump the term nor vote.
                return false;
            }
        }
        match m.msg_type {
            MessageType::RequestPreVote => {}
            MessageType::RequestPreVoteResponse if !m.reject => {}
            MessageType::Append | MessageType::Heartbeat | MessageType::Snapshot => {
                self.become_follower(m.term, m.from);
            }
            _ => self.become_follower(m.term, 0),
        }
        true
    }

    fn step_lower_term(&mut self, m: &Message) {
        let from_old_leader = matches!(m.msg_type, MessageType::Heartbeat | MessageType::Append);
        if (self.config.check_quorum || self.config.pre_vote) && from_old_leader {
            // Tell a deposed leader about the new term, so that it steps down: with
            // check_quorum or pre-vote, its followers will not.
            self.send(Message {
                msg_type: MessageType::AppendResponse,
                to: m.from,
                ..Default::default()
            });
        } else if m.msg_type == MessageType::RequestPreVote {
            let to = m.from;
            let resp = Message {
                msg_type: MessageType::RequestPreVoteResponse,
                to,
                term: self.term,
                reject: true,
                ..Default::default()
            };
            self.send(resp);
        }
    }

    /// Starts an election if allowed: a voter, not leading, with no configuration change
    /// committed but not yet applied.
    pub(crate) fn hup(&mut self, transfer: bool) {
        if self.role == Role::Leader || !self.promotable() || self.has_unapplied_conf_change() {
            return;
        }
        let kind = match (transfer, self.config.pre_vote) {
            (true, _) => CampaignKind::Transfer,
            (false, true) => CampaignKind::PreElection,
            (false, false) => CampaignKind::Election,
        };
        self.campaign(kind);
    }

    fn has_unapplied_conf_change(&self) -> bool {
        if self.log.applied >= self.log.committed {
            return false;
        }
        let ents = self
            .log
            .slice(self.log.applied + 1, self.log.committed + 1, None)
            .unwrap_or_default();
        ents.iter()
            .any(|e| e.entry_type == crate::EntryType::ConfChange)
    }

    fn handle_vote_request(&mut self, m: &Message) {
        let pre = m.msg_type == MessageType::RequestPreVote;
        let can_vote = self.vote == m.from
            || (self.vote == 0 && self.leader_id == 0)
            || (pre && m.term > self.term);
        let resp_type = if pre {
            MessageType::RequestPreVoteResponse
        } else {
            MessageType::RequestVoteResponse
        };
        let up_to_date = self.log.is_up_to_date(m.index, m.log_term)
            || self.config.unsafe_skip_election_restriction;
        if can_vote && up_to_date {
            // The response carries the candidate's term, so it is not ignored as stale.
            self.send(Message {
                msg_type: resp_type,
                to: m.from,
                term: m.term,
                ..Default::default()
            });
            if !pre {
                self.election_elapsed = 0;
                self.vote = m.from;
            }
        } else {
            self.send(Message {
                msg_type: resp_type,
                to: m.from,
                term: self.term,
                reject: true,
                ..Default::default()
            });
        }
    }

    pub(crate) fn check_invariants(&self) {
        self.log.check_invariants();
        if self.role == Role::Leader {
            assert_eq!(self.leader_id, self.id, "a leader leads itself");
            for (id, p) in &self.tracker.progress {
                assert!(
                    p.matched < p.next,
                    "progress of {id}: match {} >= next {}",
                    p.matched,
                    p.next
                );
            }
        }
        if self.vote != 0 && self.role == Role::Candidate {
            assert_eq!(self.vote, self.id, "a candidate votes for itself");
        }
    }
}
