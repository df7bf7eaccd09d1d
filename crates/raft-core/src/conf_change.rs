//! Membership changes, one at a time.

use bytes::Bytes;
use serde::Deserialize;
use serde::Serialize;

/// The kind of a single membership change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub enum ConfChangeType {
    /// Add a voter, or promote a learner to voter.
    #[default]
    AddNode,
    /// Remove a voter or a learner.
    RemoveNode,
    /// Add a learner (or demote nothing: a voter cannot become a learner).
    AddLearnerNode,
}

/// A single membership change, proposed through the log as an
/// [`crate::EntryType::ConfChange`] entry and applied with
/// `RawNode::apply_conf_change` when it commits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ConfChange {
    /// What to do.
    pub change_type: ConfChangeType,
    /// To whom.
    pub node_id: u64,
    /// Application data (keel puts the member's name and URLs here).
    pub context: Bytes,
}

impl ConfChange {
    /// Encodes the change as the data of a [`crate::EntryType::ConfChange`] entry
    /// (bincode, standard configuration).
    pub fn encode(&self) -> Result<Bytes, crate::Error> {
        bincode::serde::encode_to_vec(self, bincode::config::standard())
            .map(Bytes::from)
            .map_err(|e| crate::Error::ConfChangeInvalid(e.to_string()))
    }

    /// Decodes the data of a [`crate::EntryType::ConfChange`] entry.
    pub fn decode(data: &[u8]) -> Result<ConfChange, crate::Error> {
        bincode::serde::decode_from_slice(data, bincode::config::standard())
            .map(|(cc, _)| cc)
            .map_err(|e| crate::Error::ConfChangeInvalid(e.to_string()))
    }
}
