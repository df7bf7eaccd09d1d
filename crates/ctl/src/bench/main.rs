//! keel-bench: a load generator for the etcd v3 gRPC API, modelled on
//! etcd's `tools/benchmark`, so that keel's figures and etcd's compare.
//!
//! ```text
//! keel-bench --endpoints=127.0.0.1:2379 --conns=10 --clients=100 --total=100000 \
//!     put --key-size=8 --val-size=256 --key-space-size=100000
//! keel-bench --clients=1000 range foo --consistency=s
//! keel-bench txn-put --txn-ops=4 --key-space-size=1000
//! keel-bench --conns=10 watch --streams=100 --watch-per-stream=100 --put-total=100
//! keel-bench --clients=100 lease-keepalive --json=out.json
//! ```
//!
//! It prints etcd's report (summary, response time histogram, latency
//! distribution, error distribution) and, with `--json FILE`, writes the same
//! figures for `cargo xtask bench compare`.

mod cli;
mod conns;
mod keys;
mod pacer;
mod report;
mod runner;
mod stats;
mod workload;

use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;

use crate::cli::Cli;
use crate::cli::Workload;
use crate::report::JsonReport;
use crate::stats::Summary;

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Err(e) = cli.validate() {
        eprintln!("keel-bench: {e:#}");
        return ExitCode::from(2);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("keel-bench: starting the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(&cli)) {
        Ok(summary) if summary.requests > 0 => ExitCode::SUCCESS,
        Ok(_) => {
            eprintln!("keel-bench: no request succeeded");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("keel-bench: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: &Cli) -> anyhow::Result<Summary> {
    use workload::lease_keepalive::LeaseKeepalive;
    use workload::put::Put;
    use workload::range::Range;
    use workload::txn_put::TxnPut;
    let g = &cli.global;
    let (recorder, elapsed) = match &cli.command {
        Workload::Put(a) => runner::run(Put::new(a.keys.clone()), g).await?,
        Workload::Range(a) => runner::run(Range::new(a), g).await?,
        Workload::TxnPut(a) => runner::run(TxnPut::new(a.clone()), g).await?,
        Workload::LeaseKeepalive => runner::run(LeaseKeepalive, g).await?,
        Workload::Watch(a) => workload::watch::run(a, g).await?,
    };
    let summary = Summary::new(&recorder, elapsed);
    print!("{}", report::text(&summary));
    if let Some(path) = &g.json {
        let json = JsonReport {
            workload: cli.command.name().to_string(),
            args: std::env::args().skip(1).collect(),
            endpoints: g.endpoints.clone(),
            conns: g.conns,
            clients: g.clients,
            summary: summary.clone(),
        };
        let text = serde_json::to_string_pretty(&json)?;
        std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(summary)
}
