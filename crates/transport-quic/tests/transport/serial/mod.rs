//! Tests that bind ports or spawn many tasks: run one at a time.

mod fault;
mod framing;
mod identity;
mod join;
mod links;
mod million;
mod snapshot;
