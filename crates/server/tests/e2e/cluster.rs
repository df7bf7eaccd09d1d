//! Node-level tests: real `keel` processes forming clusters over QUIC on
//! loopback, killed with SIGKILL and restarted from their data directories.

mod serial {
    use std::process::Command;
    use std::process::Stdio;
    use std::sync::Arc;
    use std::sync::atomic::AtomicBool;
    use std::sync::atomic::AtomicU64;
    use std::sync::atomic::Ordering;
    use std::time::Duration;
    use std::time::Instant;

    use etcd_client::Client;
    use etcd_client::GetOptions;

    use crate::member::Member;
    use crate::member::PATIENCE;
    use crate::member::start_all;

    async fn connect(member: &Member) -> Client {
        member.client_with_timeout(Duration::from_secs(10)).await
    }

    /// A client whose requests give up after `timeout` (so retries cycle fast during a failover).
    async fn connect_with_timeout(member: &Member, timeout: Duration) -> Client {
        member.client_with_timeout(timeout).await
    }

    fn cluster(dir: &std::path::Path, size: usize) -> (Vec<Member>, String) {
        crate::member::cluster(dir, "m", size)
    }

    /// The leader's id as `member` reports it, 0 when it knows none.
    async fn leader_of(member: &Member) -> u64 {
        match connect(member).await.status().await {
            Ok(status) => status.leader(),
            Err(_) => 0,
        }
    }

    /// Puts `key` through `member`, retrying while the cluster has no leader; returns when acknowledged.
    async fn put_until_acked(member: &Member, key: &str, value: &str) {
        let deadline = Instant::now() + PATIENCE;
        let mut client = connect_with_timeout(member, Duration::from_secs(1)).await;
        loop {
            match client.put(key, value, None).await {
                Ok(_) => return,
                Err(e) if Instant::now() < deadline => {
                    eprintln!("put {key} via {}: {e}; retrying", member.name);
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    client = connect_with_timeout(member, Duration::from_secs(1)).await;
                }
                Err(e) => panic!(
                    "put {key} via {} never succeeded: {e}\n{}",
                    member.name,
                    member.log_text()
                ),
            }
        }
    }

    /// The position in `members` of the leader, as the first member reports it.
    async fn leader_index(members: &[Member]) -> usize {
        let leader_id = leader_of(&members[0]).await;
        for (i, m) in members.iter().enumerate() {
            let status = connect(m).await.status().await.unwrap();
            if status.header().unwrap().member_id() == leader_id {
                return i;
            }
        }
        panic!("no member is the leader {leader_id:x}");
    }

