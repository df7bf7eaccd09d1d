//! Messages per second, MB/s and CPU time per message between two endpoints
//! on loopback, over QUIC+TLS and over plain TCP behind the same trait.
//!
//! Also the round trip of one small message (what a one-client put waits for
//! between the leader and a follower, without the fsync).
//!
//! Run: `cargo bench -p transport-quic --bench transport`.
//! Both endpoints live in this process, so CPU time per message counts the
//! sender's and the receiver's work together.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering;
use std::time::Duration;
use std::time::Instant;

use bytes::Bytes;
use criterion::BenchmarkGroup;
use criterion::Criterion;
use criterion::Throughput;
use criterion::criterion_group;
use criterion::criterion_main;
use criterion::measurement::WallTime;
use futures::future::BoxFuture;
use raft_core::Entry;
use raft_core::Message;
use raft_core::MessageType;
use tokio::net::TcpListener;
use tokio::net::TcpStream;
use tokio::sync::Notify;
use tokio::sync::mpsc;
use transport_quic::QuicTransport;
use transport_quic::RaftHandler;
use transport_quic::SnapshotData;
use transport_quic::SnapshotSource;
use transport_quic::Transport;
use transport_quic::TransportConfig;
use transport_quic::TransportError;
use transport_quic::TransportStats;
use transport_quic::frame;
use transport_quic::frame::Body;
use transport_quic::frame::Frame;
use transport_quic::frame::FrameReader;
use transport_quic::frame::StreamKind;

const CLUSTER_ID: u64 = 7;
const MAX_FRAME_BYTES: usize = transport_quic::limits::DEFAULT_MAX_FRAME_BYTES;
const BATCH_TARGET_BYTES: usize = 256 * 1024;
const SEND_CHUNK: usize = 256;

/// Counts what arrives and wakes the sender when a target is reached.
#[derive(Default)]
struct Counter {
    received: AtomicU64,
    target: AtomicU64,
    reached: Notify,
}

impl RaftHandler for Counter {
    fn on_message(&self, _msg: Message) {
        let n = self.received.fetch_add(1, Ordering::Relaxed) + 1;
        if n == self.target.load(Ordering::Relaxed) {
            self.reached.notify_waiters();
        }
    }
    fn on_snapshot(&self, _msg: Message, _data: SnapshotData) {}
    fn on_request(&self, _from: u64, body: Bytes) -> BoxFuture<'static, Result<Bytes, String>> {
        Box::pin(async move { Ok(body) })
    }
    fn is_removed(&self, _member_id: u64) -> bool {
        false
    }
    fn report_unreachable(&self, _member_id: u64) {}
    fn report_snapshot(&self, _member_id: u64, _failed: bool) {}
}

/// Answers every message with one message back to its sender (the round-trip bench).
#[derive(Default)]
struct Echo {
    transport: std::sync::OnceLock<Arc<dyn Transport>>,
}

impl RaftHandler for Echo {
    fn on_message(&self, msg: Message) {
        if let Some(t) = self.transport.get() {
            let mut reply = msg;
            std::mem::swap(&mut reply.from, &mut reply.to);
            reply.msg_type = MessageType::AppendResponse;
            reply.entries.clear();
            t.send(vec![reply]);
        }
    }
    fn on_snapshot(&self, _msg: Message, _data: SnapshotData) {}
    fn on_request(&self, _from: u64, body: Bytes) -> BoxFuture<'static, Result<Bytes, String>> {
        Box::pin(async move { Ok(body) })
    }
    fn is_removed(&self, _member_id: u64) -> bool {
        false
    }
    fn report_unreachable(&self, _member_id: u64) {}
    fn report_snapshot(&self, _member_id: u64, _failed: bool) {}
}

/// The baseline: the same frames over one TCP connection per peer, no TLS.
/// It carries raft messages only; snapshots and requests are refused.
struct TcpTransport {
    member_id: u64,
    handler: Arc<dyn RaftHandler>,
    peers: Mutex<HashMap<u64, mpsc::Sender<Message>>>,
}

