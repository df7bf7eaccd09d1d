//! Pending ReadIndex requests on a leader, confirmed by a heartbeat quorum.

use std::collections::BTreeMap;
use std::collections::BTreeSet;
use std::collections::VecDeque;

use bytes::Bytes;

use crate::Message;

/// Most read requests a leader holds awaiting confirmation; more are dropped.
pub(crate) const MAX_PENDING_READS: usize = 4096;

/// One read request awaiting leadership confirmation.
#[derive(Debug)]
pub(crate) struct ReadIndexStatus {
    /// The request (local when `from` is 0 or the leader itself).
    pub(crate) req: Message,
    /// The commit index when the request arrived.
    pub(crate) index: u64,
    pub(crate) acks: BTreeSet<u64>,
}

/// Read requests in arrival order, keyed by their context.
#[derive(Debug, Default)]
pub(crate) struct ReadOnly {
    pending: BTreeMap<Bytes, ReadIndexStatus>,
    queue: VecDeque<Bytes>,
}

impl ReadOnly {
    /// Adds a request; false if its context is already pending or the queue is full.
    pub(crate) fn add_request(&mut self, index: u64, req: Message) -> bool {
        let ctx = req.context.clone();
        if self.pending.contains_key(&ctx) || self.queue.len() >= MAX_PENDING_READS {
            return false;
        }
        self.pending.insert(
            ctx.clone(),
            ReadIndexStatus {
                req,
                index,
                acks: BTreeSet::new(),
            },
        );
        self.queue.push_back(ctx);
        true
    }

    /// Records a heartbeat acknowledgement of `ctx` from `from`; returns the acks so far.
    pub(crate) fn recv_ack(&mut self, from: u64, ctx: &Bytes) -> Option<&BTreeSet<u64>> {
        let status = self.pending.get_mut(ctx)?;
        status.acks.insert(from);
        Some(&status.acks)
    }

    /// Removes and returns every request up to and including `ctx`: leadership confirmed for
    /// `ctx` confirms the earlier ones too.
    pub(crate) fn advance(&mut self, ctx: &Bytes) -> Vec<ReadIndexStatus> {
        let Some(pos) = self.queue.iter().position(|c| c == ctx) else {
            return Vec::new();
        };
        self.queue
            .drain(..=pos)
            .filter_map(|c| self.pending.remove(&c))
            .collect()
    }

    /// The context of the newest request, carried by heartbeats.
    pub(crate) fn last_pending_ctx(&self) -> Option<Bytes> {
        self.queue.back().cloned()
    }

    pub(crate) fn clear(&mut self) {
        self.pending.clear();
        self.queue.clear();
    }
}
