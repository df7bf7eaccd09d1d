//! etcd's watch response fragmentation: a response larger than the request
//! size limit is split into several, all but the last marked `fragment`.

use api::etcdserverpb as pb;
use prost::Message;

/// Splits `resp` into responses of at most `max_bytes` each (a single event
/// larger than that still goes alone), as etcd's `sendFragments`.
pub(super) fn split(resp: pb::WatchResponse, max_bytes: usize) -> Vec<pb::WatchResponse> {
    if resp.encoded_len() < max_bytes || resp.events.len() < 2 {
        return vec![resp];
    }
    let mut template = resp;
    let events = std::mem::take(&mut template.events);
    template.fragment = true;
    let mut parts = Vec::new();
    let mut current = template.clone();
    for event in events {
        current.events.push(event);
        if current.events.len() > 1 && current.encoded_len() >= max_bytes {
            // The event that overflowed starts the next part.
            let overflow = current.events.pop();
            parts.push(std::mem::replace(&mut current, template.clone()));
            current.events.extend(overflow);
        }
    }
    current.fragment = false;
    parts.push(current);
    parts
}

#[cfg(test)]
mod tests {
    use super::*;
    use api::mvccpb;

    fn event(value_bytes: usize) -> mvccpb::Event {
        mvccpb::Event {
            r#type: 0,
            kv: Some(mvccpb::KeyValue {
                key: b"k".to_vec(),
                value: vec![b'v'; value_bytes],
                ..Default::default()
            }),
            prev_kv: None,
        }
    }

    #[test]
    fn small_responses_are_not_split() {
        let resp = pb::WatchResponse {
            events: vec![event(10), event(10)],
            ..Default::default()
        };
        let parts = split(resp.clone(), 1024);
        assert_eq!(parts, vec![resp]);
    }

    #[test]
    fn large_responses_split_in_order_with_fragment_flags() {
        let resp = pb::WatchResponse {
            watch_id: 3,
            events: (0..10).map(|_| event(300)).collect(),
            ..Default::default()
        };
        let parts = split(resp.clone(), 1000);
        assert!(parts.len() > 1);
        let (last, rest) = parts.split_last().unwrap();
        assert!(rest.iter().all(|p| p.fragment && p.encoded_len() < 1000));
        assert!(!last.fragment);
        assert!(parts.iter().all(|p| p.watch_id == 3 && !p.events.is_empty()));
        let joined: Vec<_> = parts.into_iter().flat_map(|p| p.events).collect();
        assert_eq!(joined, resp.events);
    }
}
