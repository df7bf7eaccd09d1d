//! `etcdctl check perf --load=m` against a cluster: etcd's own pass/fail
//! test of sustained write throughput and latency (60 seconds).

use std::process::Command;

use serde::Serialize;

/// The outcome of one `check perf`.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct CheckPerf {
    /// `keel` or `etcd`.
    pub(crate) server: String,
    /// True when etcdctl said PASS.
    pub(crate) pass: bool,
    /// etcdctl's output, for the record.
    pub(crate) output: String,
}

/// Runs `etcdctl check perf --load=m` against `endpoints`.
pub(crate) fn run(server: &str, endpoints: &str) -> CheckPerf {
    eprintln!("xtask: etcdctl check perf --load=m against {server} (60 s)");
    let output = Command::new("etcdctl")
        .env("ETCDCTL_API", "3")
        .arg(format!("--endpoints={endpoints}"))
        .args(["check", "perf", "--load=m"])
        .output();
    match output {
        Ok(o) => {
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            );
            let pass = o.status.success() && verdict_is_pass(&text);
            CheckPerf {
                server: server.to_string(),
                pass,
                output: text,
            }
        }
        Err(e) => CheckPerf {
            server: server.to_string(),
            pass: false,
            output: format!("running etcdctl: {e}"),
        },
    }
}

/// True when etcdctl's last verdict line is `PASS` (it ends with `PASS` or
/// `FAIL` after one line per criterion).
fn verdict_is_pass(output: &str) -> bool {
    output
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| *l == "PASS" || *l == "FAIL")
        == Some("PASS")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_final_verdict_decides() {
        let pass = "PASS: Throughput is 150 writes/s\nPASS: Slowest request took 0.2s\nPASS\n";
        let fail = "FAIL: Throughput too low: 10 writes/s\nPASS: Slowest request took 0.2s\nFAIL\n";
        assert!(verdict_is_pass(pass));
        assert!(!verdict_is_pass(fail));
        assert!(!verdict_is_pass("Error: context deadline exceeded\n"));
    }
}
