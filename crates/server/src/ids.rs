//! Cluster and member ids, derived as etcd derives them, so that two clusters
//! bootstrapped with different tokens or URLs never mix.
//!
//! A member's id is the first 8 bytes (big-endian) of SHA-256 over its sorted
//! peer URLs followed by the cluster token; the cluster id is the first 8 bytes
//! of SHA-256 over the sorted member ids (8 bytes big-endian each). etcd uses
//! SHA-1 in the same shape; the ids differ from etcd's but are as stable.

use sha2::Digest;
use sha2::Sha256;

fn first_u64(digest: &[u8]) -> u64 {
    let mut bytes = [0u8; 8];
    for (slot, byte) in bytes.iter_mut().zip(digest) {
        *slot = *byte;
    }
    // Raft reserves 0 for "nobody"; a digest of zero is remapped.
    u64::from_be_bytes(bytes).max(1)
}

/// The id of a member with these peer URLs in the cluster with this token.
pub fn member_id(peer_urls: &[String], token: &str) -> u64 {
    member_id_salted(peer_urls, token, None)
}

/// Like [`member_id`], with a salt (etcd adds the time for members added at
/// runtime, so that a re-added URL gets a fresh id).
pub fn member_id_salted(peer_urls: &[String], token: &str, salt: Option<u64>) -> u64 {
    let mut urls: Vec<&str> = peer_urls.iter().map(String::as_str).collect();
    urls.sort_unstable();
    let mut hasher = Sha256::new();
    for url in urls {
        hasher.update(url.as_bytes());
    }
    hasher.update(token.as_bytes());
    if let Some(salt) = salt {
        hasher.update(salt.to_be_bytes());
    }
    first_u64(&hasher.finalize())
}

/// The id of the cluster made of these members.
pub fn cluster_id(member_ids: &[u64]) -> u64 {
    let mut ids = member_ids.to_vec();
    ids.sort_unstable();
    let mut hasher = Sha256::new();
    for id in ids {
        hasher.update(id.to_be_bytes());
    }
    first_u64(&hasher.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn urls(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn member_id_ignores_url_order_but_not_token() {
        let a = member_id(&urls(&["http://a:1", "http://b:2"]), "t");
        assert_eq!(a, member_id(&urls(&["http://b:2", "http://a:1"]), "t"));
        assert_ne!(a, member_id(&urls(&["http://a:1", "http://b:2"]), "other"));
        assert_ne!(a, member_id(&urls(&["http://a:1"]), "t"));
        assert_ne!(
            a,
            member_id_salted(&urls(&["http://a:1", "http://b:2"]), "t", Some(7))
        );
        assert_ne!(a, 0);
    }

    #[test]
    fn cluster_id_ignores_member_order() {
        assert_eq!(cluster_id(&[3, 1, 2]), cluster_id(&[1, 2, 3]));
        assert_ne!(cluster_id(&[1, 2, 3]), cluster_id(&[1, 2, 4]));
    }
}
