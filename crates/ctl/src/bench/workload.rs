//! The workloads, one file each.

pub(crate) mod lease_keepalive;
pub(crate) mod put;
pub(crate) mod range;
pub(crate) mod txn_put;
pub(crate) mod watch;
