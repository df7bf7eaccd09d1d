//! The members of a chaos cluster, each of which can be killed, restarted,
//! paused and resumed, and the etcdctl queries that find the leader.

use std::fs::File;
use std::io::Read;
use std::io::Write;
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::path::PathBuf;
use std::process::Child;
use std::process::Command;
use std::process::Stdio;
use std::time::Duration;
use std::time::Instant;

use anyhow::Context;
use anyhow::bail;

use super::network;
use crate::cluster::process::signal;
use crate::cluster::spec::ClusterSpec;

/// How long a (re)started member gets to become healthy.
const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a member gets to exit after SIGTERM before SIGKILL.
const STOP_TIMEOUT: Duration = Duration::from_secs(20);
const POLL: Duration = Duration::from_millis(100);

/// A member's process state as the fault injector left it.
#[derive(Debug)]
enum State {
    Running(Child),
    Paused(Child),
    Dead,
}

/// The running cluster.
#[derive(Debug)]
pub(crate) struct Members {
    /// What was started.
    pub(crate) spec: ClusterSpec,
    binary: PathBuf,
    states: Vec<State>,
    /// Whether keel runs with its test-only fault layer (`/fault`).
    fault_layer: bool,
    /// Each member's id (hex) when the fault layer is on; empty otherwise.
    pub(crate) ids: Vec<String>,
    /// Whether the injected bug `--inject-unsynced-acks` is in.
    pub(crate) unsynced_acks: bool,
}

impl Members {
    /// Starts every member in fresh data directories and waits until all are
    /// healthy; with `fault_layer`, keel's test-only fault layer is on.
    pub(crate) fn start(
        spec: ClusterSpec,
        binary: &Path,
        fault_layer: bool,
    ) -> anyhow::Result<Self> {
        if spec.dir.exists() {
            std::fs::remove_dir_all(&spec.dir)
                .with_context(|| format!("removing {}", spec.dir.display()))?;
        }
        std::fs::create_dir_all(&spec.dir)
            .with_context(|| format!("creating {}", spec.dir.display()))?;
        let mut members = Members {
            states: (0..spec.nodes).map(|_| State::Dead).collect(),
            spec,
            binary: binary.to_path_buf(),
            fault_layer,
            ids: Vec::new(),
            unsynced_acks: false,
        };
        let started = (0..members.spec.nodes).try_for_each(|i| members.spawn(i));
        let healthy = started
            .and_then(|()| (0..members.spec.nodes).try_for_each(|i| members.wait_healthy(i)))
            .and_then(|()| members.read_ids());
        if let Err(e) = healthy {
            members.stop()?;
            return Err(e);
        }
        Ok(members)
    }

    /// Asks every member's fault layer for its id.
    fn read_ids(&mut self) -> anyhow::Result<()> {
        if !self.fault_layer {
            return Ok(());
        }
        self.ids = (0..self.spec.nodes)
            .map(|i| network::member_id(self.spec.client_port(i)))
            .collect::<anyhow::Result<_>>()
            .context("reading member ids from /fault")?;
        Ok(())
    }

    fn spawn(&mut self, i: usize) -> anyhow::Result<()> {
        let log = File::options()
            .create(true)
            .append(true)
            .open(self.spec.log_file(i))?;
        let mut command = Command::new(&self.binary);
        if self.fault_layer {
            command.env(network::SWITCH_VAR, "1");
        }
        let child = command
            .args(self.spec.member_args(i))
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .process_group(0)
            .spawn()
            .with_context(|| format!("starting {}", self.binary.display()))?;
        if let Some(state) = self.states.get_mut(i) {
            *state = State::Running(child);
        }
        Ok(())
    }

