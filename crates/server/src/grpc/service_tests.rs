//! The services end to end over real gRPC with the `etcd-client` crate,
//! against the in-process [`MemBackend`] (no raft): the API semantics and
//! the watch guarantees under a deliberately tiny live feed.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use etcd_client::Client;
use etcd_client::Compare;
use etcd_client::CompareOp;
use etcd_client::Error;
use etcd_client::EventType;
use etcd_client::GetOptions;
use etcd_client::PutOptions;
use etcd_client::Txn;
use etcd_client::TxnOp;
use etcd_client::WatchOptions;
use tonic::Code;

use super::ServeOptions;
use super::mem_backend::MemBackend;
use super::mem_backend::serve_in_process;

/// A served backend and a connected client; the server stops on drop.
struct Fixture {
    client: Client,
    url: String,
    _stop: tokio::sync::oneshot::Sender<()>,
}

async fn fixture(feed_capacity: usize) -> Fixture {
    fixture_with(feed_capacity, ServeOptions::default()).await
}

async fn fixture_with(feed_capacity: usize, options: ServeOptions) -> Fixture {
    let backend = MemBackend::new(feed_capacity);
    let (url, stop) = serve_in_process(backend, options).await;
    let client = Client::connect([url.as_str()], None).await.unwrap();
    Fixture {
        client,
        url,
        _stop: stop,
    }
}

