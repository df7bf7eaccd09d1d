//! Runtime membership: real `keel` processes grown from one member to three
//! (through a snapshot, and through a learner promoted once it caught up),
//! shrunk by removing a follower and the leader, leadership moved, and every
//! refusal checked against etcd's gRPC code and message; some steps go
//! through the real `etcdctl`.

mod serial {
    use std::time::Duration;
    use std::time::Instant;

    use etcd_client::Client;
    use etcd_client::MemberAddOptions;
    use tonic::Code;

    use crate::member::Member;
    use crate::member::PATIENCE;
    use crate::member::initial_cluster;
    use crate::support::etcdctl;
    use crate::support::free_port;

    /// Entries a leader keeps behind a snapshot for slow followers: few, so
    /// that a member that joins late needs a snapshot.
    const CATCH_UP_ENTRIES: u64 = 10;

    /// Starts `m` with frequent snapshots (every 100 entries) as a member of
    /// a `new` or `existing` cluster.
    fn start(m: &mut Member, initial_cluster: &str, state: &str) {
        start_keeping(m, initial_cluster, state, CATCH_UP_ENTRIES);
    }

    /// [`start`], with `catch_up_entries` kept behind each snapshot.
    fn start_keeping(m: &mut Member, initial_cluster: &str, state: &str, catch_up_entries: u64) {
        let state = format!("--initial-cluster-state={state}");
        let catch_up = format!("--experimental-snapshot-catchup-entries={catch_up_entries}");
        m.start(
            initial_cluster,
            &[&state, "--snapshot-count=100", &catch_up],
        );
    }

    /// `etcdctl` against `m`; panics unless it succeeds; returns stdout.
    fn etcdctl_ok(m: &Member, args: &[&str]) -> String {
        let out = etcdctl(&m.client_url(), args, "");
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "etcdctl {args:?}: {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
    }

    /// Asserts that `result` is etcd's error with this code and message.
    fn assert_refused<T: std::fmt::Debug>(
        result: Result<T, etcd_client::Error>,
        code: Code,
        message: &str,
    ) {
        match result {
            Err(etcd_client::Error::GRpcStatus(status)) => {
                assert_eq!(
                    (status.code(), status.message()),
                    (code, message),
                    "{status:?}"
                );
            }
            other => panic!("expected {code:?} {message:?}, got {other:?}"),
        }
    }

