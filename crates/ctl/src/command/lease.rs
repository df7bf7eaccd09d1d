//! `lease grant|revoke|timetolive|list|keep-alive`.

use std::time::Duration;

use api::etcdserverpb::LeaseGrantRequest;
use api::etcdserverpb::LeaseKeepAliveRequest;
use api::etcdserverpb::LeaseLeasesRequest;
use api::etcdserverpb::LeaseRevokeRequest;
use api::etcdserverpb::LeaseTimeToLiveRequest;
use api::etcdserverpb::lease_client::LeaseClient;
use tokio_stream::wrappers::ReceiverStream;

use super::emit;
use super::parse_hex_i64;
use crate::cli::LeaseCommand;
use crate::connect::Session;
use crate::connect::status_message;
use crate::failure::ExitCode;
use crate::failure::Failure;
use crate::output::Format;

/// clientv3's error when a keep-alive finds no lease.
const LEASE_NOT_FOUND: &str = "etcdserver: requested lease not found";

fn one_id(args: &[String], missing: &str) -> anyhow::Result<i64> {
    match args {
        [id] => parse_hex_i64(id, "lease ID arg"),
        _ => Err(Failure::bad_args(missing)),
    }
}

/// Runs a `lease` subcommand.
pub(crate) async fn lease(session: &Session, command: &LeaseCommand) -> anyhow::Result<()> {
    let printer = session.printer();
    match command {
        LeaseCommand::Grant { args } => {
            let [ttl] = args.as_slice() else {
                return Err(Failure::bad_args("lease grant command needs TTL argument"));
            };
            let ttl: i64 = ttl.parse().map_err(|_| {
                Failure::bad_args(format!(
                    "bad TTL (strconv.ParseInt: parsing {}: invalid syntax)",
                    crate::go_fmt::quote(ttl.as_bytes())
                ))
            })?;
            let mut client = LeaseClient::new(session.channel().await?);
            let response = session
                .call(client.lease_grant(LeaseGrantRequest { ttl, id: 0 }))
                .await
                .map_err(|error| anyhow::anyhow!("failed to grant lease ({error})"))?;
            emit(&printer.grant(&response)?)
        }
        LeaseCommand::Revoke { args } => {
            let id = one_id(args, "lease revoke command needs 1 argument")?;
            let mut client = LeaseClient::new(session.channel().await?);
            let response = session
                .call(client.lease_revoke(LeaseRevokeRequest { id }))
                .await
                .map_err(|error| anyhow::anyhow!("failed to revoke lease ({error})"))?;
            emit(&printer.revoke(id, &response)?)
        }
        LeaseCommand::Timetolive { args, keys } => {
            let id = one_id(args, "lease timetolive command needs lease ID as argument")?;
            let mut client = LeaseClient::new(session.channel().await?);
            let request = LeaseTimeToLiveRequest { id, keys: *keys };
            let response = session
                .call(client.lease_time_to_live(request))
                .await
                .map_err(bad_connection)?;
            emit(&printer.time_to_live(&response, *keys)?)
        }
        LeaseCommand::List => {
            let mut client = LeaseClient::new(session.channel().await?);
            let response = session
                .call(client.lease_leases(LeaseLeasesRequest {}))
                .await
                .map_err(bad_connection)?;
            emit(&printer.leases(&response)?)
        }
        LeaseCommand::KeepAlive { args, once } => {
            let id = one_id(args, "lease keep-alive command needs lease ID as argument")?;
            keep_alive(session, id, *once).await
        }
    }
}

/// etcdctl exits with code 2 when a lease query fails.
fn bad_connection(error: anyhow::Error) -> anyhow::Error {
    Failure::new(ExitCode::BadConnection, error.to_string()).into()
}

/// `lease keep-alive [--once]`: renews at a third of the TTL, as clientv3
/// does, until the lease is gone.
async fn keep_alive(session: &Session, id: i64, once: bool) -> anyhow::Result<()> {
    let printer = session.printer();
    let mut client = LeaseClient::new(session.channel().await?);
    let (requests, receiver) = tokio::sync::mpsc::channel(1);
    let closed = || Failure::new(ExitCode::BadConnection, "keep-alive stream closed");
    requests
        .send(LeaseKeepAliveRequest { id })
        .await
        .map_err(|_| closed())?;
    let mut stream = session
        .call(client.lease_keep_alive(ReceiverStream::new(receiver)))
        .await
        .map_err(bad_connection)?;
    loop {
        let response = stream
            .message()
            .await
            .map_err(|status| Failure::new(ExitCode::BadConnection, status_message(&status)))?
            .ok_or_else(closed)?;
        if response.ttl <= 0 {
            if once {
                return Err(Failure::new(ExitCode::BadConnection, LEASE_NOT_FOUND).into());
            }
            break;
        }
        emit(&printer.keep_alive(&response)?)?;
        if once {
            return Ok(());
        }
        let wait = Duration::from_secs(u64::try_from(response.ttl / 3).unwrap_or(0))
            .max(Duration::from_millis(500));
        tokio::time::sleep(wait).await;
        requests
            .send(LeaseKeepAliveRequest { id })
            .await
            .map_err(|_| closed())?;
    }
    if printer.format == Format::Simple {
        emit(format!("lease {id:016x} expired or revoked.\n"))?;
    }
    Ok(())
}