impl TcpTransport {
    async fn start(member_id: u64, handler: Arc<dyn RaftHandler>) -> (Arc<Self>, SocketAddr) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let t = Arc::new(Self {
            member_id,
            handler,
            peers: Mutex::new(HashMap::new()),
        });
        let receiver = t.handler.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                stream.set_nodelay(true).unwrap();
                let handler = receiver.clone();
                tokio::spawn(async move {
                    let mut reader =
                        FrameReader::new(tokio::io::BufReader::new(stream), MAX_FRAME_BYTES);
                    while let Ok(Some(frame)) = reader.next().await {
                        if let Body::Messages(msgs) = frame.body {
                            msgs.into_iter().for_each(|m| handler.on_message(m));
                        }
                    }
                });
            }
        });
        (t, addr)
    }
}

async fn tcp_pump(from: u64, to: u64, addr: SocketAddr, mut rx: mpsc::Receiver<Message>) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.set_nodelay(true).unwrap();
    frame::write(
        &mut stream,
        &Frame::hello(CLUSTER_ID, from, to, StreamKind::Messages),
        MAX_FRAME_BYTES,
    )
    .await
    .unwrap();
    let mut batch = Vec::new();
    while rx.recv_many(&mut batch, 1024).await > 0 {
        let mut rest = batch.drain(..).peekable();
        while rest.peek().is_some() {
            let mut group = Vec::new();
            let mut bytes = 0;
            while let Some(m) = rest.next_if(|_| group.is_empty() || bytes < BATCH_TARGET_BYTES) {
                bytes += 64 + m.entries.iter().map(|e| e.data.len()).sum::<usize>();
                group.push(m);
            }
            let f = Frame {
                cluster_id: CLUSTER_ID,
                from,
                body: Body::Messages(group),
            };
            frame::write(&mut stream, &f, MAX_FRAME_BYTES)
                .await
                .unwrap();
        }
    }
}

impl Transport for TcpTransport {
    fn send(&self, msgs: Vec<Message>) {
        let peers = self.peers.lock().unwrap();
        for m in msgs {
            if let Some(q) = peers.get(&m.to) {
                let _ = q.try_send(m);
            }
        }
    }
    fn send_wait(&self, msgs: Vec<Message>) -> BoxFuture<'_, transport_quic::Result<()>> {
        Box::pin(async move {
            for m in msgs {
                let q = self.peers.lock().unwrap().get(&m.to).cloned();
                if let Some(q) = q {
                    q.send(m).await.map_err(|_| TransportError::Shutdown)?;
                }
            }
            Ok(())
        })
    }
    fn send_snapshot(&self, msg: Message, _data: SnapshotSource) {
        self.handler.report_snapshot(msg.to, true);
    }
    fn request(&self, to: u64, _body: Bytes) -> BoxFuture<'static, transport_quic::Result<Bytes>> {
        let reason = "the TCP baseline carries raft messages only".to_owned();
        Box::pin(async move { Err(TransportError::Unreachable { peer: to, reason }) })
    }
    fn add_peer(&self, id: u64, addr: SocketAddr) {
        let (tx, rx) = mpsc::channel(transport_quic::limits::DEFAULT_SEND_QUEUE_LEN);
        tokio::spawn(tcp_pump(self.member_id, id, addr, rx));
        self.peers.lock().unwrap().insert(id, tx);
    }
    fn remove_peer(&self, id: u64) {
        self.peers.lock().unwrap().remove(&id);
    }
    fn update_peer(&self, id: u64, addr: SocketAddr) {
        self.add_peer(id, addr);
    }
    fn stats(&self) -> TransportStats {
        TransportStats::default()
    }
}

/// A sender, the receiver's counter, and what to keep alive.
struct Pair {
    sender: Arc<dyn Transport>,
    counter: Arc<Counter>,
    _keep: Vec<Arc<dyn Transport>>,
    _dir: tempfile::TempDir,
}

