//! Store configuration, with etcd's defaults.

/// etcd's default `--quota-backend-bytes` (2 GiB).
pub const DEFAULT_QUOTA_BYTES: u64 = 2 * 1024 * 1024 * 1024;

/// etcd's `MaxLeaseTTL`: grants above it fail with [`crate::Error::LeaseTtlTooLarge`].
pub const MAX_LEASE_TTL_SECONDS: i64 = 9_000_000_000;

/// etcd's default `--max-txn-ops`.
pub const DEFAULT_MAX_TXN_OPS: usize = 128;

/// Keys compacted per step of the background compactor (etcd: 1000 revisions per batch).
pub const DEFAULT_COMPACTION_BATCH_KEYS: usize = 1000;

/// Options of [`crate::Store::open`].
#[derive(Clone, Debug)]
pub struct StoreOptions {
    /// Size on disk above which writes that add data report `no_space` (etcd's
    /// `--quota-backend-bytes`); 0 means the default.
    pub quota_bytes: u64,
    /// Keys the background compactor handles while holding the index lock once.
    pub compaction_batch_keys: usize,
    /// Lease grants with a shorter TTL get this one (etcd's `minLeaseTTL`, derived by the
    /// server from the election timeout); 0 for no minimum.
    pub min_lease_ttl_seconds: i64,
    /// Sync RocksDB's WAL on every apply (the server normally relies on its raft WAL and
    /// calls [`crate::Store::sync_to_disk`] before releasing raft log).
    pub sync_each_apply: bool,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            quota_bytes: DEFAULT_QUOTA_BYTES,
            compaction_batch_keys: DEFAULT_COMPACTION_BATCH_KEYS,
            min_lease_ttl_seconds: 0,
            sync_each_apply: false,
        }
    }
}

impl StoreOptions {
    /// The quota with 0 replaced by the default.
    pub(crate) fn effective_quota_bytes(&self) -> u64 {
        if self.quota_bytes == 0 {
            DEFAULT_QUOTA_BYTES
        } else {
            self.quota_bytes
        }
    }
}
