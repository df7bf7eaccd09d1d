//! A million small messages among three members, nothing lost or reordered.

use std::sync::Arc;

use raft_core::MessageType;
use transport_quic::QuicTransport;
use transport_quic::TlsMode;
use transport_quic::Transport;

use crate::support::mesh;
use crate::support::msg;
use crate::support::start_node;
use crate::support::wait_until;

/// Messages in all, over the six directed links.
const TOTAL_MESSAGES: u64 = 1_000_000;
const PER_LINK: u64 = TOTAL_MESSAGES.div_ceil(6);
const SEND_BATCH: u64 = 256;

async fn send_numbered(t: Arc<QuicTransport>, from: u64, to: u64) {
    let mut next = 1;
    while next <= PER_LINK {
        let end = (next + SEND_BATCH).min(PER_LINK + 1);
        let batch = (next..end)
            .map(|i| msg(MessageType::Append, from, to, i))
            .collect();
        t.send_wait(batch).await.unwrap();
        next = end;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_members_exchange_a_million_messages_in_order() {
    let nodes = [
        start_node(7, 1, TlsMode::Auto).await,
        start_node(7, 2, TlsMode::Auto).await,
        start_node(7, 3, TlsMode::Auto).await,
    ];
    mesh(&nodes.iter().collect::<Vec<_>>());
    let started = std::time::Instant::now();
    let mut senders = Vec::new();
    for a in &nodes {
        for b in &nodes {
            if a.id != b.id {
                senders.push(tokio::spawn(send_numbered(a.transport.clone(), a.id, b.id)));
            }
        }
    }
    for s in senders {
        s.await.unwrap();
    }
    for b in &nodes {
        for a in &nodes {
            if a.id != b.id {
                wait_until("all messages", || b.recorder.track(a.id).count >= PER_LINK).await;
            }
        }
    }
    let elapsed = started.elapsed();
    println!(
        "{} messages in {elapsed:?} ({:.0}/s)",
        PER_LINK * 6,
        (PER_LINK * 6) as f64 / elapsed.as_secs_f64()
    );
    for b in &nodes {
        for a in &nodes {
            if a.id == b.id {
                continue;
            }
            let track = b.recorder.track(a.id);
            assert_eq!(track.count, PER_LINK, "{} -> {}: count", a.id, b.id);
            assert_eq!(track.out_of_order, 0, "{} -> {}: reordered", a.id, b.id);
            assert_eq!(track.last_index, PER_LINK);
            let sent = a.transport.stats().peers[&b.id];
            let received = b.transport.stats().peers[&a.id];
            assert_eq!(sent.sent_messages, PER_LINK);
            assert_eq!(sent.dropped_messages, 0);
            assert_eq!(received.received_messages, PER_LINK);
            assert_eq!(
                sent.sent_bytes, received.received_bytes,
                "{} -> {}: bytes",
                a.id, b.id
            );
        }
    }
    for n in &nodes {
        n.transport.shutdown().await;
    }
}
