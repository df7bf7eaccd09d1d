//! End-to-end tests: real `keel` processes (and a real etcd 3.4 as the
//! oracle) on free loopback ports, driven by the `etcd-client` crate, raw
//! HTTP and the real `etcdctl`. Every test lives in a `serial` module.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "e2e/support.rs"]
mod support;

#[path = "e2e/member.rs"]
mod member;

#[path = "e2e/api.rs"]
mod api;

#[path = "e2e/compat.rs"]
mod compat;

#[path = "e2e/cluster.rs"]
mod cluster;

#[path = "e2e/backup.rs"]
mod backup;

#[path = "e2e/membership.rs"]
mod membership;
