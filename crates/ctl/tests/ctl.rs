//! keelctl against real etcd 3.4: each command runs as `etcdctl` against
//! one fresh etcd and as `keelctl` against another, and the two outputs
//! (stdout, stderr and exit code) must be equal once the two servers'
//! cluster, member and lease IDs, ports and timings are normalized.
//!
//! This checks keelctl's requests, output formats and errors with etcd as
//! the oracle, without waiting on keel's server. It needs Debian's `etcd`
//! and `etcdctl` (3.4) on the PATH; without them it says so and passes.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod serial {
    use std::io::Write;
    use std::net::TcpListener;
    use std::process::Child;
    use std::process::Command;
    use std::process::Stdio;
    use std::time::Duration;
    use std::time::Instant;

    use tempfile::TempDir;

    /// A running etcd with its own data directory and loopback ports.
    struct Etcd {
        child: Child,
        client_port: u16,
        peer_port: u16,
        _dir: TempDir,
    }

    fn free_port() -> u16 {
        TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    }

    /// Whether `program version_arg` runs and succeeds.
    fn installed(program: &str, version_arg: &str) -> bool {
        Command::new(program)
            .arg(version_arg)
            .output()
            .is_ok_and(|out| out.status.success())
    }

    /// A CA, a server certificate for 127.0.0.1 and a client certificate,
    /// as PEM files.
    struct Certificates {
        dir: TempDir,
    }

    impl Certificates {
        fn generate() -> Certificates {
            use rcgen::BasicConstraints;
            use rcgen::CertificateParams;
            use rcgen::ExtendedKeyUsagePurpose;
            use rcgen::IsCa;
            use rcgen::Issuer;
            use rcgen::KeyPair;

            let dir = tempfile::tempdir().unwrap();
            let write =
                |name: &str, pem: String| std::fs::write(dir.path().join(name), pem).unwrap();
            let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
            ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            let ca_key = KeyPair::generate().unwrap();
            write("ca.pem", ca_params.self_signed(&ca_key).unwrap().pem());
            let issuer = Issuer::new(ca_params, ca_key);
            for (name, purpose) in [
                ("server", ExtendedKeyUsagePurpose::ServerAuth),
                ("client", ExtendedKeyUsagePurpose::ClientAuth),
            ] {
                let mut params = CertificateParams::new(vec!["127.0.0.1".to_owned()]).unwrap();
                params.extended_key_usages = vec![purpose, ExtendedKeyUsagePurpose::ClientAuth];
                let key = KeyPair::generate().unwrap();
                write(
                    &format!("{name}.pem"),
                    params.signed_by(&key, &issuer).unwrap().pem(),
                );
                write(&format!("{name}-key.pem"), key.serialize_pem());
            }
            Certificates { dir }
        }

        fn path(&self, name: &str) -> String {
            self.dir.path().join(name).to_str().unwrap().to_owned()
        }

        /// The client's TLS flags (the same for etcdctl and keelctl).
        fn client_flags(&self) -> Vec<String> {
            vec![
                "--cacert".into(),
                self.path("ca.pem"),
                "--cert".into(),
                self.path("client.pem"),
                "--key".into(),
                self.path("client-key.pem"),
            ]
        }
    }

    impl Etcd {
        fn start() -> Etcd {
            Etcd::start_with(None)
        }

        /// Starts etcd; with certificates, clients must use TLS and present
        /// a certificate signed by the CA.
        fn start_with(tls: Option<&Certificates>) -> Etcd {
            let dir = tempfile::tempdir().unwrap();
            let (client_port, peer_port) = (free_port(), free_port());
            let scheme = if tls.is_some() { "https" } else { "http" };
            let client = format!("{scheme}://127.0.0.1:{client_port}");
            let peer = format!("http://127.0.0.1:{peer_port}");
            let mut command = Command::new("etcd");
            command
                .arg("--data-dir")
                .arg(dir.path().join("data"))
                .args([
                    "--listen-client-urls",
                    &client,
                    "--advertise-client-urls",
                    &client,
                ])
                .args([
                    "--listen-peer-urls",
                    &peer,
                    "--initial-advertise-peer-urls",
                    &peer,
                ])
                .args(["--initial-cluster", &format!("default={peer}")]);
            if let Some(certs) = tls {
                command
                    .args(["--cert-file", &certs.path("server.pem")])
                    .args(["--key-file", &certs.path("server-key.pem")])
                    .args([
                        "--trusted-ca-file",
                        &certs.path("ca.pem"),
                        "--client-cert-auth",
                    ]);
            }
            let log = std::fs::File::create(dir.path().join("etcd.log")).unwrap();
            let child = command.stdout(Stdio::null()).stderr(log).spawn().unwrap();
            let etcd = Etcd {
                child,
                client_port,
                peer_port,
                _dir: dir,
            };
            etcd.wait_ready(&tls.map(Certificates::client_flags).unwrap_or_default());
            etcd
        }

        fn endpoint(&self) -> String {
            format!("127.0.0.1:{}", self.client_port)
        }

        /// Waits until a linearizable read succeeds (the member has a leader).
        fn wait_ready(&self, flags: &[String]) {
            let deadline = Instant::now() + Duration::from_secs(60);
            loop {
                let probe = Command::new("etcdctl")
                    .env("ETCDCTL_API", "3")
                    .args(flags)
                    .args([
                        "--endpoints",
                        &self.endpoint(),
                        "--command-timeout",
                        "1s",
                        "get",
                        "probe",
                    ])
                    .output()
                    .unwrap();
                if probe.status.success() {
                    return;
                }
                assert!(
                    Instant::now() < deadline,
                    "etcd on {} never became ready",
                    self.endpoint()
                );
                std::thread::yield_now();
            }
        }

        /// `(cluster_id, member_id)` from the member's status.
        fn ids(&self) -> (u64, u64) {
            let out = Command::new("etcdctl")
                .args([
                    "--endpoints",
                    &self.endpoint(),
                    "-w",
                    "json",
                    "endpoint",
                    "status",
                ])
                .output()
                .unwrap();
            let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            let header = &status[0]["Status"]["header"];
            (
                header["cluster_id"].as_u64().unwrap(),
                header["member_id"].as_u64().unwrap(),
            )
        }
    }

    impl Drop for Etcd {
        fn drop(&mut self) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }

    /// One side of the comparison: a tool, its server and the texts that
    /// differ between the sides for reasons other than the tool.
    struct Side {
        program: String,
        etcd: Etcd,
        replacements: Vec<(String, String)>,
        /// IDs as etcdctl's member messages print them (`%16x`, space-padded);
        /// not applied to table lines, whose cells already pad with a space.
        padded: Vec<(String, String)>,
    }

    #[derive(Debug, PartialEq, Eq)]
    struct Outcome {
        stdout: String,
        stderr: String,
        code: Option<i32>,
    }

    impl Side {
        fn new(program: &str) -> Side {
            let etcd = Etcd::start();
            let (cluster_id, member_id) = etcd.ids();
            let mut side = Side {
                program: program.to_owned(),
                etcd,
                replacements: Vec::new(),
                padded: Vec::new(),
            };
            side.replace_id(cluster_id, "<CLUSTER>");
            side.replace_id(member_id, "<MEMBER>");
            side.replacements.push((
                format!("127.0.0.1:{}", side.etcd.client_port),
                "<CLIENT>".into(),
            ));
            side.replacements.push((
                format!("127.0.0.1:{}", side.etcd.peer_port),
                "<PEER>".into(),
            ));
            side
        }

        /// Replaces an ID in its decimal and hexadecimal spellings, the
        /// space-padded `%16x` of etcdctl's member messages included (the two
        /// servers' IDs differ, and so may their padding).
        fn replace_id(&mut self, id: u64, name: &str) {
            self.replacements.push((id.to_string(), name.to_owned()));
            self.replacements
                .push((format!("{id:016x}"), name.to_owned()));
            self.padded.push((format!("{id:16x}"), name.to_owned()));
            self.replacements.push((format!("{id:x}"), name.to_owned()));
        }

        fn run(&self, args: &[&str], stdin: &str) -> Outcome {
            let mut child = Command::new(&self.program)
                .env("ETCDCTL_API", "3")
                .args(["--endpoints", &self.etcd.endpoint()])
                .args(args)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            child
                .stdin
                .take()
                .unwrap()
                .write_all(stdin.as_bytes())
                .unwrap();
            let out = child.wait_with_output().unwrap();
            Outcome {
                stdout: self.normalize(&String::from_utf8_lossy(&out.stdout)),
                // etcdctl logs gRPC retries as JSON lines on stderr; they are noise.
                stderr: self.normalize(
                    &String::from_utf8_lossy(&out.stderr)
                        .lines()
                        .filter(|line| !line.starts_with("{\"level\""))
                        .map(|line| format!("{line}\n"))
                        .collect::<String>(),
                ),
                code: out.status.code(),
            }
        }

        fn normalize(&self, text: &str) -> String {
            let mut out = String::new();
            for line in text.split_inclusive('\n') {
                let mut line = line.to_owned();
                if !line.starts_with('|') {
                    for (from, to) in &self.padded {
                        line = line.replace(from, to);
                    }
                }
                for (from, to) in &self.replacements {
                    line = line.replace(from, to);
                }
                out.push_str(&line);
            }
            normalize_durations(&out)
        }
    }

    /// Whether a word is a Go duration such as `1.2ms` or `850µs`.
    fn is_duration(word: &str) -> bool {
        ["ns", "µs", "ms", "s"].iter().any(|unit| {
            word.strip_suffix(unit).is_some_and(|number| {
                !number.is_empty() && number.chars().all(|c| c.is_ascii_digit() || c == '.')
            })
        })
    }

    /// Replaces Go durations (how long a health check took) with `<TOOK>`,
    /// and in table lines collapses the padding that depends on their width.
    fn normalize_durations(text: &str) -> String {
        let mut out = String::new();
        for line in text.split_inclusive('\n') {
            let mut normal = String::new();
            let mut word = String::new();
            for c in line.chars() {
                if c.is_whitespace() || matches!(c, '"' | ',' | '|') {
                    normal.push_str(if is_duration(&word) { "<TOOK>" } else { &word });
                    word.clear();
                    normal.push(c);
                } else {
                    word.push(c);
                }
            }
            normal.push_str(if is_duration(&word) { "<TOOK>" } else { &word });
            if normal.starts_with('+') || normal.starts_with('|') {
                normal = normal
                    .split(' ')
                    .filter(|part| !part.is_empty())
                    .collect::<Vec<_>>()
                    .join(" ");
                while normal.contains("--") {
                    normal = normal.replace("--", "-");
                }
            }
            out.push_str(&normal);
        }
        out
    }

    struct Pair {
        etcdctl: Side,
        keelctl: Side,
        mismatches: Vec<String>,
    }

    impl Pair {
        fn check(&mut self, args: &[&str]) -> Outcome {
            self.check_with_stdin(args, "")
        }

        fn check_with_stdin(&mut self, args: &[&str], stdin: &str) -> Outcome {
            let expected = self.etcdctl.run(args, stdin);
            let actual = self.keelctl.run(args, stdin);
            if expected != actual {
                self.mismatches.push(format!(
                    "{args:?}\n  etcdctl: {expected:?}\n  keelctl: {actual:?}"
                ));
            }
            actual
        }

        /// Grants a lease on both sides and teaches each side its ID.
        fn grant_lease(&mut self) -> (String, String) {
            let expected = self.etcdctl.run(&["lease", "grant", "100"], "");
            let actual = self.keelctl.run(&["lease", "grant", "100"], "");
            assert_eq!(
                expected.stdout,
                actual
                    .stdout
                    .replace(&lease_of(&actual), &lease_of(&expected))
            );
            let (theirs, ours) = (lease_of(&expected), lease_of(&actual));
            for (side, id) in [(&mut self.etcdctl, &theirs), (&mut self.keelctl, &ours)] {
                side.replace_id(u64::from_str_radix(id, 16).unwrap(), "<LEASE>");
            }
            (theirs, ours)
        }
    }

    fn lease_of(grant: &Outcome) -> String {
        grant.stdout.split_whitespace().nth(1).unwrap().to_owned()
    }

    /// Runs `watch` from a known revision (so no event can be missed before
    /// the watch is set up), makes `changes`, and reads `lines` lines.
    /// With `stdin`, the watch is interactive: the text is written and the
    /// pipe kept open (at its end etcdctl's interactive watch exits).
    fn watch_output(
        side: &Side,
        args: &[&str],
        stdin: &str,
        changes: &[&[&str]],
        lines: usize,
    ) -> String {
        let mut child = Command::new(&side.program)
            .args(["--endpoints", &side.etcd.endpoint(), "watch"])
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut input = child.stdin.take().unwrap();
        input.write_all(stdin.as_bytes()).unwrap();
        for change in changes {
            let status = Command::new("etcdctl")
                .args(["--endpoints", &side.etcd.endpoint()])
                .args(*change)
                .stdout(Stdio::null())
                .status()
                .unwrap();
            assert!(status.success());
        }
        // Lines are read on a thread so that a watch printing too little
        // fails the test (after a generous minute) instead of hanging it.
        let stdout = child.stdout.take().unwrap();
        let (sender, receiver) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufRead::lines(std::io::BufReader::new(stdout)) {
                if sender.send(line.unwrap_or_default()).is_err() {
                    return;
                }
            }
        });
        let mut text = String::new();
        for _ in 0..lines {
            match receiver.recv_timeout(Duration::from_secs(60)) {
                Ok(line) => text.push_str(&format!("{line}\n")),
                Err(_) => {
                    let _ = child.kill();
                    panic!("{} watch {args:?} printed only {text:?}", side.program);
                }
            }
        }
        child.kill().unwrap();
        child.wait().unwrap();
        drop(input);
        side.normalize(&text)
    }

    #[test]
    fn keelctl_prints_what_etcdctl_prints() {
        if !installed("etcd", "--version") || !installed("etcdctl", "version") {
            eprintln!("etcd or etcdctl is not installed: keelctl is not compared with etcdctl");
            return;
        }
        let mut pair = Pair {
            etcdctl: Side::new("etcdctl"),
            keelctl: Side::new(env!("CARGO_BIN_EXE_keelctl")),
            mismatches: Vec::new(),
        };
        kv_commands(&mut pair);
        txn_commands(&mut pair);
        lease_commands(&mut pair);
        cluster_commands(&mut pair);
        watch_commands(&mut pair);
        error_commands(&mut pair);
        assert!(
            pair.mismatches.is_empty(),
            "{} mismatches:\n{}",
            pair.mismatches.len(),
            pair.mismatches.join("\n")
        );
    }

    /// keelctl connects with TLS and a client certificate, as etcdctl does,
    /// and is refused without the certificate.
    #[test]
    fn keelctl_speaks_tls_with_client_certificates() {
        if !installed("etcd", "--version") || !installed("etcdctl", "version") {
            eprintln!("etcd or etcdctl is not installed: keelctl's TLS is not tested");
            return;
        }
        let certs = Certificates::generate();
        let etcd = Etcd::start_with(Some(&certs));
        let keelctl = |flags: &[String], args: &[&str]| {
            Command::new(env!("CARGO_BIN_EXE_keelctl"))
                .args(["--endpoints", &etcd.endpoint(), "--dial-timeout", "2s"])
                .args(flags)
                .args(args)
                .output()
                .unwrap()
        };
        let put = keelctl(&certs.client_flags(), &["put", "secure", "yes"]);
        assert_eq!(String::from_utf8_lossy(&put.stdout), "OK\n", "{put:?}");
        let get = keelctl(&certs.client_flags(), &["get", "secure"]);
        assert_eq!(
            String::from_utf8_lossy(&get.stdout),
            "secure\nyes\n",
            "{get:?}"
        );
        let mut unverified = certs.client_flags()[2..].to_vec();
        unverified.push("--insecure-skip-tls-verify".into());
        let skipped = keelctl(&unverified, &["get", "secure", "--print-value-only"]);
        assert_eq!(
            String::from_utf8_lossy(&skipped.stdout),
            "yes\n",
            "{skipped:?}"
        );
        let ca_only = certs.client_flags()[..2].to_vec();
        let refused = keelctl(&ca_only, &["get", "secure"]);
        assert_ne!(refused.status.code(), Some(0), "{refused:?}");
        assert!(
            String::from_utf8_lossy(&refused.stderr).starts_with("Error: "),
            "{refused:?}"
        );
    }

    fn kv_commands(pair: &mut Pair) {
        for put in [
            &["put", "foo", "bar"][..],
            &["put", "foo2", "baz"],
            &["put", "a", "1", "--prev-kv"],
        ] {
            assert_eq!(pair.check(put).code, Some(0));
        }
        pair.check(&["put", "a", "2", "--prev-kv", "-w", "json"]);
        pair.check(&["put", "a", "3", "--prev-kv", "-w", "fields"]);
        pair.check_with_stdin(&["put", "fromstdin"], "value from stdin");
        for format in ["simple", "json", "fields"] {
            pair.check(&["get", "foo", "-w", format]);
            pair.check(&["get", "--prefix", "foo", "-w", format]);
        }
        pair.check(&["get", "--prefix", "foo", "--limit", "1", "-w", "json"]);
        pair.check(&["get", "", "--from-key", "--keys-only"]);
        pair.check(&["get", "a", "c"]);
        pair.check(&["get", "a", "--rev", "4", "-w", "json"]);
        pair.check(&["get", "--prefix", "", "--sort-by=VALUE", "--order=DESCEND"]);
        pair.check(&[
            "get",
            "--prefix",
            "",
            "--sort-by=CREATE",
            "--order=ASCEND",
            "--hex",
        ]);
        pair.check(&["get", "foo", "--print-value-only"]);
        pair.check(&["get", "nosuch", "-w", "json"]);
        pair.check(&["del", "foo2", "--prev-kv"]);
        pair.check(&["del", "nosuch", "-w", "json"]);
        pair.check(&["del", "f", "--prefix", "--prev-kv", "-w", "json"]);
        pair.check(&["compaction", "3"]);
        pair.check(&["get", "a", "--rev", "2"]);
    }

    fn txn_commands(pair: &mut Pair) {
        let success =
            "mod(\"a\") > \"0\"\nvalue(\"a\") = \"3\"\n\nput a 10\nget a\ndel nosuch\n\nget a\n\n";
        pair.check_with_stdin(&["txn"], success);
        pair.check_with_stdin(&["txn", "-w", "json"], success);
        let failure = "value(\"a\") = \"nope\"\n\nput a 11\n\nget a --prefix\n\n";
        pair.check_with_stdin(&["txn", "-i"], failure);
        pair.check_with_stdin(&["txn", "-w", "fields"], failure);
        pair.check_with_stdin(&["txn"], "bad\n\n");
        pair.check_with_stdin(&["txn"], "mod(\"a\") > \"0\"\n");
        pair.check_with_stdin(&["txn"], "mod(\"a\") > \"x\"\n\n\n\n");
        pair.check_with_stdin(&["txn"], "\nfrob a\n\n\n");
    }

    fn lease_commands(pair: &mut Pair) {
        let (theirs, ours) = pair.grant_lease();
        assert_eq!(
            pair.etcdctl
                .run(&["put", "leased", "v", "--lease", &theirs], "")
                .code,
            Some(0)
        );
        assert_eq!(
            pair.keelctl
                .run(&["put", "leased", "v", "--lease", &ours], "")
                .code,
            Some(0)
        );
        let (theirs, ours) = (theirs.as_str(), ours.as_str());
        let pairs: [(&[&str], &[&str]); 4] = [
            (
                &["lease", "timetolive", theirs, "--keys"],
                &["lease", "timetolive", ours, "--keys"],
            ),
            (
                &["lease", "timetolive", theirs, "-w", "json"],
                &["lease", "timetolive", ours, "-w", "json"],
            ),
            (
                &["lease", "keep-alive", "--once", theirs],
                &["lease", "keep-alive", "--once", ours],
            ),
            (&["lease", "revoke", theirs], &["lease", "revoke", ours]),
        ];
        // TTLs count down in seconds; a tick between the two runs is not a difference.
        let settle = |text: &str| {
            text.replace("(99s)", "(100s)")
                .replace("\"ttl\":99", "\"ttl\":100")
        };
        for (etcdctl_args, keelctl_args) in pairs {
            let expected = pair.etcdctl.run(etcdctl_args, "");
            let actual = pair.keelctl.run(keelctl_args, "");
            if settle(&expected.stdout) != settle(&actual.stdout) || expected.code != actual.code {
                pair.mismatches.push(format!(
                    "{keelctl_args:?}\n  etcdctl: {expected:?}\n  keelctl: {actual:?}"
                ));
            }
        }
        pair.check(&["lease", "list"]);
        pair.check(&["lease", "revoke", "1234"]);
        pair.check(&["lease", "keep-alive", "--once", "1234"]);
        pair.check(&["lease", "timetolive", "1234"]);
        pair.check(&["lease", "grant", "x"]);
    }

    fn cluster_commands(pair: &mut Pair) {
        for format in ["simple", "json", "fields", "table"] {
            pair.check(&["member", "list", "-w", format]);
            pair.check(&["endpoint", "health", "-w", format]);
        }
        pair.check(&["endpoint", "health", "--cluster"]);
        pair.check(&["alarm", "list"]);
        pair.check(&["alarm", "disarm", "-w", "json"]);
        pair.check(&["defrag"]);
        pair.check(&["move-leader", "zz"]);
        pair.check(&["member", "add"]);
        pair.check(&["member", "remove", "xyz"]);
        status_commands(pair);
        snapshot_commands(pair);
        membership_commands(pair);
    }

    /// The lines sorted, and the members of `ETCD_INITIAL_CLUSTER` too.
    fn unordered(text: &str) -> Vec<String> {
        let mut lines: Vec<String> = text
            .lines()
            .map(|line| match line.strip_prefix("ETCD_INITIAL_CLUSTER=") {
                Some(members) => {
                    let mut members: Vec<&str> = members.trim_matches('"').split(',').collect();
                    members.sort_unstable();
                    format!("ETCD_INITIAL_CLUSTER={}", members.join(","))
                }
                None => line.to_owned(),
            })
            .collect();
        lines.sort_unstable();
        lines
    }

    /// Adds a learner (never started), lists, updates, fails to promote and
    /// removes it; the new member's ID is random, so each side learns it.
    fn membership_commands(pair: &mut Pair) {
        let add = [
            "member",
            "add",
            "newbie",
            "--learner",
            "--peer-urls",
            "http://127.0.0.1:1",
        ];
        let mut ids = Vec::new();
        for side in [&mut pair.etcdctl, &mut pair.keelctl] {
            let out = side.run(&add, "");
            assert_eq!(out.code, Some(0), "{out:?}");
            let id = out.stdout.split_whitespace().nth(1).unwrap().to_owned();
            side.replace_id(u64::from_str_radix(&id, 16).unwrap(), "<NEWBIE>");
            ids.push((id, side.normalize(&out.stdout)));
        }
        let [(theirs, expected), (ours, actual)] = <[_; 2]>::try_from(ids).unwrap();
        // The servers list members by ID, and the new IDs are random, so
        // the order of members may differ between the two sides.
        if unordered(&expected) != unordered(&actual) {
            pair.mismatches.push(format!(
                "{add:?}\n  etcdctl: {expected:?}\n  keelctl: {actual:?}"
            ));
        }
        for format in ["simple", "table"] {
            let args = ["member", "list", "-w", format];
            let (expected, actual) = (pair.etcdctl.run(&args, ""), pair.keelctl.run(&args, ""));
            if unordered(&expected.stdout) != unordered(&actual.stdout)
                || expected.code != actual.code
            {
                pair.mismatches.push(format!(
                    "{args:?}\n  etcdctl: {expected:?}\n  keelctl: {actual:?}"
                ));
            }
        }
        let commands: [&[&str]; 3] = [
            &[
                "member",
                "update",
                "ID",
                "--peer-urls",
                "http://127.0.0.1:2",
            ],
            &["member", "promote", "ID"],
            &["member", "remove", "ID"],
        ];
        for command in commands {
            let with = |id: &str| {
                command
                    .iter()
                    .map(|arg| {
                        if *arg == "ID" {
                            id.to_owned()
                        } else {
                            arg.to_string()
                        }
                    })
                    .collect::<Vec<_>>()
            };
            let (their_args, our_args) = (with(&theirs), with(&ours));
            let expected = pair.etcdctl.run(
                &their_args.iter().map(String::as_str).collect::<Vec<_>>(),
                "",
            );
            let actual = pair
                .keelctl
                .run(&our_args.iter().map(String::as_str).collect::<Vec<_>>(), "");
            if expected != actual {
                pair.mismatches.push(format!(
                    "{command:?}\n  etcdctl: {expected:?}\n  keelctl: {actual:?}"
                ));
            }
        }
    }

    /// `endpoint status`, leaving out what two servers with the same history
    /// may still differ in: database sizes and raft indexes.
    fn status_commands(pair: &mut Pair) {
        let varying = ["DBSize", "RaftIndex", "RaftAppliedIndex"];
        let keep = |text: &str| -> String {
            let lines = text.split_inclusive('\n');
            lines
                .filter(|line| {
                    !varying
                        .iter()
                        .any(|name| line.starts_with(&format!("\"{name}\"")))
                })
                .collect()
        };
        let args = ["endpoint", "status", "-w", "fields"];
        let (expected, actual) = (pair.etcdctl.run(&args, ""), pair.keelctl.run(&args, ""));
        if keep(&expected.stdout) != keep(&actual.stdout) || expected.code != actual.code {
            pair.mismatches.push(format!(
                "{args:?}\n  etcdctl: {expected:?}\n  keelctl: {actual:?}"
            ));
        }
    }

    /// `snapshot save` prints the same, and etcdctl reads keelctl's file.
    fn snapshot_commands(pair: &mut Pair) {
        let dir = tempfile::tempdir().unwrap();
        for (side, name) in [(&pair.etcdctl, "etcdctl.db"), (&pair.keelctl, "keelctl.db")] {
            let path = dir.path().join(name);
            let out = side.run(&["snapshot", "save", path.to_str().unwrap()], "");
            assert_eq!(out.code, Some(0), "{out:?}");
            assert_eq!(
                out.stdout,
                format!("Snapshot saved at {}\n", path.display())
            );
        }
        let status = Command::new("etcdctl")
            .args(["snapshot", "status", "-w", "json"])
            .arg(dir.path().join("keelctl.db"))
            .output()
            .unwrap();
        assert!(
            status.status.success(),
            "etcdctl cannot read keelctl's snapshot: {status:?}"
        );
    }

    /// The store revision, read from `get -w fields` (outputs are normalized,
    /// so not valid JSON).
    fn current_revision(side: &Side) -> i64 {
        let outcome = side.run(&["get", "a", "-w", "fields"], "");
        let line = outcome
            .stdout
            .lines()
            .find(|line| line.starts_with("\"Revision\""))
            .unwrap();
        line.rsplit(' ').next().unwrap().parse().unwrap()
    }

    fn watch_commands(pair: &mut Pair) {
        // The outputs are normalized, so the revision is read from the text.
        let changes: [&[&str]; 3] = [&["put", "w", "1"], &["put", "w", "2"], &["del", "w"]];
        for options in [
            &["w", "--prev-kv"][..],
            &["w", "--prefix", "--prev-kv", "--hex"],
        ] {
            // Both servers are at the same revision; watching from the next
            // one sees every change, however soon after the start they come.
            let next = (current_revision(&pair.etcdctl) + 1).to_string();
            let args = [options, &["--rev", &next]].concat();
            let expected = watch_output(&pair.etcdctl, &args, "", &changes, 13);
            let actual = watch_output(&pair.keelctl, &args, "", &changes, 13);
            if expected != actual {
                pair.mismatches.push(format!(
                    "watch {args:?}\n  etcdctl: {expected:?}\n  keelctl: {actual:?}"
                ));
            }
        }
        // Interactive: a watch from a line of stdin, then a progress request.
        let next = (current_revision(&pair.etcdctl) + 1).to_string();
        let stdin = format!("watch w --prev-kv --rev {next}\n");
        let expected = watch_output(&pair.etcdctl, &["-i"], &stdin, &changes, 13);
        let actual = watch_output(&pair.keelctl, &["-i"], &stdin, &changes, 13);
        let progress = "watch nothing\nprogress\n";
        let expected = expected + &watch_output(&pair.etcdctl, &["-i"], progress, &[], 1);
        let actual = actual + &watch_output(&pair.keelctl, &["-i"], progress, &[], 1);
        if expected != actual {
            pair.mismatches.push(format!(
                "watch -i\n  etcdctl: {expected:?}\n  keelctl: {actual:?}"
            ));
        }
        // Watching from a compacted revision: cancelled, exit code 5.
        pair.check(&["watch", "foo", "--rev", "1"]);
    }

    fn error_commands(pair: &mut Pair) {
        pair.check(&["get"]);
        pair.check(&["get", "foo", "-w", "table"]);
        pair.check(&["get", "a", "--prefix", "--from-key"]);
        pair.check(&["get", "a", "--consistency", "x"]);
        pair.check(&["get", "a", "--order", "sideways"]);
        pair.check(&["put"]);
        pair.check(&["put", "k", "v", "--lease", "zz"]);
        pair.check(&["del"]);
        pair.check(&["compaction"]);
        let closed = free_port().to_string();
        let unreachable = format!("127.0.0.1:{closed}");
        for side in [&pair.etcdctl, &pair.keelctl] {
            let out = Command::new(&side.program)
                .args([
                    "--endpoints",
                    &unreachable,
                    "--dial-timeout",
                    "1s",
                    "--command-timeout",
                    "2s",
                    "get",
                    "a",
                ])
                .output()
                .unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(1), "{}", side.program);
            assert!(
                stderr
                    .lines()
                    .any(|line| line == "Error: context deadline exceeded"),
                "{stderr}"
            );
        }
    }

    /// keelctl's offline commands (`snapshot status|restore`,
    /// `force-new-cluster`) refuse what they cannot use with one line and a
    /// non-zero exit, and leave nothing behind.
    #[test]
    fn offline_snapshot_commands_refuse_bad_input() {
        let dir = tempfile::tempdir().unwrap();
        let keelctl = |args: &[&str]| {
            let out = Command::new(env!("CARGO_BIN_EXE_keelctl"))
                .args(args)
                .output()
                .unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
            (out.status.code(), stderr)
        };
        let path = |name: &str| dir.path().join(name).to_str().unwrap().to_owned();
        std::fs::write(path("zeros.db"), vec![0u8; 544]).unwrap();
        std::fs::write(path("short.db"), vec![0u8; 100]).unwrap();
        let cases: [(&[&str], Option<i32>, &str); 6] = [
            (
                &["snapshot", "status", &path("absent.db")],
                Some(1),
                "No such file",
            ),
            (
                &["snapshot", "status", &path("zeros.db")],
                Some(1),
                "is not a keel snapshot file",
            ),
            (
                &["snapshot", "status", &path("short.db")],
                Some(1),
                "is truncated",
            ),
            (&["snapshot", "status"], Some(128), "exactly one argument"),
            (
                &[
                    "snapshot",
                    "restore",
                    &path("short.db"),
                    "--data-dir",
                    &path("restored"),
                ],
                Some(1),
                "is truncated",
            ),
            (
                &["force-new-cluster", "--data-dir", &path("empty")],
                Some(1),
                "holds no WAL",
            ),
        ];
        for (args, code, message) in cases {
            let (got, stderr) = keelctl(args);
            assert_eq!(got, code, "{args:?}: {stderr}");
            let error = stderr
                .lines()
                .find(|l| l.starts_with("Error: "))
                .unwrap_or_default();
            assert!(error.contains(message), "{args:?}: {stderr}");
        }
        assert!(
            !dir.path().join("restored").exists(),
            "a refused restore writes nothing"
        );
    }
}