/// A sends to B (over `kind`, quic or tcp), whose messages reach the pair's counter.
async fn one_way_pair(kind: &str) -> Pair {
    let counter = Arc::new(Counter::default());
    if kind == "quic" {
        linked_quic(Arc::new(Counter::default()), counter.clone(), counter).await
    } else {
        linked_tcp(Arc::new(Counter::default()), counter.clone(), counter).await
    }
}

/// A (messages to `a_counter`) and B (messages to `b_handler`), each a peer of the other;
/// `counter` is the one the bench waits on.
async fn linked_quic(
    a_counter: Arc<Counter>,
    b_handler: Arc<dyn RaftHandler>,
    counter: Arc<Counter>,
) -> Pair {
    let dir = tempfile::tempdir().unwrap();
    let listen: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let a = QuicTransport::start(
        TransportConfig::new(CLUSTER_ID, 1, listen, dir.path().join("a")),
        a_counter,
    )
    .await
    .unwrap();
    let b = QuicTransport::start(
        TransportConfig::new(CLUSTER_ID, 2, listen, dir.path().join("b")),
        b_handler,
    )
    .await
    .unwrap();
    let (a_addr, b_addr) = (a.local_addr(), b.local_addr());
    link((a, a_addr), (b, b_addr), counter, dir)
}

/// Makes A (member 1) and B (member 2) peers of each other; A is the sender.
fn link(
    (a, a_addr): (Arc<dyn Transport>, SocketAddr),
    (b, b_addr): (Arc<dyn Transport>, SocketAddr),
    counter: Arc<Counter>,
    dir: tempfile::TempDir,
) -> Pair {
    a.add_peer(2, b_addr);
    b.add_peer(1, a_addr);
    Pair {
        sender: a,
        counter,
        _keep: vec![b],
        _dir: dir,
    }
}

async fn linked_tcp(
    a_counter: Arc<Counter>,
    b_handler: Arc<dyn RaftHandler>,
    counter: Arc<Counter>,
) -> Pair {
    let (a, a_addr) = TcpTransport::start(1, a_counter).await;
    let (b, b_addr) = TcpTransport::start(2, b_handler).await;
    link(
        (a, a_addr),
        (b, b_addr),
        counter,
        tempfile::tempdir().unwrap(),
    )
}

/// A pair whose B echoes every message back to A's counter.
async fn echo_pair(kind: &str) -> Pair {
    let counter = Arc::new(Counter::default());
    let echo = Arc::new(Echo::default());
    let pair = if kind == "quic" {
        linked_quic(counter.clone(), echo.clone(), counter).await
    } else {
        linked_tcp(counter.clone(), echo.clone(), counter).await
    };
    let _ = echo.transport.set(pair._keep[0].clone());
    pair
}

/// Sends one message at a time and waits for its echo, `n` times.
async fn ping_pong(pair: &Pair, payload: &Bytes, n: u64) {
    for _ in 0..n {
        transfer(pair, payload, 1).await;
    }
}

fn message(payload: &Bytes) -> Message {
    let entry = Entry {
        term: 1,
        index: 1,
        data: payload.clone(),
        ..Entry::default()
    };
    Message {
        msg_type: MessageType::Append,
        to: 2,
        from: 1,
        term: 1,
        entries: vec![entry],
        ..Message::default()
    }
}

/// Sends `n` messages and waits until all have arrived.
async fn transfer(pair: &Pair, payload: &Bytes, n: u64) {
    let start = pair.counter.received.load(Ordering::Relaxed);
    pair.counter.target.store(start + n, Ordering::Relaxed);
    let notified = pair.counter.reached.notified();
    tokio::pin!(notified);
    notified.as_mut().enable();
    let mut left = n;
    while left > 0 {
        let k = left.min(SEND_CHUNK as u64);
        pair.sender
            .send_wait((0..k).map(|_| message(payload)).collect())
            .await
            .unwrap();
        left -= k;
    }
    if pair.counter.received.load(Ordering::Relaxed) < start + n {
        notified.await;
    }
}

