//! raft-core: the Raft consensus algorithm as a deterministic state machine.
//!
//! (The crate manual, with the Ready contract, is written with the implementation.)

mod conf_change;
mod entry;
mod message;
mod snapshot;

pub use conf_change::ConfChange;
pub use conf_change::ConfChangeType;
pub use entry::Entry;
pub use entry::EntryType;
pub use entry::HardState;
pub use message::Message;
pub use message::MessageType;
pub use snapshot::ConfState;
pub use snapshot::Snapshot;
pub use snapshot::SnapshotMetadata;
