//! `cargo xtask bench compare`: keel and etcd 3.4, three members each, one
//! cluster at a time, alternating rounds, the same workloads against both.

use std::path::Path;
use std::path::PathBuf;
use std::process::Command;
use std::process::Stdio;
use std::time::Duration;
use std::time::Instant;

use anyhow::Context;
use anyhow::bail;
use clap::Args;
use serde::Serialize;

use super::chart;
use super::check_perf;
use super::check_perf::CheckPerf;
use super::leader;
use super::results;
use super::results::Run;
use super::workloads::RANGE_KEY;
use super::workloads::WORKLOADS;
use super::workloads::Workload;
use crate::cluster;
use crate::cluster::process;
use crate::cluster::process::RunningCluster;
use crate::cluster::spec::ClusterSpec;
use crate::cluster::spec::Server;
use crate::prereqs;
use crate::workspace;

/// The quiet pause before each workload, for both servers: followers finish applying and
/// each server returns what the previous workload freed (keel trims its heap once idle, Go
/// scavenges), so a row's peak memory is its own workload's, not the previous one's.
const SETTLE: Duration = Duration::from_secs(2);

/// Options of `bench compare`.
#[derive(Debug, Args)]
pub(crate) struct CompareArgs {
    /// Small totals (a minute for both servers); skips `check perf`.
    #[arg(long)]
    quick: bool,
    /// Rounds; odd rounds run etcd first. Default 1 with --quick, else 2.
    #[arg(long)]
    rounds: Option<u32>,
    /// Only this server (e.g. etcd alone while keel is not ready).
    #[arg(long, value_enum)]
    only: Option<Server>,
    /// Only workloads whose name contains this text.
    #[arg(long)]
    filter: Option<String>,
    /// Skip `etcdctl check perf --load=m` (60 s per server).
    #[arg(long)]
    skip_check_perf: bool,
    /// The first member's client port.
    #[arg(long, default_value_t = 24790)]
    base_port: u16,
}

/// Everything one invocation measured, as written to results.json.
#[derive(Debug, Serialize)]
struct Results {
    quick: bool,
    rounds: u32,
    machine: Machine,
    runs: Vec<Run>,
    rows: Vec<results::Row>,
    check_perf: Vec<CheckPerf>,
}

#[derive(Debug, Serialize)]
struct Machine {
    nproc: String,
    memory: String,
    etcd_version: String,
}

/// Runs the comparison and writes target/bench/{results.json,table.md,chart.svg}.
pub(crate) fn run(args: &CompareArgs) -> anyhow::Result<()> {
    prereqs::ensure()?;
    let out = workspace::root().join("target").join("bench");
    std::fs::create_dir_all(out.join("raw"))?;
    let bench = build_keel_bench()?;
    let servers: Vec<Server> = [Server::Keel, Server::Etcd]
        .into_iter()
        .filter(|s| args.only.is_none_or(|o| o == *s))
        .collect();
    let binaries: Vec<(Server, PathBuf)> = servers
        .iter()
        .map(|&s| cluster::server_binary(s).map(|b| (s, b)))
        .collect::<anyhow::Result<_>>()?;
    let workloads: Vec<&Workload> = WORKLOADS
        .iter()
        .filter(|w| args.filter.as_deref().is_none_or(|f| w.name.contains(f)))
        .collect();
    if workloads.is_empty() {
        bail!("no workload matches the filter");
    }
    let rounds = args.rounds.unwrap_or(if args.quick { 1 } else { 2 }).max(1);
    let mut runs = Vec::new();
    for round in 0..rounds {
        let mut order = binaries.clone();
        if round % 2 == 1 {
            order.reverse();
        }
        for (server, binary) in &order {
            let ctx = RoundCtx {
                args,
                bench: &bench,
                out: &out,
                round,
            };
            runs.extend(ctx.run_server(*server, binary, &workloads)?);
        }
    }
    let check_perf = if args.quick || args.skip_check_perf {
        Vec::new()
    } else {
        check_perf_all(args, &out, &binaries)?
    };
    let names: Vec<&str> = workloads.iter().map(|w| w.name).collect();
    let rows = results::rows(&runs, &names);
    report(
        &out,
        Results {
            quick: args.quick,
            rounds,
            machine: machine(),
            runs,
            rows,
            check_perf,
        },
    )
}

fn build_keel_bench() -> anyhow::Result<PathBuf> {
    workspace::run(workspace::cargo(&[
        "build",
        "--release",
        "-p",
        "ctl",
        "--bin",
        "keel-bench",
    ]))?;
    Ok(workspace::target_dir().join("release").join("keel-bench"))
}

/// What one server's round needs.
struct RoundCtx<'a> {
    args: &'a CompareArgs,
    bench: &'a Path,
    out: &'a Path,
    round: u32,
}

/// The three-member cluster of `server` that the comparison starts.
fn cluster_spec(args: &CompareArgs, out: &Path, server: Server) -> ClusterSpec {
    ClusterSpec {
        server,
        nodes: 3,
        base_port: args.base_port,
        dir: out.join("data").join(server.name()),
        extra_flags: vec!["--log-level=warn".to_string()],
    }
}

