//! Segment file names: `{seq:016x}-{index:016x}.wal`.

use std::path::Path;

use crate::Error;
use crate::FileSystem;
use crate::Result;

/// The suffix of a segment file.
pub(crate) const SEGMENT_SUFFIX: &str = ".wal";
/// The suffix of a file being written before its rename.
pub(crate) const TMP_SUFFIX: &str = ".tmp";

/// A segment's place in the log, as its file name spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct SegmentName {
    /// Counts segments from 0 without gaps.
    pub(crate) seq: u64,
    /// The raft index of the first entry the segment may hold.
    pub(crate) index: u64,
}

impl SegmentName {
    /// The file name.
    pub(crate) fn file_name(&self) -> String {
        format!("{:016x}-{:016x}{SEGMENT_SUFFIX}", self.seq, self.index)
    }

    /// Parses a file name written by [`SegmentName::file_name`]; anything else is `None`.
    pub(crate) fn parse(name: &str) -> Option<SegmentName> {
        let stem = name.strip_suffix(SEGMENT_SUFFIX)?;
        let (seq, index) = parse_hex_pair(stem)?;
        Some(SegmentName { seq, index })
    }
}

/// Parses `{a:016x}-{b:016x}`, exactly.
pub(crate) fn parse_hex_pair(stem: &str) -> Option<(u64, u64)> {
    let (a, b) = stem.split_once('-')?;
    let hex = |s: &str| {
        let ok = s.len() == 16
            && s.bytes()
                .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c));
        if ok {
            u64::from_str_radix(s, 16).ok()
        } else {
            None
        }
    };
    Some((hex(a)?, hex(b)?))
}

/// The segments in `dir`, in order; fails if their sequence numbers have a gap.
/// (Indexes may go down: a segment cut after a suffix was overwritten is named
/// for the shorter log.)
pub(crate) fn list_segments(fs: &dyn FileSystem, dir: &Path) -> Result<Vec<SegmentName>> {
    let names = fs.list(dir).map_err(|e| Error::io("list", dir, e))?;
    let mut segments: Vec<SegmentName> =
        names.iter().filter_map(|n| SegmentName::parse(n)).collect();
    segments.sort();
    for pair in segments.windows(2) {
        if let [a, b] = pair
            && b.seq != a.seq + 1
        {
            let reason = format!(
                "segment {} does not follow {}",
                b.file_name(),
                a.file_name()
            );
            return Err(Error::corrupt(dir.join(b.file_name()), 0, reason));
        }
    }
    Ok(segments)
}

/// Deletes the `.tmp` files an interrupted cut or snapshot save left in `dir`.
pub(crate) fn remove_temps(fs: &dyn FileSystem, dir: &Path) -> Result<()> {
    let names = fs.list(dir).map_err(|e| Error::io("list", dir, e))?;
    for name in names.iter().filter(|n| n.ends_with(TMP_SUFFIX)) {
        let path = dir.join(name);
        tracing::warn!(file = %path.display(), "removing a file left by an interrupted write");
        fs.remove(&path)
            .map_err(|e| Error::io("remove", &path, e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_reject_others() {
        let name = SegmentName {
            seq: 1,
            index: 0x15,
        };
        assert_eq!(name.file_name(), "0000000000000001-0000000000000015.wal");
        assert_eq!(SegmentName::parse(&name.file_name()), Some(name));
        for bad in [
            "1-15.wal",
            "0000000000000001-0000000000000015.snap",
            "000000000000000G-0000000000000015.wal",
            "0000000000000001-0000000000000015.wal.tmp",
        ] {
            assert_eq!(SegmentName::parse(bad), None, "{bad}");
        }
    }
}