    /// Waits until member `i` answers `/health` with `"health":"true"`.
    pub(crate) fn wait_healthy(&mut self, i: usize) -> anyhow::Result<()> {
        let deadline = Instant::now() + READY_TIMEOUT;
        while !healthy(self.spec.client_port(i)) {
            if let Some(State::Running(child)) = self.states.get_mut(i)
                && let Some(status) = child.try_wait()?
            {
                bail!(
                    "member {} exited ({status}); see {}",
                    self.spec.name(i),
                    self.spec.log_file(i).display()
                );
            }
            if Instant::now() >= deadline {
                bail!(
                    "member {} not healthy after {READY_TIMEOUT:?}; see {}",
                    self.spec.name(i),
                    self.spec.log_file(i).display()
                );
            }
            std::thread::sleep(POLL);
        }
        Ok(())
    }

    /// SIGKILLs member `i` (no chance to flush anything).
    pub(crate) fn kill(&mut self, i: usize) -> anyhow::Result<()> {
        let Some(state) = self.states.get_mut(i) else {
            return Ok(());
        };
        if let State::Running(child) | State::Paused(child) = state {
            child.kill()?;
            child.wait()?;
        }
        *state = State::Dead;
        Ok(())
    }

    /// Restarts member `i` on its data directory, if dead.
    pub(crate) fn restart(&mut self, i: usize) -> anyhow::Result<()> {
        if matches!(self.states.get(i), Some(State::Dead)) {
            self.spawn(i)?;
        }
        Ok(())
    }

    /// SIGSTOPs member `i`: a crude partition (it neither sends nor answers).
    pub(crate) fn pause(&mut self, i: usize) {
        if let Some(state) = self.states.get_mut(i) {
            match std::mem::replace(state, State::Dead) {
                State::Running(child) => {
                    signal(child.id(), "STOP");
                    *state = State::Paused(child);
                }
                other => *state = other,
            }
        }
    }

    /// SIGCONTs member `i`, if paused.
    pub(crate) fn resume(&mut self, i: usize) {
        if let Some(state) = self.states.get_mut(i) {
            match std::mem::replace(state, State::Dead) {
                State::Paused(child) => {
                    signal(child.id(), "CONT");
                    *state = State::Running(child);
                }
                other => *state = other,
            }
        }
    }

    /// Resumes every paused member and restarts every dead one.
    pub(crate) fn heal(&mut self) -> anyhow::Result<()> {
        for i in 0..self.spec.nodes {
            self.resume(i);
            self.restart(i)?;
        }
        Ok(())
    }

    /// Fails if a member the harness did not kill has exited: a member that
    /// stops on its own (a fatal error, a panic) is a finding, never noise.
    pub(crate) fn check_alive(&mut self) -> anyhow::Result<()> {
        for i in 0..self.states.len() {
            if let Some(State::Running(child)) = self.states.get_mut(i)
                && let Some(status) = child.try_wait()?
            {
                bail!(
                    "member {} exited on its own ({status}); see {}",
                    self.spec.name(i),
                    self.spec.log_file(i).display()
                );
            }
        }
        Ok(())
    }

    /// True while member `i` runs (neither dead nor paused).
    pub(crate) fn is_running(&self, i: usize) -> bool {
        matches!(self.states.get(i), Some(State::Running(_)))
    }

    /// Stops every member: SIGCONT and SIGTERM, then waits; SIGKILL after a timeout.
    pub(crate) fn stop(mut self) -> anyhow::Result<()> {
        for state in &self.states {
            if let State::Running(child) | State::Paused(child) = state {
                signal(child.id(), "CONT");
                signal(child.id(), "TERM");
            }
        }
        let deadline = Instant::now() + STOP_TIMEOUT;
        for state in &mut self.states {
            if let State::Running(child) | State::Paused(child) = state {
                while child.try_wait()?.is_none() {
                    if Instant::now() >= deadline {
                        child.kill()?;
                        child.wait()?;
                        break;
                    }
                    std::thread::sleep(POLL);
                }
            }
        }
        Ok(())
    }
}

