//! The fault wrapper, over a transport that records what passes through.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::Mutex;
use std::time::Duration;

use bytes::Bytes;
use futures::future::BoxFuture;
use raft_core::Message;
use raft_core::MessageType;
use transport_quic::FaultNet;
use transport_quic::FaultTransport;
use transport_quic::LinkFaults;
use transport_quic::SnapshotSource;
use transport_quic::TlsMode;
use transport_quic::Transport;
use transport_quic::TransportError;
use transport_quic::TransportStats;

use crate::support::Recorder;
use crate::support::mesh;
use crate::support::msg;
use crate::support::seed;
use crate::support::start_node;
use crate::support::wait_until;

/// Records every message handed to it as (from, to, index).
#[derive(Default)]
struct Wire {
    passed: Mutex<Vec<(u64, u64, u64)>>,
    snapshots: Mutex<Vec<u64>>,
}

impl Wire {
    fn take(&self) -> Vec<(u64, u64, u64)> {
        std::mem::take(&mut self.passed.lock().unwrap())
    }
}

impl Transport for Wire {
    fn send(&self, msgs: Vec<Message>) {
        self.passed
            .lock()
            .unwrap()
            .extend(msgs.iter().map(|m| (m.from, m.to, m.index)));
    }
    fn send_wait(&self, msgs: Vec<Message>) -> BoxFuture<'_, transport_quic::Result<()>> {
        self.send(msgs);
        Box::pin(async { Ok(()) })
    }
    fn send_snapshot(&self, msg: Message, _data: SnapshotSource) {
        self.snapshots.lock().unwrap().push(msg.to);
    }
    fn request(&self, _to: u64, body: Bytes) -> BoxFuture<'static, transport_quic::Result<Bytes>> {
        Box::pin(async move { Ok(body) })
    }
    fn add_peer(&self, _id: u64, _addr: SocketAddr) {}
    fn remove_peer(&self, _id: u64) {}
    fn update_peer(&self, _id: u64, _addr: SocketAddr) {}
    fn stats(&self) -> TransportStats {
        TransportStats::default()
    }
}

/// Three members on one fault network, all writing to one wire.
struct Cluster {
    net: Arc<FaultNet>,
    wire: Arc<Wire>,
    members: Vec<Arc<FaultTransport>>,
    recorder: Arc<Recorder>,
}

fn cluster(seed: u64) -> Cluster {
    let net = FaultNet::new(seed);
    let wire = Arc::new(Wire::default());
    let recorder = Arc::new(Recorder::default());
    let members = (1..=3)
        .map(|id| FaultTransport::new(wire.clone(), id, net.clone(), recorder.clone()))
        .collect();
    Cluster {
        net,
        wire,
        members,
        recorder,
    }
}

impl Cluster {
    /// Every member sends one message to every other; returns what passed.
    fn all_to_all(&self, index: u64) -> Vec<(u64, u64, u64)> {
        for (i, t) in self.members.iter().enumerate() {
            let from = i as u64 + 1;
            let msgs = (1..=3)
                .filter(|to| *to != from)
                .map(|to| msg(MessageType::Heartbeat, from, to, index))
                .collect();
            t.send(msgs);
        }
        let mut passed = self.wire.take();
        passed.sort();
        passed
    }
}

const ALL_LINKS: [(u64, u64); 6] = [(1, 2), (1, 3), (2, 1), (2, 3), (3, 1), (3, 2)];

fn links(passed: &[(u64, u64, u64)]) -> Vec<(u64, u64)> {
    passed.iter().map(|(f, t, _)| (*f, *t)).collect()
}