    /// Reads every key under `prefix` linearizably through `member`.
    async fn read_all(member: &Member, prefix: &str) -> Vec<(String, String)> {
        let mut client = connect(member).await;
        let resp = client
            .get(prefix, Some(GetOptions::new().with_prefix()))
            .await
            .unwrap();
        resp.kvs()
            .iter()
            .map(|kv| {
                (
                    kv.key_str().unwrap().to_string(),
                    kv.value_str().unwrap().to_string(),
                )
            })
            .collect()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn single_member_restarts_with_its_data() {
        let dir = tempfile::tempdir().unwrap();
        let (mut members, initial) = cluster(dir.path(), 1);
        let member = &mut members[0];
        member.start(&initial, &[]);
        member.wait_healthy();
        for i in 0..50 {
            put_until_acked(member, &format!("k{i:03}"), &format!("v{i}")).await;
        }
        member.kill();
        member.start(&initial, &[]);
        member.wait_healthy();
        let got = read_all(member, "k").await;
        assert_eq!(
            got.len(),
            50,
            "every acknowledged write survives a SIGKILL and restart"
        );
        assert_eq!(got[7], ("k007".to_string(), "v7".to_string()));
        put_until_acked(member, "after", "restart").await;
    }

    #[test]
    fn bad_flags_fail_in_one_line_before_writing() {
        let dir = tempfile::tempdir().unwrap();
        let data_dir = dir.path().join("never");
        for bad in [
            vec!["--heartbeat-interval=300".to_string()],
            vec!["--no-such-flag".to_string()],
            vec!["--initial-cluster-state=maybe".to_string()],
        ] {
            let out = Command::new(env!("CARGO_BIN_EXE_keel"))
                .arg(format!("--data-dir={}", data_dir.display()))
                .args(&bad)
                .output()
                .unwrap();
            assert_eq!(out.status.code(), Some(2), "{bad:?}");
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(!stderr.trim().is_empty(), "{bad:?} printed nothing");
            assert!(!data_dir.exists(), "{bad:?} wrote the data directory");
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn flags_come_from_etcd_and_keel_environment_variables() {
        let dir = tempfile::tempdir().unwrap();
        let mut member = Member::new(dir.path(), "from-env");
        let (client_url, peer_url) = (member.client_url(), member.peer_url());
        let log = std::fs::File::create(&member.log).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_keel"))
            .env("ETCD_NAME", "from-env")
            .env("ETCD_DATA_DIR", &member.data_dir)
            .env("ETCD_LISTEN_CLIENT_URLS", &client_url)
            .env("KEEL_ADVERTISE_CLIENT_URLS", &client_url)
            .env("KEEL_LISTEN_PEER_URLS", &peer_url)
            .env("ETCD_INITIAL_ADVERTISE_PEER_URLS", &peer_url)
            .env("KEEL_ENABLE_V2", "false")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        member.adopt(child);
        member.wait_healthy();
        let mut client = connect(&member).await;
        let members = client.member_list().await.unwrap();
        assert_eq!(members.members().len(), 1);
        assert_eq!(members.members()[0].peer_urls(), [peer_url.as_str()]);
        assert!(member.data_dir.join("member").join("wal").exists());
        assert!(
            member.log_text().contains("--enable-v2 is accepted"),
            "{}",
            member.log_text()
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn nospace_alarm_refuses_writes_until_disarmed() {
        use etcd_client::AlarmAction;
        use etcd_client::AlarmType;

        let dir = tempfile::tempdir().unwrap();
        let (mut members, initial) = cluster(dir.path(), 1);
        let member = &mut members[0];
        member.start(&initial, &["--quota-backend-bytes=1"]);
        member.wait_healthy();
        let mut client = connect(member).await;
        let err = client.put("a", "1", None).await.unwrap_err().to_string();
        assert!(err.contains("database space exceeded"), "{err}");
        let deadline = Instant::now() + PATIENCE;
        let alarms = loop {
            let resp = client
                .alarm(AlarmAction::Get, AlarmType::None, None)
                .await
                .unwrap();
            if !resp.alarms().is_empty() || Instant::now() > deadline {
                break resp.alarms().to_vec();
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        assert_eq!(alarms.len(), 1);
        assert_eq!(alarms[0].alarm(), AlarmType::Nospace);
        let refused = client.put("b", "2", None).await.unwrap_err().to_string();
        assert!(refused.contains("database space exceeded"), "{refused}");
        assert!(
            client.get("b", None).await.unwrap().kvs().is_empty(),
            "a refused write is not applied"
        );
        client.delete("a", None).await.unwrap();
        let mut options = etcd_client::AlarmOptions::new();
        options.with_member(alarms[0].member_id());
        client
            .alarm(AlarmAction::Deactivate, AlarmType::Nospace, Some(options))
            .await
            .unwrap();
        let left = client
            .alarm(AlarmAction::Get, AlarmType::None, None)
            .await
            .unwrap();
        assert!(left.alarms().is_empty(), "disarmed");
    }

    /// Corruption checks run at start and periodically on the leader without
    /// false alarms; a raised CORRUPT alarm stops writes until disarmed.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn corruption_checks_agree_and_a_corrupt_alarm_stops_writes() {
        use etcd_client::AlarmAction;
        use etcd_client::AlarmType;

        let dir = tempfile::tempdir().unwrap();
        let (mut members, initial) = cluster(dir.path(), 3);
        let checks = [
            "--experimental-initial-corrupt-check",
            "--experimental-corrupt-check-time=200ms",
        ];
        start_all(&mut members, &initial, &checks);
        for i in 0..20 {
            put_until_acked(&members[i % 3], &format!("c{i}"), "v").await;
        }
        let deadline = Instant::now() + PATIENCE;
        let agreed = |m: &Member| {
            m.log_text()
                .lines()
                .filter(|l| {
                    l.contains("corruption check: members agree") && l.contains("compared=2")
                })
                .count()
        };
        while members.iter().map(agreed).sum::<usize>() < 3 {
            assert!(
                Instant::now() < deadline,
                "the leader never compared hashes"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(
            members
                .iter()
                .all(|m| m.log_text().contains("initial corruption check"))
        );
        let mut client = connect(&members[0]).await;
        let alarms = client
            .alarm(AlarmAction::Get, AlarmType::None, None)
            .await
            .unwrap();
        assert!(alarms.alarms().is_empty(), "no false alarm");

        let id = client.status().await.unwrap().header().unwrap().member_id();
        let mut on_member = etcd_client::AlarmOptions::new();
        on_member.with_member(id);
        client
            .alarm(
                AlarmAction::Activate,
                AlarmType::Corrupt,
                Some(on_member.clone()),
            )
            .await
            .unwrap();
        let refused = client.put("c-after", "v", None).await.unwrap_err();
        let etcd_client::Error::GRpcStatus(status) = refused else {
            panic!("not a gRPC status: {refused:?}")
        };
        assert_eq!(status.code(), tonic::Code::DataLoss);
        assert_eq!(status.message(), "etcdserver: corrupt cluster");
        assert_eq!(
            client.get("c1", None).await.unwrap().kvs().len(),
            1,
            "reads still work"
        );
        client
            .alarm(AlarmAction::Deactivate, AlarmType::Corrupt, Some(on_member))
            .await
            .unwrap();
        client.put("c-after", "v", None).await.unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn data_dir_of_another_cluster_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (mut members, initial) = cluster(dir.path(), 1);
        let member = &mut members[0];
        member.start(&initial, &[]);
        member.wait_healthy();
        member.kill();
        member.start(&initial, &["--initial-cluster-token=another-cluster"]);
        let status = member.wait_exit();
        assert!(!status.success());
        assert!(
            member.log_text().contains("belongs to cluster"),
            "{}",
            member.log_text()
        );
    }

    fn snap_files(member: &Member) -> usize {
        std::fs::read_dir(member.data_dir.join("member").join("snap"))
            .map(|dir| {
                dir.filter_map(Result::ok)
                    .filter(|e| e.file_name().to_string_lossy().ends_with(".snap"))
                    .count()
            })
            .unwrap_or(0)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn snapshots_are_taken_and_restart_starts_from_them() {
        let dir = tempfile::tempdir().unwrap();
        let (mut members, initial) = cluster(dir.path(), 1);
        let member = &mut members[0];
        let flags = [
            "--snapshot-count=10",
            "--experimental-snapshot-catchup-entries=3",
        ];
        member.start(&initial, &flags);
        member.wait_healthy();
        for i in 0..60 {
            put_until_acked(member, &format!("s{i:03}"), &format!("v{i}")).await;
        }
        assert!(snap_files(member) >= 1, "a snapshot every 10 entries");
        member.kill();
        member.start(&initial, &flags);
        member.wait_healthy();
        assert_eq!(read_all(member, "s").await.len(), 60);
    }

    /// Raft's log since the last snapshot lives in memory, so 8 MiB of entries trigger a
    /// snapshot long before the default `--snapshot-count` of 100,000 entries.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn eight_mib_of_entries_trigger_a_snapshot_before_the_snapshot_count() {
        let dir = tempfile::tempdir().unwrap();
        let (mut members, initial) = cluster(dir.path(), 1);
        let member = &mut members[0];
        member.start(&initial, &[]);
        member.wait_healthy();
        let value = "x".repeat(1_000_000);
        for i in 0..8 {
            put_until_acked(member, &format!("big{i}"), &value).await;
        }
        assert_eq!(snap_files(member), 0, "8,000,000 bytes stay under 8 MiB");
        put_until_acked(member, "big8", &value).await;
        let deadline = Instant::now() + PATIENCE;
        while snap_files(member) == 0 {
            assert!(Instant::now() < deadline, "{}", member.log_text());
            std::thread::sleep(Duration::from_millis(50));
        }
        member.kill();
        member.start(&initial, &[]);
        member.wait_healthy();
        let keys = connect(member)
            .await
            .get(
                "big",
                Some(GetOptions::new().with_prefix().with_keys_only()),
            )
            .await
            .unwrap();
        assert_eq!(keys.kvs().len(), 9, "every put survives the restart");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn lagging_follower_catches_up_through_a_snapshot() {
        let dir = tempfile::tempdir().unwrap();
        let (mut members, initial) = cluster(dir.path(), 3);
        let flags = [
            "--snapshot-count=20",
            "--experimental-snapshot-catchup-entries=5",
        ];
        start_all(&mut members, &initial, &flags);
        let leader = leader_index(&members).await;
        let lagging = (leader + 1) % 3;
        members[lagging].kill();
        let mut acked = Vec::new();
        for i in 0..100 {
            let (key, value) = (format!("c{i:04}"), format!("v{i}"));
            put_until_acked(&members[leader], &key, &value).await;
            acked.push((key, value));
        }
        members[lagging].start(&initial, &flags);
        members[lagging].wait_healthy();
        // The restarted member may still be installing the snapshot: its
        // linearizable reads wait until it applied what the leader committed.
        let deadline = Instant::now() + PATIENCE;
        loop {
            let got = read_all(&members[lagging], "c").await;
            if got == acked {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the lagging member never caught up: {} of {}",
                got.len(),
                acked.len()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(
            members[lagging]
                .log_text()
                .contains("received from the leader"),
            "the lagging member caught up through a snapshot:\n{}",
            members[lagging].log_text()
        );
    }

    /// A follower installs a snapshot by restarting. With two catch-up entries the
    /// leader would compact the entries after the snapshot it sent before the follower
    /// is back, under steady writes every time: the leader keeps them for it a while.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_follower_restarting_for_a_snapshot_catches_up_under_steady_writes() {
        let dir = tempfile::tempdir().unwrap();
        let (mut members, initial) = cluster(dir.path(), 3);
        let flags = [
            "--snapshot-count=20",
            "--experimental-snapshot-catchup-entries=2",
        ];
        start_all(&mut members, &initial, &flags);
        let leader = leader_index(&members).await;
        let lagging = (leader + 1) % 3;
        members[lagging].kill();
        for i in 0..100 {
            put_until_acked(&members[leader], &format!("c{i:04}"), "v").await;
        }
        let stop = Arc::new(AtomicBool::new(false));
        let written = Arc::new(AtomicU64::new(0));
        let writer = {
            let (stop, written) = (Arc::clone(&stop), Arc::clone(&written));
            let mut client = connect(&members[leader]).await;
            tokio::spawn(async move {
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    if client.put(format!("w{n:08}"), "v", None).await.is_ok() {
                        n += 1;
                        written.store(n, Ordering::Relaxed);
                    }
                }
            })
        };
        members[lagging].start(&initial, &flags);
        let url = members[lagging].client_url();
        let deadline = Instant::now() + PATIENCE;
        loop {
            assert!(
                Instant::now() < deadline,
                "the restarted member never caught up while writes went on:\n{}",
                members[lagging].log_text()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
            let latest = written.load(Ordering::Relaxed);
            if latest < 50 {
                continue;
            }
            let key = format!("w{:08}", latest - 1);
            let options = etcd_client::ConnectOptions::new().with_timeout(Duration::from_secs(2));
            let Ok(mut client) = Client::connect([url.clone()], Some(options)).await else {
                continue;
            };
            let serializable = GetOptions::new().with_serializable();
            if let Ok(resp) = client.get(key, Some(serializable)).await
                && !resp.kvs().is_empty()
            {
                break;
            }
        }
        stop.store(true, Ordering::Relaxed);
        writer.await.unwrap();
        let log = members[lagging].log_text();
        let installs = log.matches("the member restarts").count();
        assert!(
            (1..=2).contains(&installs),
            "caught up through one snapshot (or two), not {installs}:\n{log}"
        );
    }

    /// A lease granted through a follower is known to the leader's lessor
    /// by the time the follower answers the grant: keep-alive and
    /// time-to-live right after it (forwarded to the leader) find it.
    async fn leases_granted_through_a_follower_are_renewed_at_once(follower: &Member) {
        let mut client = connect(follower).await;
        for round in 0..20 {
            let id = client.lease_grant(30, None).await.unwrap().id();
            let (mut keeper, mut responses) = client.lease_keep_alive(id).await.unwrap();
            keeper.keep_alive().await.unwrap();
            let renewed = responses.message().await.unwrap().unwrap();
            assert_eq!(
                (renewed.id(), renewed.ttl()),
                (id, 30),
                "round {round}: keep-alive right after the grant"
            );
            let ttl = client.lease_time_to_live(id, None).await.unwrap();
            assert_eq!(ttl.granted_ttl(), 30, "round {round}: time-to-live");
            assert!(ttl.ttl() > 0, "round {round}: the lease is alive");
        }
    }

    /// The same, deterministic: the leader applies every batch 300 ms late
    /// (`slow-apply`), so each keep-alive forwarded to it arrives before it
    /// applied the grant the follower already answered, and it must wait for
    /// what it knows committed rather than answer "lease not found".
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_leader_applying_late_still_renews_leases_granted_through_a_follower() {
        let dir = tempfile::tempdir().unwrap();
        let (mut members, initial) = cluster(dir.path(), 3);
        for m in &mut members {
            m.fault_injection = true;
        }
        start_all(&mut members, &initial, &[]);
        let leader = leader_index(&members).await;
        members[leader].fault("slow-apply 300");
        leases_granted_through_a_follower_are_renewed_at_once(&members[(leader + 1) % 3]).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn three_members_survive_leader_kill() {
        let dir = tempfile::tempdir().unwrap();
        let (mut members, initial) = cluster(dir.path(), 3);
        start_all(&mut members, &initial, &[]);
        let mut acked: Vec<(String, String)> = Vec::new();
        for i in 0..30 {
            let (key, value) = (format!("k{i:04}"), format!("before-{i}"));
            put_until_acked(&members[i % 3], &key, &value).await;
            acked.push((key, value));
        }
        let leader_id = leader_of(&members[0]).await;
        assert_ne!(leader_id, 0);
        let leader = leader_index(&members).await;
        let survivor = (leader + 1) % 3;
        leases_granted_through_a_follower_are_renewed_at_once(&members[survivor]).await;

        let killed_at = Instant::now();
        members[leader].kill();
        put_until_acked(&members[survivor], "k-failover", "first-after-kill").await;
        let failover = killed_at.elapsed();
        println!("failover: first write acknowledged {failover:?} after SIGKILL of the leader");
        acked.push(("k-failover".into(), "first-after-kill".into()));
        for i in 30..60 {
            let (key, value) = (format!("k{i:04}"), format!("after-{i}"));
            put_until_acked(&members[survivor], &key, &value).await;
            acked.push((key, value));
        }
        let new_leader = leader_of(&members[survivor]).await;
        assert!(
            new_leader != 0 && new_leader != leader_id,
            "a new leader took over"
        );

        members[leader].start(&initial, &[]);
        members[leader].wait_healthy();
        acked.sort();
        for m in &members {
            assert_eq!(
                read_all(m, "k").await,
                acked,
                "{} has every acknowledged write",
                m.name
            );
        }
    }

    /// etcd's `ReadyNotify`: a restarted member opens its client port only once its
    /// publish entry is applied, so it never answers from a state older than what the
    /// cluster committed before it came back.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_restarted_member_serves_clients_only_once_its_publish_is_applied() {
        let dir = tempfile::tempdir().unwrap();
        let (mut members, initial) = cluster(dir.path(), 3);
        start_all(&mut members, &initial, &[]);
        put_until_acked(&members[0], "gate", "before").await;
        for m in members.iter_mut() {
            m.kill();
        }
        members[0].start(&initial, &[]);
        let deadline = Instant::now() + PATIENCE;
        while members[0].log_text().matches("member started").count() < 2 {
            assert!(Instant::now() < deadline, "{}", members[0].log_text());
            std::thread::sleep(Duration::from_millis(50));
        }
        // Alone, the member cannot commit its publish entry: its client port stays shut
        // (without the gate it would open within a moment of starting).
        let shut_until = Instant::now() + Duration::from_secs(3);
        while Instant::now() < shut_until {
            let addr = ("127.0.0.1", members[0].client_port);
            assert!(
                std::net::TcpStream::connect(addr).is_err(),
                "the client port opened without a quorum:\n{}",
                members[0].log_text()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        members[1].start(&initial, &[]);
        members[0].wait_healthy();
        assert!(members[0].log_text().contains("published; serving clients"));
        assert_eq!(
            read_all(&members[0], "gate").await,
            vec![("gate".to_string(), "before".to_string())]
        );
    }
}
