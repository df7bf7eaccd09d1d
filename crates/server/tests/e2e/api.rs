//! The etcd v3 API of a single real `keel` member, through `etcd-client`,
//! raw gRPC and plain HTTP.

mod serial {
    use std::time::Duration;
    use std::time::Instant;

    use etcd_client::Compare;
    use etcd_client::CompareOp;
    use etcd_client::DeleteOptions;
    use etcd_client::Error;
    use etcd_client::EventType;
    use etcd_client::GetOptions;
    use etcd_client::PutOptions;
    use etcd_client::Txn;
    use etcd_client::TxnOp;
    use etcd_client::WatchOptions;
    use tonic::Code;

    use crate::support::Server;
    use crate::support::block_on;
    use crate::support::http_get;

    fn status_of(err: Error) -> tonic::Status {
        match err {
            Error::GRpcStatus(status) => status,
            other => panic!("expected a gRPC status, got {other:?}"),
        }
    }

    #[test]
    fn kv_put_get_delete_and_range_options() {
        let keel = Server::keel(&[]);
        block_on(async {
            let mut c = keel.client().await;
            let first = c.put("a/1", "x", None).await.unwrap();
            let base = first.header().unwrap().revision();
            c.put("a/2", "yy", None).await.unwrap();
            c.put("a/3", "zzz", None).await.unwrap();
            let got = c.get("a/2", None).await.unwrap();
            assert_eq!(got.kvs()[0].value(), b"yy");
            assert_eq!(got.kvs()[0].version(), 1);
            let page = c
                .get("a/", Some(GetOptions::new().with_prefix().with_limit(2)))
                .await
                .unwrap();
            assert_eq!((page.kvs().len(), page.count(), page.more()), (2, 3, true));
            // Kubernetes pages from the last key + "\0" at a pinned revision.
            let pinned = page.header().unwrap().revision();
            let mut next_key = page.kvs()[1].key().to_vec();
            next_key.push(0);
            let rest = c
                .get(
                    next_key,
                    Some(GetOptions::new().with_range("a0").with_revision(pinned)),
                )
                .await
                .unwrap();
            assert_eq!(rest.kvs()[0].key(), b"a/3");
            let old = c
                .get(
                    "a/",
                    Some(GetOptions::new().with_prefix().with_revision(base)),
                )
                .await
                .unwrap();
            assert_eq!(old.kvs().len(), 1);
            let serial = c
                .get("a/1", Some(GetOptions::new().with_serializable()))
                .await
                .unwrap();
            assert_eq!(serial.kvs()[0].value(), b"x");
            let deleted = c
                .delete(
                    "a/",
                    Some(DeleteOptions::new().with_prefix().with_prev_key()),
                )
                .await
                .unwrap();
            assert_eq!(deleted.deleted(), 3);
            assert_eq!(deleted.prev_kvs().len(), 3);
            assert_eq!(
                c.get("a/", Some(GetOptions::new().with_prefix()))
                    .await
                    .unwrap()
                    .count(),
                0
            );
        });
    }

    #[test]
    fn txn_compares_and_kubernetes_patterns() {
        let keel = Server::keel(&[]);
        block_on(async {
            let mut c = keel.client().await;
            let guarded = |rv: i64, value: &str| {
                Txn::new()
                    .when([Compare::mod_revision("/registry/x", CompareOp::Equal, rv)])
                    .and_then([TxnOp::put("/registry/x", value, None)])
                    .or_else([TxnOp::get("/registry/x", None)])
            };
            let created = c.txn(guarded(0, "v1")).await.unwrap();
            assert!(created.succeeded());
            let rv = created.header().unwrap().revision();
            assert!(!c.txn(guarded(0, "v1")).await.unwrap().succeeded());
            assert!(c.txn(guarded(rv, "v2")).await.unwrap().succeeded());
            let by_value = Txn::new()
                .when([Compare::value("/registry/x", CompareOp::Equal, "v2")])
                .and_then([TxnOp::delete("/registry/x", None)]);
            assert!(c.txn(by_value).await.unwrap().succeeded());
            let dup = Txn::new().and_then([TxnOp::put("k", "1", None), TxnOp::put("k", "2", None)]);
            let dup = status_of(c.txn(dup).await.unwrap_err());
            assert_eq!(dup.code(), Code::InvalidArgument);
            assert_eq!(
                dup.message(),
                "etcdserver: duplicate key given in txn request"
            );
        });
    }

