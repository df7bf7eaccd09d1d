//! `endpoint health|status|hashkv [--cluster]`.

use std::time::Instant;

use api::etcdserverpb::HashKvRequest;
use api::etcdserverpb::MemberListRequest;
use api::etcdserverpb::RangeRequest;
use api::etcdserverpb::StatusRequest;
use api::etcdserverpb::cluster_client::ClusterClient;
use api::etcdserverpb::kv_client::KvClient;
use api::etcdserverpb::maintenance_client::MaintenanceClient;
use tonic::Code;

use super::emit;
use crate::cli::EndpointArgs;
use crate::cli::EndpointCommand;
use crate::connect::Session;
use crate::connect::status_message;
use crate::failure::ExitCode;
use crate::failure::Failure;
use crate::go_fmt::format_duration;
use crate::output::EndpointHash;
use crate::output::EndpointHealth;
use crate::output::EndpointStatus;
use crate::output::Format;

/// `--endpoints`, or with `--cluster` every member's client URLs.
pub(crate) async fn endpoints(session: &Session, cluster: bool) -> anyhow::Result<Vec<String>> {
    if !cluster {
        return Ok(session.flags.endpoints.clone());
    }
    let fetch = async {
        let mut client = ClusterClient::new(session.channel().await?);
        session
            .call(client.member_list(MemberListRequest {
                linearizable: false,
            }))
            .await
    };
    let members = fetch.await.map_err(|error| {
        anyhow::anyhow!("failed to fetch endpoints from etcd cluster member list: {error}")
    })?;
    Ok(members
        .members
        .into_iter()
        .flat_map(|member| member.client_ur_ls)
        .collect())
}

/// Runs an `endpoint` subcommand.
pub(crate) async fn endpoint(session: &Session, args: &EndpointArgs) -> anyhow::Result<()> {
    let endpoints = endpoints(session, args.cluster.cluster).await?;
    match args.command {
        EndpointCommand::Health => health(session, &endpoints).await,
        EndpointCommand::Status => status(session, &endpoints).await,
        EndpointCommand::Hashkv { rev } => hashkv(session, &endpoints, rev).await,
    }
}

/// One endpoint's health: a Range of the key `health`, which any answer
/// (including permission denied) proves was served.
async fn check_health(session: &Session, endpoint: &str) -> EndpointHealth {
    let mut health = EndpointHealth {
        endpoint: endpoint.to_owned(),
        health: false,
        took: String::new(),
        error: String::new(),
    };
    let channel = match session.channel_to(endpoint).await {
        Ok(channel) => channel,
        Err(error) => {
            health.error = error.to_string();
            return health;
        }
    };
    let started = Instant::now();
    let request = RangeRequest {
        key: b"health".to_vec(),
        ..Default::default()
    };
    let outcome = tokio::time::timeout(
        session.flags.command_timeout,
        KvClient::new(channel).range(request),
    )
    .await;
    health.took = format_duration(started.elapsed());
    match outcome {
        Ok(Ok(_)) => health.health = true,
        Ok(Err(status)) if status.code() == Code::PermissionDenied => health.health = true,
        Ok(Err(status)) => health.error = status_message(&status),
        Err(_) => health.error = crate::connect::DEADLINE_EXCEEDED.to_owned(),
    }
    health
}

async fn health(session: &Session, endpoints: &[String]) -> anyhow::Result<()> {
    let checks = endpoints
        .iter()
        .map(|endpoint| check_health(session, endpoint));
    let list = futures::future::join_all(checks).await;
    if session.flags.write_out == Format::Simple {
        for h in &list {
            if h.error.is_empty() {
                eprintln!(
                    "{} is healthy: successfully committed proposal: took = {}",
                    h.endpoint, h.took
                );
            } else {
                eprintln!(
                    "{} is unhealthy: failed to commit proposal: {}",
                    h.endpoint, h.error
                );
            }
        }
    }
    emit(&session.printer().endpoint_health(&list)?)?;
    if list.iter().any(|h| !h.error.is_empty()) {
        return Err(anyhow::anyhow!("unhealthy cluster"));
    }
    Ok(())
}

async fn status(session: &Session, endpoints: &[String]) -> anyhow::Result<()> {
    let mut list = Vec::new();
    let mut failed = false;
    for endpoint in endpoints {
        let outcome = async {
            let mut client = MaintenanceClient::new(session.channel_to(endpoint).await?);
            session.call(client.status(StatusRequest {})).await
        };
        match outcome.await {
            Ok(status) => list.push(EndpointStatus {
                endpoint: endpoint.clone(),
                status,
            }),
            Err(error) => {
                eprintln!("Failed to get the status of endpoint {endpoint} ({error})");
                failed = true;
            }
        }
    }
    emit(&session.printer().endpoint_status(&list)?)?;
    if failed {
        // etcdctl exits with 1 here without an `Error:` line.
        return Err(Failure::new(ExitCode::Error, "").into());
    }
    Ok(())
}

async fn hashkv(session: &Session, endpoints: &[String], revision: i64) -> anyhow::Result<()> {
    let mut list = Vec::new();
    let mut last_error = None;
    for endpoint in endpoints {
        let outcome = async {
            let mut client = MaintenanceClient::new(session.channel_to(endpoint).await?);
            session
                .call(client.hash_kv(HashKvRequest { revision }))
                .await
        };
        match outcome.await {
            Ok(hash) => list.push(EndpointHash {
                endpoint: endpoint.clone(),
                hash,
            }),
            Err(error) => {
                eprintln!("Failed to get the hash of endpoint {endpoint} ({error})");
                last_error = Some(error);
            }
        }
    }
    emit(&session.printer().endpoint_hashkv(&list)?)?;
    last_error.map_or(Ok(()), Err)
}
