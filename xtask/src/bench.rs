//! `cargo xtask bench`: keel against etcd 3.4 side by side (`compare`), and
//! the crates' criterion benchmarks (`micro`).
//!
//! `compare` drives processes only: it builds `keel` and `keel-bench`
//! (a binary of the ctl crate, modelled on etcd's benchmark tool), starts
//! the clusters with `cluster`'s code, runs keel-bench with `--json`, reads
//! the members' peak RSS from /proc, and writes under `target/bench/`:
//! `results.json` (every run, raw), `table.md` and `chart.svg`.

mod chart;
mod check_perf;
mod compare;
mod results;
mod workloads;

use clap::Subcommand;

use crate::workspace;

/// `cargo xtask bench ...`.
#[derive(Debug, Subcommand)]
pub(crate) enum BenchCommand {
    /// keel and etcd 3.4, three members each, the same workloads, one table.
    Compare(compare::CompareArgs),
    /// The crates' criterion benchmarks (`cargo bench --workspace --benches`).
    Micro {
        /// Only benchmarks whose names match (passed to criterion).
        filter: Option<String>,
    },
}

/// Runs `cargo xtask bench ...`.
pub(crate) fn run(command: &BenchCommand) -> anyhow::Result<()> {
    match command {
        BenchCommand::Compare(args) => compare::run(args),
        BenchCommand::Micro { filter } => {
            let mut cmd = workspace::cargo(&["bench", "--workspace", "--benches"]);
            if let Some(f) = filter {
                cmd.arg("--").arg(f);
            }
            workspace::run(cmd)
        }
    }
}
