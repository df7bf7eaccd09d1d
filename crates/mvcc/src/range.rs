//! The range pipeline shared by plain reads and reads inside a txn: collect the keys alive
//! at the read revision, then fetch, filter, sort and cut exactly as etcd's `Range` apply.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use crate::key_index::KeyIndex;
use crate::key_range::KeyRange;
use crate::kv::KeyValue;
use crate::messages::RangeRequest;
use crate::messages::RangeResponse;
use crate::messages::SortOrder;
use crate::messages::SortTarget;
use crate::revision::Revision;

/// Pending writes of a txn, newest state per key (`None`: deleted in this txn).
pub(crate) type Overlay = BTreeMap<Vec<u8>, Option<KeyValue>>;

/// Where a key's version is: stored at a revision, or written earlier in the same txn.
#[derive(Clone, Debug)]
pub(crate) enum Located {
    Stored(Revision),
    Pending(KeyValue),
}

/// The keys a range matches: all are counted, at most `keep` are kept for fetching.
#[derive(Debug, Default)]
pub(crate) struct Candidates {
    pub(crate) items: Vec<Located>,
    pub(crate) count: i64,
}

/// Collects the keys of `range` alive at `rev`, merged with `overlay` (which wins per key).
pub(crate) fn collect(
    index: &KeyIndex,
    overlay: &Overlay,
    range: &KeyRange,
    rev: i64,
    keep: Option<usize>,
) -> Candidates {
    let mut out = Candidates::default();
    let mut push = |item: Located| {
        if keep.is_none_or(|n| out.items.len() < n) {
            out.items.push(item);
        }
        out.count += 1;
    };
    let mut base = index.range(range, rev).peekable();
    let mut pending = range
        .bounds()
        .into_iter()
        .flat_map(|b| overlay.range::<[u8], _>(b))
        .peekable();
    loop {
        let order = match (base.peek(), pending.peek()) {
            (None, None) => break,
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (Some((bk, _)), Some((pk, _))) => (*bk).cmp(pk.as_slice()),
        };
        // On equal keys the pending write wins: the stored one is skipped.
        if order != Ordering::Greater
            && let Some((_, rev)) = base.next()
            && order == Ordering::Less
        {
            push(Located::Stored(rev));
        }
        if order != Ordering::Less
            && let Some((_, Some(kv))) = pending.next()
        {
            push(Located::Pending(kv.clone()));
        }
    }
    out
}

/// How many candidates etcd fetches: all when sorting or filtering (they cut afterwards),
/// `limit + 1` otherwise to learn `more`, none for `count_only`.
pub(crate) fn fetch_limit(req: &RangeRequest) -> Option<usize> {
    if req.count_only {
        return Some(0);
    }
    let filtered = req.sort_order != SortOrder::None
        || req.min_mod_revision != 0
        || req.max_mod_revision != 0
        || req.min_create_revision != 0
        || req.max_create_revision != 0;
    if filtered || req.limit <= 0 {
        return None;
    }
    Some(
        usize::try_from(req.limit)
            .unwrap_or(usize::MAX)
            .saturating_add(1),
    )
}

/// Filters, sorts and cuts fetched kvs into etcd's response.
pub(crate) fn finish(
    req: &RangeRequest,
    mut kvs: Vec<KeyValue>,
    count: i64,
    header_revision: i64,
) -> RangeResponse {
    if req.count_only {
        return RangeResponse {
            revision: header_revision,
            kvs: Vec::new(),
            more: false,
            count,
        };
    }
    kvs.retain(|kv| {
        (req.max_mod_revision == 0 || kv.mod_revision <= req.max_mod_revision)
            && (req.min_mod_revision == 0 || kv.mod_revision >= req.min_mod_revision)
            && (req.max_create_revision == 0 || kv.create_revision <= req.max_create_revision)
            && (req.min_create_revision == 0 || kv.create_revision >= req.min_create_revision)
    });
    sort(req, &mut kvs);
    let mut more = false;
    if let Ok(limit) = usize::try_from(req.limit)
        && limit > 0
        && kvs.len() > limit
    {
        kvs.truncate(limit);
        more = true;
    }
    if req.keys_only {
        kvs.iter_mut().for_each(|kv| kv.value.clear());
    }
    RangeResponse {
        revision: header_revision,
        kvs,
        more,
        count,
    }
}

/// etcd's sort rule: a non-key target without order sorts ascending; key ascending is the
/// natural order and is left alone.
fn sort(req: &RangeRequest, kvs: &mut [KeyValue]) {
    let order = match (req.sort_target, req.sort_order) {
        (SortTarget::Key, SortOrder::Ascend) => SortOrder::None,
        (SortTarget::Key, order) => order,
        (_, SortOrder::None) => SortOrder::Ascend,
        (_, order) => order,
    };
    let cmp = |a: &KeyValue, b: &KeyValue| match req.sort_target {
        SortTarget::Key => a.key.cmp(&b.key),
        SortTarget::Version => a.version.cmp(&b.version),
        SortTarget::Create => a.create_revision.cmp(&b.create_revision),
        SortTarget::Mod => a.mod_revision.cmp(&b.mod_revision),
        SortTarget::Value => a.value.cmp(&b.value),
    };
    match order {
        SortOrder::None => {}
        SortOrder::Ascend => kvs.sort_by(cmp),
        SortOrder::Descend => kvs.sort_by(|a, b| cmp(b, a)),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn kv(key: &[u8], rev: i64) -> KeyValue {
        KeyValue {
            key: key.to_vec(),
            create_revision: rev,
            mod_revision: rev,
            version: 1,
            ..KeyValue::default()
        }
    }

    #[test]
    fn pending_writes_override_the_index_per_key() {
        let mut index = KeyIndex::default();
        for (i, k) in [b"a", b"b", b"c"].iter().enumerate() {
            index.put(
                Revision {
                    main: 2 + i as i64,
                    sub: 0,
                },
                &kv(*k, 2 + i as i64),
            );
        }
        let mut overlay = Overlay::new();
        overlay.insert(b"b".to_vec(), None);
        overlay.insert(b"bb".to_vec(), Some(kv(b"bb", 5)));
        overlay.insert(b"c".to_vec(), Some(kv(b"c", 5)));
        let all = KeyRange::new(b"a", b"\0");
        let found = collect(&index, &overlay, &all, 4, Some(2));
        assert_eq!(found.count, 3, "a, bb and c are live; b is deleted");
        assert!(matches!(&found.items[0], Located::Stored(r) if r.main == 2));
        assert!(matches!(&found.items[1], Located::Pending(p) if p.key == b"bb"));
        assert_eq!(found.items.len(), 2, "only `keep` items are kept");
    }

    #[test]
    fn limit_and_filters_follow_etcds_fetch_rule() {
        let req = RangeRequest {
            limit: 2,
            ..RangeRequest::default()
        };
        assert_eq!(fetch_limit(&req), Some(3));
        let sorted = RangeRequest {
            limit: 2,
            sort_order: SortOrder::Descend,
            ..RangeRequest::default()
        };
        assert_eq!(fetch_limit(&sorted), None);
        let resp = finish(&req, vec![kv(b"a", 2), kv(b"b", 3), kv(b"c", 4)], 3, 9);
        assert!(resp.more);
        assert_eq!((resp.kvs.len(), resp.count, resp.revision), (2, 3, 9));
    }
}