#[tokio::test]
async fn cuts_isolation_and_heal() {
    let c = cluster(seed());
    assert_eq!(links(&c.all_to_all(1)), ALL_LINKS);

    c.net.cut(1, 2);
    assert_eq!(links(&c.all_to_all(2)), [(1, 3), (2, 3), (3, 1), (3, 2)]);
    c.net.heal_pair(1, 2);
    assert_eq!(links(&c.all_to_all(3)), ALL_LINKS);

    c.net.cut_one_way(1, 2);
    assert_eq!(
        links(&c.all_to_all(4)),
        [(1, 3), (2, 1), (2, 3), (3, 1), (3, 2)]
    );
    c.net.heal();

    c.net.isolate(3);
    assert_eq!(links(&c.all_to_all(5)), [(1, 2), (2, 1)]);
    c.net.rejoin(3);
    assert_eq!(links(&c.all_to_all(6)), ALL_LINKS);

    c.net.isolate(2);
    c.net.cut(1, 3);
    assert!(c.all_to_all(7).is_empty());
    c.net.heal();
    assert_eq!(links(&c.all_to_all(8)), ALL_LINKS);
}

#[tokio::test]
async fn cut_links_fail_snapshots_and_requests() {
    let c = cluster(seed());
    c.net.cut_one_way(2, 1);
    let one = &c.members[0];
    one.send_snapshot(
        msg(MessageType::Snapshot, 1, 3, 0),
        SnapshotSource::Bytes(Bytes::new()),
    );
    // A snapshot needs only the forward link: 1 -> 2 still carries it.
    one.send_snapshot(
        msg(MessageType::Snapshot, 1, 2, 0),
        SnapshotSource::Bytes(Bytes::new()),
    );
    assert_eq!(*c.wire.snapshots.lock().unwrap(), vec![3, 2]);
    c.net.cut(1, 2);
    one.send_snapshot(
        msg(MessageType::Snapshot, 1, 2, 0),
        SnapshotSource::Bytes(Bytes::new()),
    );
    assert_eq!(*c.wire.snapshots.lock().unwrap(), vec![3, 2]);
    assert_eq!(
        *c.recorder.snapshot_reports.lock().unwrap(),
        vec![(2, true)]
    );
    assert!(c.recorder.saw_unreachable(2));
    // The answer could not come back over 2 -> 1.
    c.net.heal();
    c.net.cut_one_way(2, 1);
    let cut = one.request(2, Bytes::from_static(b"x")).await;
    assert!(matches!(
        cut,
        Err(TransportError::Unreachable { peer: 2, .. })
    ));
    assert_eq!(
        one.request(3, Bytes::from_static(b"x"))
            .await
            .unwrap()
            .as_ref(),
        b"x"
    );
    c.net.heal();
    assert_eq!(
        one.request(2, Bytes::from_static(b"y"))
            .await
            .unwrap()
            .as_ref(),
        b"y"
    );
}

/// Sends 1..=n from 1 to 2 over a faulty link and returns the indexes that passed.
fn run_lossy(seed: u64, faults: LinkFaults, n: u64) -> Vec<u64> {
    let c = cluster(seed);
    c.net.set_link(1, 2, faults);
    for i in 1..=n {
        c.members[0].send(vec![
            msg(MessageType::Append, 1, 2, i),
            msg(MessageType::Append, 1, 3, i),
        ]);
    }
    let passed = c.wire.take();
    let to_three = passed.iter().filter(|(_, to, _)| *to == 3).count() as u64;
    assert_eq!(to_three, n, "a link without faults lost messages");
    passed
        .iter()
        .filter(|(_, to, _)| *to == 2)
        .map(|(_, _, i)| *i)
        .collect()
}

#[tokio::test]
async fn random_drops_and_duplicates_follow_the_seed() {
    let seed = seed();
    let faults = LinkFaults {
        drop_ratio: 0.3,
        duplicate_ratio: 0.2,
        delay: Duration::ZERO,
    };
    let first = run_lossy(seed, faults, 2_000);
    assert_eq!(
        first,
        run_lossy(seed, faults, 2_000),
        "same seed, different faults"
    );
    let distinct: std::collections::BTreeSet<u64> = first.iter().copied().collect();
    let dropped = 2_000 - distinct.len();
    let duplicated = first.len() - distinct.len();
    println!("dropped {dropped}, duplicated {duplicated} of 2000");
    // 30% drop and 20% duplication of 2000: far from the bounds at any seed.
    assert!((400..=800).contains(&dropped), "dropped {dropped}");
    assert!((150..=500).contains(&duplicated), "duplicated {duplicated}");

    let all = run_lossy(
        seed,
        LinkFaults {
            drop_ratio: 1.0,
            ..faults
        },
        100,
    );
    assert!(all.is_empty());
    let twice = run_lossy(
        seed,
        LinkFaults {
            drop_ratio: 0.0,
            duplicate_ratio: 1.0,
            delay: Duration::ZERO,
        },
        100,
    );
    assert_eq!(twice.len(), 200);
}

