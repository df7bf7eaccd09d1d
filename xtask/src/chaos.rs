//! `cargo xtask chaos`: faults against a real cluster, checked for
//! linearizability and etcd's watch guarantees.
//!
//! It starts a cluster on 127.0.0.1 (free ports, fresh data directories
//! under `target/chaos/`), runs `keel-chaos` against it (the load, the
//! history and the checks live there), and meanwhile injects faults on a
//! schedule drawn from the seed: kill -9 and restart of a follower or the
//! leader, SIGSTOP/SIGCONT of a member or the leader, leader transfer and
//! defragmentation. Before the load ends every member is resumed or
//! restarted, so the harness can check that the cluster serves again, that
//! no acknowledged write was lost and that all members agree. It fails with
//! the seed, the fault schedule and an excerpt when keel-chaos finds an
//! anomaly. `--server etcd` runs Debian's etcd 3.4 instead, as a reference.

mod faults;
mod members;

use std::io::Write;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;
use std::time::Instant;

use anyhow::Context;
use anyhow::bail;
use clap::Args;

use crate::cluster::server_binary;
use crate::cluster::spec::ClusterSpec;
use crate::cluster::spec::MAX_NODES;
use crate::cluster::spec::Server;
use crate::prereqs;
use crate::workspace;
use faults::Fault;
use faults::Rng;
use members::Members;

/// Options of `cargo xtask chaos`.
#[derive(Debug, Args)]
pub(crate) struct ChaosArgs {
    /// How long the load runs (`60s`, `10m`, seconds).
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    duration: Duration,
    /// The seed of the fault schedule and the load; random when absent.
    #[arg(long)]
    seed: Option<u64>,
    /// Number of members.
    #[arg(long, default_value_t = 3)]
    nodes: usize,
    /// The faults to draw from (comma-separated or repeated); all by default.
    #[arg(long, value_enum, value_delimiter = ',')]
    fault: Vec<Fault>,
    /// The server to run.
    #[arg(long, value_enum, default_value_t = Server::Keel)]
    server: Server,
    /// Run this server binary instead of building keel (or finding etcd).
    #[arg(long)]
    server_binary: Option<PathBuf>,
    /// The cargo profile keel-chaos is built in (`dev` builds fastest).
    #[arg(long, default_value = "release")]
    harness_profile: String,
    /// Test only: make keel-chaos serve some linearizable reads stale, to
    /// see the checker catch it.
    #[arg(long)]
    inject_stale_reads: bool,
}

/// `60s`, `10m`, `500ms` or plain seconds.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, unit) = text
        .find(|c: char| !c.is_ascii_digit())
        .map_or((text, "s"), |i| text.split_at(i));
    let n: u64 = number
        .parse()
        .map_err(|_| format!("bad duration {text:?}"))?;
    match unit {
        "ms" => Ok(Duration::from_millis(n)),
        "s" => Ok(Duration::from_secs(n)),
        "m" => Ok(Duration::from_secs(n * 60)),
        "h" => Ok(Duration::from_secs(n * 3600)),
        _ => Err(format!("bad duration unit in {text:?}")),
    }
}

/// The quiet time at the end of the load, with every member back, so the
/// harness sees the cluster recover under load.
const HEAL_BEFORE_END: Duration = Duration::from_secs(5);
/// The pause between faults, in milliseconds.
const FAULT_GAP_MS: (u64, u64) = (1000, 4000);

fn chaos_dir() -> PathBuf {
    workspace::root().join("target").join("chaos")
}

