//! Key ranges as etcdctl builds them from a key and `--prefix`/`--from-key`.

/// The range end that selects every key with `prefix`: the prefix with its
/// last byte below 0xff incremented and the rest cut; `\0` (every key from
/// the prefix on) when all bytes are 0xff.
pub(crate) fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    vec![0]
}

/// How the user selected keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Selection {
    /// One key, or `[key, range_end)` when a range end is given.
    Exact,
    /// Every key starting with the key (`--prefix`).
    Prefix,
    /// Every key from the key on (`--from-key`).
    FromKey,
}

/// The `(key, range_end)` of a request, as etcdctl computes it: an empty key
/// with `--prefix` or `--from-key` means every key (`\0`, `\0`).
pub(crate) fn key_range(
    key: &str,
    range_end: Option<&str>,
    selection: Selection,
) -> (Vec<u8>, Vec<u8>) {
    let key = key.as_bytes().to_vec();
    match selection {
        Selection::Exact => (
            key,
            range_end
                .map(|end| end.as_bytes().to_vec())
                .unwrap_or_default(),
        ),
        Selection::Prefix if key.is_empty() => (vec![0], vec![0]),
        Selection::Prefix => {
            let end = prefix_end(&key);
            (key, end)
        }
        Selection::FromKey if key.is_empty() => (vec![0], vec![0]),
        Selection::FromKey => (key, vec![0]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_end_increments_the_last_byte_below_0xff() {
        assert_eq!(prefix_end(b"foo"), b"fop");
        assert_eq!(prefix_end(b"a\xff"), b"b");
        assert_eq!(prefix_end(b"\xff\xff"), b"\0");
        assert_eq!(prefix_end(b""), b"\0");
    }

    #[test]
    fn key_range_follows_etcdctl() {
        assert_eq!(
            key_range("a", None, Selection::Exact),
            (b"a".to_vec(), vec![])
        );
        assert_eq!(
            key_range("a", Some("c"), Selection::Exact),
            (b"a".to_vec(), b"c".to_vec())
        );
        assert_eq!(
            key_range("ab", None, Selection::Prefix),
            (b"ab".to_vec(), b"ac".to_vec())
        );
        assert_eq!(key_range("", None, Selection::Prefix), (vec![0], vec![0]));
        assert_eq!(
            key_range("k", None, Selection::FromKey),
            (b"k".to_vec(), vec![0])
        );
        assert_eq!(key_range("", None, Selection::FromKey), (vec![0], vec![0]));
    }
}
