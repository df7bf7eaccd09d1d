//! keel-chaos's command line.

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

/// Drives concurrent clients against a running cluster, records the
/// history, and checks it for linearizability and watch guarantees.
#[derive(Debug, Parser)]
#[command(name = "keel-chaos", version)]
pub(crate) struct Cli {
    /// The members' client endpoints, comma-separated (host:port or URL).
    #[arg(long, value_delimiter = ',', default_value = "127.0.0.1:2379")]
    pub(crate) endpoints: Vec<String>,
    /// How long the load runs, e.g. `30s`, `2m` or seconds.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub(crate) duration: Duration,
    /// The seed of every random choice; printed, and random when absent.
    #[arg(long)]
    pub(crate) seed: Option<u64>,
    /// Concurrent KV clients.
    #[arg(long, default_value_t = 8)]
    pub(crate) clients: u32,
    /// Concurrent watchers.
    #[arg(long, default_value_t = 2)]
    pub(crate) watchers: u32,
    /// Keys most operations go to.
    #[arg(long, default_value_t = 4)]
    pub(crate) hot_keys: usize,
    /// Keys the rest go to.
    #[arg(long, default_value_t = 40)]
    pub(crate) cold_keys: usize,
    /// After this long an operation counts as indeterminate.
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    pub(crate) op_timeout: Duration,
    /// Where to write the history (JSON lines).
    #[arg(long, default_value = "chaos-history.jsonl")]
    pub(crate) history: PathBuf,
    /// A file the fault injector appends one line per fault to; counted and
    /// printed with the result.
    #[arg(long)]
    pub(crate) fault_log: Option<PathBuf>,
    /// The per-key linearizability search budget, in steps beyond two per
    /// operation of the key.
    #[arg(long, default_value_t = super::linearizability::DEFAULT_BUDGET_STEPS)]
    pub(crate) budget_steps: u64,
    /// Test only: serve some linearizable gets from an old revision (as a
    /// lagging member would) while recording them as linearizable.
    #[arg(long)]
    pub(crate) inject_stale_reads: bool,
    /// Tolerate (count, not fail on) watch progress notifications that run
    /// ahead of events: etcd before 3.4.24 sends them (etcd-io/etcd#15220).
    #[arg(long)]
    pub(crate) allow_early_progress: bool,
    /// Only check a recorded history file; drive nothing.
    #[arg(long)]
    pub(crate) check: Option<PathBuf>,
}

/// `30s`, `2m`, `500ms` or plain seconds.
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
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
        _ => Err(format!("bad duration unit in {text:?} (ms, s, m or h)")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("7"), Ok(Duration::from_secs(7)));
        assert!(parse_duration("3d").is_err());
    }
}