/// Runs `cargo xtask chaos`.
pub(crate) fn run(args: &ChaosArgs) -> anyhow::Result<()> {
    if args.nodes == 0 || args.nodes > MAX_NODES {
        bail!("--nodes must be between 1 and {MAX_NODES}");
    }
    prereqs::ensure()?;
    let seed = args.seed.unwrap_or_else(clock_seed);
    println!(
        "xtask chaos: seed={seed} server={} nodes={} duration={:?}",
        args.server.name(),
        args.nodes,
        args.duration
    );
    let harness = harness_binary(&args.harness_profile)?;
    let server = match &args.server_binary {
        Some(path) => path.clone(),
        None => server_binary(args.server)?,
    };
    let dir = chaos_dir().join(args.server.name());
    let spec = ClusterSpec {
        server: args.server,
        nodes: args.nodes,
        base_port: members::free_base_port(args.nodes, seed ^ u64::from(std::process::id()))?,
        dir: dir.join("cluster"),
        extra_flags: Vec::new(),
    };
    let mut members = Members::start(spec, &server)?;
    let result = drive(args, seed, &harness, &mut members, &dir);
    members.stop()?;
    result
}

fn clock_seed() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

/// keel-chaos, built in `profile`.
fn harness_binary(profile: &str) -> anyhow::Result<PathBuf> {
    let build = [
        "build",
        "--profile",
        profile,
        "-p",
        "ctl",
        "--bin",
        "keel-chaos",
    ];
    let cmd = workspace::cargo(&build);
    workspace::run(cmd)?;
    let dir = if profile == "dev" { "debug" } else { profile };
    Ok(workspace::target_dir().join(dir).join("keel-chaos"))
}

/// Runs keel-chaos and the fault schedule side by side.
fn drive(
    args: &ChaosArgs,
    seed: u64,
    harness: &std::path::Path,
    members: &mut Members,
    dir: &std::path::Path,
) -> anyhow::Result<()> {
    let fault_log = dir.join("faults.log");
    let history = dir.join("history.jsonl");
    let mut log_file = std::fs::File::create(&fault_log).context("creating the fault log")?;
    let mut command = Command::new(harness);
    command
        .arg(format!("--endpoints={}", members.spec.endpoints()))
        .arg(format!("--duration={}ms", args.duration.as_millis()))
        .arg(format!("--seed={seed}"))
        .arg(format!("--history={}", history.display()))
        .arg(format!("--fault-log={}", fault_log.display()));
    if args.server == Server::Etcd {
        // etcd 3.4.23 sends progress notifications ahead of events (etcd-io/etcd#15220).
        command.arg("--allow-early-progress");
    }
    if args.inject_stale_reads {
        command.arg("--inject-stale-reads");
    }
    let mut child = command.spawn().context("starting keel-chaos")?;
    let kinds: Vec<Fault> = if args.fault.is_empty() {
        Fault::ALL.to_vec()
    } else {
        args.fault.clone()
    };
    let mut rng = Rng::new(seed);
    let begin = Instant::now();
    let fault_window = args.duration.saturating_sub(HEAL_BEFORE_END);
    let mut count = 0usize;
    while begin.elapsed() < fault_window && child.try_wait()?.is_none() {
        std::thread::sleep(rng.millis(FAULT_GAP_MS.0, FAULT_GAP_MS.1));
        if begin.elapsed() >= fault_window {
            break;
        }
        let fault = kinds[rng.below(kinds.len() as u64) as usize];
        let mut log = |line: String| {
            let line = format!("t={:.1}s {line}", begin.elapsed().as_secs_f64());
            println!("fault: {line}");
            let _ = writeln!(log_file, "{line}");
        };
        if faults::apply(fault, members, &mut rng, &mut log)? {
            count += 1;
        }
    }
    members.heal()?;
    let status = child.wait().context("waiting for keel-chaos")?;
    println!(
        "xtask chaos: {count} faults injected; seed={seed}; history {}",
        history.display()
    );
    match status.code() {
        Some(0) => Ok(()),
        Some(1) => bail!(
            "anomalies found (seed {seed}); fault schedule in {}; replay: cargo xtask chaos --server {} --seed {seed} --duration {}s",
            fault_log.display(),
            args.server.name(),
            args.duration.as_secs()
        ),
        _ => bail!("keel-chaos failed ({status}); seed {seed}"),
    }
}