    #[test]
    fn compaction_errors_as_etcd() {
        let keel = Server::keel(&[]);
        block_on(async {
            let mut c = keel.client().await;
            let mut last = 0;
            for i in 0..5 {
                last = c
                    .put("c", format!("{i}"), None)
                    .await
                    .unwrap()
                    .header()
                    .unwrap()
                    .revision();
            }
            c.compact(
                last - 1,
                Some(etcd_client::CompactionOptions::new().with_physical()),
            )
            .await
            .unwrap();
            let old = status_of(
                c.get("c", Some(GetOptions::new().with_revision(last - 3)))
                    .await
                    .unwrap_err(),
            );
            assert_eq!(old.code(), Code::OutOfRange);
            assert_eq!(
                old.message(),
                "etcdserver: mvcc: required revision has been compacted"
            );
            let future = status_of(c.compact(last + 10, None).await.unwrap_err());
            assert_eq!(
                future.message(),
                "etcdserver: mvcc: required revision is a future revision"
            );
        });
    }

    /// Collects `n` events from a watch stream.
    async fn events(stream: &mut etcd_client::WatchStream, n: usize) -> Vec<etcd_client::Event> {
        let mut got = Vec::new();
        while got.len() < n {
            let resp = tokio::time::timeout(Duration::from_secs(30), stream.message())
                .await
                .expect("watch stalled")
                .unwrap()
                .expect("watch ended");
            assert!(!resp.canceled(), "canceled: {}", resp.cancel_reason());
            got.extend(resp.events().iter().cloned());
        }
        got
    }

    #[test]
    fn watch_from_the_past_then_live_with_progress_and_cancel() {
        let keel = Server::keel(&[]);
        block_on(async {
            let mut c = keel.client().await;
            let start = c
                .put("w/a", "1", None)
                .await
                .unwrap()
                .header()
                .unwrap()
                .revision();
            c.put("w/b", "1", None).await.unwrap();
            c.delete("w/a", None).await.unwrap();
            let mut stream = c
                .watch(
                    "w/",
                    Some(
                        WatchOptions::new()
                            .with_prefix()
                            .with_start_revision(start)
                            .with_prev_key(),
                    ),
                )
                .await
                .unwrap();
            let created = stream.message().await.unwrap().unwrap();
            assert!(created.created());
            let past = events(&mut stream, 3).await;
            assert_eq!(past[2].event_type(), EventType::Delete);
            assert_eq!(past[2].prev_kv().unwrap().value(), b"1");
            c.put("w/c", "live", None).await.unwrap();
            let live = events(&mut stream, 1).await;
            assert_eq!(live[0].kv().unwrap().key(), b"w/c");
            assert_eq!(live[0].kv().unwrap().mod_revision(), start + 3);
            stream.request_progress().await.unwrap();
            let progress = stream.message().await.unwrap().unwrap();
            assert_eq!(progress.watch_id(), -1);
            assert_eq!(progress.header().unwrap().revision(), start + 3);
            stream.cancel(created.watch_id()).await.unwrap();
            let canceled = stream.message().await.unwrap().unwrap();
            assert!(canceled.canceled());
        });
    }

    #[test]
    fn watch_progress_notify_as_kubernetes_watches() {
        // kubeadm's setting; the stream also asks for a leader (`hasleader`).
        let keel = Server::keel(&["--experimental-watch-progress-notify-interval", "1s"]);
        block_on(async {
            let opts = etcd_client::ConnectOptions::new().with_require_leader(true);
            let mut c = etcd_client::Client::connect([keel.client_url.as_str()], Some(opts))
                .await
                .unwrap();
            let rev = c
                .put("/registry/pods/a", "1", None)
                .await
                .unwrap()
                .header()
                .unwrap()
                .revision();
            let mut stream = c
                .watch(
                    "/registry/pods/",
                    Some(
                        WatchOptions::new()
                            .with_prefix()
                            .with_start_revision(rev + 1)
                            .with_prev_key()
                            .with_progress_notify(),
                    ),
                )
                .await
                .unwrap();
            let created = stream.message().await.unwrap().unwrap();
            assert!(created.created());
            let bookmark = tokio::time::timeout(Duration::from_secs(30), stream.message())
                .await
                .expect("no progress notification")
                .unwrap()
                .unwrap();
            assert_eq!(bookmark.watch_id(), created.watch_id());
            assert!(bookmark.events().is_empty());
            assert_eq!(bookmark.header().unwrap().revision(), rev);
        });
    }

