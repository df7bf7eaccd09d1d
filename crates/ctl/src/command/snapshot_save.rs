//! `snapshot save <file>`: streams a member's snapshot to disk, checked as
//! etcdctl checks it (length a multiple of 512 plus a 32-byte sha256 of
//! everything before it).

use std::io::IsTerminal;
use std::io::Write;
use std::time::Instant;

use api::etcdserverpb::SnapshotRequest;
use api::etcdserverpb::maintenance_client::MaintenanceClient;
use sha2::Digest;
use sha2::Sha256;

use super::emit;
use crate::connect::Session;
use crate::connect::status_message;
use crate::failure::ExitCode;
use crate::failure::Failure;
use crate::go_fmt::format_duration;
use crate::go_fmt::humanize_bytes;

/// Length of the sha256 the server appends to a snapshot.
const SHA256_BYTES: usize = 32;

/// Checks a snapshot as it streams by: everything but the last 32 bytes is
/// hashed (and handed on to be written); the last 32 must be that hash.
#[derive(Debug, Default)]
pub(crate) struct StreamCheck {
    hasher: Sha256,
    /// The newest bytes, at most [`SHA256_BYTES`] once `push` returns.
    tail: Vec<u8>,
    /// Bytes handed on so far.
    body_bytes: u64,
}

impl StreamCheck {
    /// Takes the next blob; returns the bytes now known to precede the
    /// sha256, to be written.
    pub(crate) fn push(&mut self, blob: &[u8]) -> Vec<u8> {
        self.tail.extend_from_slice(blob);
        let keep_from = self.tail.len().saturating_sub(SHA256_BYTES);
        let body: Vec<u8> = self.tail.drain(..keep_from).collect();
        self.hasher.update(&body);
        self.body_bytes += body.len() as u64;
        body
    }

    /// Checks the length and the sha256; returns the sha256's bytes.
    pub(crate) fn finish(self) -> Result<Vec<u8>, String> {
        let total = self.body_bytes + self.tail.len() as u64;
        if total % 512 != SHA256_BYTES as u64 {
            return Err(format!("sha256 checksum not found [bytes: {total}]"));
        }
        let actual = self.hasher.finalize();
        if actual.as_slice() != self.tail {
            return Err(format!(
                "expected sha256 {:x?}, got {:x?}",
                self.tail,
                actual.as_slice()
            ));
        }
        Ok(self.tail)
    }
}

/// Progress on a terminal's stderr (nothing when stderr is not a terminal).
struct Progress {
    enabled: bool,
    shown: bool,
    last: Instant,
}

impl Progress {
    fn update(&mut self, received_bytes: u64, remaining_bytes: u64) {
        if !self.enabled || self.last.elapsed().as_millis() < 200 {
            return;
        }
        self.last = Instant::now();
        self.shown = true;
        let total = received_bytes + remaining_bytes;
        let percent = received_bytes * 100 / total.max(1);
        eprint!(
            "\rfetching snapshot: {} of {} ({percent}%)   ",
            humanize_bytes(received_bytes),
            humanize_bytes(total)
        );
    }

    fn done(&self) {
        if self.shown {
            eprintln!();
        }
    }
}

/// `snapshot save <file>`: streams the snapshot into `<file>.part` while
/// checking it, syncs it and renames it into place; a partial file is removed.
pub(crate) async fn save(session: &Session, args: &[String]) -> anyhow::Result<()> {
    let [path] = args else {
        return Err(Failure::bad_args("snapshot save expects one argument"));
    };
    let part = format!("{path}.part");
    let started = Instant::now();
    let fetched = fetch(session, &part).await;
    let written = fetched.and_then(|bytes| {
        std::fs::rename(&part, path)
            .map_err(|error| interrupted(format!("could not write {path}: {error}")))?;
        Ok(bytes)
    });
    let bytes = match written {
        Ok(bytes) => bytes,
        Err(error) => {
            let _ = std::fs::remove_file(&part);
            return Err(error);
        }
    };
    eprintln!(
        "fetched snapshot: {} in {}",
        humanize_bytes(bytes),
        format_duration(started.elapsed())
    );
    emit(format!("Snapshot saved at {path}\n"))
}

fn interrupted(message: String) -> anyhow::Error {
    Failure::new(ExitCode::Interrupted, message).into()
}

/// Streams the snapshot into `part`, checked and synced; returns its length.
async fn fetch(session: &Session, part: &str) -> anyhow::Result<u64> {
    let mut client = MaintenanceClient::new(session.channel().await?);
    let mut stream = client
        .snapshot(SnapshotRequest {})
        .await
        .map_err(|status| interrupted(status_message(&status)))?
        .into_inner();
    let io_failed = |error: std::io::Error| interrupted(format!("could not write {part}: {error}"));
    let mut file = std::io::BufWriter::new(std::fs::File::create(part).map_err(io_failed)?);
    let mut check = StreamCheck::default();
    let mut progress = Progress {
        enabled: std::io::stderr().is_terminal(),
        shown: false,
        last: Instant::now(),
    };
    let mut received = 0u64;
    while let Some(chunk) = stream
        .message()
        .await
        .map_err(|status| interrupted(status_message(&status)))?
    {
        received += chunk.blob.len() as u64;
        file.write_all(&check.push(&chunk.blob))
            .map_err(io_failed)?;
        progress.update(received, chunk.remaining_bytes);
    }
    progress.done();
    let sha = check.finish().map_err(interrupted)?;
    file.write_all(&sha).map_err(io_failed)?;
    let file = file.into_inner().map_err(|e| io_failed(e.into_error()))?;
    file.sync_all().map_err(io_failed)?;
    Ok(received)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snapshot_of(body_bytes: usize) -> Vec<u8> {
        let mut data = vec![7u8; body_bytes];
        let digest = Sha256::digest(&data);
        data.extend_from_slice(&digest);
        data
    }

    /// Streams `data` through a check in `chunk`-byte blobs; returns what was
    /// handed on to be written and the outcome.
    fn check(data: &[u8], chunk: usize) -> (Vec<u8>, Result<Vec<u8>, String>) {
        let mut check = StreamCheck::default();
        let mut written = Vec::new();
        for blob in data.chunks(chunk) {
            written.extend(check.push(blob));
        }
        (written, check.finish())
    }

    #[test]
    fn snapshots_are_verified_by_size_and_sha256_as_they_stream() {
        let good = snapshot_of(1024);
        for chunk in [1, 7, 32, 100, 2000] {
            let (written, sha) = check(&good, chunk);
            assert_eq!(written, good[..1024]);
            assert_eq!(sha.unwrap(), good[1024..]);
        }
        assert_eq!(
            check(&snapshot_of(1000), 64).1.unwrap_err(),
            "sha256 checksum not found [bytes: 1032]"
        );
        let mut corrupt = snapshot_of(512);
        corrupt[3] ^= 1;
        assert!(
            check(&corrupt, 64)
                .1
                .unwrap_err()
                .starts_with("expected sha256")
        );
    }
}
