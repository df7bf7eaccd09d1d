//! Backups and recovery, end to end: Maintenance.Snapshot from a three-member
//! cluster while a writer keeps writing (saved by etcd-client, as keelctl
//! saves it, and by the real `etcdctl snapshot save`), restored into new
//! clusters with the server's `restore` module (what `keelctl snapshot
//! restore` calls); corrupt files refused; `--force-new-cluster` on the last
//! member standing.

mod serial {
    use std::path::Path;
    use std::sync::Arc;
    use std::sync::Mutex;
    use std::sync::atomic::AtomicBool;
    use std::sync::atomic::Ordering;
    use std::time::Duration;
    use std::time::Instant;

    use etcd_client::GetOptions;
    use server::restore;
    use server::restore::RestoreError;
    use server::restore::RestoreOptions;

    use crate::member::Member;
    use crate::member::PATIENCE;
    use crate::member::cluster;
    use crate::member::start_all;
    use crate::support::etcdctl;
    use crate::support::have_program;

    /// Writes made before the first save.
    const KEYS_BEFORE: usize = 40;
    /// 64 KiB values written first, so that a snapshot spans many 32 KiB chunks.
    const BIG_VALUES: usize = 8;

    /// The restore flags that make `member`'s data directory.
    fn restore_options(member: &Member, initial_cluster: &str, token: &str) -> RestoreOptions {
        RestoreOptions {
            name: member.name.clone(),
            data_dir: Some(member.data_dir.clone()),
            initial_cluster: initial_cluster.into(),
            initial_cluster_token: token.into(),
            initial_advertise_peer_urls: member.peer_url(),
            ..RestoreOptions::default()
        }
    }

    /// Every key under `prefix` with its value, read linearizably through `member`.
    async fn read_all(member: &Member, prefix: &str) -> Vec<(String, String)> {
        let resp = member
            .client()
            .await
            .get(prefix, Some(GetOptions::new().with_prefix()))
            .await
            .unwrap();
        resp.kvs()
            .iter()
            .map(|kv| {
                let key = kv.key_str().unwrap().to_string();
                (key, kv.value_str().unwrap().to_string())
            })
            .collect()
    }

    /// Asserts `member` holds every write of `expected` (a write in flight
    /// when its client gave up may be there too).
    async fn assert_has_all(member: &Member, expected: &[(String, String)]) {
        let found: std::collections::HashMap<String, String> =
            read_all(member, "w").await.into_iter().collect();
        let missing: Vec<&(String, String)> = expected
            .iter()
            .filter(|(k, v)| found.get(k) != Some(v))
            .collect();
        assert!(
            missing.is_empty(),
            "{}: {} of {} acknowledged writes missing, first {:?}",
            member.name,
            missing.len(),
            expected.len(),
            missing.first()
        );
    }

    /// Puts `w{n}` keys through the members in turn until stopped; records
    /// each acknowledged write in order.
    struct Writer {
        stop: Arc<AtomicBool>,
        acked: Arc<Mutex<Vec<(String, String)>>>,
        task: tokio::task::JoinHandle<()>,
    }

    impl Writer {
        async fn start(members: &[Member]) -> Writer {
            let mut clients = Vec::new();
            for m in members {
                clients.push(m.client().await);
            }
            let stop = Arc::new(AtomicBool::new(false));
            let acked = Arc::new(Mutex::new(Vec::new()));
            let (s, a) = (Arc::clone(&stop), Arc::clone(&acked));
            let task = tokio::spawn(async move {
                let mut n = 0usize;
                while !s.load(Ordering::Acquire) {
                    let (key, value) = (format!("w{n:06}"), format!("v{n}"));
                    let client = &mut clients[n % 3];
                    if client.put(key.as_str(), value.as_str(), None).await.is_ok() {
                        a.lock().unwrap().push((key, value));
                    }
                    n += 1;
                }
            });
            Writer { stop, acked, task }
        }

        fn acked(&self) -> Vec<(String, String)> {
            self.acked.lock().unwrap().clone()
        }

        /// Waits until at least `count` writes were acknowledged.
        async fn wait_for(&self, count: usize) {
            let deadline = Instant::now() + PATIENCE;
            while self.acked.lock().unwrap().len() < count {
                assert!(Instant::now() < deadline, "the writer made no progress");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }

        async fn stop(self) -> Vec<(String, String)> {
            self.stop.store(true, Ordering::Release);
            self.task.await.unwrap();
            self.acked.lock().unwrap().clone()
        }
    }

