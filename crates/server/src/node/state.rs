//! What the raft loop, the apply thread and the client services share.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::PoisonError;
use std::sync::RwLock;
use std::sync::atomic::AtomicBool;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering;

use tokio::sync::broadcast;
use tokio::sync::watch;

use super::membership::Membership;
use super::waiters::Waiters;
use crate::backend::Alarm;
use crate::backend::RevisionEvents;

/// Capacity of the applied-events broadcast; slow watchers lag and catch up from the store.
const EVENTS_CAPACITY: usize = 4096;

/// The member's live state, shared by every part of it.
#[derive(Debug)]
pub(crate) struct NodeState {
    /// The cluster id.
    pub(crate) cluster_id: u64,
    /// This member's id.
    pub(crate) member_id: u64,
    /// This member's name.
    pub(crate) name: String,
    /// The store.
    pub(crate) store: Arc<mvcc::Store>,
    /// The current leader, 0 when none.
    pub(crate) leader_id: AtomicU64,
    /// True while this member leads.
    pub(crate) is_leader: AtomicBool,
    /// The raft term.
    pub(crate) term: AtomicU64,
    /// The raft commit index.
    pub(crate) commit_index: AtomicU64,
    /// The last raft index in the log.
    pub(crate) last_index: AtomicU64,
    /// How often the leader changed (as seen here).
    pub(crate) leader_changes: AtomicU64,
    /// The applied raft index; readers wait on it.
    pub(crate) applied: watch::Sender<u64>,
    /// Names and URLs of the members.
    pub(crate) membership: RwLock<Membership>,
    /// Raised alarms.
    pub(crate) alarms: RwLock<Vec<Alarm>>,
    /// Proposals waiting to be applied here.
    pub(crate) waiters: Waiters,
    /// Events of every applied revision, for watchers.
    pub(crate) events: broadcast::Sender<Arc<RevisionEvents>>,
    /// Set once when the member must stop (a storage failure); the reason.
    pub(crate) fatal: Mutex<Option<String>>,
    /// Set once when the member must restart to install a snapshot from the leader; the reason.
    pub(crate) restart: Mutex<Option<String>>,
    /// Wakes whoever waits for a fatal stop or a restart.
    pub(crate) fatal_notify: tokio::sync::Notify,
    /// True once the member is stopping.
    pub(crate) stopping: AtomicBool,
    /// True once this member knows it was removed from the cluster.
    pub(crate) removed: AtomicBool,
    /// True once this process's publish entry is applied here: everything committed
    /// before the member (re)started is then applied too (etcd's `ReadyNotify`).
    pub(crate) published: watch::Sender<bool>,
}

impl NodeState {
    /// A fresh state for a member whose store has applied up to `applied`.
    pub(crate) fn new(
        cluster_id: u64,
        member_id: u64,
        name: String,
        store: Arc<mvcc::Store>,
        membership: Membership,
        alarms: Vec<Alarm>,
    ) -> NodeState {
        let applied = store.applied_index();
        NodeState {
            cluster_id,
            member_id,
            name,
            store,
            leader_id: AtomicU64::new(0),
            is_leader: AtomicBool::new(false),
            term: AtomicU64::new(0),
            commit_index: AtomicU64::new(applied),
            last_index: AtomicU64::new(applied),
            leader_changes: AtomicU64::new(0),
            applied: watch::Sender::new(applied),
            membership: RwLock::new(membership),
            alarms: RwLock::new(alarms),
            waiters: Waiters::new(member_id),
            events: broadcast::Sender::new(EVENTS_CAPACITY),
            fatal: Mutex::new(None),
            restart: Mutex::new(None),
            fatal_notify: tokio::sync::Notify::new(),
            stopping: AtomicBool::new(false),
            removed: AtomicBool::new(false),
            published: watch::Sender::new(false),
        }
    }

    /// The leader's id, 0 when none.
    pub(crate) fn leader(&self) -> u64 {
        self.leader_id.load(Ordering::Acquire)
    }

    /// The applied index.
    pub(crate) fn applied_index(&self) -> u64 {
        *self.applied.borrow()
    }

    /// Records a storage failure: the member stops (never continues after one).
    pub(crate) fn set_fatal(&self, reason: String) {
        tracing::error!(%reason, "fatal storage failure; the member stops");
        let mut fatal = self.fatal.lock().unwrap_or_else(PoisonError::into_inner);
        if fatal.is_none() {
            *fatal = Some(reason);
        }
        self.stopping.store(true, Ordering::Release);
        self.fatal_notify.notify_waiters();
        self.fatal_notify.notify_one();
    }

    /// Asks for a restart (the data directory holds a snapshot to install at boot).
    pub(crate) fn request_restart(&self, reason: String) {
        tracing::warn!(%reason, "the member restarts");
        let mut restart = self.restart.lock().unwrap_or_else(PoisonError::into_inner);
        if restart.is_none() {
            *restart = Some(reason);
        }
        self.stopping.store(true, Ordering::Release);
        self.fatal_notify.notify_waiters();
        self.fatal_notify.notify_one();
    }

    /// Records that this member was removed from the cluster: it stops serving.
    pub(crate) fn set_removed(&self) {
        if self.removed.swap(true, Ordering::AcqRel) {
            return;
        }
        tracing::warn!("the member has been permanently removed from the cluster");
        self.stopping.store(true, Ordering::Release);
        self.fatal_notify.notify_waiters();
        self.fatal_notify.notify_one();
    }

    /// The restart reason, if the member must restart.
    pub(crate) fn restart_reason(&self) -> Option<String> {
        self.restart
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The fatal reason, if the member failed.
    pub(crate) fn fatal_reason(&self) -> Option<String> {
        self.fatal
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Read access to the membership.
    pub(crate) fn membership(&self) -> std::sync::RwLockReadGuard<'_, Membership> {
        self.membership
            .read()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Write access to the membership.
    pub(crate) fn membership_mut(&self) -> std::sync::RwLockWriteGuard<'_, Membership> {
        self.membership
            .write()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The raised alarms.
    pub(crate) fn alarm_list(&self) -> Vec<Alarm> {
        self.alarms
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Raises or clears an alarm (clearing with alarm 0 clears all of the member's).
    pub(crate) fn set_alarm(&self, activate: bool, member_id: u64, alarm: i32) {
        let mut alarms = self.alarms.write().unwrap_or_else(PoisonError::into_inner);
        let entry = Alarm { member_id, alarm };
        if activate {
            if !alarms.contains(&entry) {
                alarms.push(entry);
            }
        } else {
            alarms.retain(|a| !(a.member_id == member_id && (alarm == 0 || a.alarm == alarm)));
        }
    }
}
