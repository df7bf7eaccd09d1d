//! `cargo xtask cluster up|down`: a local multi-member cluster on loopback.
//!
//! `up` builds keel (release), starts the members with distinct client and
//! peer ports and data directories under `target/cluster/`, waits until each
//! answers `/health`, prints the endpoints and an etcdctl line to try, and
//! stops them cleanly on Ctrl-C (SIGTERM, then wait). `--detach` leaves them
//! running with their pids in `target/cluster/pids`; `down` stops them.
//! `--server etcd` starts Debian's etcd with the same flags instead.

pub(crate) mod process;
pub(crate) mod spec;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::sync::atomic::Ordering;
use std::time::Duration;

use anyhow::Context;
use anyhow::bail;
use clap::Args;
use clap::Subcommand;

use crate::prereqs;
use crate::workspace;
use process::RunningCluster;
use spec::ClusterSpec;
use spec::Server;

/// `cargo xtask cluster ...`.
#[derive(Debug, Subcommand)]
pub(crate) enum ClusterCommand {
    /// Build and start a local cluster.
    Up(UpArgs),
    /// Stop the cluster `up --detach` left running.
    Down,
}

/// Options of `cluster up`.
#[derive(Debug, Args)]
pub(crate) struct UpArgs {
    /// Number of members.
    #[arg(long, default_value_t = 3)]
    nodes: usize,
    /// The first member's client port; member i uses base+2i (clients) and
    /// base+2i+1 (peers).
    #[arg(long, default_value_t = 23790)]
    base_port: u16,
    /// Leave the members running and return.
    #[arg(long)]
    detach: bool,
    /// The server to run.
    #[arg(long, value_enum, default_value_t = Server::Keel)]
    server: Server,
}

/// Runs `cargo xtask cluster ...`.
pub(crate) fn run(command: &ClusterCommand) -> anyhow::Result<()> {
    match command {
        ClusterCommand::Up(args) => up(args),
        ClusterCommand::Down => down(),
    }
}

/// Where `cluster up` keeps data directories, logs and the pid file.
fn cluster_dir() -> PathBuf {
    workspace::root().join("target").join("cluster")
}

fn pid_file() -> PathBuf {
    cluster_dir().join("pids")
}

/// The server binary, built first when it is keel.
pub(crate) fn server_binary(server: Server) -> anyhow::Result<PathBuf> {
    match server {
        Server::Keel => {
            workspace::run(workspace::cargo(&["build", "--release", "--bin", "keel"]))?;
            Ok(workspace::target_dir().join("release").join("keel"))
        }
        Server::Etcd => Ok(PathBuf::from("etcd")),
    }
}

fn up(args: &UpArgs) -> anyhow::Result<()> {
    if args.nodes == 0 || args.nodes > spec::MAX_NODES {
        bail!("--nodes must be between 1 and {}", spec::MAX_NODES);
    }
    if usize::from(args.base_port) + 2 * args.nodes > usize::from(u16::MAX) {
        bail!(
            "--base-port {} leaves no room for {} members",
            args.base_port,
            args.nodes
        );
    }
    if pid_file().exists() && read_pids()?.iter().any(|&(pid, _)| process::alive(pid)) {
        bail!("a detached cluster is running; stop it with `cargo xtask cluster down`");
    }
    prereqs::ensure()?;
    let binary = server_binary(args.server)?;
    let spec = ClusterSpec {
        server: args.server,
        nodes: args.nodes,
        base_port: args.base_port,
        dir: cluster_dir().join(args.server.name()),
        extra_flags: Vec::new(),
    };
    let interrupted = Arc::new(AtomicBool::new(false));
    let flag = interrupted.clone();
    ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst))
        .context("installing the Ctrl-C handler")?;
    let mut cluster = RunningCluster::start(spec, &binary)?;
    if let Err(e) = cluster.wait_ready() {
        cluster.stop()?;
        return Err(e);
    }
    print_welcome(&cluster.spec);
    if args.detach {
        write_pids(&cluster)?;
        println!(
            "detached; pids in {}; stop with `cargo xtask cluster down`",
            pid_file().display()
        );
        cluster.detach();
        return Ok(());
    }
    println!("Ctrl-C stops the cluster.");
    while !interrupted.load(Ordering::SeqCst) {
        if let Err(e) = cluster.check_alive() {
            cluster.stop()?;
            return Err(e);
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    println!("\nstopping the members ...");
    cluster.stop()?;
    println!("stopped.");
    Ok(())
}

fn print_welcome(spec: &ClusterSpec) {
    println!(
        "{} cluster of {} members is up:",
        spec.server.name(),
        spec.nodes
    );
    for i in 0..spec.nodes {
        println!(
            "  {}  {}  (data {}, log {})",
            spec.name(i),
            spec.client_url(i),
            spec.data_dir(i).display(),
            spec.log_file(i).display()
        );
    }
    println!("try:\n  {}", spec.etcdctl_hint());
}

fn write_pids(cluster: &RunningCluster) -> anyhow::Result<()> {
    let lines: String = cluster
        .pids()
        .iter()
        .enumerate()
        .map(|(i, pid)| format!("{pid} {}\n", cluster.spec.name(i)))
        .collect();
    std::fs::write(pid_file(), lines).context("writing the pid file")
}

fn read_pids() -> anyhow::Result<Vec<(u32, String)>> {
    let text = std::fs::read_to_string(pid_file()).context("reading the pid file")?;
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let (pid, name) = l.split_once(' ').unwrap_or((l, ""));
            let pid = pid
                .trim()
                .parse()
                .with_context(|| format!("bad pid line {l:?}"))?;
            Ok((pid, name.to_string()))
        })
        .collect()
}

fn down() -> anyhow::Result<()> {
    if !pid_file().exists() {
        println!("no detached cluster ({} is absent)", pid_file().display());
        return Ok(());
    }
    let pids = read_pids()?;
    for (pid, name) in &pids {
        if process::alive(*pid) {
            println!("stopping {name} (pid {pid})");
            process::signal(*pid, "TERM");
        }
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    for (pid, name) in &pids {
        while process::alive(*pid) && !exited(*pid) {
            if std::time::Instant::now() >= deadline {
                eprintln!("xtask: {name} (pid {pid}) ignored SIGTERM; killing it");
                process::signal(*pid, "KILL");
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    std::fs::remove_file(pid_file()).context("removing the pid file")?;
    println!("stopped.");
    Ok(())
}

/// True when `pid` is a zombie (exited, not yet reaped by its new parent).
fn exited(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            s.rsplit_once(')')
                .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'))
        })
        .unwrap_or(true)
}
