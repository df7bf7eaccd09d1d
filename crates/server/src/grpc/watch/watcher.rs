//! One watcher of a watch stream: what it watches and how far it has got.

use api::etcdserverpb as pb;

/// The keys a watcher covers, with etcd's range rules: an empty `end` is
/// the single key `start`, `end == "\0"` is every key from `start` on, and
/// otherwise the half-open interval `[start, end)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct KeyRange {
    pub(super) start: Vec<u8>,
    pub(super) end: Vec<u8>,
}

impl KeyRange {
    /// The range of a create request (an empty key is the smallest key, `"\0"`).
    pub(super) fn new(key: Vec<u8>, end: Vec<u8>) -> Self {
        let start = if key.is_empty() { vec![0] } else { key };
        Self { start, end }
    }

    /// True when the range holds no key at all (etcd refuses such a watch).
    pub(super) fn is_empty(&self) -> bool {
        !self.end.is_empty() && !self.is_from_key() && self.start >= self.end
    }

    fn is_from_key(&self) -> bool {
        self.end == [0]
    }

    /// True when `key` is in the range.
    pub(super) fn contains(&self, key: &[u8]) -> bool {
        if self.end.is_empty() {
            key == self.start.as_slice()
        } else if self.is_from_key() {
            key >= self.start.as_slice()
        } else {
            self.start.as_slice() <= key && key < self.end.as_slice()
        }
    }
}

/// A watcher. Invariant: every matching event below `next_revision` has
/// been sent; a synced watcher takes the rest from the live feed, an
/// unsynced one catches up from the store first.
#[derive(Debug)]
pub(super) struct Watcher {
    pub(super) id: i64,
    pub(super) range: KeyRange,
    no_put: bool,
    no_delete: bool,
    /// Events carry the previous version of their key.
    pub(super) prev_kv: bool,
    /// Periodic progress notifications were asked for.
    pub(super) progress_notify: bool,
    /// Responses larger than the request limit are split.
    pub(super) fragment: bool,
    /// The first revision not yet sent.
    pub(super) next_revision: i64,
    /// Takes events from the live feed (else catches up from the store).
    pub(super) synced: bool,
    /// Events were sent since the last progress tick (the next notification is elided).
    pub(super) sent_since_tick: bool,
}

impl Watcher {
    /// A watcher for `req` with id `id`, starting at `start_revision`.
    pub(super) fn new(
        id: i64,
        req: &pb::WatchCreateRequest,
        range: KeyRange,
        start_revision: i64,
        synced: bool,
    ) -> Self {
        use pb::watch_create_request::FilterType;
        let has = |f: FilterType| req.filters.contains(&(f as i32));
        Self {
            id,
            range,
            no_put: has(FilterType::Noput),
            no_delete: has(FilterType::Nodelete),
            prev_kv: req.prev_kv,
            progress_notify: req.progress_notify,
            fragment: req.fragment,
            next_revision: start_revision,
            synced,
            sent_since_tick: false,
        }
    }

    /// True when `event` is for this watcher (in range and not filtered out).
    pub(super) fn wants(&self, event: &mvcc::Event) -> bool {
        let filtered = match event.kind {
            mvcc::EventType::Put => self.no_put,
            mvcc::EventType::Delete => self.no_delete,
        };
        !filtered && self.range.contains(&event.kv.key)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn ranges_follow_etcd_rules() {
        let single = KeyRange::new(b"a".to_vec(), vec![]);
        assert!(single.contains(b"a") && !single.contains(b"ab"));
        let prefix = KeyRange::new(b"a".to_vec(), b"b".to_vec());
        assert!(prefix.contains(b"a") && prefix.contains(b"az") && !prefix.contains(b"b"));
        let from = KeyRange::new(b"m".to_vec(), vec![0]);
        assert!(from.contains(b"m") && from.contains(b"zzz") && !from.contains(b"a"));
        let all = KeyRange::new(vec![], vec![0]);
        assert!(all.contains(b"\x00") && all.contains(b"anything"));
        assert!(KeyRange::new(b"b".to_vec(), b"a".to_vec()).is_empty());
        assert!(!from.is_empty());
    }

    #[test]
    fn filters_drop_their_kind() {
        use pb::watch_create_request::FilterType;
        let req = pb::WatchCreateRequest {
            filters: vec![FilterType::Noput as i32],
            ..Default::default()
        };
        let w = Watcher::new(0, &req, KeyRange::new(b"k".to_vec(), vec![]), 1, true);
        let kv = mvcc::KeyValue {
            key: b"k".to_vec(),
            ..Default::default()
        };
        let put = mvcc::Event {
            kind: mvcc::EventType::Put,
            kv: kv.clone(),
            prev_kv: None,
        };
        let del = mvcc::Event {
            kind: mvcc::EventType::Delete,
            kv,
            prev_kv: None,
        };
        assert!(!w.wants(&put));
        assert!(w.wants(&del));
    }
}
