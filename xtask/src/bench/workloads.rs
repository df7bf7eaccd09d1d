//! The workloads of `cargo xtask bench compare` (issue 8), as keel-bench
//! command lines, with full and `--quick` sizes.

/// One row of the comparison.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Workload {
    /// The row's name.
    pub(crate) name: &'static str,
    /// gRPC connections.
    pub(crate) conns: u32,
    /// Concurrent clients.
    pub(crate) clients: u32,
    /// Requests in a full run (for watch: puts).
    pub(crate) total_full: u64,
    /// Requests in a `--quick` run.
    pub(crate) total_quick: u64,
    /// The keel-bench subcommand and its flags; `{total}` is replaced by the
    /// run's total.
    pub(crate) args: &'static [&'static str],
}

/// The key every range workload reads; compare puts it first.
pub(crate) const RANGE_KEY: &str = "foo";

const PUT_256: &[&str] = &["put", "--val-size=256"];
const PUT_256_WIDE: &[&str] = &["put", "--val-size=256", "--key-space-size=100000"];
const RANGE_L: &[&str] = &["range", RANGE_KEY, "--consistency=l"];
const RANGE_S: &[&str] = &["range", RANGE_KEY, "--consistency=s"];
const TXN_PUT: &[&str] = &[
    "txn-put",
    "--txn-ops=4",
    "--val-size=256",
    "--key-space-size=100000",
];
const WATCH: &[&str] = &[
    "watch",
    "--streams=100",
    "--watch-per-stream=100",
    "--put-total={total}",
    "--put-rate=10",
    "--val-size=256",
];
const LEASE: &[&str] = &["lease-keepalive"];

const fn w(
    name: &'static str,
    conns: u32,
    clients: u32,
    full: u64,
    quick: u64,
    args: &'static [&'static str],
) -> Workload {
    Workload {
        name,
        conns,
        clients,
        total_full: full,
        total_quick: quick,
        args,
    }
}

/// Every workload, in the order they run.
pub(crate) const WORKLOADS: &[Workload] = &[
    w("put 1 client, 1 key", 1, 1, 10_000, 300, PUT_256),
    w("put 100 clients, 1 key", 10, 100, 100_000, 3_000, PUT_256),
    w(
        "put 1000 clients, 1 key",
        100,
        1000,
        100_000,
        5_000,
        PUT_256,
    ),
    w("put 1 client, 100k keys", 1, 1, 10_000, 300, PUT_256_WIDE),
    w(
        "put 1000 clients, 100k keys",
        100,
        1000,
        100_000,
        5_000,
        PUT_256_WIDE,
    ),
    w("range l 1 client", 1, 1, 10_000, 500, RANGE_L),
    w("range l 1000 clients", 100, 1000, 100_000, 10_000, RANGE_L),
    w("range s 1 client", 1, 1, 10_000, 500, RANGE_S),
    w("range s 1000 clients", 100, 1000, 100_000, 10_000, RANGE_S),
    w("txn-put 100 clients", 10, 100, 50_000, 2_000, TXN_PUT),
    w("txn-put 1000 clients", 100, 1000, 100_000, 5_000, TXN_PUT),
    w("watch 10k watchers", 10, 1, 100, 10, WATCH),
    w(
        "lease keep-alive 100 clients",
        10,
        100,
        100_000,
        5_000,
        LEASE,
    ),
];

impl Workload {
    /// The total for this run.
    pub(crate) fn total(&self, quick: bool) -> u64 {
        if quick {
            self.total_quick
        } else {
            self.total_full
        }
    }

    /// keel-bench's arguments against `endpoints`, writing JSON to `json`.
    pub(crate) fn command_args(
        &self,
        quick: bool,
        endpoints: &str,
        json: &std::path::Path,
    ) -> Vec<String> {
        let total = self.total(quick).to_string();
        let mut args = vec![
            format!("--endpoints={endpoints}"),
            format!("--conns={}", self.conns),
            format!("--clients={}", self.clients),
            format!("--total={total}"),
            format!("--json={}", json.display()),
        ];
        args.extend(self.args.iter().map(|a| a.replace("{total}", &total)));
        args
    }

    /// A file-name-safe form of the name.
    pub(crate) fn slug(&self) -> String {
        self.name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '-'
                }
            })
            .collect::<String>()
            .split('-')
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join("-")
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn watch_gets_its_put_total_and_names_are_unique() {
        let watch = WORKLOADS
            .iter()
            .find(|w| w.name.starts_with("watch"))
            .unwrap();
        let args = watch.command_args(true, "a:1", std::path::Path::new("/o.json"));
        assert!(args.contains(&"--put-total=10".to_string()), "{args:?}");
        assert!(args.contains(&"--json=/o.json".to_string()));
        let mut slugs: Vec<String> = WORKLOADS.iter().map(Workload::slug).collect();
        slugs.sort();
        slugs.dedup();
        assert_eq!(slugs.len(), WORKLOADS.len());
        assert_eq!(WORKLOADS[0].slug(), "put-1-client-1-key");
    }
}
