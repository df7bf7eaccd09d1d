//! Joining a running cluster (`--initial-cluster-state existing`).
//!
//! A member added with MemberAdd got its id from the member that added it
//! (peer URLs, token and time), and the cluster id is the cluster's: the new
//! member knows neither. As etcd asks the peers in `--initial-cluster` for
//! the member list, keel sends a join request over the peer transport
//! ([`transport_quic::join_request`]) to each peer URL in turn until one
//! answers with the cluster id and the members; the new member finds itself
//! among them by its `--initial-advertise-peer-urls`. Nothing is written to
//! the data directory before that answer: without a reachable peer, or when
//! the cluster does not list this member, the member does not start.
//!
//! It then starts with an empty log and no configuration; the leader sends
//! it the log, or a snapshot when the log it needs was compacted.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use serde::Deserialize;
use serde::Serialize;
use transport_quic::TlsMode;

use super::NodeBackend;
use super::NodeError;
use super::boot::Layout;
use super::membership::MemberRecord;
use super::proposal;
use super::state::NodeState;
use crate::config::ClusterState;
use crate::config::ServerConfig;
use crate::config::Url;

/// How long one peer URL gets to answer.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(3);

/// What a joining member asks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct JoinAsk {
    /// The joiner's peer URLs, for the log of the member asked.
    peer_urls: Vec<String>,
}

/// What a member of the cluster answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct JoinAnswer {
    cluster_id: u64,
    members: Vec<MemberRecord>,
    /// Members removed for good: a removed member that missed its removal learns it here.
    removed: Vec<u64>,
}

/// Who a joining member is, as the cluster told it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Joined {
    /// The cluster id.
    pub(crate) cluster_id: u64,
    /// This member's id.
    pub(crate) member_id: u64,
    /// The other members and their peer URLs, for the transport.
    pub(crate) peers: Vec<(u64, Vec<String>)>,
}

/// Answers a join request with this member's view of the cluster.
pub(crate) fn answer(state: &NodeState, body: &[u8]) -> Result<Bytes, String> {
    let ask: JoinAsk = proposal::decode(body)?;
    if ask.peer_urls.is_empty() {
        tracing::debug!("a member asks whether it was removed");
    } else {
        tracing::info!(peer_urls = ?ask.peer_urls, "a member asks to join");
    }
    let membership = state.membership();
    let answer = JoinAnswer {
        cluster_id: state.cluster_id,
        members: membership.members().cloned().collect(),
        removed: membership.removed_ids().collect(),
    };
    drop(membership);
    proposal::encode(&answer)
}

/// With `--initial-cluster-state existing` and no WAL yet: asks the
/// cluster who this member is. `None` for every other start.
pub(crate) async fn discover_if_joining(
    config: &ServerConfig,
    layout: &Layout,
) -> Result<Option<Joined>, NodeError> {
    if config.initial_cluster_state != ClusterState::Existing || wal::Wal::exists(&layout.wal) {
        return Ok(None);
    }
    discover(config, &super::peer_tls_mode(config))
        .await
        .map(Some)
}

/// The peers of a member whose membership names no other member yet: those
/// the cluster told it of when it joined, or (a joiner restarted before it
/// learned the members from the log) those it tells it now; none otherwise.
pub(crate) async fn seed_peers(
    config: &ServerConfig,
    joined: Option<Joined>,
) -> Vec<(u64, Vec<String>)> {
    if let Some(joined) = joined {
        return joined.peers;
    }
    if config.initial_cluster_state != ClusterState::Existing {
        return Vec::new();
    }
    match discover(config, &super::peer_tls_mode(config)).await {
        Ok(joined) => joined.peers,
        Err(e) => {
            tracing::warn!(error = %e, "no member knows of this member's peers yet");
            Vec::new()
        }
    }
}

/// Asks the peers of `--initial-cluster` who this member is.
async fn discover(config: &ServerConfig, tls: &TlsMode) -> Result<Joined, NodeError> {
    let mine = config.peer_url_strings();
    let body = proposal::encode(&JoinAsk {
        peer_urls: mine.clone(),
    })
    .map_err(NodeError::Refused)?;
    let mut failures = Vec::new();
    for url in config
        .initial_cluster
        .iter()
        .flat_map(|m| m.peer_urls.iter())
        .filter(|u| !mine.contains(&u.to_string()))
    {
        // A member that has not applied this member's addition yet does not
        // list it: another may.
        match ask(url, tls, body.clone())
            .await
            .map(|a| find_self(a, &mine))
        {
            Ok(Ok(joined)) => return Ok(joined),
            Ok(Err(e)) => failures.push(format!("{url}: {e}")),
            Err(e) => failures.push(format!("{url}: {e}")),
        }
    }
    Err(NodeError::Refused(format!(
        "cannot join the cluster (--initial-cluster-state existing): no member of --initial-cluster answered with this member [{}]",
        failures.join("; ")
    )))
}