#[tokio::test]
async fn faults_on_every_link_spare_links_with_their_own_and_heal() {
    let c = cluster(seed());
    c.net.set_every_link(LinkFaults {
        drop_ratio: 1.0,
        ..LinkFaults::default()
    });
    c.net.set_link(1, 2, LinkFaults::default());
    c.net.set_link(3, 1, LinkFaults::default());
    assert_eq!(links(&c.all_to_all(1)), [(1, 2), (3, 1)]);
    assert_eq!(c.net.every_link().drop_ratio, 1.0);
    c.net.heal();
    assert_eq!(c.net.every_link(), LinkFaults::default());
    assert_eq!(links(&c.all_to_all(2)), ALL_LINKS);
}

#[tokio::test(start_paused = true)]
async fn delayed_messages_arrive_after_the_delay() {
    let c = cluster(seed());
    c.net.set_link(
        1,
        2,
        LinkFaults {
            delay: Duration::from_secs(10),
            ..LinkFaults::default()
        },
    );
    c.members[0].send(vec![
        msg(MessageType::Append, 1, 2, 1),
        msg(MessageType::Append, 1, 3, 1),
    ]);
    assert_eq!(c.wire.take(), vec![(1, 3, 1)]);
    tokio::time::sleep(Duration::from_secs(9)).await;
    assert!(c.wire.take().is_empty(), "delivered before the delay");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(c.wire.take(), vec![(1, 2, 1)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_quic_a_cut_pair_hears_nothing_until_healed() {
    let net = FaultNet::new(seed());
    let nodes = [
        start_node(7, 1, TlsMode::Auto).await,
        start_node(7, 2, TlsMode::Auto).await,
        start_node(7, 3, TlsMode::Auto).await,
    ];
    mesh(&nodes.iter().collect::<Vec<_>>());
    let wrapped: Vec<Arc<FaultTransport>> = nodes
        .iter()
        .map(|n| FaultTransport::new(n.transport.clone(), n.id, net.clone(), n.recorder.clone()))
        .collect();
    let [one, two, three] = &nodes;

    net.cut(1, 2);
    wrapped[0].send(vec![
        msg(MessageType::Heartbeat, 1, 2, 1),
        msg(MessageType::Heartbeat, 1, 3, 1),
    ]);
    wrapped[1].send(vec![msg(MessageType::Heartbeat, 2, 1, 1)]);
    wait_until("1 -> 3", || three.recorder.kept_from(1).len() == 1).await;
    assert!(
        two.recorder.kept_from(1).is_empty(),
        "a message crossed the cut 1 -> 2"
    );
    assert!(
        one.recorder.kept_from(2).is_empty(),
        "a message crossed the cut 2 -> 1"
    );

    net.heal();
    wrapped[0].send(vec![msg(MessageType::Heartbeat, 1, 2, 2)]);
    wrapped[1].send(vec![msg(MessageType::Heartbeat, 2, 1, 2)]);
    wait_until("healed 1 -> 2", || two.recorder.kept_from(1).len() == 1).await;
    wait_until("healed 2 -> 1", || one.recorder.kept_from(2).len() == 1).await;
    assert_eq!(two.recorder.kept_from(1)[0].index, 2);
    assert_eq!(one.recorder.kept_from(2)[0].index, 2);
    for n in &nodes {
        n.transport.shutdown().await;
    }
}