    /// The leader's id as `member` reports it, once there is one.
    async fn leader_of(member: &Member) -> u64 {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Ok(status) = member.client().await.status().await
                && status.leader() != 0
            {
                return status.leader();
            }
            assert!(
                Instant::now() < deadline,
                "no leader seen by {}",
                member.name
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until `via` lists a member named `name` (it published itself: "started").
    async fn wait_started(via: &Member, name: &str) {
        let deadline = Instant::now() + PATIENCE;
        let mut client = via.client().await;
        loop {
            if let Ok(list) = client.member_list().await
                && list.members().iter().any(|m| m.name() == name)
            {
                return;
            }
            assert!(Instant::now() < deadline, "{name} never published itself");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Member ids by name, from `member`'s list.
    async fn ids_by_name(member: &Member) -> Vec<(String, u64, bool)> {
        let list = member.client().await.member_list().await.unwrap();
        list.members()
            .iter()
            .map(|m| (m.name().to_string(), m.id(), m.is_learner()))
            .collect()
    }

    fn id_of(ids: &[(String, u64, bool)], name: &str) -> u64 {
        ids.iter()
            .find(|(n, _, _)| n == name)
            .map(|(_, id, _)| *id)
            .unwrap_or_else(|| panic!("{name} not in {ids:?}"))
    }

    /// The member id etcdctl printed in "Member <hex> added to cluster <hex>".
    fn added_id(etcdctl_out: &str) -> u64 {
        let hex = etcdctl_out
            .split_whitespace()
            .skip_while(|w| *w != "Member")
            .nth(1)
            .unwrap_or_else(|| panic!("no member id in {etcdctl_out:?}"));
        u64::from_str_radix(hex, 16).unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn grows_from_one_to_three_through_a_snapshot_and_a_promoted_learner() {
        let dir = tempfile::tempdir().unwrap();
        let mut m0 = Member::new(dir.path(), "m0");
        let mut m1 = Member::new(dir.path(), "m1");
        let mut m2 = Member::new(dir.path(), "m2");
        let named = initial_cluster(&[&m0]);
        start(&mut m0, &named, "new");
        m0.wait_healthy();
        let mut c0 = m0.client().await;
        for i in 0..300 {
            c0.put(format!("k{i:03}"), format!("v{i}"), None)
                .await
                .unwrap();
        }

        // A voter added to one started member (etcd's restore case is allowed).
        let added = c0.member_add([m1.peer_url()], None).await.unwrap();
        let m1_id = added.member().unwrap().id();
        assert!(!added.member().unwrap().is_learner());
        assert_eq!(added.member_list().len(), 2);
        // 1 of 2 voters started: one more voter would need 2 started.
        assert_refused(
            c0.member_add([m2.peer_url()], None).await,
            Code::FailedPrecondition,
            "etcdserver: re-configuration failed due to not enough started members",
        );
        assert_refused(
            c0.member_add([m1.peer_url()], None).await,
            Code::FailedPrecondition,
            "etcdserver: Peer URLs already exists",
        );
        assert_refused(
            c0.member_add(["http://127.0.0.1"], None).await,
            Code::InvalidArgument,
            "etcdserver: given member URLs are invalid",
        );

        // The new member learns its ids from m0 and catches up through a
        // snapshot (the log it needs was compacted).
        let named = initial_cluster(&[&m0, &m1]);
        start(&mut m1, &named, "existing");
        m1.wait_healthy();
        wait_started(&m0, "m1").await;
        let mut c1 = m1.client().await;
        let got = c1.get("k299", None).await.unwrap();
        assert_eq!(got.kvs()[0].value_str().unwrap(), "v299");
        assert_eq!(
            c1.status().await.unwrap().header().unwrap().member_id(),
            m1_id
        );
        assert!(
            m1.log_text().contains("installing the snapshot"),
            "m1 caught up through a snapshot:\n{}",
            m1.log_text()
        );
        c1.put("via-m1", "yes", None).await.unwrap();

        // A learner, through the real etcdctl.
        let out = etcdctl_ok(
            &m0,
            &[
                "member",
                "add",
                "m2",
                &format!("--peer-urls={}", m2.peer_url()),
                "--learner",
            ],
        );
        let m2_id = added_id(&out);
        assert!(
            out.contains("ETCD_INITIAL_CLUSTER_STATE=\"existing\""),
            "{out}"
        );
        let learner_options = Some(MemberAddOptions::new().with_is_learner());
        let spare = format!("http://127.0.0.1:{}", free_port());
        assert_refused(
            c0.member_add([spare.as_str()], learner_options).await,
            Code::FailedPrecondition,
            "etcdserver: too many learner members in cluster",
        );
        assert_refused(
            c0.member_promote(m1_id).await,
            Code::FailedPrecondition,
            "etcdserver: can only promote a learner member",
        );
        // Asked of a follower, which asks the leader how far the learner got.
        let leader = leader_of(&m0).await;
        let follower = if leader == m1_id { &m0 } else { &m1 };
        assert_refused(
            follower.client().await.member_promote(m2_id).await,
            Code::FailedPrecondition,
            "etcdserver: can only promote a learner member which is in sync with leader",
        );

        let named = initial_cluster(&[&m0, &m1, &m2]);
        start(&mut m2, &named, "existing");
        let deadline = Instant::now() + PATIENCE;
        let hex = format!("{m2_id:x}");
        loop {
            let out = etcdctl(&follower.client_url(), &["member", "promote", &hex], "");
            if out.status.success() {
                let stdout = String::from_utf8_lossy(&out.stdout);
                assert!(
                    // etcdctl prints ids as Go's %16x: padded with spaces.
                    stdout.contains(&format!("Member {m2_id:16x} promoted")),
                    "{stdout}"
                );
                break;
            }
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(
                stderr.contains("in sync with leader") && Instant::now() < deadline,
                "promote failed: {stderr}\n{}",
                m2.log_text()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let ids = ids_by_name(&m0).await;
        assert_eq!(ids.len(), 3, "{ids:?}");
        assert!(ids.iter().all(|(_, _, learner)| !learner), "{ids:?}");
        m2.wait_healthy();
        wait_started(&m0, "m2").await;
        let mut c2 = m2.client().await;
        c2.put("via-m2", "yes", None).await.unwrap();
        let got = c2.get("via-m1", None).await.unwrap();
        assert_eq!(got.kvs()[0].value_str().unwrap(), "yes");
        assert_eq!(c2.get("k000", None).await.unwrap().kvs().len(), 1);

        // A member removed while it was down hears of it when it comes back, and exits.
        m2.kill();
        let before = c0.member_list().await.unwrap();
        let left = c0
            .member_remove(m2_id)
            .await
            .unwrap_or_else(|e| panic!("{e}: {:?}\n{}", before.members(), m1.log_text()));
        assert_eq!(left.members().len(), 2);
        let named = initial_cluster(&[&m0, &m1, &m2]);
        start(&mut m2, &named, "existing");
        let status = m2.wait_exit();
        assert!(!status.success());
        assert!(
            m2.log_text()
                .contains("the member has been permanently removed from the cluster"),
            "{}",
            m2.log_text()
        );
        c0.put("after-removal", "yes", None).await.unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn moves_leadership_updates_and_removes_members_and_the_leader() {
        let dir = tempfile::tempdir().unwrap();
        let mut members: Vec<Member> = ["m0", "m1", "m2"]
            .iter()
            .map(|n| Member::new(dir.path(), n))
            .collect();
        let initial = initial_cluster(&members.iter().collect::<Vec<_>>());
        for m in &mut members {
            start(m, &initial, "new");
        }
        for m in &mut members {
            m.wait_healthy();
        }
        let listed = ids_by_name(&members[0]).await;
        let all_ids: Vec<u64> = members.iter().map(|m| id_of(&listed, &m.name)).collect();
        let id = |i: usize| all_ids[i];
        let index_of = |member_id: u64| (0..3).find(|&i| id(i) == member_id).unwrap();
        let leader = index_of(leader_of(&members[0]).await);
        let follower = (leader + 1) % 3;
        let other = (leader + 2) % 3;

        // MoveLeader: only on the leader, only to a voter.
        assert_refused(
            members[follower]
                .client()
                .await
                .move_leader(id(other))
                .await,
            Code::FailedPrecondition,
            "etcdserver: not leader",
        );
        let mut cl = members[leader].client().await;
        assert_refused(
            cl.move_leader(0x1234).await,
            Code::FailedPrecondition,
            "etcdserver: bad leader transferee",
        );
        let endpoints = members
            .iter()
            .map(Member::client_url)
            .collect::<Vec<_>>()
            .join(",");
        let out = etcdctl(
            &endpoints,
            &["move-leader", &format!("{:x}", id(follower))],
            "",
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(String::from_utf8_lossy(&out.stdout).contains("Leadership transferred"));
        assert_eq!(leader_of(&members[other]).await, id(follower));
        let leader = follower;
        let mut cl = members[leader].client().await;

        // Refusals of remove and update.
        assert_refused(
            cl.member_remove(0x1234).await,
            Code::NotFound,
            "etcdserver: member not found",
        );
        assert_refused(
            cl.member_update(id(other), vec![members[leader].peer_url()])
                .await,
            Code::FailedPrecondition,
            "etcdserver: Peer URLs already exists",
        );

        // Move a follower to a new peer port (etcd's migration): update, restart there.
        let moved = other;
        members[moved].peer_port = free_port();
        let updated = cl
            .member_update(id(moved), vec![members[moved].peer_url()])
            .await
            .unwrap();
        let listed = updated
            .members()
            .iter()
            .find(|m| m.id() == id(moved))
            .unwrap()
            .peer_urls()
            .to_vec();
        assert_eq!(listed, vec![members[moved].peer_url()]);
        members[moved].kill();
        // With a data directory, the flags' cluster is not read again.
        start(&mut members[moved], &initial, "existing");
        members[moved].wait_healthy();
        members[moved]
            .client()
            .await
            .put("after-move", "yes", None)
            .await
            .unwrap();

        // Remove the leader through itself: it answers, steps down and exits.
        let removed = cl.member_remove(id(leader)).await.unwrap();
        assert_eq!(removed.members().len(), 2);
        let status = members[leader].wait_exit();
        assert!(!status.success());
        assert!(
            members[leader]
                .log_text()
                .contains("the member has been permanently removed from the cluster"),
            "{}",
            members[leader].log_text()
        );
        // Its data directory records the removal: it refuses to start again.
        start(&mut members[leader], &initial, "existing");
        assert!(!members[leader].wait_exit().success());
        let survivors: Vec<usize> = (0..3).filter(|&i| i != leader).collect();
        for &i in &survivors {
            members[i].wait_healthy();
        }
        let mut cs = members[survivors[0]].client().await;
        cs.put("after-leader-removal", "yes", None).await.unwrap();

        // Remove a follower: it hears of it and exits; the last member serves alone.
        let new_leader = index_of(leader_of(&members[survivors[0]]).await);
        let gone = survivors
            .iter()
            .copied()
            .find(|&i| i != new_leader)
            .unwrap();
        let mut cn = members[new_leader].client().await;
        let left = cn.member_remove(id(gone)).await.unwrap();
        assert_eq!(left.members().len(), 1);
        members[gone].wait_exit();
        assert!(
            members[gone]
                .log_text()
                .contains("the member has been permanently removed from the cluster")
        );
        members[new_leader].wait_healthy();
        let got = cn.get("after-leader-removal", None).await.unwrap();
        assert_eq!(got.kvs()[0].value_str().unwrap(), "yes");
    }

    #[test]
    fn a_joiner_without_a_reachable_peer_exits_and_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let mut joiner = Member::new(dir.path(), "j");
        let absent = Member::new(dir.path(), "absent");
        let named = initial_cluster(&[&absent, &joiner]);
        start(&mut joiner, &named, "existing");
        let status = joiner.wait_exit();
        assert!(!status.success());
        let log = joiner.log_text();
        assert!(log.contains("cannot join the cluster"), "{log}");
        assert!(
            !joiner.data_dir.join("member").join("wal").exists(),
            "a WAL was written before the cluster answered"
        );
    }

    /// Puts keys through `member` until told to stop; returns the acknowledged ones.
    async fn write_until(
        member_url: String,
        stop: tokio::sync::watch::Receiver<bool>,
    ) -> Vec<String> {
        let options = etcd_client::ConnectOptions::new()
            .with_connect_timeout(Duration::from_secs(5))
            .with_timeout(Duration::from_secs(5));
        let mut client = Client::connect([member_url], Some(options)).await.unwrap();
        let mut acked = Vec::new();
        for n in 0.. {
            if *stop.borrow() {
                break;
            }
            let key = format!("load/{n:06}");
            if client.put(key.as_str(), "v", None).await.is_ok() {
                acked.push(key);
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        acked
    }

    /// Promotes the learner `id` through `via` once it caught up.
    async fn promote_when_ready(via: &Member, id: u64, learner: &Member) {
        let deadline = Instant::now() + PATIENCE;
        let mut client = via.client().await;
        loop {
            match client.member_promote(id).await {
                Ok(_) => return,
                Err(e) if Instant::now() < deadline => {
                    eprintln!("promote {}: {e}; retrying", learner.name);
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(e) => panic!(
                    "promote {} failed: {e}\n{}",
                    learner.name,
                    learner.log_text()
                ),
            }
        }
    }

    /// Every member's HashKV at `revision`, once each has applied it.
    async fn hashes_at(members: &[Member], revision: i64) -> Vec<u32> {
        let mut hashes = Vec::new();
        for m in members {
            let deadline = Instant::now() + PATIENCE;
            let mut client = m.client().await;
            loop {
                match client.hash_kv(revision).await {
                    Ok(h) => {
                        hashes.push(h.hash());
                        break;
                    }
                    Err(e) => {
                        assert!(Instant::now() < deadline, "hash_kv on {}: {e}", m.name);
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                }
            }
        }
        hashes
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn grows_to_five_and_shrinks_to_one_under_writes_losing_nothing() {
        let dir = tempfile::tempdir().unwrap();
        // Under steady writes a joiner must not fall behind the log the
        // leader keeps while it installs a snapshot (a restart): keep etcd's default.
        let mut members: Vec<Member> = (0..5)
            .map(|i| Member::new(dir.path(), &format!("m{i}")))
            .collect();
        let first = initial_cluster(&[&members[0]]);
        start_keeping(&mut members[0], &first, "new", 5000);
        members[0].wait_healthy();
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let writer = tokio::spawn(write_until(members[0].client_url(), stop_rx));
        let mut c0 = members[0].client().await;
        let mut ids = vec![c0.status().await.unwrap().header().unwrap().member_id()];

        // Grow: each new member joins as a learner and is promoted once in sync.
        for i in 1..5 {
            let learner = Some(MemberAddOptions::new().with_is_learner());
            let added = c0
                .member_add([members[i].peer_url()], learner)
                .await
                .unwrap();
            let id = added.member().unwrap().id();
            ids.push(id);
            let initial = initial_cluster(&members[..=i].iter().collect::<Vec<_>>());
            start_keeping(&mut members[i], &initial, "existing", 5000);
            promote_when_ready(&members[0], id, &members[i]).await;
            members[i].wait_healthy();
            wait_started(&members[0], &members[i].name).await;
        }
        let listed = c0.member_list().await.unwrap();
        assert_eq!(listed.members().len(), 5);
        assert!(listed.members().iter().all(|m| !m.is_learner()));
        let revision = c0
            .put("peak", "5", None)
            .await
            .unwrap()
            .header()
            .unwrap()
            .revision();
        let hashes = hashes_at(&members, revision).await;
        assert!(hashes.windows(2).all(|w| w[0] == w[1]), "{hashes:?}");

        // Shrink back to m0, while the writes go on.
        for i in (1..5).rev() {
            let left = c0.member_remove(ids[i]).await.unwrap();
            assert_eq!(left.members().len(), i);
            members[i].wait_exit();
        }
        stop_tx.send(true).unwrap();
        let acked = writer.await.unwrap();
        assert!(
            acked.len() > 10,
            "the writer made progress: {}",
            acked.len()
        );
        let stored = c0
            .get(
                "load/",
                Some(
                    etcd_client::GetOptions::new()
                        .with_prefix()
                        .with_keys_only(),
                ),
            )
            .await
            .unwrap();
        let stored: std::collections::HashSet<String> = stored
            .kvs()
            .iter()
            .map(|kv| kv.key_str().unwrap().to_string())
            .collect();
        let lost: Vec<&String> = acked.iter().filter(|k| !stored.contains(*k)).collect();
        assert!(lost.is_empty(), "acknowledged writes lost: {lost:?}");
        assert_eq!(
            c0.member_list().await.unwrap().members().len(),
            1,
            "back to one member"
        );
    }
}
