//! [`Store`]: opening, reads, and the accessors the server polls.

use std::path::Path;
use std::sync::Arc;
use std::sync::Condvar;
use std::sync::Mutex;
use std::sync::MutexGuard;
use std::sync::PoisonError;
use std::sync::RwLock;
use std::sync::RwLockReadGuard;
use std::sync::RwLockWriteGuard;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering;
use std::thread::JoinHandle;

use rocksdb::BlockBasedOptions;
use rocksdb::Cache;
use rocksdb::ColumnFamily;
use rocksdb::ColumnFamilyDescriptor;
use rocksdb::DB;
use rocksdb::DBCompressionType;
use rocksdb::Options;
use rocksdb::WriteBatch;
use rocksdb::WriteOptions;

use crate::compactor;
use crate::compactor::Progress;
use crate::error::Error;
use crate::error::Result;
use crate::key_range::KeyRange;
use crate::layout::CF_REVISIONS;
use crate::layout::COLUMN_FAMILIES;
use crate::lease::Lease;
use crate::messages::RangeRequest;
use crate::messages::RangeResponse;
use crate::options::StoreOptions;
use crate::range;
use crate::range::Overlay;
use crate::reader::Reader;
use crate::rebuild;
use crate::state::State;

/// etcd's multi-version key space on RocksDB. `Send + Sync`: reads take `&self` and run
/// concurrently with the single writer and the background compactor.
#[derive(Debug)]
pub struct Store {
    pub(crate) shared: Arc<Shared>,
    /// Serializes [`Store::apply`] and friends: one writer at a time.
    pub(crate) writer: Mutex<Writer>,
    compactor: Option<JoinHandle<()>>,
}

/// State only the writer touches.
#[derive(Debug, Default)]
pub(crate) struct Writer {
    /// [`Store::size_bytes`] as of the last refresh; asking RocksDB on every apply would
    /// cost more than the apply.
    pub(crate) size_bytes: Option<u64>,
    /// Applies since the last refresh of `size_bytes`.
    pub(crate) applies_since_size: u32,
}

/// What the store and its compactor thread share.
pub(crate) struct Shared {
    pub(crate) db: DB,
    pub(crate) state: RwLock<State>,
    pub(crate) applied_index: AtomicU64,
    pub(crate) progress: Mutex<Progress>,
    pub(crate) progress_changed: Condvar,
    pub(crate) opts: StoreOptions,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("applied_index", &self.applied_index)
            .field("opts", &self.opts)
            .finish_non_exhaustive()
    }
}

impl Shared {
    pub(crate) fn read(&self) -> RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn write(&self) -> RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// Writes `batch` through RocksDB's WAL, unsynced (synced with
    /// [`StoreOptions::sync_each_apply`]): a process crash loses nothing the store
    /// applied, so a restarted member never serves a revision older than it served
    /// before; a power cut may lose unsynced writes, which the server replays from
    /// raft entries after the consistent index.
    pub(crate) fn write_batch(&self, batch: WriteBatch) -> Result<()> {
        let mut opts = WriteOptions::default();
        opts.set_sync(self.opts.sync_each_apply);
        Ok(self.db.write_opt(batch, &opts)?)
    }

    pub(crate) fn progress(&self) -> MutexGuard<'_, Progress> {
        self.progress.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn cf(&self, name: &str) -> Result<&ColumnFamily> {
        self.db
            .cf_handle(name)
            .ok_or_else(|| Error::Corrupt(format!("missing column family {name}")))
    }
}

/// Memtable size per column family (RocksDB's default is 64 MiB). Applied writes are
/// already durable in the raft WAL, so a memtable only buffers them for RocksDB; a
/// smaller one bounds the member's memory at the cost of more, smaller flushes.
const WRITE_BUFFER_BYTES: usize = 8 << 20;

/// RocksDB's block cache, shared by the column families (its default is 32 MiB per
/// table factory). Recent versions are read from memtables; older blocks stay in the
/// OS page cache, which costs a system call per miss but no resident memory.
const BLOCK_CACHE_BYTES: usize = 8 << 20;

/// Bloom filter size for the revision column family (RocksDB's usual 1% false positives).
const BLOOM_BITS_PER_KEY: f64 = 10.0;

/// Opens (creating if needed) the RocksDB database with the store's column families.
pub(crate) fn open_db(path: &Path) -> Result<DB> {
    let mut opts = Options::default();
    opts.create_if_missing(true);
    opts.create_missing_column_families(true);
    // Built without compression libraries; RocksDB must not ask for one.
    opts.set_compression_type(DBCompressionType::None);
    let cache = Cache::new_lru_cache(BLOCK_CACHE_BYTES);
    let cfs = COLUMN_FAMILIES.iter().map(|&name| {
        let mut cf_opts = Options::default();
        cf_opts.set_compression_type(DBCompressionType::None);
        cf_opts.set_write_buffer_size(WRITE_BUFFER_BYTES);
        let mut table = BlockBasedOptions::default();
        table.set_block_cache(&cache);
        if name == CF_REVISIONS {
            // Reads are point lookups of exact revisions: a bloom filter spares each one a
            // probe into every level that cannot hold it.
            table.set_bloom_filter(BLOOM_BITS_PER_KEY, false);
        }
        cf_opts.set_block_based_table_factory(&table);
        ColumnFamilyDescriptor::new(name, cf_opts)
    });
    Ok(DB::open_cf_descriptors(&opts, path, cfs)?)
}

