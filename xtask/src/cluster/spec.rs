//! What a local cluster is: which server, how many members, their ports,
//! data directories and the flags (etcd's, which keel accepts too).

use std::path::PathBuf;

use clap::ValueEnum;

/// Which server binary the members run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Server {
    /// keel, built from this workspace.
    Keel,
    /// etcd 3.4 from Debian's etcd-server package.
    Etcd,
}

impl Server {
    /// The server's name, as in file names and tables.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Server::Keel => "keel",
            Server::Etcd => "etcd",
        }
    }
}

/// The raft settings both servers get, etcd's defaults made explicit so a
/// change of default on either side cannot skew a comparison.
pub(crate) const HEARTBEAT_MS: u64 = 100;
/// Election timeout (etcd's default).
pub(crate) const ELECTION_MS: u64 = 1000;
/// Applied entries between snapshots (etcd 3.5's default).
pub(crate) const SNAPSHOT_COUNT: u64 = 100_000;
/// The most members a local cluster may have.
pub(crate) const MAX_NODES: usize = 9;

/// A local cluster on 127.0.0.1: member `i` serves clients on
/// `base_port + 2i` and peers on `base_port + 2i + 1`.
#[derive(Debug, Clone)]
pub(crate) struct ClusterSpec {
    /// The server the members run.
    pub(crate) server: Server,
    /// Number of members.
    pub(crate) nodes: usize,
    /// The first member's client port.
    pub(crate) base_port: u16,
    /// Where the members' data directories and logs go.
    pub(crate) dir: PathBuf,
    /// Extra flags for every member (e.g. `--log-level=warn`).
    pub(crate) extra_flags: Vec<String>,
}

impl ClusterSpec {
    /// Member `i`'s name.
    pub(crate) fn name(&self, i: usize) -> String {
        format!("m{}", i + 1)
    }

    /// Member `i`'s client port.
    pub(crate) fn client_port(&self, i: usize) -> u16 {
        self.base_port + 2 * i as u16
    }

    fn peer_port(&self, i: usize) -> u16 {
        self.client_port(i) + 1
    }

    /// Member `i`'s client URL.
    pub(crate) fn client_url(&self, i: usize) -> String {
        format!("http://127.0.0.1:{}", self.client_port(i))
    }

    /// The client endpoints, comma-separated, as etcdctl's `--endpoints`.
    pub(crate) fn endpoints(&self) -> String {
        (0..self.nodes)
            .map(|i| format!("127.0.0.1:{}", self.client_port(i)))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Member `i`'s peer URL: https, since peer traffic is encrypted on both
    /// servers (etcd with `--peer-auto-tls`, keel always).
    fn peer_url(&self, i: usize) -> String {
        format!("https://127.0.0.1:{}", self.peer_port(i))
    }

    /// Member `i`'s data directory.
    pub(crate) fn data_dir(&self, i: usize) -> PathBuf {
        self.dir.join(format!("{}.data", self.name(i)))
    }

    /// Member `i`'s log file (its standard output and error).
    pub(crate) fn log_file(&self, i: usize) -> PathBuf {
        self.dir.join(format!("{}.log", self.name(i)))
    }

    /// The flags that start member `i`, etcd's static bootstrap.
    pub(crate) fn member_args(&self, i: usize) -> Vec<String> {
        let initial_cluster: Vec<String> = (0..self.nodes)
            .map(|j| format!("{}={}", self.name(j), self.peer_url(j)))
            .collect();
        let mut args = vec![
            format!("--name={}", self.name(i)),
            format!("--data-dir={}", self.data_dir(i).display()),
            format!("--listen-client-urls={}", self.client_url(i)),
            format!("--advertise-client-urls={}", self.client_url(i)),
            format!("--listen-peer-urls={}", self.peer_url(i)),
            format!("--initial-advertise-peer-urls={}", self.peer_url(i)),
            format!("--initial-cluster={}", initial_cluster.join(",")),
            format!(
                "--initial-cluster-token=xtask-{}-{}",
                self.server.name(),
                self.base_port
            ),
            "--initial-cluster-state=new".to_string(),
            "--peer-auto-tls".to_string(),
            format!("--heartbeat-interval={HEARTBEAT_MS}"),
            format!("--election-timeout={ELECTION_MS}"),
            format!("--snapshot-count={SNAPSHOT_COUNT}"),
        ];
        args.extend(self.extra_flags.iter().cloned());
        args
    }

    /// An etcdctl command line that talks to this cluster.
    pub(crate) fn etcdctl_hint(&self) -> String {
        format!(
            "ETCDCTL_API=3 etcdctl --endpoints={} endpoint status -w table",
            self.endpoints()
        )
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn spec() -> ClusterSpec {
        ClusterSpec {
            server: Server::Etcd,
            nodes: 3,
            base_port: 23790,
            dir: PathBuf::from("/t"),
            extra_flags: vec!["--log-level=warn".into()],
        }
    }

    #[test]
    fn members_get_distinct_ports_and_dirs() {
        let s = spec();
        assert_eq!(
            s.endpoints(),
            "127.0.0.1:23790,127.0.0.1:23792,127.0.0.1:23794"
        );
        let args = s.member_args(1);
        assert!(args.contains(&"--name=m2".to_string()));
        assert!(args.contains(&"--data-dir=/t/m2.data".to_string()));
        assert!(args.contains(&"--listen-client-urls=http://127.0.0.1:23792".to_string()));
        assert!(args.contains(&"--listen-peer-urls=https://127.0.0.1:23793".to_string()));
        let cluster = "--initial-cluster=m1=https://127.0.0.1:23791,m2=https://127.0.0.1:23793,m3=https://127.0.0.1:23795";
        assert!(args.contains(&cluster.to_string()), "{args:?}");
        assert_eq!(args.last().map(String::as_str), Some("--log-level=warn"));
    }
}
