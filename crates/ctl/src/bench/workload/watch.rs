//! `watch`: the latency from a put to each watcher's event.
//!
//! `--streams` watch streams over the connections carry `--watch-per-stream`
//! watchers each, all on one key. Once every watcher is created, one client
//! puts the key `--put-total` times at `--put-rate`; each value starts with
//! the put's number, so each event is matched to the moment its put was sent.
//! Every event is one result: requests/sec is events delivered per second.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering;
use std::time::Duration;

use anyhow::Context;
use anyhow::bail;
use api::etcdserverpb::PutRequest;
use api::etcdserverpb::WatchCreateRequest;
use api::etcdserverpb::WatchRequest;
use api::etcdserverpb::WatchResponse;
use api::etcdserverpb::kv_client::KvClient;
use api::etcdserverpb::watch_client::WatchClient;
use api::etcdserverpb::watch_request::RequestUnion;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_stream::wrappers::ReceiverStream;
use tonic::Streaming;
use tonic::transport::Channel;

use crate::cli::Global;
use crate::cli::WatchArgs;
use crate::conns;
use crate::pacer::Pacer;
use crate::runner::error_message;
use crate::stats::Recorder;
use crate::stats::SharedRecorder;

/// Marks a put whose send time is not known yet.
const UNSET: u64 = u64::MAX;
/// How often the drain phase checks whether every event arrived.
const DRAIN_POLL: Duration = Duration::from_millis(5);

/// One watch stream: the open request side (dropping it would end the
/// stream) and the events.
struct WatchStream {
    _requests: mpsc::Sender<WatchRequest>,
    responses: Streaming<WatchResponse>,
}

/// What the readers share: when each put was sent and what arrived.
struct Shared {
    epoch: Instant,
    sent_nanos: Vec<AtomicU64>,
    received: AtomicU64,
    recorder: SharedRecorder,
}

/// Runs the watch workload; returns what was recorded and the time from the
/// first put to the last event.
pub(crate) async fn run(args: &WatchArgs, global: &Global) -> anyhow::Result<(Recorder, Duration)> {
    let channels = conns::open(global).await?;
    let key = vec![b'w'; args.key_size];
    let mut streams = Vec::with_capacity(args.streams);
    for s in 0..args.streams {
        let channel = conns::for_client(&channels, s);
        let stream = open_stream(channel, &key, args.watch_per_stream)
            .await
            .with_context(|| format!("creating the watchers of stream {s}"))?;
        streams.push(stream);
    }
    let shared = Arc::new(Shared {
        epoch: Instant::now(),
        sent_nanos: (0..args.put_total).map(|_| AtomicU64::new(UNSET)).collect(),
        received: AtomicU64::new(0),
        recorder: SharedRecorder::new(16),
    });
    let mut readers = JoinSet::new();
    for (s, stream) in streams.into_iter().enumerate() {
        let shared = shared.clone();
        readers.spawn(async move { read_events(stream, s, &shared).await });
    }
    let start = Instant::now();
    let acked = put_all(args, &key, conns::for_client(&channels, 0), &shared).await;
    let expected = acked.saturating_mul(args.watchers() as u64);
    let drained = drain(
        &shared,
        expected,
        Duration::from_secs(args.drain_timeout_secs),
    )
    .await;
    let elapsed = start.elapsed();
    readers.abort_all();
    let mut recorder = shared.recorder.merged();
    if !drained {
        let missing = expected.saturating_sub(shared.received.load(Ordering::Acquire));
        let message = format!(
            "watch event not received within {}s",
            args.drain_timeout_secs
        );
        recorder.error_n(&message, missing);
    }
    Ok((recorder, elapsed))
}

