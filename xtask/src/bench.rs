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
mod leader;
mod results;
mod workloads;

use clap::Subcommand;

use crate::workspace;

/// `cargo xtask bench ...`.
#[derive(Debug, Subcommand)]
pub(crate) enum BenchCommand {
    /// keel and etcd 3.4, three members each, the same workloads, one table.
    Compare(compare::CompareArgs),
    /// The crates' criterion benchmarks: `cargo bench --benches` on every
    /// crate with a `benches/` directory; arguments after `--` go to
    /// criterion, e.g. `cargo xtask bench micro -- --quick append`.
    Micro {
        /// Arguments for criterion (a name filter, `--quick`, ...).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
}

/// Runs `cargo xtask bench ...`.
pub(crate) fn run(command: &BenchCommand) -> anyhow::Result<()> {
    match command {
        BenchCommand::Compare(args) => compare::run(args),
        BenchCommand::Micro { args } => micro(args),
    }
}

/// Runs the criterion benchmarks of the crates that have some.
fn micro(args: &[String]) -> anyhow::Result<()> {
    let crates = crates_with_benches()?;
    if crates.is_empty() {
        anyhow::bail!("no crate under crates/ has a benches/ directory");
    }
    let mut cmd = workspace::cargo(&["bench", "--benches"]);
    for name in &crates {
        cmd.arg("-p").arg(name);
    }
    if !args.is_empty() {
        cmd.arg("--").args(args);
    }
    workspace::run(cmd)
}

/// The crates (named as their directories) that have a `benches/` directory.
fn crates_with_benches() -> anyhow::Result<Vec<String>> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(workspace::root().join("crates"))? {
        let path = entry?.path();
        if let Some(name) = path.file_name()
            && path.join("benches").is_dir()
        {
            names.push(name.to_string_lossy().into_owned());
        }
    }
    names.sort();
    Ok(names)
}
