//! The watchers: each watches the KV prefix from a past revision, asks for
//! progress notifications, and on any failure resumes on the next member
//! from the revision after the last one it vouched for.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use api::etcdserverpb::WatchCreateRequest;
use api::etcdserverpb::WatchProgressRequest;
use api::etcdserverpb::WatchRequest;
use api::etcdserverpb::WatchResponse;
use api::etcdserverpb::watch_client::WatchClient;
use api::etcdserverpb::watch_request::RequestUnion;
use api::mvccpb::event::EventType;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::Channel;

use super::driver::KV_PREFIX;
use super::driver::Latest;
use super::history::WatchEvent;
use super::history::WatchRecord;
use super::recorder::Recorder;
use super::recorder::pick;

/// How often a watcher asks for a progress notification.
const PROGRESS_INTERVAL: Duration = Duration::from_millis(500);
/// A stream silent this long (a stopped member) is abandoned.
const SILENCE_LIMIT: Duration = Duration::from_secs(3);

/// Where a watcher stands: the next revision it expects.
#[derive(Debug)]
struct Cursor {
    next_revision: u64,
}

/// Revisions the watchers share with the rest of the run.
#[derive(Clone, Debug)]
pub(crate) struct Marks {
    /// The revision to reach before stopping (0 until the load has stopped).
    pub(crate) target: Latest,
    /// The newest revision any watcher has had delivered (the compactor's bound).
    pub(crate) vouched: Latest,
}

/// One watcher's loop: runs until `deadline`, then until it has vouched for
/// the revision in `marks.target` (set once the load has stopped), or `hard_stop`.
pub(crate) async fn watcher(
    id: u32,
    channels: Arc<Vec<Channel>>,
    recorder: Recorder,
    start_revision: u64,
    marks: Marks,
    deadline: Instant,
    hard_stop: Instant,
) {
    let Marks { target, vouched } = marks;
    let mut cursor = Cursor {
        next_revision: start_revision.max(1),
    };
    let mut endpoint = id as usize;
    loop {
        let done = |c: &Cursor| {
            let t = target.load(Ordering::Relaxed);
            Instant::now() >= hard_stop
                || (Instant::now() >= deadline && t > 0 && c.next_revision > t)
        };
        if done(&cursor) {
            return;
        }
        recorder.watch(WatchRecord::Start {
            watcher: id,
            start_revision: cursor.next_revision,
        });
        let channel = pick(&channels, endpoint);
        let _ = stream(id, channel, &recorder, &mut cursor, &vouched, &done).await;
        endpoint += 1;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// One watch stream, until it fails, goes silent, is cancelled or `done`.
async fn stream(
    id: u32,
    channel: Channel,
    recorder: &Recorder,
    cursor: &mut Cursor,
    vouched: &Latest,
    done: &impl Fn(&Cursor) -> bool,
) -> Result<(), tonic::Status> {
    let (tx, rx) = mpsc::channel(4);
    let create = WatchCreateRequest {
        key: KV_PREFIX.as_bytes().to_vec(),
        range_end: prefix_end(KV_PREFIX.as_bytes()),
        start_revision: i64::try_from(cursor.next_revision).unwrap_or(i64::MAX),
        ..Default::default()
    };
    let _ = tx
        .send(WatchRequest {
            request_union: Some(RequestUnion::CreateRequest(create)),
        })
        .await;
    let mut client = WatchClient::new(channel);
    let call = tokio::time::timeout(SILENCE_LIMIT, client.watch(ReceiverStream::new(rx))).await;
    let mut responses = call
        .map_err(|_| tonic::Status::deadline_exceeded("watch"))??
        .into_inner();
    let mut ticker = tokio::time::interval(PROGRESS_INTERVAL);
    let mut heard = Instant::now();
    loop {
        if done(cursor) || heard.elapsed() > SILENCE_LIMIT {
            return Ok(());
        }
        tokio::select! {
            _ = ticker.tick() => {
                let progress = WatchRequest { request_union: Some(RequestUnion::ProgressRequest(WatchProgressRequest {})) };
                let _ = tx.try_send(progress);
            }
            message = responses.message() => {
                let Some(response) = message? else { return Ok(()) };
                heard = Instant::now();
                let taken = take(id, recorder, cursor, response);
                // The compactor stays at or below this (see `background::compaction_revision`).
                vouched.fetch_max(cursor.next_revision.saturating_sub(1), Ordering::Relaxed);
                if !taken {
                    return Ok(());
                }
            }
        }
    }
}

/// Records one response; false when the watch was cancelled.
fn take(id: u32, recorder: &Recorder, cursor: &mut Cursor, response: WatchResponse) -> bool {
    if response.canceled {
        // A compacted start revision: resume at the compaction, leaving a
        // gap the server was entitled to.
        if let Ok(r) = u64::try_from(response.compact_revision) {
            cursor.next_revision = cursor.next_revision.max(r);
        }
        return false;
    }
    if response.created {
        return true;
    }
    let header = response
        .header
        .map_or(0, |h| u64::try_from(h.revision).unwrap_or(0));
    if response.events.is_empty() {
        if header > 0 && response.compact_revision == 0 {
            recorder.watch(WatchRecord::Progress {
                watcher: id,
                revision: header,
            });
            cursor.next_revision = cursor.next_revision.max(header + 1);
        }
        return true;
    }
    let events: Vec<WatchEvent> = response
        .events
        .iter()
        .filter_map(|e| {
            let kv = e.kv.as_ref()?;
            Some(WatchEvent {
                key: String::from_utf8_lossy(&kv.key).into_owned(),
                revision: u64::try_from(kv.mod_revision).unwrap_or(0),
                value: (e.r#type() == EventType::Put)
                    .then(|| String::from_utf8_lossy(&kv.value).into_owned()),
            })
        })
        .collect();
    if let Some(last) = events.last() {
        cursor.next_revision = cursor.next_revision.max(last.revision + 1);
    }
    recorder.watch(WatchRecord::Events {
        watcher: id,
        events,
    });
    true
}

/// The end of the range of keys starting with `prefix`.
pub(crate) fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < u8::MAX {
            end.push(last + 1);
            return end;
        }
    }
    vec![0]
}
