//! A logical, point-in-time export of the whole store and its restore, for raft snapshots
//! and backups.
//!
//! Format: [`MAGIC`], then one record per stored pair, `tag: u8` (index into
//! `COLUMN_FAMILIES`), `key_len: u32 LE`, `value_len: u32 LE`, key, value; then [`END_TAG`]
//! and the CRC32C (`u32 LE`) of every byte before it. The pairs come from one RocksDB
//! snapshot, so the consistent index and the data always agree.

use std::io::Read;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use rocksdb::IteratorMode;
use rocksdb::WriteBatch;

use crate::error::Error;
use crate::error::Result;
use crate::layout::CF_META;
use crate::layout::COLUMN_FAMILIES;
use crate::layout::META_CONSISTENT_INDEX;
use crate::layout::meta_value;
use crate::options::StoreOptions;
use crate::store::Shared;
use crate::store::Store;
use crate::store::open_db;

/// First bytes of a snapshot stream.
pub const MAGIC: &[u8; 16] = b"keel-mvcc-snap1\n";
/// The tag that ends the records.
const END_TAG: u8 = 0xff;
/// Bytes buffered in one restore batch.
const RESTORE_BATCH_BYTES: usize = 4 << 20;
/// Upper bound of one key or value in a snapshot (RocksDB's own value limit is 3 GiB; etcd's
/// requests are far smaller).
const MAX_FIELD_BYTES: u32 = 1 << 30;

/// A writer that checksums what passes through.
struct Crc<W> {
    inner: W,
    crc: u32,
    bytes: u64,
}

impl<W: Write> Crc<W> {
    fn put(&mut self, data: &[u8]) -> Result<()> {
        self.crc = crc32c::crc32c_append(self.crc, data);
        self.bytes += data.len() as u64;
        Ok(self.inner.write_all(data)?)
    }
}

impl Store {
    /// Streams a snapshot of the whole store into `out`; returns the bytes written.
    /// Reads and writes continue meanwhile (the export reads a RocksDB snapshot).
    pub fn write_snapshot(&self, out: &mut dyn Write) -> Result<u64> {
        let snapshot = self.shared.db.snapshot();
        write_records(&self.shared, &snapshot, out)
    }

    /// A snapshot taken now, streamed by a background thread through a pipe (for raft
    /// snapshots sent to followers). The stream ends early if the export fails, which the
    /// receiver's [`Store::restore`] detects by the checksum. The store's files stay open
    /// until the stream is read to the end or dropped.
    pub fn snapshot_stream(&self) -> Result<SnapshotReader> {
        let (reader, mut writer) = std::io::pipe()?;
        let (taken_tx, taken_rx) = std::sync::mpsc::sync_channel(1);
        let shared = Arc::clone(&self.shared);
        std::thread::Builder::new()
            .name("mvcc-snapshot".into())
            .spawn(move || {
                let snapshot = shared.db.snapshot();
                let applied = applied_index_in(&shared, &snapshot);
                let failed = applied.is_err();
                if taken_tx.send(applied).is_err() || failed {
                    return;
                }
                if let Err(e) = write_records(&shared, &snapshot, &mut writer) {
                    tracing::warn!(error = %e, "mvcc snapshot stream stopped");
                }
            })?;
        let applied_index = taken_rx
            .recv()
            .map_err(|_| Error::Corrupt("snapshot thread ended early".into()))??;
        Ok(SnapshotReader {
            applied_index,
            reader,
        })
    }

    /// Creates a store at `path` (which must not hold one) from a snapshot stream and opens it.
    pub fn restore(path: &Path, input: &mut dyn Read, opts: StoreOptions) -> Result<Store> {
        if path.exists() && path.read_dir()?.next().is_some() {
            return Err(Error::Io(std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                format!("{} is not empty", path.display()),
            )));
        }
        {
            let db = open_db(path)?;
            load_records(&db, input)?;
            db.flush_wal(true)?;
        }
        Store::open(path, opts)
    }
}

/// A snapshot stream from [`Store::snapshot_stream`].
#[derive(Debug)]
pub struct SnapshotReader {
    /// The consistent index stored in the snapshot: the last raft index it contains.
    pub applied_index: u64,
    reader: std::io::PipeReader,
}

impl Read for SnapshotReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.reader.read(buf)
    }
}