/// Opens a stream and creates `watchers` watchers on `key`, waiting until
/// the server confirms them all.
async fn open_stream(channel: Channel, key: &[u8], watchers: usize) -> anyhow::Result<WatchStream> {
    let (requests, rx) = mpsc::channel(watchers);
    for _ in 0..watchers {
        let create = WatchCreateRequest {
            key: key.to_vec(),
            ..Default::default()
        };
        let request = WatchRequest {
            request_union: Some(RequestUnion::CreateRequest(create)),
        };
        // The channel holds exactly `watchers` requests and nothing reads it
        // yet, so this never waits.
        requests
            .send(request)
            .await
            .context("watch request channel closed")?;
    }
    let mut client = WatchClient::new(channel);
    let mut responses = client.watch(ReceiverStream::new(rx)).await?.into_inner();
    let mut created = 0;
    while created < watchers {
        let Some(response) = responses.message().await? else {
            bail!("the server ended the watch stream after {created} of {watchers} creations");
        };
        if response.canceled {
            bail!("watch creation refused: {}", response.cancel_reason);
        }
        if response.created {
            created += 1;
        }
    }
    Ok(WatchStream {
        _requests: requests,
        responses,
    })
}

/// Puts the key `--put-total` times; returns how many puts succeeded.
async fn put_all(args: &WatchArgs, key: &[u8], channel: Channel, shared: &Shared) -> u64 {
    let mut kv = KvClient::new(channel);
    let pacer = Pacer::new(args.put_rate);
    let mut acked = 0;
    for (seq, sent) in shared.sent_nanos.iter().enumerate() {
        pacer.wait().await;
        let mut value = (seq as u64).to_be_bytes().to_vec();
        value.resize(args.val_size, 0);
        let put = PutRequest {
            key: key.to_vec(),
            value,
            ..Default::default()
        };
        sent.store(nanos_since(shared.epoch), Ordering::Release);
        match kv.put(put).await {
            Ok(_) => acked += 1,
            Err(status) => {
                let message = format!("put: {}", error_message(&status));
                shared.recorder.with(0, |r| r.error(&message));
            }
        }
    }
    acked
}

/// Reads one stream's events until it ends or is aborted, recording each
/// event's latency from its put.
async fn read_events(mut stream: WatchStream, task: usize, shared: &Shared) {
    loop {
        let response = match stream.responses.message().await {
            Ok(Some(r)) => r,
            Ok(None) => return,
            Err(status) => {
                shared
                    .recorder
                    .with(task, |r| r.error(&error_message(&status)));
                return;
            }
        };
        let now = nanos_since(shared.epoch);
        for event in &response.events {
            let latency = event
                .kv
                .as_ref()
                .and_then(|kv| put_number(&kv.value))
                .and_then(|seq| {
                    let sent = shared
                        .sent_nanos
                        .get(usize::try_from(seq).ok()?)?
                        .load(Ordering::Acquire);
                    (sent != UNSET).then(|| Duration::from_nanos(now.saturating_sub(sent)))
                });
            match latency {
                Some(l) => shared.recorder.with(task, |r| r.success(l)),
                None => shared
                    .recorder
                    .with(task, |r| r.error("event for an unknown put")),
            }
            shared.received.fetch_add(1, Ordering::AcqRel);
        }
    }
}

/// Waits until `expected` events arrived or `timeout` passed; true if all did.
async fn drain(shared: &Shared, expected: u64, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while shared.received.load(Ordering::Acquire) < expected {
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(DRAIN_POLL).await;
    }
    true
}

/// The put number at the front of a value.
fn put_number(value: &[u8]) -> Option<u64> {
    let bytes: [u8; 8] = value.get(..8)?.try_into().ok()?;
    Some(u64::from_be_bytes(bytes))
}

fn nanos_since(epoch: Instant) -> u64 {
    u64::try_from(epoch.elapsed().as_nanos()).unwrap_or(UNSET - 1)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn put_numbers_round_trip_through_values() {
        let mut value = 12345u64.to_be_bytes().to_vec();
        value.resize(32, 0);
        assert_eq!(put_number(&value), Some(12345));
        assert_eq!(put_number(&[1, 2, 3]), None);
    }
}
