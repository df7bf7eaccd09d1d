//! One gRPC watch stream: a task owning its watchers, fed by the client's
//! requests and by the member's live feed of applied revisions.
//!
//! No gap, no duplicate: the feed is subscribed before any watcher exists,
//! so every revision applied after a watcher reads the store's current
//! revision reaches the feed. A watcher created at "now" starts after that
//! revision; one starting in the past catches up from the store (in
//! bounded batches of whole revisions) and then joins the feed, skipping
//! feed revisions it already has. A stream whose feed lags (its client
//! reads slowly) never blocks writes or other streams: its watchers fall
//! back to catching up from the store.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use api::etcdserverpb as pb;
use tokio::sync::broadcast;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::broadcast::error::TryRecvError;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_stream::StreamExt;
use tonic::Status;
use tonic::Streaming;

use super::fragment;
use super::watcher::KeyRange;
use super::watcher::Watcher;
use crate::backend::Backend;
use crate::backend::Header;
use crate::backend::RevisionEvents;
use crate::error::ServerError;
use crate::grpc::Limits;
use crate::grpc::convert;
use crate::http::metrics;

/// The watch id of responses that speak for every watcher of the stream.
const INVALID_WATCH_ID: i64 = -1;
/// Events read from the store per catch-up step (etcd batches 1000 revisions).
const CATCH_UP_EVENTS: usize = 1000;
/// How often a stream opened with `hasleader=true` checks for a leader.
const LEADER_CHECK: Duration = Duration::from_millis(500);

/// The client went away: the stream ends.
#[derive(Debug)]
pub(super) struct Closed;

type Out = mpsc::Sender<Result<pb::WatchResponse, Status>>;

/// The state of one watch stream.
pub(super) struct WatchStream<B: Backend> {
    backend: Arc<B>,
    limits: Limits,
    out: Out,
    feed: broadcast::Receiver<Arc<RevisionEvents>>,
    watchers: BTreeMap<i64, Watcher>,
    next_auto_id: i64,
    /// Every revision up to this one is known to the stream: it came
    /// through the feed or was read from the store.
    known_revision: i64,
    /// A progress request waits for every watcher to be synced.
    progress_pending: bool,
}

impl<B: Backend> WatchStream<B> {
    /// A stream over `feed`, which must be subscribed before any request is read.
    pub(super) fn new(
        backend: Arc<B>,
        limits: Limits,
        out: Out,
        feed: broadcast::Receiver<Arc<RevisionEvents>>,
    ) -> Self {
        let known_revision = backend.store().current_revision();
        Self {
            backend,
            limits,
            out,
            feed,
            watchers: BTreeMap::new(),
            next_auto_id: 0,
            known_revision,
            progress_pending: false,
        }
    }

    /// Serves the stream until the client goes away or the member stops.
    pub(super) async fn run(
        mut self,
        mut requests: Streaming<pb::WatchRequest>,
        require_leader: bool,
    ) {
        let result = self.serve(&mut requests, require_leader).await;
        let count = i64::try_from(self.watchers.len()).unwrap_or(i64::MAX);
        metrics::global().watchers.dec_by(count);
        if let Err(Closed) = result {
            tracing::debug!("watch stream closed");
        }
    }

    async fn serve(
        &mut self,
        requests: &mut Streaming<pb::WatchRequest>,
        require_leader: bool,
    ) -> Result<(), Closed> {
        let interval = self.limits.progress_notify_interval;
        let mut progress_tick = tokio::time::interval_at(Instant::now() + interval, interval);
        let mut leader_tick = tokio::time::interval(LEADER_CHECK);
        let mut leaderless_since: Option<Instant> = None;
        let mut requests_open = true;
        loop {
            let catching_up = self.watchers.values().any(|w| !w.synced);
            tokio::select! {
                () = self.out.closed() => return Err(Closed),
                next = requests.next(), if requests_open => match next {
                    Some(Ok(req)) => self.on_request(req).await?,
                    // A client that half-closes keeps receiving, as with etcd.
                    None => requests_open = false,
                    Some(Err(status)) => {
                        tracing::debug!(%status, "watch stream receive failed");
                        return Err(Closed);
                    }
                },
                item = self.feed.recv() => self.on_feed(item).await?,
                _ = progress_tick.tick() => self.on_progress_tick().await?,
                _ = leader_tick.tick(), if require_leader => {
                    if self.leader_lost(&mut leaderless_since) {
                        let _ = self.out.send(Err(ServerError::NoLeader.into())).await;
                        return Err(Closed);
                    }
                }
                () = std::future::ready(()), if catching_up => self.catch_up_step().await?,
            }
        }
    }