    /// Saves a snapshot with etcd-client (as keelctl does), checking the
    /// stream's shape: `remaining_bytes` counts down to 0, then the sha256.
    /// While the stream is held open after its first chunk, the member still
    /// acknowledges a write.
    async fn save_with_client(member: &Member, path: &Path) {
        let mut stream = member.client().await.snapshot().await.unwrap();
        let first = stream.message().await.unwrap().unwrap();
        assert!(
            first.remaining_bytes() > 0,
            "the store spans several chunks"
        );
        member
            .client()
            .await
            .put("during-save", "1", None)
            .await
            .expect("writes go on while a snapshot streams");
        let mut data = first.blob().to_vec();
        let mut remaining = vec![first.remaining_bytes()];
        while let Some(chunk) = stream.message().await.unwrap() {
            assert!(chunk.blob().len() <= 32 * 1024, "chunks of at most 32 KiB");
            data.extend_from_slice(chunk.blob());
            remaining.push(chunk.remaining_bytes());
        }
        assert_eq!(data.len() % 512, 32, "padded to 512 bytes, then the sha256");
        let data_chunks = &remaining[..remaining.len() - 1];
        assert!(data_chunks.windows(2).all(|w| w[0] > w[1]));
        assert_eq!(remaining.last(), Some(&0));
        assert_eq!(data_chunks.last(), Some(&0), "the last data chunk leaves 0");
        std::fs::write(path, &data).unwrap();
    }

