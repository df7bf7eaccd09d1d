//! Test support shipped with the crate: the [`Storage`](crate::Storage) conformance suite,
//! an in-memory cluster for scenario tests and benchmarks, and the seeded simulator.

pub mod cluster;
pub mod sim;
mod storage_suite;

pub use storage_suite::StorageFixture;
pub use storage_suite::storage_suite;