/// This process's CPU time (user + system, all threads), from /proc.
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    // After the name come state (field 3), ..., utime (14) and stime (15), in 100 Hz ticks.
    let field = |n: usize| {
        fields
            .get(n - 3)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    let ticks = field(14) + field(15);
    Duration::from_millis(ticks * 10)
}

/// Wall and CPU time over every iteration criterion ran, for the per-message figures.
#[derive(Default)]
struct Tally {
    cpu: Duration,
    wall: Duration,
    count: u64,
}

impl Tally {
    /// Runs `iters` iterations of `run` and returns their wall time, as `iter_custom` wants.
    fn time(&mut self, iters: u64, run: impl FnOnce()) -> Duration {
        let (cpu0, t0) = (cpu_time(), Instant::now());
        run();
        let elapsed = t0.elapsed();
        self.cpu += cpu_time().saturating_sub(cpu0);
        self.wall += elapsed;
        self.count += iters;
        elapsed
    }

    /// Microseconds of wall and of CPU time per iteration; `None` when the benchmark
    /// was filtered out on the command line.
    fn per_iteration_us(&self) -> Option<(f64, f64)> {
        let n = self.count as f64;
        (self.count > 0).then(|| {
            (
                self.wall.as_secs_f64() * 1e6 / n,
                self.cpu.as_secs_f64() * 1e6 / n,
            )
        })
    }
}

/// The runtime the transports run on: two workers, as the machine has two cores.
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Ten samples after a second of warm-up: each sample is thousands of messages.
fn short_samples(group: &mut BenchmarkGroup<'_, WallTime>, measure: Duration) {
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(measure);
}

fn bench_transport(c: &mut Criterion) {
    let rt = runtime();
    let mut group = c.benchmark_group("transport");
    short_samples(&mut group, Duration::from_secs(4));
    for size in [100usize, 64 * 1024] {
        let payload = Bytes::from(vec![0x5a; size]);
        group.throughput(Throughput::Elements(1));
        for kind in ["quic", "tcp"] {
            let pair = rt.block_on(one_way_pair(kind));
            rt.block_on(transfer(&pair, &payload, 100));
            let mut tally = Tally::default();
            group.bench_function(format!("{kind}/{size}B"), |b| {
                b.iter_custom(|iters| {
                    tally.time(iters, || rt.block_on(transfer(&pair, &payload, iters)))
                })
            });
            if let Some((wall_us, cpu_us)) = tally.per_iteration_us() {
                let per_sec = 1e6 / wall_us;
                println!(
                    "{kind}/{size}B: {per_sec:.0} msg/s, {:.1} MB/s, {cpu_us:.2} us CPU/msg",
                    per_sec * size as f64 / 1e6,
                );
            }
            drop(pair);
        }
    }
    group.finish();
}

fn bench_round_trip(c: &mut Criterion) {
    let rt = runtime();
    let mut group = c.benchmark_group("round_trip");
    short_samples(&mut group, Duration::from_secs(3));
    let payload = Bytes::from(vec![0x5a; 300]);
    for kind in ["quic", "tcp"] {
        let pair = rt.block_on(echo_pair(kind));
        rt.block_on(ping_pong(&pair, &payload, 100));
        let mut tally = Tally::default();
        group.bench_function(format!("{kind}/300B"), |b| {
            b.iter_custom(|iters| {
                tally.time(iters, || rt.block_on(ping_pong(&pair, &payload, iters)))
            })
        });
        if let Some((wall_us, cpu_us)) = tally.per_iteration_us() {
            println!("{kind} round trip: {wall_us:.1} us, {cpu_us:.1} us CPU");
        }
        drop(pair);
    }
    group.finish();
}

criterion_group!(benches, bench_transport, bench_round_trip);
criterion_main!(benches);
