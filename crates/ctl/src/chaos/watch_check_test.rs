#![allow(clippy::unwrap_used)]

use super::*;
use crate::history::Response;

fn put(key: &str, value: &str, revision: u64) -> Operation {
    Operation {
        client: 0,
        call_ns: revision * 10,
        return_ns: Some(revision * 10 + 1),
        request: Request::Put {
            key: key.into(),
            value: value.into(),
        },
        response: Some(Response::Put { revision }),
    }
}

fn event(key: &str, value: &str, revision: u64) -> WatchEvent {
    WatchEvent {
        key: key.into(),
        revision,
        value: Some(value.into()),
    }
}

fn history() -> Vec<Operation> {
    vec![put("k/a", "1", 2), put("k/b", "2", 3), put("k/a", "3", 4)]
}

fn start(watcher: u32, start_revision: u64) -> WatchRecord {
    WatchRecord::Start {
        watcher,
        start_revision,
    }
}

fn events(watcher: u32, events: Vec<WatchEvent>) -> WatchRecord {
    WatchRecord::Events { watcher, events }
}

#[test]
fn a_complete_ordered_stream_passes() {
    let records = vec![
        start(1, 2),
        events(1, vec![event("k/a", "1", 2)]),
        events(1, vec![event("k/b", "2", 3), event("k/a", "3", 4)]),
        WatchRecord::Progress {
            watcher: 1,
            revision: 4,
        },
    ];
    assert_eq!(check(&records, &history(), "k/"), Vec::new());
}

#[test]
fn a_resumed_watch_continues_without_a_gap() {
    let records = vec![
        start(1, 2),
        events(1, vec![event("k/a", "1", 2)]),
        start(1, 3),
        events(1, vec![event("k/b", "2", 3), event("k/a", "3", 4)]),
    ];
    assert_eq!(check(&records, &history(), "k/"), Vec::new());
}

#[test]
fn a_gap_is_reported() {
    let records = vec![
        start(1, 2),
        events(1, vec![event("k/a", "1", 2)]),
        events(1, vec![event("k/a", "3", 4)]),
    ];
    let anomalies = check(&records, &history(), "k/");
    assert!(
        anomalies
            .iter()
            .any(|a| a.what.contains("no event at revision 3")),
        "{anomalies:?}"
    );
}

#[test]
fn a_duplicate_or_reordered_event_is_reported() {
    let dup = vec![
        start(1, 2),
        events(1, vec![event("k/a", "1", 2)]),
        events(1, vec![event("k/a", "1", 2)]),
    ];
    let anomalies = check(&dup, &history(), "k/");
    assert!(
        anomalies
            .iter()
            .any(|a| !a.early_progress && a.what.contains("duplicated")),
        "{anomalies:?}"
    );
    let reordered = vec![
        start(1, 2),
        events(1, vec![event("k/b", "2", 3), event("k/a", "1", 2)]),
    ];
    assert!(!check(&reordered, &history(), "k/").is_empty());
}

#[test]
fn a_progress_notification_ahead_of_events_is_reported() {
    let records = vec![
        start(1, 2),
        events(1, vec![event("k/a", "1", 2)]),
        WatchRecord::Progress {
            watcher: 1,
            revision: 4,
        },
        events(1, vec![event("k/b", "2", 3)]),
    ];
    let anomalies = check(&records, &history(), "k/");
    assert!(anomalies.iter().any(|a| a.early_progress), "{anomalies:?}");
}

#[test]
fn an_event_the_history_does_not_explain_is_reported() {
    let records = vec![
        start(1, 2),
        events(1, vec![event("k/a", "1", 2), event("k/b", "ghost", 3)]),
    ];
    let anomalies = check(&records, &history(), "k/");
    assert!(
        anomalies
            .iter()
            .any(|a| a.what.contains("agrees with no write")),
        "{anomalies:?}"
    );
}

#[test]
fn watchers_must_agree_on_a_revision() {
    let records = vec![
        start(1, 2),
        events(1, vec![event("k/a", "1", 2)]),
        start(2, 2),
        events(2, vec![event("k/b", "2", 2)]),
    ];
    let anomalies = check(&records, &history(), "k/");
    assert!(
        anomalies.iter().any(|a| a.what.contains("watcher 1 saw")),
        "{anomalies:?}"
    );
}
