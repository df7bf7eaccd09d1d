//! Running members: start, readiness, memory, and a clean stop.

use std::fs::File;
use std::io::Read;
use std::io::Write;
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Child;
use std::process::Command;
use std::process::Stdio;
use std::time::Duration;
use std::time::Instant;

use anyhow::Context;
use anyhow::bail;

use super::spec::ClusterSpec;

/// How long members get to become healthy.
const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a member gets to exit after SIGTERM before SIGKILL.
const STOP_TIMEOUT: Duration = Duration::from_secs(20);
/// How often readiness and exits are polled.
const POLL: Duration = Duration::from_millis(100);

/// A started cluster: its spec and one process per member.
#[derive(Debug)]
pub(crate) struct RunningCluster {
    /// What was started.
    pub(crate) spec: ClusterSpec,
    children: Vec<Child>,
}

impl RunningCluster {
    /// Starts every member of `spec` with `binary`, in fresh data
    /// directories, each in its own process group so that a Ctrl-C at the
    /// terminal reaches xtask, which then stops them in order.
    pub(crate) fn start(spec: ClusterSpec, binary: &Path) -> anyhow::Result<Self> {
        if spec.dir.exists() {
            std::fs::remove_dir_all(&spec.dir)
                .with_context(|| format!("removing {}", spec.dir.display()))?;
        }
        std::fs::create_dir_all(&spec.dir)
            .with_context(|| format!("creating {}", spec.dir.display()))?;
        let mut cluster = RunningCluster {
            spec,
            children: Vec::new(),
        };
        for i in 0..cluster.spec.nodes {
            let log = File::create(cluster.spec.log_file(i))?;
            let child = Command::new(binary)
                .args(cluster.spec.member_args(i))
                .stdin(Stdio::null())
                .stdout(log.try_clone()?)
                .stderr(log)
                .process_group(0)
                .spawn()
                .with_context(|| format!("starting {}", binary.display()))?;
            cluster.children.push(child);
        }
        Ok(cluster)
    }

    /// The members' process ids.
    pub(crate) fn pids(&self) -> Vec<u32> {
        self.children.iter().map(Child::id).collect()
    }

    /// Waits until every member answers `/health` with `"health":"true"`;
    /// fails early if a member exits.
    pub(crate) fn wait_ready(&mut self) -> anyhow::Result<()> {
        let deadline = Instant::now() + READY_TIMEOUT;
        for i in 0..self.spec.nodes {
            loop {
                self.check_alive()?;
                if healthy(self.spec.client_port(i)) {
                    break;
                }
                if Instant::now() >= deadline {
                    bail!(
                        "member {} not healthy after {READY_TIMEOUT:?}; see {}",
                        i + 1,
                        self.spec.log_file(i).display()
                    );
                }
                std::thread::sleep(POLL);
            }
        }
        Ok(())
    }

    /// Fails if a member has exited.
    pub(crate) fn check_alive(&mut self) -> anyhow::Result<()> {
        for (i, child) in self.children.iter_mut().enumerate() {
            if let Some(status) = child.try_wait()? {
                bail!(
                    "member {} exited ({status}); see {}",
                    i + 1,
                    self.spec.log_file(i).display()
                );
            }
        }
        Ok(())
    }

    /// Stops every member: SIGTERM, then waits; SIGKILL after a timeout.
    pub(crate) fn stop(mut self) -> anyhow::Result<()> {
        for child in &self.children {
            signal(child.id(), "TERM");
        }
        let deadline = Instant::now() + STOP_TIMEOUT;
        for child in &mut self.children {
            while child.try_wait()?.is_none() {
                if Instant::now() >= deadline {
                    eprintln!("xtask: member {} ignored SIGTERM; killing it", child.id());
                    child.kill()?;
                    child.wait()?;
                    break;
                }
                std::thread::sleep(POLL);
            }
        }
        Ok(())
    }

    /// Leaves the members running (for `--detach`).
    pub(crate) fn detach(self) {
        drop(self.children);
    }
}

/// Sends `SIGname` to `pid` with kill(1) (xtask links no libc binding).
pub(crate) fn signal(pid: u32, name: &str) -> bool {
    Command::new("kill")
        .arg(format!("-{name}"))
        .arg(pid.to_string())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// True while a process with this id exists.
pub(crate) fn alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

/// True when `GET /health` on the client port says healthy.
fn healthy(port: u16) -> bool {
    http_get(port, "/health")
        .map(|body| body.contains("\"health\":\"true\""))
        .unwrap_or(false)
}

/// A minimal HTTP/1.0 GET on 127.0.0.1 (xtask carries no HTTP client).
fn http_get(port: u16, path: &str) -> std::io::Result<String> {
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(1))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")?;
    let mut response = String::new();
    stream.take(64 * 1024).read_to_string(&mut response)?;
    Ok(response)
}

/// The peak resident set (VmHWM) of a process, in KiB.
pub(crate) fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status_field_kib(&status, "VmHWM:")
}

/// Resets a process's peak resident set to its current one (Linux 4.0+),
/// so the next VmHWM is the peak of what follows.
pub(crate) fn reset_peak_rss(pid: u32) -> bool {
    std::fs::write(format!("/proc/{pid}/clear_refs"), "5").is_ok()
}

fn status_field_kib(status: &str, field: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.trim_start_matches(field)
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn vmhwm_is_parsed_from_proc_status() {
        let status = "Name:\tetcd\nVmPeak:\t  900 kB\nVmHWM:\t   12345 kB\nVmRSS:\t  100 kB\n";
        assert_eq!(status_field_kib(status, "VmHWM:"), Some(12345));
        assert_eq!(status_field_kib("Name: x\n", "VmHWM:"), None);
    }

    #[test]
    fn own_peak_rss_is_readable() {
        let kib = peak_rss_kib(std::process::id()).unwrap();
        assert!(kib > 0);
    }
}
