//! Puts the leader first in a cluster's endpoint list.
//!
//! keel-bench gives connection `i` endpoint `i` modulo their number, so a one-client
//! workload talks to the first endpoint only. Whether that member leads is chance, and a
//! follower adds a forward to the leader and back to every request: ordering the leader
//! first makes the one-client rows measure the same path on both servers.

use std::process::Command;

use anyhow::Context;
use anyhow::bail;
use serde::Deserialize;

/// One member's answer in `etcdctl endpoint status -w json`.
#[derive(Debug, Deserialize)]
struct EndpointStatus {
    #[serde(rename = "Endpoint")]
    endpoint: String,
    #[serde(rename = "Status")]
    status: Status,
}

#[derive(Debug, Deserialize)]
struct Status {
    header: Header,
    leader: u64,
}

#[derive(Debug, Deserialize)]
struct Header {
    member_id: u64,
}

/// `endpoints` (comma-separated) with the current leader first, the rest in order.
pub(crate) fn leader_first(endpoints: &str) -> anyhow::Result<String> {
    let output = Command::new("etcdctl")
        .env("ETCDCTL_API", "3")
        .arg(format!("--endpoints={endpoints}"))
        .args(["endpoint", "status", "-w", "json"])
        .output()
        .context("running etcdctl endpoint status")?;
    if !output.status.success() {
        bail!(
            "etcdctl endpoint status failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    let json = String::from_utf8_lossy(&output.stdout);
    let leader = leader_endpoint(&json)?;
    Ok(reorder(endpoints, &leader))
}

/// The endpoint whose member is the leader.
fn leader_endpoint(json: &str) -> anyhow::Result<String> {
    let statuses: Vec<EndpointStatus> =
        serde_json::from_str(json).context("parsing etcdctl endpoint status")?;
    statuses
        .into_iter()
        .find(|s| s.status.leader != 0 && s.status.header.member_id == s.status.leader)
        .map(|s| s.endpoint)
        .context("no endpoint reports itself the leader")
}

fn reorder(endpoints: &str, leader: &str) -> String {
    let rest = endpoints.split(',').filter(|e| *e != leader);
    std::iter::once(leader)
        .chain(rest)
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// The shape etcdctl 3.4 prints (fields the parser ignores trimmed).
    const STATUS: &str = r#"[
        {"Endpoint":"127.0.0.1:1","Status":{"header":{"cluster_id":7,"member_id":11,"revision":2,"raft_term":2},"version":"3.4.23","leader":13,"raftIndex":8}},
        {"Endpoint":"127.0.0.1:3","Status":{"header":{"cluster_id":7,"member_id":12,"revision":2,"raft_term":2},"version":"3.4.23","leader":13,"raftIndex":8}},
        {"Endpoint":"127.0.0.1:5","Status":{"header":{"cluster_id":7,"member_id":13,"revision":2,"raft_term":2},"version":"3.4.23","leader":13,"raftIndex":8}}
    ]"#;

    #[test]
    fn the_leader_moves_to_the_front() {
        let leader = leader_endpoint(STATUS).unwrap();
        assert_eq!(leader, "127.0.0.1:5");
        assert_eq!(
            reorder("127.0.0.1:1,127.0.0.1:3,127.0.0.1:5", &leader),
            "127.0.0.1:5,127.0.0.1:1,127.0.0.1:3"
        );
    }

    #[test]
    fn no_leader_is_an_error() {
        let leaderless = STATUS.replace(r#""leader":13"#, r#""leader":0"#);
        assert!(leader_endpoint(&leaderless).is_err());
    }
}
