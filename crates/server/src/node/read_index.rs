//! Linearizable reads: concurrent readers share one raft ReadIndex request, as
//! etcd batches them (`linearizableReadLoop`).
//!
//! Readers queue while a request is in flight; when it answers, all readers
//! that joined before it was sent get its index, and the queued ones start the
//! next request. A request unanswered for [`RETRY_INTERVAL`] is sent again
//! with the same context (the leader may have dropped it).
//!
//! A context names its member and a counter that starts at the boot's wall clock:
//! the leader holds one pending request per context and drops a second with the
//! same bytes, so contexts must never collide between members, nor across a
//! member's restarts. (With a bare counter per member, followers' requests
//! collided under load and waited out [`RETRY_INTERVAL`].)

use std::time::Duration;
use std::time::Instant;

use bytes::Bytes;
use raft_core::ReadState;
use tokio::sync::oneshot;

use crate::error::ServerError;

/// etcd's `readIndexRetryTime`.
pub(crate) const RETRY_INTERVAL: Duration = Duration::from_millis(500);

/// Who receives a read index.
pub(crate) type ReadReply = oneshot::Sender<Result<u64, ServerError>>;

/// The read requests of the raft loop.
#[derive(Debug)]
pub(crate) struct ReadIndexer {
    queued: Vec<ReadReply>,
    in_flight: Option<InFlight>,
    member_id: u64,
    next_ctx: u64,
}

#[derive(Debug)]
struct InFlight {
    ctx: Bytes,
    readers: Vec<ReadReply>,
    sent: Instant,
}

impl ReadIndexer {
    /// The reads of `member_id`, whose contexts count up from `start` (the boot's
    /// wall clock in nanoseconds, so a restarted member does not reuse its contexts).
    pub(crate) fn new(member_id: u64, start: u64) -> Self {
        Self {
            queued: Vec::new(),
            in_flight: None,
            member_id,
            next_ctx: start,
        }
    }

    /// Queues a reader.
    pub(crate) fn push(&mut self, reply: ReadReply) {
        self.queued.push(reply);
    }

    /// The context to send with `read_index`, when a new request should go out now.
    pub(crate) fn next_request(&mut self, now: Instant) -> Option<Bytes> {
        if self.in_flight.is_some() || self.queued.is_empty() {
            return None;
        }
        self.next_ctx = self.next_ctx.wrapping_add(1);
        let mut ctx = [0u8; 16];
        ctx[..8].copy_from_slice(&self.member_id.to_be_bytes());
        ctx[8..].copy_from_slice(&self.next_ctx.to_be_bytes());
        let ctx = Bytes::copy_from_slice(&ctx);
        let readers = std::mem::take(&mut self.queued);
        self.in_flight = Some(InFlight {
            ctx: ctx.clone(),
            readers,
            sent: now,
        });
        Some(ctx)
    }

    /// The context to send again, when the request in flight waited too long.
    pub(crate) fn retry(&mut self, now: Instant) -> Option<Bytes> {
        let in_flight = self.in_flight.as_mut()?;
        if now.duration_since(in_flight.sent) < RETRY_INTERVAL {
            return None;
        }
        in_flight.sent = now;
        in_flight.readers.retain(|r| !r.is_closed());
        Some(in_flight.ctx.clone())
    }

    /// Hands a read state to the readers of its request.
    pub(crate) fn on_read_state(&mut self, rs: &ReadState) {
        let matches = self
            .in_flight
            .as_ref()
            .is_some_and(|f| f.ctx == rs.request_ctx);
        if !matches {
            return;
        }
        if let Some(in_flight) = self.in_flight.take() {
            for reader in in_flight.readers {
                let _ = reader.send(Ok(rs.index));
            }
        }
    }

    /// Fails every reader (no leader, or the member stops).
    pub(crate) fn fail_all(&mut self, error: impl Fn() -> ServerError) {
        let in_flight = self.in_flight.take().map(|f| f.readers).unwrap_or_default();
        for reader in in_flight.into_iter().chain(self.queued.drain(..)) {
            let _ = reader.send(Err(error()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concurrent_readers_share_one_request() {
        let mut r = ReadIndexer::new(1, 0);
        let now = Instant::now();
        let (a, mut ra) = oneshot::channel();
        let (b, mut rb) = oneshot::channel();
        r.push(a);
        r.push(b);
        let ctx = r.next_request(now).unwrap();
        let (c, mut rc) = oneshot::channel();
        r.push(c);
        assert!(r.next_request(now).is_none(), "one request at a time");
        assert!(r.retry(now).is_none());
        assert_eq!(r.retry(now + RETRY_INTERVAL), Some(ctx.clone()));
        r.on_read_state(&ReadState {
            index: 7,
            request_ctx: Bytes::from_static(b"other"),
        });
        assert!(ra.try_recv().is_err());
        r.on_read_state(&ReadState {
            index: 7,
            request_ctx: ctx,
        });
        assert_eq!(ra.try_recv().unwrap().unwrap(), 7);
        assert_eq!(rb.try_recv().unwrap().unwrap(), 7);
        assert!(rc.try_recv().is_err(), "joined after the request was sent");
        assert!(r.next_request(now).is_some());
        r.fail_all(|| ServerError::NoLeader);
        assert!(matches!(rc.try_recv().unwrap(), Err(ServerError::NoLeader)));
    }

    fn request_ctx(member_id: u64, start: u64) -> Bytes {
        let mut r = ReadIndexer::new(member_id, start);
        let (reply, _rx) = oneshot::channel();
        r.push(reply);
        r.next_request(Instant::now()).unwrap()
    }

    #[test]
    fn contexts_differ_between_members_and_across_restarts() {
        let t = 1_700_000_000_000_000_000;
        assert_ne!(
            request_ctx(1, t),
            request_ctx(2, t),
            "two followers' first requests reach the leader as different requests"
        );
        assert_ne!(request_ctx(1, t), request_ctx(1, t + 1_000_000));
        let mut r = ReadIndexer::new(1, t);
        let mut seen = std::collections::HashSet::new();
        for i in 0..100 {
            let (reply, _rx) = oneshot::channel();
            r.push(reply);
            let ctx = r.next_request(Instant::now()).unwrap();
            assert!(seen.insert(ctx.clone()), "context reused at request {i}");
            r.on_read_state(&ReadState {
                index: i,
                request_ctx: ctx,
            });
        }
    }
}
