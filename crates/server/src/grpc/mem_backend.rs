//! A test-only [`Backend`]: writes apply straight to an `mvcc::Store` in a
//! temporary directory (no raft), with a live feed of the given capacity,
//! so the services can be tested in-process against real etcd clients.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::TcpListener;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::PoisonError;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering;

use tokio::sync::broadcast;

use crate::backend::Alarm;
use crate::backend::Backend;
use crate::backend::Header;
use crate::backend::LeaseInfo;
use crate::backend::Member;
use crate::backend::RevisionEvents;
use crate::backend::StatusInfo;
use crate::error::ServerError;

/// The member id the test backend reports.
pub(crate) const MEMBER_ID: u64 = 0x8e9e05c52164694d;

/// See the module doc.
#[derive(Debug)]
pub(crate) struct MemBackend {
    store: Arc<mvcc::Store>,
    index: AtomicU64,
    feed: broadcast::Sender<Arc<RevisionEvents>>,
    apply_lock: Mutex<()>,
    _dir: tempfile::TempDir,
}

impl MemBackend {
    /// A backend on a fresh store whose feed holds `feed_capacity` revisions.
    pub(crate) fn new(feed_capacity: usize) -> Arc<Self> {
        let dir = tempfile::tempdir().unwrap();
        let store = mvcc::Store::open(dir.path(), mvcc::StoreOptions::default()).unwrap();
        let (feed, _) = broadcast::channel(feed_capacity);
        Arc::new(Self {
            store: Arc::new(store),
            index: AtomicU64::new(0),
            feed,
            apply_lock: Mutex::new(()),
            _dir: dir,
        })
    }
}

impl Backend for MemBackend {
    fn header(&self) -> Header {
        Header {
            cluster_id: 1,
            member_id: MEMBER_ID,
            revision: self.store.current_revision(),
            raft_term: 2,
        }
    }

    fn store(&self) -> &Arc<mvcc::Store> {
        &self.store
    }

    async fn write(&self, op: mvcc::WriteOp) -> Result<mvcc::Applied, ServerError> {
        // Apply and publish under one lock, so the feed is in revision order.
        let _order = self
            .apply_lock
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let index = self.index.fetch_add(1, Ordering::SeqCst) + 1;
        let applied = self
            .store
            .apply(index, op)?
            .ok_or_else(|| ServerError::Fatal(format!("index {index} applied twice")))?;
        if !applied.events.is_empty() {
            let _ = self.feed.send(Arc::new(RevisionEvents {
                revision: applied.revision,
                events: applied.events.clone(),
            }));
        }
        Ok(applied)
    }

    async fn read_barrier(&self) -> Result<(), ServerError> {
        Ok(())
    }

    fn subscribe(&self) -> broadcast::Receiver<Arc<RevisionEvents>> {
        self.feed.subscribe()
    }

    async fn lease_keep_alive(&self, id: i64) -> Result<i64, ServerError> {
        self.store
            .lease(id)
            .map(|l| l.ttl_seconds)
            .ok_or(ServerError::LeaseNotFound)
    }

    async fn lease_time_to_live(&self, id: i64, keys: bool) -> Result<LeaseInfo, ServerError> {
        let lease = self.store.lease(id).ok_or(ServerError::LeaseNotFound)?;
        Ok(LeaseInfo {
            id,
            ttl: lease.ttl_seconds,
            granted_ttl: lease.ttl_seconds,
            keys: if keys { lease.keys } else { Vec::new() },
        })
    }

    fn members(&self) -> Vec<Member> {
        vec![Member {
            id: MEMBER_ID,
            name: "default".to_owned(),
            peer_urls: vec!["http://127.0.0.1:2380".to_owned()],
            client_urls: vec!["http://127.0.0.1:2379".to_owned()],
            is_learner: false,
        }]
    }

    fn status(&self) -> StatusInfo {
        let index = self.index.load(Ordering::SeqCst);
        StatusInfo {
            leader: MEMBER_ID,
            raft_index: index,
            raft_term: 2,
            raft_applied_index: index,
            db_size_bytes: i64::try_from(self.store.size_bytes()).unwrap_or(i64::MAX),
            db_size_in_use_bytes: i64::try_from(self.store.size_in_use_bytes()).unwrap_or(i64::MAX),
            is_learner: false,
            errors: Vec::new(),
        }
    }

    fn alarms(&self) -> Vec<Alarm> {
        Vec::new()
    }
}

/// Serves `backend` on a free loopback port; returns the URL and a guard
/// that stops the server when dropped.
pub(crate) async fn serve_in_process(
    backend: Arc<MemBackend>,
    mut options: super::ServeOptions,
) -> (String, tokio::sync::oneshot::Sender<()>) {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    options.client_urls = vec![url.clone()];
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(super::serve(backend, options, async move {
        let _ = stopped.await;
    }));
    // Wait until the listener answers.
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    (url, stop)
}
