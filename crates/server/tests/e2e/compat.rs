//! Compatibility with etcd as its own tools see it: the real `etcdctl`
//! 3.4 runs the same commands against keel and against a real etcd 3.4
//! (both fresh, single member), and the outputs must be equal once what
//! legitimately differs is normalized: member, cluster and lease ids,
//! ports, timings, raft index and term, db size and the server version.

mod serial {
    use std::process::Command;

    use regex::Regex;

    use crate::support::Server;
    use crate::support::have_program;

    /// One etcdctl invocation: its arguments (`{lease}` is replaced by the
    /// lease id granted earlier on the same server), stdin, and for
    /// commands that never end (watch) a run time in seconds.
    struct Step {
        args: &'static [&'static str],
        stdin: &'static str,
        run_seconds: Option<u32>,
    }

    const fn step(args: &'static [&'static str]) -> Step {
        Step {
            args,
            stdin: "",
            run_seconds: None,
        }
    }

    const TXN_CREATE: &str = "mod(\"t\") = \"0\"\n\nput t v1\n\nget t\n\n";
    const TXN_COMPARE_VALUE: &str = "value(\"t\") = \"v1\"\n\nput t v2\ndel a/1\n\nget t\n\n";

    /// The commands, in order; both servers start empty so revisions match.
    fn script() -> Vec<Step> {
        vec![
            step(&["put", "a/1", "one"]),
            step(&["put", "a/2", "two"]),
            step(&["put", "a/3", "three"]),
            step(&["put", "b", "bee", "--prev-kv"]),
            step(&["put", "b", "bee2", "--prev-kv"]),
            step(&["get", "a/1"]),
            step(&["get", "a/", "--prefix"]),
            step(&["get", "a/", "--prefix", "--limit", "2"]),
            step(&[
                "get",
                "a/",
                "--prefix",
                "--sort-by",
                "MODIFY",
                "--order",
                "DESCEND",
            ]),
            step(&["get", "a/", "--prefix", "--keys-only"]),
            step(&["get", "a/", "--prefix", "--count-only", "-w", "json"]),
            step(&["get", "a/", "--prefix", "--rev", "3"]),
            step(&["get", "a/", "--prefix", "-w", "json"]),
            step(&["get", "", "--from-key", "--print-value-only"]),
            step(&["get", "missing"]),
            step(&["get", "a/1", "-w", "fields"]),
            Step {
                args: &["txn"],
                stdin: TXN_CREATE,
                run_seconds: None,
            },
            Step {
                args: &["txn"],
                stdin: TXN_CREATE,
                run_seconds: None,
            },
            Step {
                args: &["txn", "-w", "json"],
                stdin: TXN_COMPARE_VALUE,
                run_seconds: None,
            },
            step(&["del", "a/", "--prefix", "--prev-kv"]),
            step(&["del", "nothing"]),
            step(&["lease", "grant", "100"]),
            step(&["put", "leased", "v", "--lease", "{lease}"]),
            step(&["lease", "timetolive", "{lease}", "--keys"]),
            step(&["lease", "keep-alive", "--once", "{lease}"]),
            step(&["lease", "list"]),
            step(&["lease", "revoke", "{lease}"]),
            step(&["get", "leased"]),
            step(&["lease", "timetolive", "{lease}"]),
            Step {
                args: &["watch", "--rev", "2", "--prefix", "a/", "--prev-kv"],
                stdin: "",
                run_seconds: Some(5),
            },
            step(&["member", "list"]),
            step(&["member", "list", "-w", "json"]),
            step(&["endpoint", "status"]),
            step(&["endpoint", "status", "-w", "json"]),
            step(&["endpoint", "health"]),
            step(&["endpoint", "status", "--cluster"]),
            step(&["endpoint", "health", "--cluster"]),
            step(&["compaction", "5"]),
            step(&["get", "a/1", "--rev", "3"]),
            Step {
                args: &["watch", "--rev", "2", "b"],
                stdin: "",
                run_seconds: Some(5),
            },
            step(&["put", "z", "last", "-w", "json"]),
        ]
    }

    /// Runs one step against `endpoint`; returns its exit status and output.
    fn run(endpoint: &str, step: &Step, lease: &str) -> (Option<i32>, String, String) {
        let args: Vec<String> = step
            .args
            .iter()
            .map(|a| a.replace("{lease}", lease))
            .collect();
        let output = match step.run_seconds {
            None => {
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                crate::support::etcdctl(endpoint, &args, step.stdin)
            }
            Some(secs) => Command::new("timeout")
                .arg(secs.to_string())
                .arg("etcdctl")
                .env("ETCDCTL_API", "3")
                .arg("--endpoints")
                .arg(endpoint)
                .args(&args)
                .output()
                .unwrap(),
        };
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        (output.status.code(), stdout, stderr)
    }

    /// Replaces what legitimately differs between two servers.
    fn normalize(text: &str) -> String {
        let rules: &[(&str, &str)] = &[
            // etcdctl's client logs (JSON lines with timestamps) are noise.
            (r"(?m)^\{.level.:.*\n?", ""),
            (r"127\.0\.0\.1:\d+", "127.0.0.1:PORT"),
            (r"\b3\.(4\.\d+|5\.17)\b", "VERSION"),
            (r"took = \S+", "took = T"),
            (r"remaining\(\d+s\)", "remaining(Rs)"),
            (r"lease [0-9a-f]+", "lease ID"),
            (r"(?m)^[0-9a-f]{1,16}$", "ID"),
            (r"(?m)^[0-9a-f]{1,16}, ", "ID, "),
            (
                r"PORT, [0-9a-f]{1,16}, VERSION, [^,]+, (true|false), (true|false), \d+, \d+, \d+,",
                "PORT, ID, VERSION, SIZE, $1, $2, TERM, INDEX, APPLIED,",
            ),
            (
                r#""(cluster_id|member_id|raft_term|ID|leader|raftIndex|raftTerm|raftAppliedIndex|dbSize|dbSizeInUse)":\d+"#,
                "\"$1\":N",
            ),
            (
                r#"(?m)^"(ClusterID|MemberID|RaftTerm|Lease)" : \d+"#,
                "\"$1\" : N",
            ),
        ];
        let mut out = text.to_owned();
        for (pattern, replacement) in rules {
            let re = Regex::new(pattern).unwrap();
            out = re.replace_all(&out, *replacement).into_owned();
        }
        out
    }

    /// The lease id `lease grant` printed.
    fn granted_lease(stdout: &str) -> Option<String> {
        let re = Regex::new(r"lease ([0-9a-f]+) granted").unwrap();
        re.captures(stdout).map(|c| c[1].to_owned())
    }

    /// Runs the whole script against one server.
    fn transcript(endpoint: &str) -> Vec<(String, Option<i32>, String, String)> {
        let mut lease = String::new();
        let mut lines = Vec::new();
        for step in script() {
            let (code, stdout, stderr) = run(endpoint, &step, &lease);
            if let Some(id) = granted_lease(&stdout) {
                lease = id;
            }
            let name = step.args.join(" ");
            lines.push((name, code, normalize(&stdout), normalize(&stderr)));
        }
        lines
    }

    #[test]
    fn etcdctl_prints_the_same_for_keel_and_etcd() {
        if !have_program("etcd") || !have_program("etcdctl") {
            panic!("etcd and etcdctl 3.4 must be installed (Debian etcd-server, etcd-client)");
        }
        // Endpoints are URLs, as operators write them: etcdctl 3.4's
        // `endpoint` commands then send the whole URL as the HTTP/2
        // :authority, which keel repairs (grpc/authority.rs).
        let etcd = Server::etcd(&[]);
        let expected = transcript(&format!("http://{}", etcd.client_addr));
        drop(etcd);
        let keel = Server::keel(&[]);
        let got = transcript(&format!("http://{}", keel.client_addr));
        let mut differences = Vec::new();
        for (want, have) in expected.iter().zip(&got) {
            if want != have {
                differences.push(format!(
                    "etcdctl {}\n--- etcd 3.4 (exit {:?}):\n{}{}\n--- keel (exit {:?}):\n{}{}",
                    want.0, want.1, want.2, want.3, have.1, have.2, have.3
                ));
            }
        }
        assert!(
            differences.is_empty(),
            "{} of {} commands differ:\n\n{}",
            differences.len(),
            expected.len(),
            differences.join("\n\n")
        );
    }

    #[test]
    fn normalization_keeps_what_matters() {
        let a = "bdae9bbc11dd390d, started, default, http://127.0.0.1:23801, http://127.0.0.1:23791, false\n";
        let b = "1234abcd, started, default, http://127.0.0.1:5, http://127.0.0.1:6, false\n";
        assert_eq!(normalize(a), normalize(b));
        let rev_a = r#"{"header":{"cluster_id":1,"member_id":2,"revision":3,"raft_term":2}}"#;
        let rev_b = r#"{"header":{"cluster_id":7,"member_id":8,"revision":4,"raft_term":9}}"#;
        assert_ne!(
            normalize(rev_a),
            normalize(rev_b),
            "revisions must still be compared"
        );
    }
}