    /// True once the member has had no leader for the grace period.
    fn leader_lost(&self, since: &mut Option<Instant>) -> bool {
        if self.backend.status().leader != 0 {
            *since = None;
            return false;
        }
        let first = *since.get_or_insert_with(Instant::now);
        first.elapsed() >= self.limits.leader_loss_grace
    }

    fn header(&self, revision: i64) -> Option<pb::ResponseHeader> {
        convert::header(Header {
            revision,
            ..self.backend.header()
        })
    }

    async fn send(&self, resp: pb::WatchResponse) -> Result<(), Closed> {
        self.out.send(Ok(resp)).await.map_err(|_| Closed)
    }

    /// Sends events of one watcher, split into fragments if it asked for them.
    async fn send_events(&self, resp: pb::WatchResponse, fragment: bool) -> Result<(), Closed> {
        if !fragment {
            return self.send(resp).await;
        }
        for part in fragment::split(resp, self.limits.max_request_bytes) {
            self.send(part).await?;
        }
        Ok(())
    }

    async fn on_request(&mut self, req: pb::WatchRequest) -> Result<(), Closed> {
        use pb::watch_request::RequestUnion;
        match req.request_union {
            Some(RequestUnion::CreateRequest(create)) => self.create(create).await,
            Some(RequestUnion::CancelRequest(cancel)) => self.cancel(cancel.watch_id).await,
            Some(RequestUnion::ProgressRequest(_)) => {
                self.progress_pending = true;
                self.answer_progress().await
            }
            // As etcd: an empty request is ignored, not an error.
            None => Ok(()),
        }
    }

    async fn create(&mut self, req: pb::WatchCreateRequest) -> Result<(), Closed> {
        let current = self.backend.store().current_revision();
        let range = KeyRange::new(req.key.clone(), req.range_end.clone());
        let refusal = if range.is_empty() {
            Some("mvcc: watcher range is empty")
        } else if req.watch_id != 0 && self.watchers.contains_key(&req.watch_id) {
            Some("mvcc: duplicate watch ID provided on the WatchStream")
        } else {
            None
        };
        if let Some(reason) = refusal {
            return self
                .send(pb::WatchResponse {
                    header: self.header(current),
                    watch_id: INVALID_WATCH_ID,
                    created: true,
                    canceled: true,
                    cancel_reason: reason.to_owned(),
                    ..Default::default()
                })
                .await;
        }
        let id = if req.watch_id != 0 {
            req.watch_id
        } else {
            self.auto_id()
        };
        let (start, synced) = match req.start_revision {
            0 => (current + 1, true),
            s => (s, s > current),
        };
        self.known_revision = self.known_revision.max(current);
        self.watchers
            .insert(id, Watcher::new(id, &req, range, start, synced));
        metrics::global().watchers.inc();
        self.send(pb::WatchResponse {
            header: self.header(current),
            watch_id: id,
            created: true,
            ..Default::default()
        })
        .await
    }

    /// The next free id, counting from 0 as etcd does.
    fn auto_id(&mut self) -> i64 {
        while self.watchers.contains_key(&self.next_auto_id) {
            self.next_auto_id += 1;
        }
        let id = self.next_auto_id;
        self.next_auto_id += 1;
        id
    }

    async fn cancel(&mut self, id: i64) -> Result<(), Closed> {
        // As etcd: cancelling an unknown id is silently ignored.
        if self.watchers.remove(&id).is_none() {
            return Ok(());
        }
        metrics::global().watchers.dec();
        let current = self.backend.store().current_revision();
        self.send(pb::WatchResponse {
            header: self.header(current),
            watch_id: id,
            canceled: true,
            ..Default::default()
        })
        .await?;
        self.answer_progress().await
    }

    async fn on_feed(
        &mut self,
        item: Result<Arc<RevisionEvents>, RecvError>,
    ) -> Result<(), Closed> {
        match item {
            Ok(revision) => self.on_revision(&revision).await,
            Err(RecvError::Lagged(skipped)) => {
                self.on_lagged(skipped);
                Ok(())
            }
            // The member is stopping: end the stream.
            Err(RecvError::Closed) => Err(Closed),
        }
    }

    /// A slow stream missed feed items: its watchers catch up from the store.
    fn on_lagged(&mut self, skipped: u64) {
        tracing::debug!(skipped, "watch stream lagged; catching up from the store");
        metrics::global().slow_watchers.inc();
        for w in self.watchers.values_mut() {
            w.synced = false;
        }
    }

