//! The Prometheus metrics `/metrics` exports, under etcd's names.
//!
//! Like etcd's default Prometheus registry, the metrics are process-wide:
//! the member records into [`global()`] from wherever it measures (the raft
//! loop times its WAL fsyncs, the apply task its store commits), and gauges
//! that mirror member state (leader, sizes, indices) are refreshed from
//! [`Backend::status`](crate::backend::Backend::status) at each scrape.

use std::sync::OnceLock;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::metrics::histogram::exponential_buckets;
use prometheus_client::registry::Registry;

use crate::backend::Backend;

/// The server version every endpoint reports (clients gate features on it).
pub const SERVER_VERSION: &str = "3.5.17";
/// The cluster version `/version` reports.
pub const CLUSTER_VERSION: &str = "3.5.0";

/// etcd's disk latency buckets: 1 ms doubling 14 times (to about 8 s).
const DISK_BUCKET_START_SECONDS: f64 = 0.001;
const DISK_BUCKET_COUNT: u16 = 14;

/// Every metric keel exports. Counters and histograms are recorded by the
/// member; gauges are set from its status when scraped.
#[derive(Debug)]
pub struct Metrics {
    /// Leader changes this member has seen (the member increments it).
    pub leader_changes_seen: Counter,
    /// Proposals that failed (the member increments it).
    pub proposals_failed: Counter,
    /// Proposals waiting to commit (the member sets it).
    pub proposals_pending: Gauge,
    /// WAL fsync latency: each `wal.save` that synced (a save that only moves the commit
    /// index is not synced, and not counted, as in etcd).
    pub wal_fsync_duration_seconds: Histogram,
    /// Store commit latency (the member observes each applied batch's commit).
    pub backend_commit_duration_seconds: Histogram,
    /// The space quota in bytes (the member sets it at boot).
    pub quota_backend_bytes: Gauge,
    /// Open watchers on this member (the watch service keeps it).
    pub watchers: Gauge,
    /// Watch streams that fell behind and caught up from the store.
    pub slow_watchers: Counter,
    /// `/health` checks that passed.
    pub health_success: Counter,
    /// `/health` checks that failed.
    pub health_failures: Counter,
    has_leader: Gauge,
    is_leader: Gauge,
    is_learner: Gauge,
    proposals_committed: Gauge,
    proposals_applied: Gauge,
    db_total_size_bytes: Gauge,
    db_total_size_in_use_bytes: Gauge,
    server_id: Family<Vec<(String, String)>, Gauge>,
    server_version: Family<Vec<(String, String)>, Gauge>,
    registry: Registry,
}

/// The process-wide metrics.
pub fn global() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(Metrics::new)
}

fn disk_histogram() -> Histogram {
    Histogram::new(exponential_buckets(
        DISK_BUCKET_START_SECONDS,
        2.0,
        DISK_BUCKET_COUNT,
    ))
}

impl Metrics {
    fn new() -> Self {
        let mut metrics = Self {
            leader_changes_seen: Counter::default(),
            proposals_failed: Counter::default(),
            proposals_pending: Gauge::default(),
            wal_fsync_duration_seconds: disk_histogram(),
            backend_commit_duration_seconds: disk_histogram(),
            quota_backend_bytes: Gauge::default(),
            watchers: Gauge::default(),
            slow_watchers: Counter::default(),
            health_success: Counter::default(),
            health_failures: Counter::default(),
            has_leader: Gauge::default(),
            is_leader: Gauge::default(),
            is_learner: Gauge::default(),
            proposals_committed: Gauge::default(),
            proposals_applied: Gauge::default(),
            db_total_size_bytes: Gauge::default(),
            db_total_size_in_use_bytes: Gauge::default(),
            server_id: Family::default(),
            server_version: Family::default(),
            registry: Registry::default(),
        };
        metrics.register();
        metrics
    }

