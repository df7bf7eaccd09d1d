//! The stored data model: [`KeyValue`] and the watch [`Event`] (etcd's `mvccpb`).

use serde::Deserialize;
use serde::Serialize;

/// One version of a key, as etcd's `mvccpb.KeyValue`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyValue {
    /// The key; never empty.
    pub key: Vec<u8>,
    /// The main revision of the put that created the key's current generation.
    pub create_revision: i64,
    /// The main revision of the write that produced this version.
    pub mod_revision: i64,
    /// 1 on create, +1 on each put; a delete resets the key (the next put is version 1).
    pub version: i64,
    /// The value.
    pub value: Vec<u8>,
    /// The lease the key is attached to, 0 for none.
    pub lease: i64,
}

/// Whether an event is a put or a delete (etcd's `mvccpb.Event.EventType`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EventType {
    /// A put (create or update).
    Put,
    /// A delete; the event's kv holds only the key and the mod revision.
    Delete,
}

/// One change of a key at one revision, as etcd's `mvccpb.Event`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// Put or delete.
    pub kind: EventType,
    /// The new version; for a delete only `key` and `mod_revision` are set.
    pub kv: KeyValue,
    /// The version before this event, if the key existed (and is not compacted away).
    /// Filled by [`crate::Store::events_since`]; the events of an applied write carry none
    /// (reading them costs a lookup per change), [`crate::Store::prev_kvs`] finds them.
    /// The server strips it for watchers that did not ask for `prev_kv`.
    pub prev_kv: Option<KeyValue>,
}
