//! Integration tests of the mvcc crate: one binary, one module per concern.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    unreachable_pub,
    missing_debug_implementations
)]

#[path = "mvcc/common.rs"]
mod common;
#[path = "mvcc/compaction.rs"]
mod compaction;
#[path = "mvcc/errors.rs"]
mod errors;
#[path = "mvcc/model.rs"]
mod model;
#[path = "mvcc/model_test.rs"]
mod model_test;
#[path = "mvcc/semantics.rs"]
mod semantics;
#[path = "mvcc/serial.rs"]
mod serial;
#[path = "mvcc/snapshots.rs"]
mod snapshots;