    #[test]
    fn watch_on_compacted_revision_reports_compact_revision() {
        let keel = Server::keel(&[]);
        block_on(async {
            let mut c = keel.client().await;
            let mut last = 0;
            for i in 0..4 {
                last = c
                    .put("k", format!("{i}"), None)
                    .await
                    .unwrap()
                    .header()
                    .unwrap()
                    .revision();
            }
            c.compact(last, None).await.unwrap();
            let mut stream = c
                .watch("k", Some(WatchOptions::new().with_start_revision(last - 2)))
                .await
                .unwrap();
            assert!(stream.message().await.unwrap().unwrap().created());
            let resp = stream.message().await.unwrap().unwrap();
            assert!(resp.canceled());
            assert_eq!(resp.compact_revision(), last);
        });
    }

    #[test]
    fn leases_kept_alive_expiring_and_revoked() {
        let keel = Server::keel(&[]);
        block_on(async {
            let mut c = keel.client().await;
            let kept = c.lease_grant(3, None).await.unwrap();
            c.put("kept", "v", Some(PutOptions::new().with_lease(kept.id())))
                .await
                .unwrap();
            let expiring = c.lease_grant(2, None).await.unwrap();
            c.put(
                "expiring",
                "v",
                Some(PutOptions::new().with_lease(expiring.id())),
            )
            .await
            .unwrap();
            let (mut keeper, mut answers) = c.lease_keep_alive(kept.id()).await.unwrap();
            let deadline = Instant::now() + Duration::from_secs(60);
            // Keep one alive while the other expires (the leader revokes it).
            loop {
                keeper.keep_alive().await.unwrap();
                let answer = answers.message().await.unwrap().unwrap();
                assert!(answer.ttl() > 0);
                if c.get("expiring", None).await.unwrap().kvs().is_empty() {
                    break;
                }
                assert!(Instant::now() < deadline, "lease never expired");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            assert_eq!(c.get("kept", None).await.unwrap().kvs().len(), 1);
            let ttl = c
                .lease_time_to_live(
                    kept.id(),
                    Some(etcd_client::LeaseTimeToLiveOptions::new().with_keys()),
                )
                .await
                .unwrap();
            assert_eq!(ttl.keys(), [b"kept".to_vec()]);
            assert!(ttl.ttl() > 0 && ttl.granted_ttl() == 3);
            c.lease_revoke(kept.id()).await.unwrap();
            assert!(c.get("kept", None).await.unwrap().kvs().is_empty());
            assert_eq!(
                c.lease_time_to_live(kept.id(), None).await.unwrap().ttl(),
                -1
            );
        });
    }

    #[test]
    fn status_member_list_and_grpc_health() {
        let keel = Server::keel(&[]);
        block_on(async {
            let mut c = keel.client().await;
            let status = c.status().await.unwrap();
            assert_eq!(status.version(), "3.5.17");
            assert_ne!(status.leader(), 0);
            assert!(status.raft_index() > 0);
            let members = c.member_list().await.unwrap();
            assert_eq!(members.members().len(), 1);
            assert_eq!(members.members()[0].name(), "default");
            let channel = tonic::transport::Endpoint::from_shared(keel.client_url.clone())
                .unwrap()
                .connect()
                .await
                .unwrap();
            let mut health = tonic_health::pb::health_client::HealthClient::new(channel);
            let answer = health
                .check(tonic_health::pb::HealthCheckRequest {
                    service: String::new(),
                })
                .await
                .unwrap()
                .into_inner();
            assert_eq!(
                answer.status,
                tonic_health::pb::health_check_response::ServingStatus::Serving as i32
            );
        });
    }

    #[test]
    fn http_health_version_and_metrics() {
        let metrics_port = crate::support::free_port();
        let metrics_url = format!("http://127.0.0.1:{metrics_port}");
        let keel = Server::keel(&["--listen-metrics-urls", &metrics_url]);
        let addr = &keel.client_addr;
        let (code, body) = http_get(addr, "/health").unwrap();
        assert_eq!(
            (code, body.as_str()),
            (200, r#"{"health":"true","reason":""}"#)
        );
        assert_eq!(http_get(addr, "/health?serializable=true").unwrap().0, 200);
        assert_eq!(http_get(addr, "/health?exclude=NOSPACE").unwrap().0, 200);
        let (code, body) = http_get(addr, "/version").unwrap();
        assert_eq!(
            (code, body.as_str()),
            (200, r#"{"etcdserver":"3.5.17","etcdcluster":"3.5.0"}"#)
        );
        assert_eq!(http_get(addr, "/livez").unwrap(), (200, "ok\n".to_owned()));
        assert_eq!(http_get(addr, "/readyz").unwrap(), (200, "ok\n".to_owned()));
        let (code, metrics) = http_get(addr, "/metrics").unwrap();
        assert_eq!(code, 200);
        for name in [
            "etcd_server_has_leader 1",
            "etcd_server_leader_changes_seen_total",
            "etcd_disk_wal_fsync_duration_seconds_bucket",
            "etcd_mvcc_db_total_size_in_bytes",
        ] {
            assert!(metrics.contains(name), "missing {name}");
        }
        // The metrics listener serves the HTTP endpoints alone.
        let metrics_addr = format!("127.0.0.1:{metrics_port}");
        let (code, body) = http_get(&metrics_addr, "/metrics").unwrap();
        assert_eq!(code, 200);
        assert!(body.contains("etcd_server_has_leader 1"));
        assert_eq!(http_get(&metrics_addr, "/health").unwrap().0, 200);
    }

    #[test]
    fn https_client_urls_serve_tls_with_client_certificates() {
        let certs_dir = tempfile::tempdir().unwrap();
        let certs = transport_quic::generate_cluster_certs(certs_dir.path(), &["server", "client"])
            .unwrap();
        let (server, client) = (&certs.members[0], &certs.members[1]);
        let tls_port = crate::support::free_port();
        let tls_url = format!("https://127.0.0.1:{tls_port}");
        let path = |p: &std::path::Path| p.to_str().unwrap().to_owned();
        let (cert, key, ca) = (path(&server.cert), path(&server.key), path(&certs.ca_cert));
        let keel = Server::keel_also_on(
            &[&tls_url],
            &[
                "--cert-file",
                &cert,
                "--key-file",
                &key,
                "--trusted-ca-file",
                &ca,
                "--client-cert-auth",
            ],
        );
        let (client_cert, client_key) = (path(&client.cert), path(&client.key));
        let with_cert = [
            "--cacert",
            ca.as_str(),
            "--cert",
            client_cert.as_str(),
            "--key",
            client_key.as_str(),
        ];
        let run = |flags: &[&str], args: &[&str]| {
            let all: Vec<&str> = flags.iter().chain(args).copied().collect();
            crate::support::etcdctl(&tls_url, &all, "")
        };
        let put = run(&with_cert, &["put", "secure", "yes"]);
        assert!(
            put.status.success(),
            "{}",
            String::from_utf8_lossy(&put.stderr)
        );
        let get = run(&with_cert, &["get", "secure", "--print-value-only"]);
        assert_eq!(String::from_utf8_lossy(&get.stdout), "yes\n");
        // Without a client certificate the handshake is refused.
        let refused = run(
            &[
                "--cacert",
                ca.as_str(),
                "--dial-timeout=3s",
                "--command-timeout=3s",
            ],
            &["get", "secure"],
        );
        assert!(!refused.status.success());
        drop(keel);
    }

    #[test]
    fn auto_tls_serves_https_with_a_self_signed_certificate() {
        let tls_port = crate::support::free_port();
        let tls_url = format!("https://127.0.0.1:{tls_port}");
        let keel = Server::keel_also_on(&[&tls_url], &["--auto-tls"]);
        let insecure = [
            "--insecure-transport=false",
            "--insecure-skip-tls-verify",
            "--dial-timeout=5s",
        ];
        let run = |args: &[&str]| {
            let all: Vec<&str> = insecure.iter().chain(args).copied().collect();
            crate::support::etcdctl(&tls_url, &all, "")
        };
        let put = run(&["put", "auto", "tls"]);
        assert!(
            put.status.success(),
            "{}",
            String::from_utf8_lossy(&put.stderr)
        );
        let get = run(&["get", "auto", "--print-value-only"]);
        assert_eq!(String::from_utf8_lossy(&get.stdout), "tls\n");
        let cert = keel.dir.path().join("member/fixtures/client/cert.pem");
        assert!(
            cert.is_file(),
            "the certificate is kept where etcd keeps it"
        );
        // Verifying the certificate against the system's roots fails: it is self-signed.
        let verified = crate::support::etcdctl(
            &tls_url,
            &[
                "--insecure-transport=false",
                "--dial-timeout=3s",
                "--command-timeout=3s",
                "get",
                "auto",
            ],
            "",
        );
        // The same call as the put above but for the skipped verification.
        assert!(!verified.status.success());
    }

    /// A codec that sends and receives raw bytes, to put garbage on the wire.
    #[derive(Debug, Clone, Copy, Default)]
    struct RawCodec;

    impl tonic::codec::Codec for RawCodec {
        type Encode = Vec<u8>;
        type Decode = Vec<u8>;
        type Encoder = RawCodec;
        type Decoder = RawCodec;
        fn encoder(&mut self) -> Self::Encoder {
            RawCodec
        }
        fn decoder(&mut self) -> Self::Decoder {
            RawCodec
        }
    }

    impl tonic::codec::Encoder for RawCodec {
        type Item = Vec<u8>;
        type Error = tonic::Status;
        fn encode(
            &mut self,
            item: Vec<u8>,
            dst: &mut tonic::codec::EncodeBuf<'_>,
        ) -> Result<(), tonic::Status> {
            use bytes::BufMut;
            dst.put_slice(&item);
            Ok(())
        }
    }

    impl tonic::codec::Decoder for RawCodec {
        type Item = Vec<u8>;
        type Error = tonic::Status;
        fn decode(
            &mut self,
            src: &mut tonic::codec::DecodeBuf<'_>,
        ) -> Result<Option<Vec<u8>>, tonic::Status> {
            use bytes::Buf;
            let bytes = src.copy_to_bytes(src.remaining());
            Ok(Some(bytes.to_vec()))
        }
    }

    #[test]
    fn bad_input_is_refused_and_the_member_keeps_serving() {
        let keel = Server::keel(&[]);
        block_on(async {
            let mut c = keel.client().await;
            let empty = status_of(c.put("", "v", None).await.unwrap_err());
            assert_eq!(empty.code(), Code::InvalidArgument);
            assert_eq!(empty.message(), "etcdserver: key is not provided");
            let big = vec![b'x'; 1_600_000];
            let large = status_of(c.put("big", big, None).await.unwrap_err());
            assert_eq!(large.code(), Code::InvalidArgument);
            assert_eq!(large.message(), "etcdserver: request is too large");
            let huge = vec![b'x'; 3 * 1024 * 1024];
            // Above the transport limit the transport refuses it, as grpc-go does.
            let refused = status_of(c.put("huge", huge, None).await.unwrap_err());
            assert_eq!(refused.code(), Code::ResourceExhausted);
            assert!(
                refused
                    .message()
                    .starts_with("grpc: received message larger than max ("),
                "{refused:?}"
            );
            // Malformed protobuf on a raw gRPC call.
            let channel = tonic::transport::Endpoint::from_shared(keel.client_url.clone())
                .unwrap()
                .connect()
                .await
                .unwrap();
            let mut grpc = tonic::client::Grpc::new(channel);
            grpc.ready().await.unwrap();
            let garbage = vec![0xff, 0xff, 0xff, 0xff, 0x0f, 0x12, 0x99];
            let path = tonic::codegen::http::uri::PathAndQuery::from_static("/etcdserverpb.KV/Put");
            let answer = grpc
                .unary(tonic::Request::new(garbage), path, RawCodec)
                .await
                .unwrap_err();
            assert_eq!(answer.code(), Code::Internal, "{answer:?}");
            c.put("still", "alive", None).await.unwrap();
            assert_eq!(
                c.get("still", None).await.unwrap().kvs()[0].value(),
                b"alive"
            );
        });
    }
}