    /// Delivers one applied revision to the synced watchers it concerns.
    async fn on_revision(&mut self, rev: &RevisionEvents) -> Result<(), Closed> {
        let r = rev.revision;
        self.known_revision = self.known_revision.max(r);
        let with_prev = self.with_prev_kvs(rev);
        let events = with_prev.as_deref().unwrap_or(&rev.events);
        let mut outgoing = Vec::new();
        for w in self.watchers.values_mut().filter(|w| w.synced) {
            if w.next_revision > r {
                continue;
            }
            if w.next_revision < r {
                // A revision never reached this watcher: take it from the store.
                w.synced = false;
                continue;
            }
            w.next_revision = r + 1;
            let events: Vec<_> = events
                .iter()
                .filter(|e| w.wants(e))
                .map(|e| convert::event(e.clone(), w.prev_kv))
                .collect();
            if !events.is_empty() {
                w.sent_since_tick = true;
                outgoing.push((w.id, w.fragment, events));
            }
        }
        let header = self.header(r);
        for (watch_id, fragment, events) in outgoing {
            let resp = pb::WatchResponse {
                header,
                watch_id,
                events,
                ..Default::default()
            };
            self.send_events(resp, fragment).await?;
        }
        Ok(())
    }

    /// Takes in what the feed already holds, so progress answers are fresh.
    async fn drain_feed(&mut self) -> Result<(), Closed> {
        loop {
            match self.feed.try_recv() {
                Ok(revision) => self.on_revision(&revision).await?,
                Err(TryRecvError::Lagged(skipped)) => {
                    self.on_lagged(skipped);
                    return Ok(());
                }
                Err(TryRecvError::Empty | TryRecvError::Closed) => return Ok(()),
            }
        }
    }

    /// The revision every watcher of the stream is known to have reached.
    fn progress_revision(&self) -> i64 {
        self.watchers
            .values()
            .map(|w| w.next_revision - 1)
            .fold(self.known_revision, i64::min)
    }

    /// Answers a pending progress request once every watcher is synced, with
    /// watch id -1 (it speaks for all of them), as etcd does. A stream
    /// without watchers gets no answer, as with etcd.
    async fn answer_progress(&mut self) -> Result<(), Closed> {
        if !self.progress_pending {
            return Ok(());
        }
        if self.watchers.is_empty() {
            self.progress_pending = false;
            return Ok(());
        }
        self.drain_feed().await?;
        if self.watchers.values().any(|w| !w.synced) {
            return Ok(());
        }
        self.progress_pending = false;
        let revision = self.progress_revision();
        self.send(pb::WatchResponse {
            header: self.header(revision),
            watch_id: INVALID_WATCH_ID,
            ..Default::default()
        })
        .await
    }

    /// etcd's periodic progress notification: to each synced watcher that
    /// asked for it and got no events since the last tick.
    async fn on_progress_tick(&mut self) -> Result<(), Closed> {
        self.drain_feed().await?;
        let known = self.known_revision;
        let mut due = Vec::new();
        for w in self.watchers.values_mut() {
            if w.progress_notify && w.synced && !w.sent_since_tick {
                due.push((w.id, known.min(w.next_revision - 1)));
            }
            w.sent_since_tick = false;
        }
        for (watch_id, revision) in due {
            self.send(pb::WatchResponse {
                header: self.header(revision),
                watch_id,
                ..Default::default()
            })
            .await?;
        }
        Ok(())
    }

    /// One catch-up step for every unsynced watcher: a bounded batch of
    /// whole revisions from the store; a watcher that reaches the present
    /// becomes synced.
    async fn catch_up_step(&mut self) -> Result<(), Closed> {
        let ids: Vec<i64> = self
            .watchers
            .values()
            .filter(|w| !w.synced)
            .map(|w| w.id)
            .collect();
        for id in ids {
            self.catch_up_one(id).await?;
        }
        self.answer_progress().await
    }

