//! `cargo xtask`: the developer's entry point for set-up, tests, local clusters,
//! benchmarks and fault tests. It depends on no heavy crate, so it builds in
//! seconds on a fresh machine before anything else.

mod bench;
mod chaos;
mod cluster;
mod prereqs;
mod run;
mod test;
mod workspace;

use clap::Parser;
use clap::Subcommand;

/// keel's developer tasks.
#[derive(Debug, Parser)]
#[command(name = "cargo xtask", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check (and as root on Debian, install) what the build and the tests need.
    Prereqs,
    /// Set up, lint, and run the whole test suite in the `ci` profile.
    Test(test::TestArgs),
    /// Build and run one `keel` member (a single-member cluster by default);
    /// arguments after `--` go to keel, e.g. `cargo xtask run -- --name n1`.
    Run {
        /// Arguments for keel.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// A local multi-member cluster: `cluster up [--nodes 3] [--detach]`, `cluster down`.
    #[command(subcommand)]
    Cluster(cluster::ClusterCommand),
    /// Benchmarks: `bench compare` (keel vs etcd 3.4), `bench micro` (criterion).
    #[command(subcommand)]
    Bench(bench::BenchCommand),
    /// Faults against a real cluster, checked for linearizability:
    /// `chaos [--duration 60s] [--seed N] [--fault kill,pause,...] [--server keel|etcd]`.
    Chaos(chaos::ChaosArgs),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Prereqs => prereqs::ensure(),
        Command::Test(args) => test::run(&args),
        Command::Run { args } => run::keel(&args),
        Command::Cluster(command) => cluster::run(&command),
        Command::Bench(command) => bench::run(&command),
        Command::Chaos(args) => chaos::run(&args),
    }
}