impl Store {
    /// Opens the store at `path`, rebuilding the in-memory index from disk and resuming an
    /// unfinished compaction in the background.
    pub fn open(path: &Path, opts: StoreOptions) -> Result<Store> {
        let db = open_db(path)?;
        let loaded = rebuild::load(&db)?;
        let shared = Arc::new(Shared {
            db,
            state: RwLock::new(loaded.state),
            applied_index: AtomicU64::new(loaded.applied_index),
            progress: Mutex::new(loaded.progress),
            progress_changed: Condvar::new(),
            opts,
        });
        let worker = Arc::clone(&shared);
        let compactor = std::thread::Builder::new()
            .name("mvcc-compactor".into())
            .spawn(move || compactor::run(&worker))?;
        Ok(Store {
            shared,
            writer: Mutex::new(Writer::default()),
            compactor: Some(compactor),
        })
    }

    /// The raft index of the last applied entry (stored with every apply).
    pub fn applied_index(&self) -> u64 {
        self.shared.applied_index.load(Ordering::Acquire)
    }

    /// The store's current revision (1 for an empty store, as in etcd).
    pub fn current_revision(&self) -> i64 {
        self.shared.read().current_revision
    }

    /// The newest compaction's revision (-1 if never compacted, as in etcd).
    pub fn compacted_revision(&self) -> i64 {
        self.shared.read().compacted_revision
    }

    /// Number of keys with history in the index (live or not yet compacted away).
    pub fn indexed_key_count(&self) -> usize {
        self.shared.read().index.len()
    }

    /// A range read, as etcd's `Range` (see [`RangeRequest`]).
    pub fn range(&self, req: &RangeRequest) -> Result<RangeResponse> {
        if req.key.is_empty() {
            return Err(Error::EmptyKey);
        }
        let state = self.shared.read();
        let current = state.current_revision;
        let rev = check_read_revision(&state, req.revision)?;
        let range = KeyRange::new(&req.key, &req.range_end);
        let found = range::collect(
            &state.index,
            &Overlay::new(),
            &range,
            rev,
            range::fetch_limit(req),
        );
        let reader = Reader::Snapshot(&self.shared.db, self.shared.db.snapshot());
        drop(state);
        let kvs = reader.resolve(found.items)?;
        Ok(range::finish(req, kvs, found.count, current))
    }

    /// Every lease, with its keys.
    pub fn leases(&self) -> Vec<Lease> {
        let state = self.shared.read();
        state
            .leases
            .keys()
            .filter_map(|&id| state.lease(id))
            .collect()
    }

    /// One lease, with its keys.
    pub fn lease(&self, id: i64) -> Option<Lease> {
        self.shared.read().lease(id)
    }

    /// Size of the database on disk and in memtables, in bytes (etcd's `dbSize`).
    pub fn size_bytes(&self) -> u64 {
        self.sum_property(rocksdb::properties::TOTAL_SST_FILES_SIZE)
            + self.sum_property(rocksdb::properties::SIZE_ALL_MEM_TABLES)
    }

    /// Estimated size of live data, in bytes (etcd's `dbSizeInUse`).
    pub fn size_in_use_bytes(&self) -> u64 {
        self.sum_property(rocksdb::properties::ESTIMATE_LIVE_DATA_SIZE)
            + self.sum_property(rocksdb::properties::CUR_SIZE_ALL_MEM_TABLES)
    }

    fn sum_property(&self, name: &rocksdb::properties::PropName) -> u64 {
        COLUMN_FAMILIES
            .iter()
            .filter_map(|cf| self.shared.cf(cf).ok())
            .filter_map(|cf| {
                self.shared
                    .db
                    .property_int_value_cf(cf, name)
                    .ok()
                    .flatten()
            })
            .sum()
    }

    /// Makes everything applied so far durable (syncs RocksDB's WAL).
    pub fn sync_to_disk(&self) -> Result<()> {
        Ok(self.shared.db.flush_wal(true)?)
    }

    /// Writes a point-in-time copy of the database to `dir` (which must not exist), openable
    /// with [`Store::open`]; for backups and raft snapshots.
    pub fn checkpoint(&self, dir: &Path) -> Result<()> {
        let checkpoint = rocksdb::checkpoint::Checkpoint::new(&self.shared.db)?;
        Ok(checkpoint.create_checkpoint(dir)?)
    }

    /// Blocks until the background compactor has physically removed the versions compacted
    /// at `revision` (etcd's `physical` compaction).
    pub fn wait_compaction(&self, revision: i64) -> Result<()> {
        let mut progress = self.shared.progress();
        loop {
            if let Some(failure) = &progress.failure {
                return Err(Error::Corrupt(format!("compaction failed: {failure}")));
            }
            // A revision never scheduled has nothing to wait for.
            if progress.finished >= revision.min(progress.scheduled) || progress.stop {
                return Ok(());
            }
            progress = self
                .shared
                .progress_changed
                .wait(progress)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }
}

/// etcd's read revision rule: 0 or less is the current revision; above it is a future
/// revision; below the compacted revision is compacted (the compacted one itself is served).
pub(crate) fn check_read_revision(state: &State, revision: i64) -> Result<i64> {
    if revision > state.current_revision {
        return Err(Error::FutureRevision);
    }
    let rev = if revision <= 0 {
        state.current_revision
    } else {
        revision
    };
    if rev < state.compacted_revision {
        return Err(Error::Compacted);
    }
    Ok(rev)
}

impl Drop for Store {
    fn drop(&mut self) {
        self.shared.progress().stop = true;
        self.shared.progress_changed.notify_all();
        if let Some(handle) = self.compactor.take()
            && handle.join().is_err()
        {
            tracing::error!("mvcc compactor thread panicked");
        }
    }
}
