//! A 256 MiB snapshot streams while heartbeats keep flowing.

use std::time::Duration;
use std::time::Instant;

use bytes::Bytes;
use raft_core::MessageType;
use raft_core::Snapshot;
use raft_core::SnapshotMetadata;
use transport_quic::SnapshotSource;
use transport_quic::TlsMode;
use transport_quic::Transport;

use crate::support::mesh;
use crate::support::msg;
use crate::support::start_node;
use crate::support::wait_until;

const SNAPSHOT_BYTES: usize = 256 * 1024 * 1024;
/// Heartbeats that must arrive while the snapshot is part-way through.
const MIN_INTERLEAVED_HEARTBEATS: usize = 3;

fn snapshot_data() -> Bytes {
    let mut data = vec![0u8; SNAPSHOT_BYTES];
    for (i, word) in data.chunks_exact_mut(8).enumerate() {
        word.copy_from_slice(&(i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15).to_le_bytes());
    }
    Bytes::from(data)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heartbeats_flow_while_a_large_snapshot_streams() {
    let a = start_node(7, 1, TlsMode::Auto).await;
    let b = start_node(7, 2, TlsMode::Auto).await;
    mesh(&[&a, &b]);
    let data = snapshot_data();
    let crc = crc32c::crc32c(&data);
    let mut snap_msg = msg(MessageType::Snapshot, 1, 2, 0);
    snap_msg.snapshot = Some(Snapshot {
        metadata: SnapshotMetadata {
            index: 42,
            term: 3,
            ..Default::default()
        },
        data: Bytes::from_static(b"descriptor"),
    });
    let started = Instant::now();
    a.transport
        .send_snapshot(snap_msg.clone(), SnapshotSource::Bytes(data));

    // Ping-pong heartbeats until the snapshot is acknowledged, noting for each
    // how far the snapshot had come when it arrived.
    let mut interleaved = 0;
    let mut max_delay = Duration::ZERO;
    let mut heartbeats = 0;
    while a.recorder.snapshot_reports.lock().unwrap().is_empty() {
        heartbeats += 1;
        let sent_at = Instant::now();
        a.transport
            .send(vec![msg(MessageType::Heartbeat, 1, 2, heartbeats)]);
        wait_until("heartbeat", || {
            b.recorder
                .kept_from(1)
                .iter()
                .any(|m| m.index == heartbeats)
        })
        .await;
        max_delay = max_delay.max(sent_at.elapsed());
        let progress = b
            .transport
            .stats()
            .peers
            .get(&1)
            .map_or(0, |p| p.snapshot_received_bytes);
        if progress > 0 && progress < SNAPSHOT_BYTES as u64 {
            interleaved += 1;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    println!(
        "snapshot of {SNAPSHOT_BYTES} bytes in {:?}; {heartbeats} heartbeats, {interleaved} while it was part-way, max delay {max_delay:?}",
        started.elapsed()
    );
    assert_eq!(
        *a.recorder.snapshot_reports.lock().unwrap(),
        vec![(2, false)]
    );
    assert!(
        interleaved >= MIN_INTERLEAVED_HEARTBEATS,
        "only {interleaved} heartbeats arrived during the snapshot"
    );

    let snapshots = b.recorder.snapshots.lock().unwrap().clone();
    assert_eq!(snapshots.len(), 1);
    let (got_msg, got) = &snapshots[0];
    assert_eq!(got_msg, &snap_msg);
    assert_eq!(got.size_bytes, SNAPSHOT_BYTES as u64);
    assert_eq!(got.crc32c, crc);
    let on_disk = std::fs::read(&got.path).unwrap();
    assert_eq!(on_disk.len(), SNAPSHOT_BYTES);
    assert_eq!(crc32c::crc32c(&on_disk), crc);
    assert!(got.path.starts_with(b.dir.path()));
    a.transport.shutdown().await;
    b.transport.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshot_from_a_file_and_to_an_unknown_peer() {
    let a = start_node(7, 1, TlsMode::Auto).await;
    let b = start_node(7, 2, TlsMode::Auto).await;
    mesh(&[&a, &b]);
    let path = a.dir.path().join("source.snap");
    std::fs::write(&path, vec![7u8; 3 * 256 * 1024 + 5]).unwrap();
    a.transport.send_snapshot(
        msg(MessageType::Snapshot, 1, 2, 0),
        SnapshotSource::File(path),
    );
    a.transport.send_snapshot(
        msg(MessageType::Snapshot, 1, 9, 0),
        SnapshotSource::Bytes(Bytes::new()),
    );
    wait_until("two reports", || {
        a.recorder.snapshot_reports.lock().unwrap().len() == 2
    })
    .await;
    let mut reports = a.recorder.snapshot_reports.lock().unwrap().clone();
    reports.sort();
    assert_eq!(reports, vec![(2, false), (9, true)]);
    let got = b.recorder.snapshots.lock().unwrap()[0].1.clone();
    assert_eq!(
        std::fs::read(&got.path).unwrap(),
        vec![7u8; 3 * 256 * 1024 + 5]
    );
    a.transport.shutdown().await;
    b.transport.shutdown().await;
}
