//! The log's settings.

use std::sync::Arc;

use crate::Error;
use crate::FileSystem;
use crate::Result;
use crate::StdFs;

/// The default size of a segment: 64 MiB, as etcd's.
pub const DEFAULT_SEGMENT_BYTES: u64 = 64 * 1024 * 1024;
/// The smallest segment allowed (tests use small ones to cut often).
pub const MIN_SEGMENT_BYTES: u64 = 256;
/// The default number of segments kept by [`crate::Wal::release_to`], as etcd's `--max-wals`.
pub const DEFAULT_MAX_WALS: usize = 5;

const _: () =
    assert!(DEFAULT_SEGMENT_BYTES.is_multiple_of(8) && MIN_SEGMENT_BYTES.is_multiple_of(8));
const _: () = assert!(MIN_SEGMENT_BYTES <= DEFAULT_SEGMENT_BYTES);

/// How a [`crate::Wal`] lays out and keeps its segments.
#[derive(Debug, Clone)]
pub struct WalOptions {
    /// The preallocated size of a segment; a multiple of 8, at least 256 bytes.
    pub segment_bytes: u64,
    /// How many segments [`crate::Wal::release_to`] keeps at least; at least 1.
    pub max_wals: usize,
    /// All file access; [`StdFs`] unless a test injects faults.
    pub fs: Arc<dyn FileSystem>,
}

impl Default for WalOptions {
    fn default() -> WalOptions {
        WalOptions {
            segment_bytes: DEFAULT_SEGMENT_BYTES,
            max_wals: DEFAULT_MAX_WALS,
            fs: Arc::new(StdFs),
        }
    }
}

impl WalOptions {
    /// Checks every limit.
    pub fn validate(&self) -> Result<()> {
        if !self.segment_bytes.is_multiple_of(8) || self.segment_bytes < MIN_SEGMENT_BYTES {
            return Err(Error::InvalidArgument {
                reason: format!(
                    "segment_bytes {} must be a multiple of 8 and at least {MIN_SEGMENT_BYTES}",
                    self.segment_bytes
                ),
            });
        }
        if self.max_wals == 0 {
            return Err(Error::InvalidArgument {
                reason: "max_wals must be at least 1".into(),
            });
        }
        Ok(())
    }
}