type Snapshot<'a> = rocksdb::SnapshotWithThreadMode<'a, rocksdb::DB>;

fn applied_index_in(shared: &Shared, snapshot: &Snapshot<'_>) -> Result<u64> {
    let stored = snapshot.get_pinned_cf(shared.cf(CF_META)?, META_CONSISTENT_INDEX)?;
    let index = stored.map(|b| meta_value(&b)).transpose()?.unwrap_or(0);
    u64::try_from(index).map_err(|_| Error::Corrupt(format!("consistent index {index}")))
}

fn write_records(shared: &Shared, snapshot: &Snapshot<'_>, out: &mut dyn Write) -> Result<u64> {
    let mut w = Crc {
        inner: out,
        crc: 0,
        bytes: 0,
    };
    w.put(MAGIC)?;
    for (tag, name) in (0u8..).zip(COLUMN_FAMILIES) {
        for item in snapshot.iterator_cf(shared.cf(name)?, IteratorMode::Start) {
            let (key, value) = item?;
            w.put(&[tag])?;
            w.put(&field_len(&key)?.to_le_bytes())?;
            w.put(&field_len(&value)?.to_le_bytes())?;
            w.put(&key)?;
            w.put(&value)?;
        }
    }
    w.put(&[END_TAG])?;
    let crc = w.crc;
    w.put(&crc.to_le_bytes())?;
    w.inner.flush()?;
    Ok(w.bytes)
}

fn field_len(bytes: &[u8]) -> Result<u32> {
    u32::try_from(bytes.len())
        .ok()
        .filter(|&n| n <= MAX_FIELD_BYTES)
        .ok_or_else(|| Error::BadSnapshot(format!("field of {} bytes", bytes.len())))
}

/// Reads exactly `buf.len()` bytes, folding them into `crc`.
fn read_exact(input: &mut dyn Read, buf: &mut [u8], crc: &mut u32) -> Result<()> {
    input
        .read_exact(buf)
        .map_err(|e| Error::BadSnapshot(format!("truncated: {e}")))?;
    *crc = crc32c::crc32c_append(*crc, buf);
    Ok(())
}

fn read_u32(input: &mut dyn Read, crc: &mut u32) -> Result<u32> {
    let mut buf = [0u8; 4];
    read_exact(input, &mut buf, crc)?;
    Ok(u32::from_le_bytes(buf))
}

fn load_records(db: &rocksdb::DB, input: &mut dyn Read) -> Result<()> {
    let mut crc = 0u32;
    let mut magic = [0u8; MAGIC.len()];
    read_exact(input, &mut magic, &mut crc)?;
    if &magic != MAGIC {
        return Err(Error::BadSnapshot("not a keel mvcc snapshot".into()));
    }
    let mut batch = WriteBatch::default();
    loop {
        let mut tag = [0u8; 1];
        read_exact(input, &mut tag, &mut crc)?;
        if tag[0] == END_TAG {
            break;
        }
        let name = COLUMN_FAMILIES
            .get(usize::from(tag[0]))
            .ok_or_else(|| Error::BadSnapshot(format!("unknown tag {}", tag[0])))?;
        let (key_len, value_len) = (read_u32(input, &mut crc)?, read_u32(input, &mut crc)?);
        if key_len > MAX_FIELD_BYTES || value_len > MAX_FIELD_BYTES {
            return Err(Error::BadSnapshot(format!(
                "record of {key_len}+{value_len} bytes"
            )));
        }
        let mut key = vec![0u8; key_len as usize];
        let mut value = vec![0u8; value_len as usize];
        read_exact(input, &mut key, &mut crc)?;
        read_exact(input, &mut value, &mut crc)?;
        let cf = db
            .cf_handle(name)
            .ok_or_else(|| Error::Corrupt(format!("missing {name}")))?;
        batch.put_cf(cf, key, value);
        if batch.size_in_bytes() >= RESTORE_BATCH_BYTES {
            db.write(std::mem::take(&mut batch))?;
        }
    }
    let expected = crc;
    let stored = read_u32(input, &mut crc)?;
    if stored != expected {
        return Err(Error::BadSnapshot(format!(
            "crc {stored:#x}, computed {expected:#x}"
        )));
    }
    // Only a verified stream becomes visible data: earlier batches sit in a fresh directory
    // that the caller discards on error.
    db.write(batch)?;
    Ok(())
}