impl RoundCtx<'_> {
    /// Starts a fresh cluster of `server`, runs every workload, stops it.
    fn run_server(
        &self,
        server: Server,
        binary: &Path,
        workloads: &[&Workload],
    ) -> anyhow::Result<Vec<Run>> {
        eprintln!("xtask: round {} against {}", self.round, server.name());
        let mut cluster = RunningCluster::start(cluster_spec(self.args, self.out, server), binary)?;
        let mut runs = Vec::new();
        let ready = cluster
            .wait_ready()
            .and_then(|()| put_range_key(&cluster.spec.endpoints()))
            .and_then(|()| leader::leader_first(&cluster.spec.endpoints()));
        if let Ok(endpoints) = &ready {
            eprintln!(
                "xtask: {} endpoints, leader first: {endpoints}",
                server.name()
            );
        }
        for w in workloads {
            let run = match (&ready, cluster.check_alive()) {
                (Err(e), _) => self.failed(server, w, format!("{e:#}")),
                (_, Err(e)) => self.failed(server, w, format!("{e:#}")),
                (Ok(endpoints), Ok(())) => self.run_workload(server, w, &cluster, endpoints),
            };
            runs.push(run);
        }
        cluster.stop()?;
        Ok(runs)
    }

    fn failed(&self, server: Server, w: &Workload, error: String) -> Run {
        eprintln!("xtask: {} {}: {error}", server.name(), w.name);
        Run {
            server: server.name().into(),
            round: self.round,
            workload: w.name.into(),
            report: None,
            error: Some(error),
            peak_rss_kib: None,
        }
    }

    fn run_workload(
        &self,
        server: Server,
        w: &Workload,
        cluster: &RunningCluster,
        endpoints: &str,
    ) -> Run {
        let json = self.out.join("raw").join(format!(
            "{}-r{}-{}.json",
            server.name(),
            self.round,
            w.slug()
        ));
        let _ = std::fs::remove_file(&json);
        let pids = cluster.pids();
        if !self.args.quick {
            std::thread::sleep(SETTLE);
        }
        for &pid in &pids {
            process::reset_peak_rss(pid);
        }
        let args = w.command_args(self.args.quick, endpoints, &json);
        eprintln!(
            "xtask: {} {}: keel-bench {}",
            server.name(),
            w.name,
            args.join(" ")
        );
        let timeout = Duration::from_secs(if self.args.quick { 120 } else { 900 });
        if let Err(e) = run_with_timeout(Command::new(self.bench).args(&args), timeout) {
            return self.failed(server, w, format!("{e:#}"));
        }
        let peak: Option<u64> = pids.iter().map(|&p| process::peak_rss_kib(p)).sum();
        let report = std::fs::read_to_string(&json)
            .context("reading keel-bench's JSON")
            .and_then(|t| serde_json::from_str(&t).context("parsing keel-bench's JSON"));
        match report {
            Ok(report) => Run {
                server: server.name().into(),
                round: self.round,
                workload: w.name.into(),
                report: Some(report),
                error: None,
                peak_rss_kib: peak,
            },
            Err(e) => self.failed(server, w, format!("{e:#}")),
        }
    }
}

/// Puts the key the range workloads read, with a 256-byte value.
fn put_range_key(endpoints: &str) -> anyhow::Result<()> {
    let value = "v".repeat(256);
    let status = Command::new("etcdctl")
        .env("ETCDCTL_API", "3")
        .arg(format!("--endpoints={endpoints}"))
        .args(["put", RANGE_KEY, &value])
        .stdout(Stdio::null())
        .status()
        .context("running etcdctl put")?;
    if !status.success() {
        bail!("etcdctl put {RANGE_KEY} failed: {status}");
    }
    Ok(())
}

/// Runs `cmd` (its output goes to the terminal), killing it after `timeout`.
fn run_with_timeout(cmd: &mut Command, timeout: Duration) -> anyhow::Result<()> {
    let mut child = cmd.spawn().context("starting keel-bench")?;
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait()? {
            if !status.success() {
                bail!("keel-bench failed: {status}");
            }
            return Ok(());
        }
        if Instant::now() >= deadline {
            child.kill()?;
            child.wait()?;
            bail!("keel-bench did not finish within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn check_perf_all(
    args: &CompareArgs,
    out: &Path,
    binaries: &[(Server, PathBuf)],
) -> anyhow::Result<Vec<CheckPerf>> {
    let mut outcomes = Vec::new();
    for (server, binary) in binaries {
        let mut cluster = RunningCluster::start(cluster_spec(args, out, *server), binary)?;
        let outcome = match cluster.wait_ready() {
            Ok(()) => check_perf::run(server.name(), &cluster.spec.endpoints()),
            Err(e) => CheckPerf {
                server: server.name().into(),
                pass: false,
                output: format!("{e:#}"),
            },
        };
        cluster.stop()?;
        outcomes.push(outcome);
    }
    Ok(outcomes)
}

fn machine() -> Machine {
    let capture = |program: &str, args: &[&str]| {
        Command::new(program)
            .args(args)
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_default()
    };
    let etcd = capture("etcd", &["--version"]);
    Machine {
        nproc: capture("nproc", &[]),
        memory: capture("free", &["-h"]),
        etcd_version: etcd.lines().next().unwrap_or_default().to_string(),
    }
}

fn report(out: &Path, results: Results) -> anyhow::Result<()> {
    let title = format!(
        "keel vs etcd 3.4, 3 members each, {} ({} round{})",
        if results.quick { "--quick" } else { "full" },
        results.rounds,
        if results.rounds == 1 { "" } else { "s" }
    );
    println!("\n{title}\n\n{}", results::text_table(&results.rows));
    for c in &results.check_perf {
        println!(
            "etcdctl check perf --load=m against {}: {}",
            c.server,
            if c.pass { "PASS" } else { "FAIL" }
        );
    }
    std::fs::write(
        out.join("results.json"),
        serde_json::to_string_pretty(&results)?,
    )?;
    std::fs::write(out.join("table.md"), results::markdown_table(&results.rows))?;
    std::fs::write(out.join("chart.svg"), chart::svg(&results.rows, &title))?;
    println!(
        "\nwrote {}/{{results.json,table.md,chart.svg,raw/}}",
        out.display()
    );
    Ok(())
}
