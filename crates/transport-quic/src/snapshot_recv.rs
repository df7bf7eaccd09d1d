//! Receiving a snapshot: stream the chunks into a `.part` file, check length
//! and CRC32C, sync, rename, hand it to the member, acknowledge.

use std::path::Path;
use std::path::PathBuf;

use raft_core::Message;
use tokio::io::AsyncWriteExt;

use crate::error::Result;
use crate::error::TransportError;
use crate::frame;
use crate::frame::Body;
use crate::frame::Frame;
use crate::frame::FrameReader;
use crate::handler::SnapshotData;
use crate::shared::Shared;
use crate::stats::PeerCounters;
use crate::stats::add;

/// Serves one snapshot stream whose hello has been checked.
pub(crate) async fn receive(
    shared: &Shared,
    from: u64,
    reader: &mut FrameReader<quinn::RecvStream>,
    send: &mut quinn::SendStream,
) -> Result<()> {
    let Some(frame) = reader.next().await? else {
        return Err(TransportError::Frame(
            "snapshot stream ended before its header".into(),
        ));
    };
    check_frame(shared, from, &frame)?;
    let Body::SnapshotHeader { msg, total_bytes } = frame.body else {
        return Err(TransportError::Frame("expected a snapshot header".into()));
    };
    let part = part_path(&shared.cfg.snapshot_dir, from, &msg);
    let counters = shared.stats.peer(from);
    let outcome = async {
        let crc = stream_to_file(shared, from, reader, &part, total_bytes, &counters).await?;
        let path = part.with_extension("");
        tokio::fs::rename(&part, &path).await?;
        Ok::<_, TransportError>(SnapshotData {
            path,
            size_bytes: total_bytes,
            crc32c: crc,
        })
    }
    .await;
    let (ack, result) = match outcome {
        Ok(data) => {
            shared.handler.on_snapshot(msg, data);
            (Ok(()), Ok(()))
        }
        Err(e) => {
            // The partial file is useless; a failed removal only leaves litter.
            let _ = tokio::fs::remove_file(&part).await;
            (Err(e.to_string()), Err(e))
        }
    };
    let answer = Frame {
        cluster_id: shared.cfg.cluster_id,
        from: shared.cfg.member_id,
        body: Body::SnapshotAck(ack),
    };
    frame::write(send, &answer, shared.cfg.max_frame_bytes).await?;
    let _ = send.finish();
    result
}

/// `<from>-<term>-<index>.snap.part` in the snapshot directory.
fn part_path(dir: &Path, from: u64, msg: &Message) -> PathBuf {
    let (term, index) = msg
        .snapshot
        .as_ref()
        .map_or((0, 0), |s| (s.metadata.term, s.metadata.index));
    dir.join(format!("{from:016x}-{term:016x}-{index:016x}.snap.part"))
}

fn check_frame(shared: &Shared, from: u64, frame: &Frame) -> Result<()> {
    if frame.from != from {
        return Err(TransportError::Frame(format!(
            "member {from:x} sent a frame as {:x}",
            frame.from
        )));
    }
    shared.check_sender(frame.cluster_id, frame.from)
}

/// Writes the chunks to `part` and returns their CRC32C once it matches the sender's.
async fn stream_to_file(
    shared: &Shared,
    from: u64,
    reader: &mut FrameReader<quinn::RecvStream>,
    part: &Path,
    total_bytes: u64,
    counters: &PeerCounters,
) -> Result<u32> {
    tokio::fs::create_dir_all(&shared.cfg.snapshot_dir).await?;
    let mut file = tokio::fs::File::create(part).await?;
    let mut received = 0u64;
    let mut crc = 0u32;
    loop {
        let Some(frame) = reader.next().await? else {
            return Err(TransportError::Frame(format!(
                "snapshot ended after {received} of {total_bytes} bytes"
            )));
        };
        check_frame(shared, from, &frame)?;
        match frame.body {
            Body::SnapshotChunk(chunk) => {
                received += chunk.len() as u64;
                if received > total_bytes {
                    return Err(TransportError::Frame(format!(
                        "snapshot data exceeds the announced {total_bytes} bytes"
                    )));
                }
                crc = crc32c::crc32c_append(crc, &chunk);
                file.write_all(&chunk).await?;
                add(&counters.snapshot_received_bytes, chunk.len() as u64);
            }
            Body::SnapshotEnd { crc32c } => {
                if received != total_bytes {
                    return Err(TransportError::Frame(format!(
                        "snapshot ended after {received} of {total_bytes} bytes"
                    )));
                }
                if crc32c != crc {
                    return Err(TransportError::Frame(format!(
                        "snapshot checksum {crc:08x}, sender's {crc32c:08x}"
                    )));
                }
                file.sync_all().await?;
                return Ok(crc);
            }
            _ => {
                return Err(TransportError::Frame(
                    "unexpected frame in a snapshot".into(),
                ));
            }
        }
    }
}