    fn register(&mut self) {
        let r = &mut self.registry;
        r.register(
            "etcd_server_has_leader",
            "Whether or not a leader exists. 1 is existence, 0 is not.",
            self.has_leader.clone(),
        );
        r.register(
            "etcd_server_is_leader",
            "Whether or not this member is a leader. 1 if is, 0 otherwise.",
            self.is_leader.clone(),
        );
        r.register(
            "etcd_server_is_learner",
            "Whether or not this member is a learner. 1 if is, 0 otherwise.",
            self.is_learner.clone(),
        );
        r.register(
            "etcd_server_leader_changes_seen",
            "The number of leader changes seen.",
            self.leader_changes_seen.clone(),
        );
        r.register(
            "etcd_server_proposals_committed_total",
            "The total number of consensus proposals committed.",
            self.proposals_committed.clone(),
        );
        r.register(
            "etcd_server_proposals_applied_total",
            "The total number of consensus proposals applied.",
            self.proposals_applied.clone(),
        );
        r.register(
            "etcd_server_proposals_pending",
            "The current number of pending proposals to commit.",
            self.proposals_pending.clone(),
        );
        r.register(
            "etcd_server_proposals_failed",
            "The total number of failed proposals seen.",
            self.proposals_failed.clone(),
        );
        r.register(
            "etcd_server_quota_backend_bytes",
            "Current backend storage quota size in bytes.",
            self.quota_backend_bytes.clone(),
        );
        r.register(
            "etcd_server_health_success",
            "The total number of successful health checks",
            self.health_success.clone(),
        );
        r.register(
            "etcd_server_health_failures",
            "The total number of failed health checks",
            self.health_failures.clone(),
        );
        r.register(
            "etcd_server_id",
            "Server or member ID in hexadecimal format. 1 for 'server_id' label with current ID.",
            self.server_id.clone(),
        );
        r.register(
            "etcd_server_version",
            "Which version is running. 1 for 'server_version' label with current version.",
            self.server_version.clone(),
        );
        r.register(
            "etcd_disk_wal_fsync_duration_seconds",
            "The latency distributions of fsync called by WAL.",
            self.wal_fsync_duration_seconds.clone(),
        );
        r.register(
            "etcd_disk_backend_commit_duration_seconds",
            "The latency distributions of commit called by backend.",
            self.backend_commit_duration_seconds.clone(),
        );
        r.register(
            "etcd_mvcc_db_total_size_in_bytes",
            "Total size of the underlying database physically allocated in bytes.",
            self.db_total_size_bytes.clone(),
        );
        r.register(
            "etcd_mvcc_db_total_size_in_use_in_bytes",
            "Total size of the underlying database logically in use in bytes.",
            self.db_total_size_in_use_bytes.clone(),
        );
        r.register(
            "etcd_debugging_mvcc_watcher_total",
            "Total number of watchers.",
            self.watchers.clone(),
        );
        r.register(
            "etcd_debugging_mvcc_slow_watcher",
            "Total number of watch streams that fell behind and caught up from the store.",
            self.slow_watchers.clone(),
        );
    }

    /// Sets the gauges that mirror the member's state.
    fn refresh<B: Backend>(&self, backend: &B) {
        let status = backend.status();
        let header = backend.header();
        self.has_leader.set(i64::from(status.leader != 0));
        self.is_leader.set(i64::from(
            status.leader != 0 && status.leader == header.member_id,
        ));
        self.is_learner.set(i64::from(status.is_learner));
        self.proposals_committed
            .set(i64::try_from(status.raft_index).unwrap_or(i64::MAX));
        self.proposals_applied
            .set(i64::try_from(status.raft_applied_index).unwrap_or(i64::MAX));
        self.db_total_size_bytes.set(status.db_size_bytes);
        self.db_total_size_in_use_bytes
            .set(status.db_size_in_use_bytes);
        self.server_id
            .get_or_create(&vec![(
                "server_id".to_owned(),
                format!("{:x}", header.member_id),
            )])
            .set(1);
        self.server_version
            .get_or_create(&vec![(
                "server_version".to_owned(),
                SERVER_VERSION.to_owned(),
            )])
            .set(1);
    }

    /// The exposition text, after refreshing the gauges from `backend`.
    pub fn render<B: Backend>(&self, backend: &B) -> String {
        self.refresh(backend);
        let mut text = String::new();
        // Writing into a String cannot fail; an error here would be a bug in
        // the encoder, and an empty scrape is the harmless answer to it.
        if encode(&mut text, &self.registry).is_err() {
            text.clear();
        }
        text
    }
}
