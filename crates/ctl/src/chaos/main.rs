//! keel-chaos: drives concurrent clients against a running cluster (it
//! starts nothing itself), records every operation's invocation and outcome
//! into a history file, then checks the history: linearizability of the KV
//! operations (a Wing–Gong–Lowe search per key), revision order across keys,
//! etcd's watch guarantees, lease expiry, and agreement of all members.
//!
//! ```text
//! keel-chaos --endpoints=127.0.0.1:2379,127.0.0.1:2381 --duration=30s --seed=7
//! keel-chaos --check chaos-history.jsonl
//! ```
//!
//! It prints the seed first and `ops=... faults=... anomalies=...` last, and
//! exits 1 when there is an anomaly. `cargo xtask chaos` starts the cluster,
//! injects faults and runs it.

mod background;
mod cli;
mod driver;
mod finale;
mod history;
mod linearizability;
mod model;
mod patch;
mod recorder;
mod report;
mod run;
mod watch_check;
mod watcher;

#[cfg(test)]
mod serial;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::Cli;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("keel-chaos: starting the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run::main(&cli)) {
        Ok(0) => ExitCode::SUCCESS,
        Ok(_) => ExitCode::from(1),
        Err(e) => {
            eprintln!("keel-chaos: {e:#}");
            ExitCode::from(2)
        }
    }
}
