//! etcd's watch response fragmentation: a response larger than the request
//! size limit is split into several, all but the last marked `fragment`.

use api::etcdserverpb as pb;
use api::mvccpb;
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

/// Groups catch-up events into batches of whole revisions of at most about
/// `max_bytes` each (a single revision larger than that is one batch), so a
/// watcher replaying a long history gets responses any client can decode.
pub(super) fn by_revision(events: Vec<mvccpb::Event>, max_bytes: usize) -> Vec<Vec<mvccpb::Event>> {
    let revision = |e: &mvccpb::Event| e.kv.as_ref().map_or(0, |kv| kv.mod_revision);
    let mut batches = Vec::new();
    let mut batch: Vec<mvccpb::Event> = Vec::new();
    let mut batch_bytes = 0;
    let mut current: Vec<mvccpb::Event> = Vec::new();
    let mut current_bytes = 0;
    for event in events {
        if current
            .first()
            .is_some_and(|first| revision(first) != revision(&event))
        {
            if !batch.is_empty() && batch_bytes + current_bytes > max_bytes {
                batches.push(std::mem::take(&mut batch));
                batch_bytes = 0;
            }
            batch.append(&mut current);
            batch_bytes += current_bytes;
            current_bytes = 0;
        }
        current_bytes += event.encoded_len();
        current.push(event);
    }
    if !batch.is_empty() && batch_bytes + current_bytes > max_bytes {
        batches.push(std::mem::take(&mut batch));
    }
    batch.append(&mut current);
    if !batch.is_empty() {
        batches.push(batch);
    }
    batches
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

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

    fn at(revision: i64, value_bytes: usize) -> mvccpb::Event {
        let mut e = event(value_bytes);
        if let Some(kv) = e.kv.as_mut() {
            kv.mod_revision = revision;
        }
        e
    }

    #[test]
    fn history_batches_keep_revisions_whole_and_bounded() {
        let events = vec![
            at(2, 400),
            at(2, 400),
            at(3, 400),
            at(4, 400),
            at(4, 400),
            at(5, 3000),
        ];
        let batches = by_revision(events.clone(), 1000);
        let revisions: Vec<Vec<i64>> = batches
            .iter()
            .map(|b| {
                b.iter()
                    .map(|e| e.kv.as_ref().unwrap().mod_revision)
                    .collect()
            })
            .collect();
        assert_eq!(revisions, vec![vec![2, 2], vec![3], vec![4, 4], vec![5]]);
        assert_eq!(batches.concat(), events);
        assert!(by_revision(Vec::new(), 1000).is_empty());
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
        assert!(
            parts
                .iter()
                .all(|p| p.watch_id == 3 && !p.events.is_empty())
        );
        let joined: Vec<_> = parts.into_iter().flat_map(|p| p.events).collect();
        assert_eq!(joined, resp.events);
    }
}
