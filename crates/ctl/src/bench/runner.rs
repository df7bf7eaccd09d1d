//! The closed-loop driver that put, range, txn-put and lease-keepalive share:
//! `--clients` tasks over `--conns` connections take request numbers from
//! one counter until `--total` are issued, each waiting for its response
//! before the next, paced by `--rate`.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering;
use std::time::Duration;

use anyhow::Context;
use tokio::time::Instant;
use tonic::transport::Channel;

use crate::cli::Global;
use crate::conns;
use crate::pacer::Pacer;
use crate::stats::Recorder;
use crate::stats::SharedRecorder;

/// The number of recorder shards the clients share.
const RECORDER_SHARDS: usize = 16;

/// One kind of request.
pub(crate) trait Op: Send + Sync + 'static {
    /// A client's own state: its gRPC client, key chooser, stream ...
    type Client: Send + 'static;

    /// Prepares client `task` on `channel` (not timed).
    fn connect(
        &self,
        task: usize,
        channel: Channel,
    ) -> impl Future<Output = Result<Self::Client, tonic::Status>> + Send;

    /// Issues request number `seq` and waits for its answer (timed).
    fn call(
        &self,
        client: &mut Self::Client,
        seq: u64,
    ) -> impl Future<Output = Result<(), tonic::Status>> + Send;
}

/// The message a failed request is counted under: its gRPC code and message.
pub(crate) fn error_message(status: &tonic::Status) -> String {
    format!("{:?}: {}", status.code(), status.message())
}

/// Runs `op` as the global options say; returns what was recorded and the
/// wall-clock time from the first request to the last answer.
pub(crate) async fn run<O: Op>(op: O, global: &Global) -> anyhow::Result<(Recorder, Duration)> {
    let op = Arc::new(op);
    let channels = conns::open(global).await?;
    let mut clients = Vec::with_capacity(global.clients);
    for task in 0..global.clients {
        let client = op
            .connect(task, conns::for_client(&channels, task))
            .await
            .map_err(|s| anyhow::anyhow!(error_message(&s)))
            .with_context(|| format!("preparing client {task}"))?;
        clients.push(client);
    }
    Ok(drive(op, clients, global.total, global.rate).await)
}

/// Runs prepared `clients` until `total` requests are issued, at most `rate`
/// per second (0 is no limit); returns what was recorded and the time taken.
pub(crate) async fn drive<O: Op>(
    op: Arc<O>,
    clients: Vec<O::Client>,
    total: u64,
    rate: u64,
) -> (Recorder, Duration) {
    let recorder = Arc::new(SharedRecorder::new(RECORDER_SHARDS));
    let issued = Arc::new(AtomicU64::new(0));
    let pacer = Arc::new(Pacer::new(rate));
    let start = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for (task, client) in clients.into_iter().enumerate() {
        let (op, recorder) = (op.clone(), recorder.clone());
        let (issued, pacer) = (issued.clone(), pacer.clone());
        tasks.spawn(async move {
            client_loop(&*op, client, task, total, &issued, &pacer, &recorder).await;
        });
    }
    while let Some(joined) = tasks.join_next().await {
        if let Err(e) = joined {
            // A client task only ends abnormally if it panicked: count it.
            recorder.with(0, |r| r.error(&format!("client task failed: {e}")));
        }
    }
    (recorder.merged(), start.elapsed())
}

async fn client_loop<O: Op>(
    op: &O,
    mut client: O::Client,
    task: usize,
    total: u64,
    issued: &AtomicU64,
    pacer: &Pacer,
    recorder: &SharedRecorder,
) {
    loop {
        let seq = issued.fetch_add(1, Ordering::Relaxed);
        if seq >= total {
            return;
        }
        pacer.wait().await;
        let begin = Instant::now();
        let result = op.call(&mut client, seq).await;
        let latency = begin.elapsed();
        match result {
            Ok(()) => recorder.with(task, |r| r.success(latency)),
            Err(status) => recorder.with(task, |r| r.error(&error_message(&status))),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    /// Succeeds except on every fourth request, and remembers what it saw.
    struct Fake {
        seen: Mutex<Vec<(usize, u64)>>,
    }

    impl Op for Fake {
        type Client = usize;

        async fn connect(&self, task: usize, _channel: Channel) -> Result<usize, tonic::Status> {
            Ok(task)
        }

        async fn call(&self, client: &mut usize, seq: u64) -> Result<(), tonic::Status> {
            self.seen.lock().unwrap().push((*client, seq));
            tokio::task::yield_now().await;
            if seq.is_multiple_of(4) {
                Err(tonic::Status::unavailable("down"))
            } else {
                Ok(())
            }
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn clients_share_exactly_total_requests() {
        let op = Arc::new(Fake {
            seen: Mutex::new(Vec::new()),
        });
        let (rec, _) = drive(op.clone(), (0..7).collect(), 100, 0).await;
        let mut seqs: Vec<u64> = op.seen.lock().unwrap().iter().map(|&(_, s)| s).collect();
        seqs.sort_unstable();
        assert_eq!(seqs, (0..100).collect::<Vec<u64>>());
        let summary = crate::stats::Summary::new(&rec, Duration::from_secs(1));
        assert_eq!((summary.requests, summary.errors), (75, 25));
        assert_eq!(
            summary.error_distribution.get("Unavailable: down"),
            Some(&25)
        );
        let clients: std::collections::BTreeSet<usize> =
            op.seen.lock().unwrap().iter().map(|&(c, _)| c).collect();
        assert!(clients.iter().all(|&c| c < 7));
    }
}
