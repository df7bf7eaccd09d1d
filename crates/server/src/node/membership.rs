//! Who is in the cluster, beyond raft's voter and learner ids: names and URLs.
//!
//! Membership changes travel as raft conf changes whose context is a
//! [`MemberRecord`]; a member's name and client URLs are published through
//! raft once it runs (as etcd's `publish`). The whole set is stored in every
//! raft snapshot ([`super::proposal::SnapshotState`]).

use std::collections::BTreeMap;
use std::collections::BTreeSet;

use raft_core::ConfChange;
use raft_core::ConfChangeType;
use serde::Deserialize;
use serde::Serialize;

use crate::backend::Member;

/// One member as the cluster records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub(crate) struct MemberRecord {
    /// The member id.
    pub(crate) id: u64,
    /// Its name (empty until published, for members added at runtime).
    pub(crate) name: String,
    /// Its peer URLs.
    pub(crate) peer_urls: Vec<String>,
    /// Its client URLs (empty until published).
    pub(crate) client_urls: Vec<String>,
    /// A learner does not vote.
    pub(crate) is_learner: bool,
}

/// The members, and the ids removed for good (their traffic is refused).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub(crate) struct Membership {
    members: BTreeMap<u64, MemberRecord>,
    removed: BTreeSet<u64>,
}

impl Membership {
    /// The members, ordered by id.
    pub(crate) fn members(&self) -> impl Iterator<Item = &MemberRecord> {
        self.members.values()
    }

    /// One member.
    pub(crate) fn get(&self, id: u64) -> Option<&MemberRecord> {
        self.members.get(&id)
    }

    /// True if `id` was removed from the cluster.
    pub(crate) fn is_removed(&self, id: u64) -> bool {
        self.removed.contains(&id)
    }

    /// The ids removed for good.
    pub(crate) fn removed_ids(&self) -> impl Iterator<Item = u64> + '_ {
        self.removed.iter().copied()
    }

    /// Applies a committed conf change; its context is the member's record (for adds).
    pub(crate) fn apply_conf_change(&mut self, cc: &ConfChange) {
        match cc.change_type {
            ConfChangeType::AddNode | ConfChangeType::AddLearnerNode => {
                let learner = cc.change_type == ConfChangeType::AddLearnerNode;
                let mut record = decode_record(&cc.context).unwrap_or_default();
                record.id = cc.node_id;
                let existed = self.members.contains_key(&cc.node_id);
                let entry = self
                    .members
                    .entry(cc.node_id)
                    .or_insert_with(|| record.clone());
                if !record.peer_urls.is_empty() {
                    entry.peer_urls = record.peer_urls;
                }
                if !record.name.is_empty() {
                    entry.name = record.name;
                }
                // AddNode promotes a learner; AddLearnerNode leaves a voter a voter.
                entry.is_learner = learner && (!existed || entry.is_learner);
            }
            ConfChangeType::RemoveNode => {
                self.members.remove(&cc.node_id);
                self.removed.insert(cc.node_id);
            }
        }
    }

    /// Records a member's published name and client URLs.
    pub(crate) fn publish(&mut self, id: u64, name: &str, client_urls: &[String]) {
        if let Some(record) = self.members.get_mut(&id) {
            record.name = name.to_string();
            record.client_urls = client_urls.to_vec();
        }
    }

    /// Moves a member to new peer URLs (etcd's MemberUpdate).
    pub(crate) fn update_peer_urls(&mut self, id: u64, peer_urls: &[String]) {
        if let Some(record) = self.members.get_mut(&id) {
            record.peer_urls = peer_urls.to_vec();
        }
    }

    /// The member, other than `except`, that has one of these peer URLs.
    pub(crate) fn peer_url_owner(&self, peer_urls: &[String], except: u64) -> Option<u64> {
        self.members
            .values()
            .filter(|m| m.id != except)
            .find(|m| m.peer_urls.iter().any(|u| peer_urls.contains(u)))
            .map(|m| m.id)
    }

    /// The voting members.
    pub(crate) fn voters(&self) -> impl Iterator<Item = &MemberRecord> {
        self.members.values().filter(|m| !m.is_learner)
    }

    /// How many learners there are.
    pub(crate) fn learner_count(&self) -> usize {
        self.members.values().filter(|m| m.is_learner).count()
    }

    /// The members as the Cluster service reports them.
    pub(crate) fn to_api(&self) -> Vec<Member> {
        self.members
            .values()
            .map(|m| Member {
                id: m.id,
                name: m.name.clone(),
                peer_urls: m.peer_urls.clone(),
                client_urls: m.client_urls.clone(),
                is_learner: m.is_learner,
            })
            .collect()
    }
}

/// The conf-change context for a member.
pub(crate) fn encode_record(record: &MemberRecord) -> bytes::Bytes {
    bincode::serde::encode_to_vec(record, bincode::config::standard())
        .map(bytes::Bytes::from)
        .unwrap_or_default()
}

fn decode_record(context: &[u8]) -> Option<MemberRecord> {
    bincode::serde::decode_from_slice(context, bincode::config::standard())
        .ok()
        .map(|(record, _)| record)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The conf change adding member `id` (a learner or a voter), for tests here and elsewhere.
    pub(crate) fn add(id: u64, name: &str, learner: bool) -> ConfChange {
        let record = MemberRecord {
            id,
            name: name.into(),
            peer_urls: vec![format!("http://h:{id}")],
            ..Default::default()
        };
        let change_type = if learner {
            ConfChangeType::AddLearnerNode
        } else {
            ConfChangeType::AddNode
        };
        ConfChange {
            change_type,
            node_id: id,
            context: encode_record(&record),
        }
    }

    #[test]
    fn conf_changes_add_publish_and_remove_members() {
        let mut m = Membership::default();
        m.apply_conf_change(&add(1, "a", false));
        m.apply_conf_change(&add(2, "b", true));
        assert!(m.get(2).unwrap().is_learner);
        m.apply_conf_change(&add(2, "", false));
        assert!(!m.get(2).unwrap().is_learner, "AddNode promotes a learner");
        assert_eq!(m.get(2).unwrap().name, "b");
        m.publish(1, "a", &["http://c:1".into()]);
        assert_eq!(m.to_api()[0].client_urls, vec!["http://c:1".to_string()]);
        m.apply_conf_change(&ConfChange {
            change_type: ConfChangeType::RemoveNode,
            node_id: 1,
            context: Default::default(),
        });
        assert!(m.is_removed(1));
        assert_eq!(m.members().count(), 1);
    }
}
