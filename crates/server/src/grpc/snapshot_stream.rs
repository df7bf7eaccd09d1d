//! Maintenance.Snapshot's stream, in the shape etcd's clients verify: the
//! snapshot file of [`crate::restore`] (header, store stream, zeros up to a
//! multiple of 512 bytes) in 32 KiB chunks, each with `remaining_bytes` of
//! that data still to come after it (as etcd counts), then one last message
//! whose blob is the sha256 of everything sent before.
//!
//! The store is exported from one RocksDB snapshot (reads and writes go on
//! meanwhile) into an anonymous temporary file first, so that the length is
//! known before the first chunk; the file is gone when the stream ends.

use std::io::BufReader;
use std::io::BufWriter;
use std::io::Cursor;
use std::io::Read;
use std::io::Seek;
use std::io::SeekFrom;
use std::io::Write;
use std::sync::Arc;

use api::etcdserverpb as pb;
use sha2::Digest;
use sha2::Sha256;
use tokio::sync::mpsc;
use tonic::Status;

use crate::error::ServerError;
use crate::restore::FileHeader;

/// Chunk size (etcd sends 32 KiB blobs).
pub(crate) const CHUNK_BYTES: u64 = 32 * 1024;
/// Chunks buffered ahead of a slow client.
const BUFFER_CHUNKS: usize = 4;

/// The messages of one snapshot stream.
pub(crate) type Chunks = mpsc::Receiver<Result<pb::SnapshotResponse, Status>>;

/// Starts exporting `store` on a blocking thread; the chunks come out of the receiver.
pub(crate) fn start(
    store: Arc<mvcc::Store>,
    header: Option<pb::ResponseHeader>,
    cluster_id: u64,
    member_id: u64,
) -> Chunks {
    let (tx, rx) = mpsc::channel(BUFFER_CHUNKS);
    tokio::task::spawn_blocking(move || {
        let source = Source {
            store,
            header,
            cluster_id,
            member_id,
        };
        if let Err(status) = source.stream(&tx) {
            tracing::warn!(error = %status.message(), "snapshot stream failed");
            let _ = tx.blocking_send(Err(status));
        }
    });
    rx
}

struct Source {
    store: Arc<mvcc::Store>,
    header: Option<pb::ResponseHeader>,
    cluster_id: u64,
    member_id: u64,
}

fn io_status(what: &str) -> impl Fn(std::io::Error) -> Status + '_ {
    move |e| Status::internal(format!("snapshot: {what}: {e}"))
}

impl Source {
    /// Exports, then sends; Ok also when the client went away.
    fn stream(
        &self,
        tx: &mpsc::Sender<Result<pb::SnapshotResponse, Status>>,
    ) -> Result<(), Status> {
        let mut spool = tempfile::tempfile().map_err(io_status("temporary file"))?;
        let store_bytes = {
            let mut out = BufWriter::new(&mut spool);
            let written = self
                .store
                .write_snapshot(&mut out)
                .map_err(ServerError::from)?;
            out.flush().map_err(io_status("temporary file"))?;
            written
        };
        spool
            .seek(SeekFrom::Start(0))
            .map_err(io_status("temporary file"))?;
        let file_header = FileHeader {
            cluster_id: self.cluster_id,
            member_id: self.member_id,
            store_bytes,
            created_unix_seconds: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
        };
        let mut data = Cursor::new(file_header.encode())
            .chain(BufReader::new(spool).take(store_bytes))
            .chain(std::io::repeat(0).take(file_header.padding_bytes()));
        let total = file_header.data_bytes();
        let mut sent = 0u64;
        let mut hasher = Sha256::new();
        while sent < total {
            let mut blob = Vec::with_capacity(CHUNK_BYTES as usize);
            let n = (&mut data)
                .take(CHUNK_BYTES)
                .read_to_end(&mut blob)
                .map_err(io_status("read temporary file"))?;
            if n == 0 {
                return Err(Status::internal(format!(
                    "snapshot: the export ended at {sent} of {total} bytes"
                )));
            }
            sent += n as u64;
            hasher.update(&blob);
            if !self.send(tx, total - sent, blob) {
                return Ok(());
            }
        }
        self.send(tx, 0, hasher.finalize().to_vec());
        Ok(())
    }

    /// Sends one message; false when the client went away.
    fn send(
        &self,
        tx: &mpsc::Sender<Result<pb::SnapshotResponse, Status>>,
        remaining_bytes: u64,
        blob: Vec<u8>,
    ) -> bool {
        let chunk = pb::SnapshotResponse {
            header: self.header,
            remaining_bytes,
            blob,
        };
        tx.blocking_send(Ok(chunk)).is_ok()
    }
}
