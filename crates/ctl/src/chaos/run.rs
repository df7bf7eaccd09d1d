//! One run: drive the load, let the cluster heal, read everything back,
//! write the history, check it, print the result.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering;
use std::time::Duration;

use anyhow::Context;
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::background;
use super::cli::Cli;
use super::driver;
use super::driver::Workload;
use super::finale;
use super::history;
use super::history::Operation;
use super::history::WatchRecord;
use super::recorder;
use super::recorder::Recorder;
use super::report;
use super::watcher;

/// How many anomalies are printed.
const PRINTED_ANOMALIES_MAX: usize = 20;
/// How long watchers get after the load to catch up with the last revision.
const WATCH_CATCH_UP: Duration = Duration::from_secs(30);

/// Runs keel-chaos; returns the number of anomalies.
pub(crate) async fn main(cli: &Cli) -> anyhow::Result<usize> {
    if let Some(path) = &cli.check {
        let (ops, watches) = history::read(path)?;
        let count = ops.len();
        let report = report::check(
            ops,
            &watches,
            Vec::new(),
            cli.budget_steps,
            cli.allow_early_progress,
        );
        report.print(count, 0, &[], PRINTED_ANOMALIES_MAX);
        return Ok(report.anomalies.len());
    }
    let seed = cli.seed.unwrap_or_else(clock_seed);
    println!(
        "keel-chaos: seed={seed} endpoints={} duration={:?}{}",
        cli.endpoints.join(","),
        cli.duration,
        if cli.inject_stale_reads {
            " inject-stale-reads"
        } else {
            ""
        }
    );
    let (ops, watches, found) = drive(cli, seed).await?;
    history::write(&cli.history, &ops, &watches)?;
    println!(
        "history: {} ({} ops, {} watch records)",
        cli.history.display(),
        ops.len(),
        watches.len()
    );
    let faults = match &cli.fault_log {
        Some(path) => std::fs::read_to_string(path)
            .with_context(|| format!("reading {}", path.display()))?
            .lines()
            .map(str::to_owned)
            .collect(),
        None => Vec::new(),
    };
    let count = ops.len();
    let report = report::check(
        ops,
        &watches,
        found,
        cli.budget_steps,
        cli.allow_early_progress,
    );
    // A fault's healing step (restart, SIGCONT) and skipped faults are
    // logged but not counted.
    let injected = faults
        .iter()
        .filter(|f| !f.contains(" heal: ") && !f.contains("skipped") && !f.contains("not counted"))
        .count();
    report.print(count, injected, &faults, PRINTED_ANOMALIES_MAX);
    if !report.anomalies.is_empty() {
        println!(
            "replay: same seed {seed}; history in {}",
            cli.history.display()
        );
    }
    Ok(report.anomalies.len())
}

/// A seed from the clock, when none is given.
fn clock_seed() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_nanos() % u128::from(u64::MAX)).unwrap_or(0))
        .unwrap_or(0)
}

/// Drives the load and the finale; returns the history and the anomalies
/// noticed on the way.
async fn drive(
    cli: &Cli,
    seed: u64,
) -> anyhow::Result<(Vec<Operation>, Vec<WatchRecord>, Vec<String>)> {
    let channels = Arc::new(recorder::channels(&cli.endpoints)?);
    let recorder = Recorder::new();
    let workload = Workload {
        hot_keys: cli.hot_keys,
        cold_keys: cli.cold_keys,
        op_timeout: cli.op_timeout,
        inject_stale_reads: cli.inject_stale_reads,
    };
    let latest: driver::Latest = Arc::new(AtomicU64::new(0));
    let target: driver::Latest = Arc::new(AtomicU64::new(0));
    let vouched: driver::Latest = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + cli.duration;
    let mut clients = JoinSet::new();
    for id in 0..cli.clients {
        let task = driver::client(
            id,
            channels.clone(),
            recorder.clone(),
            workload.clone(),
            seed,
            latest.clone(),
            deadline,
        );
        clients.spawn(task);
    }
    let mut watchers = JoinSet::new();
    for id in 0..cli.watchers {
        let hard_stop = deadline + WATCH_CATCH_UP;
        watchers.spawn(watcher::watcher(
            id,
            channels.clone(),
            recorder.clone(),
            1,
            watcher::Marks {
                target: target.clone(),
                vouched: vouched.clone(),
            },
            deadline,
            hard_stop,
        ));
    }
    let leases = tokio::spawn(background::leases(channels.clone(), deadline));
    let compactions = tokio::spawn(background::compactor(
        channels.clone(),
        latest.clone(),
        vouched.clone(),
        deadline,
    ));
    let probe = tokio::spawn(background::revision_probe(
        channels.clone(),
        recorder.clone(),
        deadline,
    ));
    clients.join_all().await;
    let (leases, compactions) = (leases.await.unwrap_or(0), compactions.await.unwrap_or(0));
    let _ = probe.await;
    match finale::first_write(&channels).await {
        Some(took) => println!(
            "healed: first write {} ms after the load stopped",
            took.as_millis()
        ),
        None => recorder.anomaly(format!(
            "no write succeeded within {:?} after the load stopped",
            finale::HEAL_BOUND
        )),
    }
    let final_revision = finale::read_back(&channels, &recorder, &workload.keys()).await?;
    target.store(
        final_revision.max(latest.load(Ordering::Relaxed)),
        Ordering::Relaxed,
    );
    watchers.join_all().await;
    if let Err(e) = finale::leases_expired(&channels).await {
        recorder.anomaly(e);
    }
    match finale::hashes_agree(&channels).await {
        Ok(hash) => println!("members agree: HashKV {hash:#010x}"),
        Err(e) => recorder.anomaly(e),
    }
    println!("leases granted={leases} compactions={compactions} final revision={final_revision}");
    Ok(recorder.take())
}
