//! etcd's key interval convention: `range_end` empty, `"\0"`, or an exclusive end.

use std::ops::Bound;

/// A range as `BTreeMap::range` bounds.
pub(crate) type Bounds<'a> = (Bound<&'a [u8]>, Bound<&'a [u8]>);

/// The keys a request addresses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct KeyRange {
    pub(crate) start: Vec<u8>,
    pub(crate) end: RangeEnd,
}

/// Where a [`KeyRange`] stops.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum RangeEnd {
    /// Only `start` itself (`range_end` empty).
    Single,
    /// Every key `>= start` (`range_end == "\0"`).
    Unbounded,
    /// Keys `< end`.
    Before(Vec<u8>),
}

impl KeyRange {
    /// Interprets etcd's `(key, range_end)` pair.
    pub(crate) fn new(key: &[u8], range_end: &[u8]) -> KeyRange {
        let end = match range_end {
            [] => RangeEnd::Single,
            [0] => RangeEnd::Unbounded,
            end => RangeEnd::Before(end.to_vec()),
        };
        KeyRange {
            start: key.to_vec(),
            end,
        }
    }

    /// True if `key` lies in the range.
    pub(crate) fn contains(&self, key: &[u8]) -> bool {
        match &self.end {
            RangeEnd::Single => key == self.start.as_slice(),
            RangeEnd::Unbounded => key >= self.start.as_slice(),
            RangeEnd::Before(end) => key >= self.start.as_slice() && key < end.as_slice(),
        }
    }

    /// The range as map bounds, or `None` if it is empty (an end at or before the start);
    /// `BTreeMap::range` panics on inverted bounds, so callers must honour `None`.
    pub(crate) fn bounds(&self) -> Option<Bounds<'_>> {
        let start = Bound::Included(self.start.as_slice());
        match &self.end {
            RangeEnd::Single => Some((start, Bound::Included(self.start.as_slice()))),
            RangeEnd::Unbounded => Some((start, Bound::Unbounded)),
            RangeEnd::Before(end) if end.as_slice() > self.start.as_slice() => {
                Some((start, Bound::Excluded(end.as_slice())))
            }
            RangeEnd::Before(_) => None,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn follows_etcds_range_end_convention() {
        let single = KeyRange::new(b"a", b"");
        assert!(single.contains(b"a") && !single.contains(b"ab"));
        let all_from = KeyRange::new(b"b", b"\0");
        assert!(all_from.contains(b"zzz") && !all_from.contains(b"a"));
        let half_open = KeyRange::new(b"a", b"c");
        assert!(half_open.contains(b"b") && !half_open.contains(b"c"));
        assert!(KeyRange::new(b"c", b"a").bounds().is_none());
        assert!(KeyRange::new(b"c", b"c").bounds().is_none());
    }
}
