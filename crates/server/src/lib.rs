//! keel: one member of a keel cluster, serving the etcd v3 API.
//!
//! The member ([`node`]) composes raft-core, wal, mvcc and transport-quic; the
//! client-facing services ([`grpc`], [`http`]) reach it through
//! [`backend::Backend`]; [`config`] reads etcd's flags; [`restore`] reads and
//! restores the snapshot files Maintenance.Snapshot streams (for `keelctl`).

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod backend;
pub mod config;
pub mod error;
pub mod grpc;
pub mod http;
pub mod ids;
pub mod node;
pub mod restore;