    /// The revision's events with their `prev_kv` if a watcher it reaches asks for it (an
    /// applied write's events carry none: most watchers never want it). If the store cannot
    /// say, those watchers catch up from the store instead, which reports the failure.
    fn with_prev_kvs(&mut self, rev: &RevisionEvents) -> Option<Vec<mvcc::Event>> {
        let wanted = |w: &Watcher| {
            w.synced
                && w.prev_kv
                && w.next_revision == rev.revision
                && rev.events.iter().any(|e| w.wants(e))
        };
        if !self.watchers.values().any(wanted) {
            return None;
        }
        match self.backend.store().prev_kvs(&rev.events) {
            Ok(prevs) => {
                let mut events = rev.events.clone();
                for (event, prev) in events.iter_mut().zip(prevs) {
                    event.prev_kv = prev;
                }
                Some(events)
            }
            Err(err) => {
                tracing::warn!(%err, revision = rev.revision, "cannot read the previous versions of a revision's keys");
                for w in self.watchers.values_mut().filter(|w| wanted(w)) {
                    w.synced = false;
                }
                None
            }
        }
    }

    async fn catch_up_one(&mut self, id: i64) -> Result<(), Closed> {
        let Some(w) = self.watchers.get(&id) else {
            return Ok(());
        };
        let store = Arc::clone(self.backend.store());
        let (start, range) = (w.next_revision, w.range.clone());
        let read = tokio::task::spawn_blocking(move || history(&store, start, &range))
            .await
            .unwrap_or_else(|err| Err(mvcc::Error::Corrupt(err.to_string())));
        match read {
            Ok(batch) => self.deliver_history(id, batch).await,
            Err(mvcc::Error::Compacted) => self.cancel_compacted(id).await,
            Err(err) => self.cancel_failed(id, &err).await,
        }
    }

    async fn deliver_history(&mut self, id: i64, batch: History) -> Result<(), Closed> {
        let Some(w) = self.watchers.get_mut(&id) else {
            return Ok(());
        };
        self.known_revision = self.known_revision.max(batch.current);
        let last_event = batch.events.last().map(|e| e.kv.mod_revision);
        let events: Vec<_> = batch
            .events
            .into_iter()
            .filter(|e| w.wants(e))
            .map(|e| convert::event(e, w.prev_kv))
            .collect();
        if batch.complete {
            w.next_revision = w
                .next_revision
                .max(batch.current.max(last_event.unwrap_or(0)) + 1);
            w.synced = true;
        } else if let Some(last) = last_event {
            w.next_revision = last + 1;
        }
        let fragment = w.fragment;
        if events.is_empty() {
            return Ok(());
        }
        w.sent_since_tick = true;
        let revision = batch.current.max(last_event.unwrap_or(0));
        for events in fragment::by_revision(events, self.limits.max_request_bytes) {
            let resp = pb::WatchResponse {
                header: self.header(revision),
                watch_id: id,
                events,
                ..Default::default()
            };
            self.send_events(resp, fragment).await?;
        }
        Ok(())
    }

    /// etcd's answer to a watcher whose next revision was compacted away:
    /// the compact revision, and the watcher is cancelled.
    async fn cancel_compacted(&mut self, id: i64) -> Result<(), Closed> {
        if self.watchers.remove(&id).is_some() {
            metrics::global().watchers.dec();
        }
        let store = self.backend.store();
        let (current, compacted) = (store.current_revision(), store.compacted_revision());
        self.send(pb::WatchResponse {
            header: self.header(current),
            watch_id: id,
            canceled: true,
            compact_revision: compacted,
            ..Default::default()
        })
        .await
    }

    async fn cancel_failed(&mut self, id: i64, err: &mvcc::Error) -> Result<(), Closed> {
        tracing::warn!(%err, watch_id = id, "watch catch-up failed");
        if self.watchers.remove(&id).is_some() {
            metrics::global().watchers.dec();
        }
        let current = self.backend.store().current_revision();
        self.send(pb::WatchResponse {
            header: self.header(current),
            watch_id: id,
            canceled: true,
            cancel_reason: err.to_string(),
            ..Default::default()
        })
        .await
    }
}

/// A batch of history read from the store.
struct History {
    /// The store's revision read before the events.
    current: i64,
    /// Events of whole revisions, in order.
    events: Vec<mvcc::Event>,
    /// True when every event up to `current` (and possibly beyond) is in.
    complete: bool,
}

/// Reads events from `start` on in `range`: about [`CATCH_UP_EVENTS`],
/// whole revisions only (the store never splits one).
fn history(store: &mvcc::Store, start: i64, range: &KeyRange) -> Result<History, mvcc::Error> {
    let current = store.current_revision();
    let events = store.events_since(start, &range.start, &range.end, CATCH_UP_EVENTS)?;
    let complete = events.len() < CATCH_UP_EVENTS;
    Ok(History {
        current,
        events,
        complete,
    })
}