/// The index of the leader and every member's id (hex, as etcdctl takes it),
/// from `etcdctl endpoint status` on the running members.
pub(crate) fn leader(members: &Members) -> Option<(usize, Vec<Option<String>>)> {
    let spec = &members.spec;
    let mut ids = vec![None; spec.nodes];
    let mut leader_id = None;
    for i in (0..spec.nodes).filter(|&i| members.is_running(i)) {
        // A member still restarting does not answer; the others may.
        let status = etcdctl(spec, i, &["endpoint", "status", "-w", "json"]).ok();
        let Some((id, leader)) = status.as_deref().and_then(parse_status) else {
            continue;
        };
        ids[i] = Some(format!("{id:x}"));
        leader_id = Some(leader).filter(|&l| l != 0).or(leader_id);
    }
    let leader_hex = format!("{:x}", leader_id?);
    let index = ids
        .iter()
        .position(|id| id.as_deref() == Some(leader_hex.as_str()))?;
    Some((index, ids))
}

/// The member id and the leader id from `etcdctl endpoint status -w json`.
fn parse_status(json: &str) -> Option<(u64, u64)> {
    let json: serde_json::Value = serde_json::from_str(json).ok()?;
    let status = json.as_array()?.first()?.get("Status")?;
    let id = status.get("header")?.get("member_id")?.as_u64()?;
    Some((id, status.get("leader")?.as_u64()?))
}

/// Runs etcdctl against member `i`; returns its standard output.
pub(crate) fn etcdctl(spec: &ClusterSpec, i: usize, args: &[&str]) -> anyhow::Result<String> {
    let output = Command::new("etcdctl")
        .env("ETCDCTL_API", "3")
        .arg(format!("--endpoints=127.0.0.1:{}", spec.client_port(i)))
        .arg("--command-timeout=5s")
        .args(args)
        .output()
        .context("running etcdctl")?;
    if !output.status.success() {
        bail!(
            "etcdctl {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// True when `GET /health` on the client port says healthy.
fn healthy(port: u16) -> bool {
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let get = || -> std::io::Result<String> {
        let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(1))?;
        stream.set_read_timeout(Some(Duration::from_secs(5)))?;
        write!(stream, "GET /health HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")?;
        let mut response = String::new();
        stream.take(64 * 1024).read_to_string(&mut response)?;
        Ok(response)
    };
    get().is_ok_and(|body| body.contains("\"health\":\"true\""))
}

/// A base port with `2 * nodes` free ports above it on 127.0.0.1.
pub(crate) fn free_base_port(nodes: usize, salt: u64) -> anyhow::Result<u16> {
    for attempt in 0..200u64 {
        let offset = (salt.wrapping_add(attempt * 7919) % 20000) as u16;
        let base = (20000 + offset) & !1;
        let all_free = (0..2 * nodes as u16)
            .all(|k| std::net::TcpListener::bind(("127.0.0.1", base + k)).is_ok());
        if all_free {
            return Ok(base);
        }
    }
    bail!("no {} consecutive free ports found", 2 * nodes)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_status_json_yields_member_and_leader() {
        let out = r#"[{"Endpoint":"127.0.0.1:2379","Status":{"header":{"cluster_id":14841639068965178418,"member_id":10276657743932975437,"revision":1,"raft_term":2},"version":"3.4.23","dbSize":20480,"leader":10276657743932975437,"raftIndex":4,"raftTerm":2,"raftAppliedIndex":4,"dbSizeInUse":16384}}]"#;
        let (id, leader) = parse_status(out).unwrap();
        assert_eq!(id, 10276657743932975437);
        assert_eq!(leader, id);
        assert_eq!(parse_status("[]"), None);
    }

    #[test]
    fn a_free_base_port_leaves_room_for_every_member() {
        let base = free_base_port(3, 12345).unwrap();
        assert_eq!(base % 2, 0);
        assert!(base >= 20000);
    }
}
