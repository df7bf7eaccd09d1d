//! One member of a test cluster: its ports, data directory, log and process
//! (`keel` with fast elections), shared by the multi-member tests.

use std::path::Path;
use std::path::PathBuf;
use std::process::Child;
use std::process::Command;
use std::process::ExitStatus;
use std::process::Stdio;
use std::time::Duration;
use std::time::Instant;

use etcd_client::Client;

use crate::support::free_port;
use crate::support::http_get;
use crate::support::http_request;

/// Generous bound for anything to happen (slow shared CI machines).
pub(crate) const PATIENCE: Duration = Duration::from_secs(90);

/// Flags every member gets: elections ten times faster than etcd's defaults.
const TIMING: [&str; 2] = ["--heartbeat-interval=50", "--election-timeout=500"];

/// The environment variable that turns keel's fault layer on (test only).
const FAULT_SWITCH: &str = "KEEL_FAULT_INJECTION";

/// One member's identity and process; the process is killed on drop.
pub(crate) struct Member {
    pub(crate) name: String,
    pub(crate) client_port: u16,
    pub(crate) peer_port: u16,
    pub(crate) data_dir: PathBuf,
    pub(crate) log: PathBuf,
    /// Started with `KEEL_FAULT_INJECTION=1` (`POST /fault` on the client port).
    pub(crate) fault_injection: bool,
    child: Option<Child>,
}

impl Drop for Member {
    fn drop(&mut self) {
        self.kill();
    }
}

impl Member {
    /// A member named `name` with free ports, its data and log under `dir`.
    pub(crate) fn new(dir: &Path, name: &str) -> Member {
        Member {
            name: name.to_string(),
            client_port: free_port(),
            peer_port: free_port(),
            data_dir: dir.join(name),
            log: dir.join(format!("{name}.log")),
            fault_injection: false,
            child: None,
        }
    }

    pub(crate) fn client_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.client_port)
    }

    pub(crate) fn peer_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.peer_port)
    }

    /// Starts `keel` with this member's identity, `--initial-cluster`, the
    /// timing flags and `extra`; output is appended to the log.
    pub(crate) fn start(&mut self, initial_cluster: &str, extra: &[&str]) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_keel"))
            .arg(format!("--name={}", self.name))
            .arg(format!("--data-dir={}", self.data_dir.display()))
            .arg(format!("--listen-client-urls={}", self.client_url()))
            .arg(format!("--advertise-client-urls={}", self.client_url()))
            .arg(format!("--listen-peer-urls={}", self.peer_url()))
            .arg(format!("--initial-advertise-peer-urls={}", self.peer_url()))
            .arg(format!("--initial-cluster={initial_cluster}"))
            .args(TIMING)
            .args(extra)
            .env(FAULT_SWITCH, if self.fault_injection { "1" } else { "0" })
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        self.child = Some(child);
    }

    /// Watches a process the test started itself (with its own flags) as this member's.
    pub(crate) fn adopt(&mut self, child: Child) {
        self.kill();
        self.child = Some(child);
    }

    /// SIGKILL, as a crash.
    pub(crate) fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Sends the fault layer one request (`POST /fault`, see `server/src/http/fault.rs`).
    pub(crate) fn fault(&self, request: &str) {
        assert!(
            self.fault_injection,
            "{} runs without fault injection",
            self.name
        );
        let addr = format!("127.0.0.1:{}", self.client_port);
        let (code, answer) = http_request(&addr, "POST", "/fault", request).unwrap();
        assert_eq!(code, 200, "POST /fault {request:?}: {answer}");
    }

    pub(crate) fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until `/health` answers 200 (a leader exists and a linearizable read passes here).
    pub(crate) fn wait_healthy(&mut self) {
        let deadline = Instant::now() + PATIENCE;
        let addr = format!("127.0.0.1:{}", self.client_port);
        while Instant::now() < deadline {
            if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
                panic!("{} exited with {status}:\n{}", self.name, self.log_text());
            }
            if let Ok((200, _)) = http_get(&addr, "/health") {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "{} not healthy within {PATIENCE:?}:\n{}",
            self.name,
            self.log_text()
        );
    }

    /// Waits for the process to exit on its own.
    pub(crate) fn wait_exit(&mut self) -> ExitStatus {
        let deadline = Instant::now() + PATIENCE;
        let child = self.child.as_mut().expect("running");
        while Instant::now() < deadline {
            if let Some(status) = child.try_wait().unwrap() {
                self.child = None;
                return status;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("{} did not exit:\n{}", self.name, self.log_text());
    }

    /// A client of this member whose requests give up after `timeout`.
    pub(crate) async fn client_with_timeout(&self, timeout: Duration) -> Client {
        let options = etcd_client::ConnectOptions::new()
            .with_connect_timeout(Duration::from_secs(5))
            .with_timeout(timeout);
        Client::connect([self.client_url()], Some(options))
            .await
            .unwrap()
    }

    /// A client of this member.
    pub(crate) async fn client(&self) -> Client {
        self.client_with_timeout(Duration::from_secs(20)).await
    }
}

/// The `--initial-cluster` value naming `members`.
pub(crate) fn initial_cluster(members: &[&Member]) -> String {
    members
        .iter()
        .map(|m| format!("{}={}", m.name, m.peer_url()))
        .collect::<Vec<_>>()
        .join(",")
}

/// Starts every member with `initial` and `extra`, then waits until each is healthy.
pub(crate) fn start_all(members: &mut [Member], initial: &str, extra: &[&str]) {
    for m in members.iter_mut() {
        m.start(initial, extra);
    }
    for m in members.iter_mut() {
        m.wait_healthy();
    }
}

/// `size` members named `{prefix}0`.. under `dir`, and their `--initial-cluster`.
pub(crate) fn cluster(dir: &Path, prefix: &str, size: usize) -> (Vec<Member>, String) {
    let members: Vec<Member> = (0..size)
        .map(|i| Member::new(dir, &format!("{prefix}{i}")))
        .collect();
    let initial = initial_cluster(&members.iter().collect::<Vec<_>>());
    (members, initial)
}
