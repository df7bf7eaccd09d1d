//! Runs the seeded cluster simulator.
//!
//! `cargo run --release -p raft-core --example simulate -- --seeds 500 --steps 20000`
//! runs seeds 0..500; `--seed N` replays one; `--time-budget-secs N` stops starting new
//! seeds after N seconds. Prints `seeds=... steps=... violations=0 elections=... committed=...`;
//! on a violation prints its seed and trace and exits non-zero.

use std::process::ExitCode;
use std::time::Duration;
use std::time::Instant;

use raft_core::testing::sim;

struct Args {
    seeds: u64,
    steps: u64,
    seed: Option<u64>,
    time_budget: Option<Duration>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        seeds: 100,
        steps: 20_000,
        seed: None,
        time_budget: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let n: u64 = value
            .parse()
            .map_err(|_| format!("{flag}: not a number: {value}"))?;
        match flag.as_str() {
            "--seeds" => args.seeds = n,
            "--steps" => args.steps = n,
            "--seed" => args.seed = Some(n),
            "--time-budget-secs" => args.time_budget = Some(Duration::from_secs(n)),
            _ => {
                return Err(format!(
                    "unknown flag {flag}; flags: --seeds N --steps N --seed N --time-budget-secs N"
                ));
            }
        }
    }
    Ok(args)
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let seeds: Vec<u64> = match args.seed {
        Some(s) => vec![s],
        None => (0..args.seeds).collect(),
    };
    let started = Instant::now();
    let (mut ran, mut steps, mut elections, mut committed) = (0u64, 0u64, 0u64, 0u64);
    for seed in seeds {
        if args.time_budget.is_some_and(|b| started.elapsed() >= b) {
            break;
        }
        match sim::run(&sim::SimConfig::new(seed, args.steps)) {
            Ok(r) => {
                ran += 1;
                steps += r.steps;
                elections += r.elections;
                committed += r.committed;
            }
            Err(v) => {
                eprintln!("{v}");
                println!(
                    "seeds={} steps={steps} violations=1 failing_seed={seed}",
                    ran + 1
                );
                return ExitCode::FAILURE;
            }
        }
    }
    println!("seeds={ran} steps={steps} violations=0 elections={elections} committed={committed}");
    ExitCode::SUCCESS
}
