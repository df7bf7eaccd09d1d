//! `cargo xtask chaos`: faults against a real cluster, checked for
//! linearizability and etcd's watch guarantees.
//!
//! It starts a cluster on 127.0.0.1 (free ports, fresh data directories
//! under `target/chaos/`), runs `keel-chaos` against it (the load, the
//! history and the checks live there), and meanwhile injects faults on a
//! schedule drawn from the seed: kill -9 and restart of a follower or the
//! leader, SIGSTOP/SIGCONT of a member or the leader, leader transfer and
//! defragmentation; against keel also network partitions, lossy and slow
//! peer links, one-way partitions and power loss, through keel's test-only fault layer
//! (`KEEL_FAULT_INJECTION=1`, see [`network`]). Odd seeds run with a low
//! `--snapshot-count`, so a member that was down catches up through a
//! snapshot. Before the load ends every member is resumed or
//! restarted, so the harness can check that the cluster serves again, that
//! no acknowledged write was lost and that all members agree. It fails with
//! the seed, the fault schedule and an excerpt when keel-chaos finds an
//! anomaly. `--server etcd` runs Debian's etcd 3.4 instead, as a reference.

mod faults;
mod members;
mod network;
mod schedule;

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
use schedule::Schedule;

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
    /// `--snapshot-count` of every member; by default 200 for odd seeds
    /// (snapshot catch-up of lagging members) and etcd's 100000 for even ones.
    #[arg(long)]
    snapshot_count: Option<u64>,
    /// Test only: make keel-chaos serve some linearizable reads stale, to
    /// see the checker catch it.
    #[arg(long)]
    inject_stale_reads: bool,
    /// Test only (keel): make every member's WAL acknowledge syncs without
    /// making anything durable, to see the checker catch the lost writes
    /// after a `power-off`.
    #[arg(long)]
    inject_unsynced_acks: bool,
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
/// The low `--snapshot-count` of odd seeds.
const LOW_SNAPSHOT_COUNT: u64 = 200;
/// keel's `--experimental-snapshot-catchup-entries` with a low snapshot
/// count: a member down for a few seconds falls behind the kept log.
const LOW_CATCH_UP_ENTRIES: u64 = 100;

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
    let kinds = fault_kinds(args)?;
    let shown = (args.duration.as_millis() / u128::from(schedule::GAP_MS.0)) as usize;
    println!(
        "xtask chaos: schedule (pause before each fault): {}",
        schedule::describe(&Schedule::preview(seed, &kinds, shown.max(1)))
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
        extra_flags: snapshot_flags(args, seed),
    };
    if !spec.extra_flags.is_empty() {
        println!("xtask chaos: member flags {}", spec.extra_flags.join(" "));
    }
    if args.inject_unsynced_acks && args.server != Server::Keel {
        bail!("--inject-unsynced-acks needs keel's fault layer");
    }
    let mut members = Members::start(spec, &server, args.server == Server::Keel)?;
    if args.inject_unsynced_acks {
        network::acknowledge_unsynced(&mut members)?;
        println!("xtask chaos: injected bug: WAL syncs make nothing durable");
    }
    let result = drive(args, seed, &kinds, &harness, &mut members, &dir);
    members.stop()?;
    result
}

/// The faults to draw from: `--fault`, or every kind the server supports.
fn fault_kinds(args: &ChaosArgs) -> anyhow::Result<Vec<Fault>> {
    let keel = args.server == Server::Keel;
    if args.fault.is_empty() {
        let all = Fault::ALL.into_iter();
        return Ok(all.filter(|f| keel || !f.needs_fault_layer()).collect());
    }
    if let Some(f) = args.fault.iter().find(|f| !keel && f.needs_fault_layer()) {
        bail!("--fault {} needs keel's fault layer", f.name());
    }
    Ok(args.fault.clone())
}

/// The snapshot flags of every member: `--snapshot-count`, or the seed's choice.
fn snapshot_flags(args: &ChaosArgs, seed: u64) -> Vec<String> {
    let count = match args.snapshot_count {
        Some(count) => count,
        None if seed % 2 == 1 => LOW_SNAPSHOT_COUNT,
        None => return Vec::new(),
    };
    let mut flags = vec![format!("--snapshot-count={count}")];
    if args.server == Server::Keel && count <= LOW_SNAPSHOT_COUNT {
        flags.push(format!(
            "--experimental-snapshot-catchup-entries={LOW_CATCH_UP_ENTRIES}"
        ));
    }
    flags
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
    kinds: &[Fault],
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
    let mut schedule = Schedule::new(seed, kinds);
    let mut rng = Rng::new(seed);
    let begin = Instant::now();
    let fault_window = args.duration.saturating_sub(HEAL_BEFORE_END);
    let mut count = 0usize;
    while begin.elapsed() < fault_window && child.try_wait()?.is_none() {
        let (gap, fault) = schedule.next_fault();
        std::thread::sleep(gap);
        if begin.elapsed() >= fault_window {
            break;
        }
        let mut log = |line: String| {
            let line = format!("t={:.1}s {line}", begin.elapsed().as_secs_f64());
            println!("fault: {line}");
            let _ = writeln!(log_file, "{line}");
        };
        if let Err(e) = members.check_alive() {
            let _ = child.kill();
            let _ = child.wait();
            bail!(
                "{e:#} (seed {seed}; fault schedule in {})",
                fault_log.display()
            );
        }
        if faults::apply(fault, members, &mut rng, &mut log)? {
            count += 1;
        }
    }
    members.heal()?;
    let status = child.wait().context("waiting for keel-chaos")?;
    members
        .check_alive()
        .with_context(|| format!("seed {seed}; fault schedule in {}", fault_log.display()))?;
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        chaos: ChaosArgs,
    }

    fn args(line: &[&str]) -> ChaosArgs {
        Cli::try_parse_from([&["chaos"], line].concat())
            .unwrap()
            .chaos
    }

    #[test]
    fn odd_seeds_take_snapshots_often_unless_told() {
        let keel = args(&[]);
        assert_eq!(
            snapshot_flags(&keel, 3),
            [
                "--snapshot-count=200",
                "--experimental-snapshot-catchup-entries=100"
            ]
        );
        assert!(snapshot_flags(&keel, 4).is_empty());
        let etcd = args(&["--server", "etcd"]);
        assert_eq!(snapshot_flags(&etcd, 3), ["--snapshot-count=200"]);
        let told = args(&["--snapshot-count", "5000"]);
        assert_eq!(snapshot_flags(&told, 3), ["--snapshot-count=5000"]);
    }

    #[test]
    fn etcd_runs_only_the_faults_it_can_take() {
        assert_eq!(fault_kinds(&args(&[])).unwrap(), Fault::ALL);
        let etcd = fault_kinds(&args(&["--server", "etcd"])).unwrap();
        assert!(etcd.contains(&Fault::Lag) && !etcd.contains(&Fault::Lossy));
        assert_eq!(etcd.len(), Fault::ALL.len() - 5);
        assert!(fault_kinds(&args(&["--server", "etcd", "--fault", "kill,lossy"])).is_err());
        assert_eq!(
            fault_kinds(&args(&["--fault", "partition-leader,lossy"])).unwrap(),
            [Fault::PartitionLeader, Fault::Lossy]
        );
    }
}