    fn save_with_etcdctl(member: &Member, path: &Path) {
        let out = etcdctl(
            &member.client_url(),
            &["snapshot", "save", path.to_str().unwrap()],
            "",
        );
        assert!(
            out.status.success(),
            "etcdctl snapshot save failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Restores `file` into a new cluster of `size` members, starts it, and
    /// checks it holds `expected` (and maybe more) and takes writes.
    async fn restore_and_check(
        dir: &Path,
        prefix: &str,
        file: &Path,
        expected: &[(String, String)],
        size: usize,
    ) {
        let (mut members, initial) = cluster(dir, prefix, size);
        let token = format!("restored-{prefix}");
        let mut revisions = Vec::new();
        for m in &members {
            let restored = restore::restore(file, &restore_options(m, &initial, &token)).unwrap();
            revisions.push(restored.revision);
        }
        assert!(revisions.windows(2).all(|w| w[0] == w[1]));
        start_all(
            &mut members,
            &initial,
            &[format!("--initial-cluster-token={token}").as_str()],
        );
        for m in &members {
            assert_has_all(m, expected).await;
        }
        let mut client = members[0].client().await;
        client.put("after-restore", "yes", None).await.unwrap();
        let status = client.status().await.unwrap();
        assert!(status.header().unwrap().revision() > revisions[0]);
        let listed = client.member_list().await.unwrap();
        assert_eq!(listed.members().len(), size);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn snapshot_under_load_restores_into_a_new_cluster() {
        let dir = tempfile::tempdir().unwrap();
        let (mut members, initial) = cluster(dir.path(), "m", 3);
        start_all(&mut members, &initial, &[]);
        let mut client = members[0].client().await;
        for i in 0..BIG_VALUES {
            client
                .put(format!("big/{i}"), vec![b'x'; 64 * 1024], None)
                .await
                .unwrap();
        }
        let writer = Writer::start(&members).await;
        writer.wait_for(KEYS_BEFORE).await;

        let by_client = dir.path().join("client.db");
        let before_client = writer.acked();
        save_with_client(&members[1], &by_client).await;
        let after_client = writer.acked().len();

        let by_etcdctl = dir.path().join("etcdctl.db");
        let before_etcdctl = writer.acked();
        if have_program("etcdctl") {
            let member = &members[2];
            tokio::task::block_in_place(|| save_with_etcdctl(member, &by_etcdctl));
        } else {
            eprintln!("etcdctl not installed: saving with etcd-client twice");
            save_with_client(&members[2], &by_etcdctl).await;
        }
        let acked = writer.stop().await;
        println!(
            "writer: {} writes acknowledged in all; {} while the first save streamed",
            acked.len(),
            after_client - before_client.len()
        );

        for (file, before) in [(&by_client, &before_client), (&by_etcdctl, &before_etcdctl)] {
            let status = restore::status(file).unwrap();
            assert_eq!(
                status.total_size_bytes,
                std::fs::metadata(file).unwrap().len()
            );
            assert!(status.total_keys >= before.len() as u64, "{status:?}");
            assert!(status.revision > before.len() as i64, "{status:?}");
        }
        drop(members);
        restore_and_check(dir.path(), "r", &by_etcdctl, &before_etcdctl, 3).await;
        restore_and_check(dir.path(), "s", &by_client, &before_client, 1).await;
        corrupt_files_are_refused(dir.path(), &by_client);
    }

    /// A truncated and a bit-flipped file: status and restore refuse them by
    /// their sha256 and write nothing; with `--skip-hash-check` the store's
    /// own CRC still refuses the flipped one.
    fn corrupt_files_are_refused(dir: &Path, good: &Path) {
        let bytes = std::fs::read(good).unwrap();
        let truncated = dir.join("truncated.db");
        std::fs::write(&truncated, &bytes[..bytes.len() - 100]).unwrap();
        let flipped = dir.join("flipped.db");
        let mut flipped_bytes = bytes.clone();
        let store_bytes = restore::verify_file(good).unwrap().store_bytes as usize;
        flipped_bytes[restore::HEADER_BYTES as usize + store_bytes / 2] ^= 0x04;
        std::fs::write(&flipped, &flipped_bytes).unwrap();

        assert!(matches!(
            restore::status(&truncated),
            Err(RestoreError::Truncated { .. })
        ));
        assert!(matches!(
            restore::status(&flipped),
            Err(RestoreError::ChecksumMismatch { .. })
        ));
        let target = dir.join("refused");
        let options = RestoreOptions {
            name: "x".into(),
            data_dir: Some(target.clone()),
            initial_cluster: "x=http://127.0.0.1:1".into(),
            initial_cluster_token: "t".into(),
            initial_advertise_peer_urls: "http://127.0.0.1:1".into(),
            wal_dir: None,
            skip_hash_check: false,
        };
        assert!(matches!(
            restore::restore(&truncated, &options),
            Err(RestoreError::Truncated { .. })
        ));
        assert!(matches!(
            restore::restore(&flipped, &options),
            Err(RestoreError::ChecksumMismatch { .. })
        ));
        let skipping = RestoreOptions {
            skip_hash_check: true,
            ..options
        };
        let refused = restore::restore(&flipped, &skipping).unwrap_err();
        assert!(
            matches!(refused, RestoreError::Node(_)),
            "the store's CRC refuses it: {refused}"
        );
        let left = std::fs::read_dir(&target).map_or(0, |d| d.count());
        assert_eq!(left, 0, "a refused restore leaves nothing behind");
    }

    /// The leader's commit index, as `member` (the leader) reports it.
    async fn commit_index(member: &Member) -> u64 {
        member.client().await.status().await.unwrap().raft_index()
    }

    async fn applied_index(member: &Member) -> u64 {
        member
            .client()
            .await
            .status()
            .await
            .unwrap()
            .raft_applied_index()
    }

    async fn member_id(member: &Member) -> u64 {
        let status = member.client().await.status().await.unwrap();
        status.header().unwrap().member_id()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn force_new_cluster_keeps_every_acknowledged_write() {
        let dir = tempfile::tempdir().unwrap();
        let (mut members, initial) = cluster(dir.path(), "f", 3);
        start_all(&mut members, &initial, &[]);
        let writer = Writer::start(&members).await;
        writer.wait_for(KEYS_BEFORE).await;
        let acked = writer.stop().await;

        let leader_id = members[0].client().await.status().await.unwrap().leader();
        let mut ids = Vec::new();
        for m in &members {
            ids.push(member_id(m).await);
        }
        let leader = ids.iter().position(|&id| id == leader_id).unwrap();
        let survivor = (leader + 1) % 3;
        let committed = commit_index(&members[leader]).await;
        let deadline = Instant::now() + PATIENCE;
        while applied_index(&members[survivor]).await < committed {
            assert!(Instant::now() < deadline, "the survivor never caught up");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        for (i, m) in members.iter_mut().enumerate() {
            m.kill();
            if i != survivor {
                std::fs::remove_dir_all(&m.data_dir).unwrap();
            }
        }

        let survivor = &mut members[survivor];
        survivor.start(&initial, &["--force-new-cluster"]);
        survivor.wait_healthy();
        assert_has_all(survivor, &acked).await;
        let mut client = survivor.client().await;
        let listed = client.member_list().await.unwrap();
        assert_eq!(listed.members().len(), 1, "a one-member cluster");
        client.put("after-force", "1", None).await.unwrap();

        // The rewrite is durable: a plain restart is still a one-member cluster.
        survivor.kill();
        survivor.start(&initial, &[]);
        survivor.wait_healthy();
        let mut client = survivor.client().await;
        assert_eq!(client.member_list().await.unwrap().members().len(), 1);
        assert_has_all(survivor, &acked).await;
        client.put("after-restart", "1", None).await.unwrap();

        // The cluster grows again: a new member joins and catches up.
        let (mut joined, _) = cluster(dir.path(), "g", 1);
        let joiner = &mut joined[0];
        client.member_add([joiner.peer_url()], None).await.unwrap();
        let grown = format!(
            "{}={},{}={}",
            survivor.name,
            survivor.peer_url(),
            joiner.name,
            joiner.peer_url()
        );
        joiner.start(&grown, &["--initial-cluster-state=existing"]);
        joiner.wait_healthy();
        assert_has_all(joiner, &acked).await;
        assert_eq!(client.member_list().await.unwrap().members().len(), 2);
        joiner
            .client()
            .await
            .put("after-join", "1", None)
            .await
            .unwrap();
    }
}
