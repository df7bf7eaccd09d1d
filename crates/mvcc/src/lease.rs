//! The stored state of a lease.

/// A granted lease as the store keeps it.
///
/// Expiry is not decided here: the server's leader tracks deadlines and proposes revokes and
/// checkpoints; the store persists the grant, the checkpointed remaining TTL and the keys.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Lease {
    /// The lease id (never 0).
    pub id: i64,
    /// The granted TTL in seconds.
    pub ttl_seconds: i64,
    /// The remaining TTL of the last checkpoint, 0 if never checkpointed.
    pub remaining_ttl_seconds: i64,
    /// The keys attached to the lease, in key order.
    pub keys: Vec<Vec<u8>>,
}
