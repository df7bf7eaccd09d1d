//! Integration tests of the peer transport. Every test binds loopback ports,
//! so all live in `serial`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "transport/support.rs"]
mod support;

#[path = "transport/serial/mod.rs"]
mod serial;