/// Watches for this member's removal when it may have missed it: a member
/// that hears nothing from its peers for a while (they drop the traffic of a
/// removed member) asks them, as a joiner does, and stops if they answer that
/// it was removed (etcd's peers answer such a member "410 Gone").
pub(crate) async fn removal_watch(backend: Arc<NodeBackend>, tls: TlsMode, every: Duration) {
    let state = &backend.state;
    let mut last_received = u64::MAX;
    loop {
        tokio::time::sleep(every).await;
        if state.stopping.load(Ordering::Acquire) {
            return;
        }
        let received: u64 = backend
            .transport
            .stats()
            .peers
            .values()
            .map(|p| p.received_messages)
            .sum();
        let quiet = received == last_received;
        last_received = received;
        if !quiet {
            continue;
        }
        let urls: Vec<String> = state
            .membership()
            .members()
            .filter(|m| m.id != state.member_id)
            .flat_map(|m| m.peer_urls.clone())
            .collect();
        if was_removed(state, &urls, &tls).await {
            state.set_removed();
            return;
        }
    }
}

/// Asks the members at `urls`, in turn, whether this member was removed.
async fn was_removed(state: &NodeState, urls: &[String], tls: &TlsMode) -> bool {
    let Ok(body) = proposal::encode(&JoinAsk {
        peer_urls: Vec::new(),
    }) else {
        return false;
    };
    for url in urls.iter().filter_map(|u| Url::parse(u).ok()) {
        if let Ok(answer) = ask(&url, tls, body.clone()).await {
            return answer.cluster_id == state.cluster_id
                && answer.removed.contains(&state.member_id);
        }
    }
    false
}

async fn ask(url: &Url, tls: &TlsMode, body: Bytes) -> Result<JoinAnswer, String> {
    let addr = url.socket_addr()?;
    let bytes = transport_quic::join_request(tls, addr, body, ANSWER_TIMEOUT)
        .await
        .map_err(|e| e.to_string())?;
    proposal::decode(&bytes)
}

fn find_self(answer: JoinAnswer, mine: &[String]) -> Result<Joined, NodeError> {
    let mut wanted = mine.to_vec();
    wanted.sort();
    let me = answer.members.iter().find(|m| {
        let mut have = m.peer_urls.clone();
        have.sort();
        have == wanted
    });
    let Some(me) = me else {
        return Err(NodeError::Refused(format!(
            "the cluster {:x} has no member with peer URLs {mine:?}: add it with member add first",
            answer.cluster_id
        )));
    };
    let member_id = me.id;
    tracing::info!(
        cluster_id = format!("{:x}", answer.cluster_id),
        member_id = format!("{member_id:x}"),
        "found this member in the cluster"
    );
    Ok(Joined {
        cluster_id: answer.cluster_id,
        member_id,
        peers: answer
            .members
            .into_iter()
            .filter(|m| m.id != member_id)
            .map(|m| (m.id, m.peer_urls))
            .collect(),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn record(id: u64, urls: &[&str]) -> MemberRecord {
        MemberRecord {
            id,
            peer_urls: urls.iter().map(|u| u.to_string()).collect(),
            ..Default::default()
        }
    }

    #[test]
    fn a_joiner_finds_itself_by_its_peer_urls() {
        let answer = JoinAnswer {
            cluster_id: 7,
            removed: Vec::new(),
            members: vec![
                record(1, &["http://a:1"]),
                record(2, &["http://b:2", "http://b:3"]),
            ],
        };
        let mine = vec!["http://b:3".to_string(), "http://b:2".to_string()];
        let joined = find_self(answer.clone(), &mine).unwrap();
        assert_eq!((joined.cluster_id, joined.member_id), (7, 2));
        assert_eq!(joined.peers, vec![(1, vec!["http://a:1".to_string()])]);
        let stranger = find_self(answer, &["http://c:1".to_string()]);
        assert!(matches!(stranger, Err(NodeError::Refused(_))));
    }
}
