//! The log's behaviour through its public API: round trips, faults, crashes, snapshots.

#![allow(clippy::unwrap_used)]

mod common;
mod faults;
mod round_trip;
mod serial;
mod snapshots;
