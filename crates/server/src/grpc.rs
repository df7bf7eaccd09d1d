//! The etcd v3 gRPC client API: KV, Watch, Lease, Cluster, Maintenance and
//! `grpc.health.v1`, generic over [`Backend`](crate::backend::Backend) and
//! wire-compatible with etcd 3.5 (messages, codes and error texts).
//!
//! Requests are validated at the edge as etcd does ([`validate`]),
//! converted field by field to the store's types ([`convert`]), served
//! from the store or written through the backend, and every error leaves
//! through the one mapping table in [`status`]. [`serve`] runs it all.

mod authority;
mod auto_tls;
mod cluster;
mod convert;
mod kv;
mod lease;
mod maintenance;
mod oversize;
mod serve;
mod snapshot_stream;
pub mod status;
mod validate;
mod watch;

use std::time::Duration;

pub use auto_tls::self_signed_client_cert;
pub use serve::ClientTls;
pub use serve::ServeError;
pub use serve::ServeOptions;
pub use serve::serve;

/// etcd's AlarmType NOSPACE.
pub const NOSPACE_ALARM: i32 = 1;
/// etcd's AlarmType CORRUPT.
pub const CORRUPT_ALARM: i32 = 2;

/// etcd's name of an alarm type.
pub fn alarm_name(alarm: i32) -> &'static str {
    match alarm {
        0 => "NONE",
        NOSPACE_ALARM => "NOSPACE",
        CORRUPT_ALARM => "CORRUPT",
        _ => "UNKNOWN",
    }
}

/// The limits every service checks, from [`ServeOptions`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub(crate) max_request_bytes: usize,
    pub(crate) max_txn_ops: usize,
    pub(crate) min_lease_ttl_seconds: i64,
    pub(crate) progress_notify_interval: Duration,
    pub(crate) leader_loss_grace: Duration,
}

impl From<&ServeOptions> for Limits {
    fn from(o: &ServeOptions) -> Self {
        Self {
            max_request_bytes: o.max_request_bytes,
            max_txn_ops: o.max_txn_ops,
            min_lease_ttl_seconds: o.min_lease_ttl_seconds,
            progress_notify_interval: o.progress_notify_interval,
            leader_loss_grace: o.leader_loss_grace,
        }
    }
}

#[cfg(test)]
mod mem_backend;
#[cfg(test)]
mod service_tests;