fn status_of(err: Error) -> tonic::Status {
    match err {
        Error::GRpcStatus(status) => status,
        other => panic!("expected a gRPC status, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kv_put_get_and_range_options() {
    let mut f = fixture(64).await;
    let c = &mut f.client;
    for (k, v) in [("a/1", "x"), ("a/2", "yy"), ("a/3", "zzz"), ("b", "q")] {
        c.put(k, v, None).await.unwrap();
    }
    let got = c.get("a/2", None).await.unwrap();
    assert_eq!(got.kvs()[0].value(), b"yy");
    assert_eq!(got.header().unwrap().revision(), 5);
    let prefix = c
        .get("a/", Some(GetOptions::new().with_prefix().with_limit(2)))
        .await
        .unwrap();
    assert_eq!(prefix.kvs().len(), 2);
    assert_eq!(prefix.count(), 3);
    assert!(prefix.more());
    let desc = c
        .get(
            "a/",
            Some(GetOptions::new().with_prefix().with_sort(
                etcd_client::SortTarget::Key,
                etcd_client::SortOrder::Descend,
            )),
        )
        .await
        .unwrap();
    let keys: Vec<_> = desc.kvs().iter().map(|kv| kv.key_str().unwrap()).collect();
    assert_eq!(keys, ["a/3", "a/2", "a/1"]);
    let old = c
        .get("a/", Some(GetOptions::new().with_prefix().with_revision(3)))
        .await
        .unwrap();
    assert_eq!(old.kvs().len(), 2, "revision 3 saw two keys");
    let count = c
        .get(
            "",
            Some(GetOptions::new().with_all_keys().with_count_only()),
        )
        .await
        .unwrap();
    assert_eq!((count.count(), count.kvs().len()), (4, 0));
    let keys_only = c
        .get("b", Some(GetOptions::new().with_keys_only()))
        .await
        .unwrap();
    assert!(keys_only.kvs()[0].value().is_empty());
    let prev = c
        .put("b", "new", Some(PutOptions::new().with_prev_key()))
        .await
        .unwrap();
    assert_eq!(prev.prev_key().unwrap().value(), b"q");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kv_errors_have_etcd_codes_and_texts() {
    let mut f = fixture(64).await;
    let c = &mut f.client;
    let empty = status_of(c.put("", "v", None).await.unwrap_err());
    assert_eq!(empty.code(), Code::InvalidArgument);
    assert_eq!(empty.message(), "etcdserver: key is not provided");
    let dup = Txn::new().and_then([TxnOp::put("k", "1", None), TxnOp::put("k", "2", None)]);
    let dup = status_of(c.txn(dup).await.unwrap_err());
    assert_eq!(
        dup.message(),
        "etcdserver: duplicate key given in txn request"
    );
    let future = status_of(
        c.get("k", Some(GetOptions::new().with_revision(100)))
            .await
            .unwrap_err(),
    );
    assert_eq!(future.code(), Code::OutOfRange);
    assert_eq!(
        future.message(),
        "etcdserver: mvcc: required revision is a future revision"
    );
    let big = vec![b'x'; 2 * 1024 * 1024 - 100];
    let large = status_of(c.put("big", big, None).await.unwrap_err());
    assert_eq!(large.message(), "etcdserver: request is too large");
    for i in 0..4 {
        c.put("c", format!("{i}"), None).await.unwrap();
    }
    c.compact(4, None).await.unwrap();
    let compacted = status_of(
        c.get("c", Some(GetOptions::new().with_revision(2)))
            .await
            .unwrap_err(),
    );
    assert_eq!(compacted.code(), Code::OutOfRange);
    assert_eq!(
        compacted.message(),
        "etcdserver: mvcc: required revision has been compacted"
    );
    let again = status_of(c.compact(3, None).await.unwrap_err());
    assert_eq!(
        again.message(),
        "etcdserver: mvcc: required revision has been compacted"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn txn_compare_mod_as_kubernetes_creates_and_updates() {
    let mut f = fixture(64).await;
    let c = &mut f.client;
    let create = |rv: i64, value: &str| {
        Txn::new()
            .when([Compare::mod_revision(
                "/registry/pods/p",
                CompareOp::Equal,
                rv,
            )])
            .and_then([TxnOp::put("/registry/pods/p", value, None)])
            .or_else([TxnOp::get("/registry/pods/p", None)])
    };
    let created = c.txn(create(0, "v1")).await.unwrap();
    assert!(created.succeeded());
    let rv = created.header().unwrap().revision();
    let conflict = c.txn(create(0, "again")).await.unwrap();
    assert!(!conflict.succeeded());
    let Some(etcd_client::TxnOpResponse::Get(current)) = conflict.op_responses().into_iter().next()
    else {
        panic!("failure branch must answer the range");
    };
    assert_eq!(current.kvs()[0].mod_revision(), rv);
    let updated = c.txn(create(rv, "v2")).await.unwrap();
    assert!(updated.succeeded());
    let stale = c.txn(create(rv, "v3")).await.unwrap();
    assert!(!stale.succeeded());
    // A read-only txn is served without a write and takes no revision.
    let before = c.get("/registry/pods/p", None).await.unwrap();
    let read = Txn::new()
        .when([Compare::value("/registry/pods/p", CompareOp::Equal, "v2")])
        .and_then([TxnOp::get("/registry/pods/p", None)])
        .or_else([TxnOp::get("missing", None)]);
    let read = c.txn(read).await.unwrap();
    assert!(read.succeeded());
    let Some(etcd_client::TxnOpResponse::Get(got)) = read.op_responses().into_iter().next() else {
        panic!("success branch must answer the range");
    };
    assert_eq!(got.kvs()[0].value(), b"v2");
    assert_eq!(
        read.header().unwrap().revision(),
        before.header().unwrap().revision()
    );
}

/// Collects watch responses until `n` events have arrived.
async fn events(stream: &mut etcd_client::WatchStream, n: usize) -> Vec<etcd_client::Event> {
    let mut got = Vec::new();
    while got.len() < n {
        let resp = tokio::time::timeout(Duration::from_secs(30), stream.message())
            .await
            .expect("watch stalled")
            .unwrap()
            .expect("watch ended");
        assert!(!resp.canceled(), "watch canceled: {}", resp.cancel_reason());
        got.extend(resp.events().iter().cloned());
    }
    got
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_replays_history_then_live_without_gap_or_duplicate_under_lag() {
    // A feed of 2 revisions: the stream lags and must catch up from the store.
    let mut f = fixture(2).await;
    let c = &mut f.client;
    for i in 0..50 {
        c.put(format!("w/{i}"), "old", None).await.unwrap();
    }
    let mut stream = c
        .watch(
            "w/",
            Some(
                WatchOptions::new()
                    .with_prefix()
                    .with_start_revision(2)
                    .with_prev_key(),
            ),
        )
        .await
        .unwrap();
    let created = stream.message().await.unwrap().unwrap();
    assert!(created.created());
    let lagged_before = crate::http::metrics::global().slow_watchers.get();
    // The client does not read while 300 large writes land: writes must not
    // wait for it, and its stream must fall behind the feed.
    let value = vec![b'v'; 25_000];
    for i in 0..300 {
        c.put(format!("w/{}", i % 50), value.clone(), None)
            .await
            .unwrap();
    }
    let got = events(&mut stream, 350).await;
    assert!(crate::http::metrics::global().slow_watchers.get() > lagged_before);
    let revisions: Vec<i64> = got.iter().map(|e| e.kv().unwrap().mod_revision()).collect();
    let expected: Vec<i64> = (2..352).collect();
    assert_eq!(revisions, expected, "every revision exactly once, in order");
    // Updates carry the previous version.
    let update = &got[60];
    assert_eq!(update.event_type(), EventType::Put);
    assert!(update.prev_kv().is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_watchers_get_prev_kv_only_when_they_ask() {
    let mut f = fixture(64).await;
    let c = &mut f.client;
    let mut stream = c
        .watch("p", Some(WatchOptions::new().with_prev_key()))
        .await
        .unwrap();
    let with_prev = stream.message().await.unwrap().unwrap().watch_id();
    stream.watch("p", None).await.unwrap();
    let without = stream.message().await.unwrap().unwrap().watch_id();
    c.put("p", "1", None).await.unwrap();
    c.put("p", "2", None).await.unwrap();
    c.delete("p", None).await.unwrap();
    let mut got: std::collections::BTreeMap<i64, Vec<Option<Vec<u8>>>> = Default::default();
    while got.values().map(Vec::len).sum::<usize>() < 6 {
        let resp = tokio::time::timeout(Duration::from_secs(30), stream.message())
            .await
            .expect("watch stalled")
            .unwrap()
            .expect("watch ended");
        let prevs = resp
            .events()
            .iter()
            .map(|e| e.prev_kv().map(|p| p.value().to_vec()));
        got.entry(resp.watch_id()).or_default().extend(prevs);
    }
    let expected = vec![None, Some(b"1".to_vec()), Some(b"2".to_vec())];
    assert_eq!(
        got[&with_prev], expected,
        "a creation has none, an update and a delete do"
    );
    assert_eq!(got[&without], vec![None, None, None]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_filters_cancel_and_progress() {
    let mut f = fixture(64).await;
    let c = &mut f.client;
    let mut stream = c
        .watch(
            "f",
            Some(WatchOptions::new().with_filters([etcd_client::WatchFilterType::NoPut])),
        )
        .await
        .unwrap();
    let created = stream.message().await.unwrap().unwrap();
    let id = created.watch_id();
    c.put("f", "1", None).await.unwrap();
    c.delete("f", None).await.unwrap();
    let got = events(&mut stream, 1).await;
    assert_eq!(
        got[0].event_type(),
        EventType::Delete,
        "the put was filtered out"
    );
    stream.request_progress().await.unwrap();
    let progress = stream.message().await.unwrap().unwrap();
    assert_eq!(progress.watch_id(), -1);
    assert!(progress.events().is_empty());
    assert_eq!(progress.header().unwrap().revision(), 3);
    stream.cancel(id).await.unwrap();
    let canceled = stream.message().await.unwrap().unwrap();
    assert!(canceled.canceled());
    assert_eq!(canceled.watch_id(), id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_progress_notify_reports_the_revision_and_requires_leader_streams_work() {
    let options = ServeOptions {
        progress_notify_interval: Duration::from_millis(200),
        ..ServeOptions::default()
    };
    let f = fixture_with(64, options).await;
    let opts = etcd_client::ConnectOptions::new().with_require_leader(true);
    let mut c = Client::connect([f.url.as_str()], Some(opts)).await.unwrap();
    c.put("p", "1", None).await.unwrap();
    let mut stream = c
        .watch("p", Some(WatchOptions::new().with_progress_notify()))
        .await
        .unwrap();
    let created = stream.message().await.unwrap().unwrap();
    let notify = tokio::time::timeout(Duration::from_secs(30), stream.message())
        .await
        .expect("no progress notification")
        .unwrap()
        .unwrap();
    assert_eq!(notify.watch_id(), created.watch_id());
    assert!(notify.events().is_empty());
    assert_eq!(notify.header().unwrap().revision(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_from_a_compacted_revision_is_cancelled_with_the_compact_revision() {
    let mut f = fixture(64).await;
    let c = &mut f.client;
    for i in 0..5 {
        c.put("k", format!("{i}"), None).await.unwrap();
    }
    c.compact(5, None).await.unwrap();
    let mut stream = c
        .watch("k", Some(WatchOptions::new().with_start_revision(2)))
        .await
        .unwrap();
    let created = stream.message().await.unwrap().unwrap();
    assert!(created.created());
    let cancel = stream.message().await.unwrap().unwrap();
    assert!(cancel.canceled());
    assert_eq!(cancel.compact_revision(), 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leases_grant_attach_time_to_live_and_revoke() {
    let mut f = fixture(64).await;
    let c = &mut f.client;
    let lease = c.lease_grant(1, None).await.unwrap();
    assert!(lease.id() > 0);
    assert_eq!(lease.ttl(), 2, "raised to the minimum TTL");
    c.put(
        "leased",
        "v",
        Some(PutOptions::new().with_lease(lease.id())),
    )
    .await
    .unwrap();
    let ttl = c
        .lease_time_to_live(
            lease.id(),
            Some(etcd_client::LeaseTimeToLiveOptions::new().with_keys()),
        )
        .await
        .unwrap();
    assert_eq!(ttl.keys(), [b"leased".to_vec()]);
    let listed = c.leases().await.unwrap();
    assert_eq!(listed.leases().len(), 1);
    c.lease_revoke(lease.id()).await.unwrap();
    assert!(c.get("leased", None).await.unwrap().kvs().is_empty());
    let gone = c.lease_time_to_live(lease.id(), None).await.unwrap();
    assert_eq!(gone.ttl(), -1);
    let missing = status_of(c.lease_revoke(lease.id()).await.unwrap_err());
    assert_eq!(missing.code(), Code::NotFound);
    assert_eq!(missing.message(), "etcdserver: requested lease not found");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_and_member_list() {
    let mut f = fixture(64).await;
    let c = &mut f.client;
    let status = c.status().await.unwrap();
    assert_eq!(status.version(), "3.5.17");
    assert_eq!(status.leader(), super::mem_backend::MEMBER_ID);
    let members = c.member_list().await.unwrap();
    assert_eq!(members.members().len(), 1);
    assert_eq!(members.members()[0].name(), "default");
    assert_eq!(members.members()[0].peer_urls(), ["http://127.0.0.1:2380"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshot_streams_the_store_and_its_sha256() {
    use sha2::Digest;
    let mut f = fixture(64).await;
    let c = &mut f.client;
    for i in 0..20 {
        c.put(format!("s/{i}"), vec![b'x'; 5000], None)
            .await
            .unwrap();
    }
    let mut stream = c.snapshot().await.unwrap();
    let mut bytes = Vec::new();
    while let Some(chunk) = stream.message().await.unwrap() {
        bytes.extend_from_slice(chunk.blob());
    }
    let (data, hash) = bytes.split_at(bytes.len() - 32);
    assert_eq!(sha2::Sha256::digest(data).as_slice(), hash);
    assert_eq!(data.len() % 512, 0, "padded as etcd's clients expect");
    let header = crate::restore::FileHeader::decode(data[..64].try_into().unwrap()).unwrap();
    assert_eq!(header.data_bytes(), data.len() as u64);
    let store_stream = &data[crate::restore::HEADER_BYTES as usize..];
    let dir = tempfile::tempdir().unwrap();
    let restored = mvcc::Store::restore(
        &dir.path().join("store"),
        &mut &store_stream[..],
        mvcc::StoreOptions::default(),
    )
    .unwrap();
    let all = restored
        .range(&mvcc::RangeRequest {
            key: b"s/".to_vec(),
            range_end: b"s0".to_vec(),
            count_only: true,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(all.count, 20);
}

/// A plain HTTP/1.1 GET on the gRPC port.
async fn http_get(url: &str, path: &str) -> (u16, String) {
    use tokio::io::AsyncReadExt;
    use tokio::io::AsyncWriteExt;
    let addr = url.trim_start_matches("http://");
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).await.unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap();
    let code = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    (code, body.to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_endpoints_share_the_grpc_port() {
    let f = fixture(64).await;
    let (code, body) = http_get(&f.url, "/health").await;
    assert_eq!(
        (code, body.as_str()),
        (200, r#"{"health":"true","reason":""}"#)
    );
    let (code, _) = http_get(&f.url, "/health?serializable=true").await;
    assert_eq!(code, 200);
    let (code, body) = http_get(&f.url, "/version").await;
    assert_eq!(code, 200);
    assert_eq!(body, r#"{"etcdserver":"3.5.17","etcdcluster":"3.5.0"}"#);
    let (code, body) = http_get(&f.url, "/livez").await;
    assert_eq!((code, body.as_str()), (200, "ok\n"));
    let (code, body) = http_get(&f.url, "/readyz?verbose").await;
    assert_eq!(code, 200);
    assert!(body.contains("[+]linearizable_read ok"), "{body}");
    let (code, body) = http_get(&f.url, "/metrics").await;
    assert_eq!(code, 200);
    for name in [
        "etcd_server_has_leader 1",
        "etcd_server_leader_changes_seen_total",
        "etcd_disk_wal_fsync_duration_seconds_bucket",
        "etcd_mvcc_db_total_size_in_bytes",
    ] {
        assert!(body.contains(name), "missing {name} in:\n{body}");
    }
}
