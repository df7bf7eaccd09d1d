//! `snapshot save`, `defrag`, `move-leader`, `alarm list|disarm`.

use std::io::Write;
use std::time::Instant;

use api::etcdserverpb::AlarmMember;
use api::etcdserverpb::AlarmRequest;
use api::etcdserverpb::AlarmResponse;
use api::etcdserverpb::AlarmType;
use api::etcdserverpb::DefragmentRequest;
use api::etcdserverpb::MoveLeaderRequest;
use api::etcdserverpb::SnapshotRequest;
use api::etcdserverpb::StatusRequest;
use api::etcdserverpb::alarm_request::AlarmAction;
use api::etcdserverpb::maintenance_client::MaintenanceClient;
use sha2::Digest;
use sha2::Sha256;

use super::emit;
use crate::cli::AlarmCommand;
use crate::cli::ClusterFlag;
use crate::cli::MoveLeaderArgs;
use crate::cli::SnapshotCommand;
use crate::connect::Session;
use crate::connect::status_message;
use crate::failure::ExitCode;
use crate::failure::Failure;
use crate::go_fmt::format_duration;
use crate::go_fmt::humanize_bytes;
use crate::go_fmt::quote;

/// Length of the sha256 the server appends to a snapshot.
const SHA256_BYTES: usize = 32;

/// Checks a downloaded snapshot: its size is a multiple of 512 plus the
/// 32-byte sha256 of everything before it, which must match.
pub(crate) fn verify_snapshot(data: &[u8]) -> Result<(), String> {
    if data.len() % 512 != SHA256_BYTES {
        return Err(format!("sha256 checksum not found [bytes: {}]", data.len()));
    }
    let (body, expected) = data.split_at(data.len() - SHA256_BYTES);
    let actual = Sha256::digest(body);
    if actual.as_slice() != expected {
        return Err(format!(
            "expected sha256 {expected:x?}, got {:x?}",
            actual.as_slice()
        ));
    }
    Ok(())
}

/// `snapshot save <file>`: streams the snapshot into `<file>.part`,
/// verifies it, syncs it and renames it into place.
pub(crate) async fn snapshot(session: &Session, command: &SnapshotCommand) -> anyhow::Result<()> {
    let SnapshotCommand::Save { args } = command;
    let [path] = args.as_slice() else {
        return Err(Failure::bad_args("snapshot save expects one argument"));
    };
    let interrupted =
        |message: String| anyhow::Error::from(Failure::new(ExitCode::Interrupted, message));
    let started = Instant::now();
    let mut client = MaintenanceClient::new(session.channel().await?);
    let mut stream = client
        .snapshot(SnapshotRequest {})
        .await
        .map_err(|status| interrupted(status_message(&status)))?
        .into_inner();
    let mut data = Vec::new();
    while let Some(chunk) = stream
        .message()
        .await
        .map_err(|status| interrupted(status_message(&status)))?
    {
        data.extend_from_slice(&chunk.blob);
    }
    verify_snapshot(&data).map_err(interrupted)?;
    let part = format!("{path}.part");
    let write = || -> std::io::Result<()> {
        let mut file = std::fs::File::create(&part)?;
        file.write_all(&data)?;
        file.sync_all()?;
        std::fs::rename(&part, path)
    };
    write().map_err(|error| interrupted(format!("could not write {path}: {error}")))?;
    eprintln!(
        "fetched snapshot: {} in {}",
        humanize_bytes(u64::try_from(data.len()).unwrap_or(u64::MAX)),
        format_duration(started.elapsed())
    );
    emit(format!("Snapshot saved at {path}\n"))
}

/// `defrag [--cluster]`.
pub(crate) async fn defrag(session: &Session, cluster: ClusterFlag) -> anyhow::Result<()> {
    let mut failures = 0;
    for endpoint in super::endpoint::endpoints(session, cluster.cluster).await? {
        let outcome = async {
            let mut client = MaintenanceClient::new(session.channel_to(&endpoint).await?);
            session.call(client.defragment(DefragmentRequest {})).await
        };
        match outcome.await {
            Ok(_) => emit(format!("Finished defragmenting etcd member[{endpoint}]\n"))?,
            Err(error) => {
                eprintln!("Failed to defragment etcd member[{endpoint}] ({error})");
                failures += 1;
            }
        }
    }
    if failures != 0 {
        return Err(Failure::new(ExitCode::Error, "").into());
    }
    Ok(())
}

/// `move-leader <id>`: finds the leader among `--endpoints` and asks it to
/// hand leadership to the target.
pub(crate) async fn move_leader(session: &Session, args: &MoveLeaderArgs) -> anyhow::Result<()> {
    let [target] = args.args.as_slice() else {
        return Err(Failure::bad_args("move-leader command needs 1 argument"));
    };
    let target = u64::from_str_radix(target, 16).map_err(|_| {
        Failure::bad_args(format!(
            "strconv.ParseUint: parsing {}: invalid syntax",
            quote(target.as_bytes())
        ))
    })?;
    for endpoint in &session.flags.endpoints {
        let mut client = MaintenanceClient::new(session.channel_to(endpoint).await?);
        let status = session.call(client.status(StatusRequest {})).await?;
        let member_id = status.header.as_ref().map_or(0, |header| header.member_id);
        if member_id == status.leader {
            let response = session
                .call(client.move_leader(MoveLeaderRequest { target_id: target }))
                .await?;
            return emit(
                &session
                    .printer()
                    .move_leader(status.leader, target, &response)?,
            );
        }
    }
    Err(Failure::bad_args(format!(
        "no leader endpoint given at [{}]",
        session.flags.endpoints.join(" ")
    )))
}

/// `alarm list` and `alarm disarm` (which, as clientv3, lists the alarms
/// and deactivates each one).
pub(crate) async fn alarm(session: &Session, command: &AlarmCommand) -> anyhow::Result<()> {
    let mut client = MaintenanceClient::new(session.channel().await?);
    let list_request = AlarmRequest {
        action: AlarmAction::Get as i32,
        member_id: 0,
        alarm: AlarmType::None as i32,
    };
    let listed = session.call(client.alarm(list_request)).await?;
    let response = match command {
        AlarmCommand::List => listed,
        AlarmCommand::Disarm => {
            let mut disarmed = AlarmResponse::default();
            for AlarmMember { member_id, alarm } in listed.alarms {
                let request = AlarmRequest {
                    action: AlarmAction::Deactivate as i32,
                    member_id,
                    alarm,
                };
                disarmed
                    .alarms
                    .extend(session.call(client.alarm(request)).await?.alarms);
            }
            disarmed
        }
    };
    emit(&session.printer().alarm(&response)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snapshot_of(body_bytes: usize) -> Vec<u8> {
        let mut data = vec![7u8; body_bytes];
        let digest = Sha256::digest(&data);
        data.extend_from_slice(&digest);
        data
    }

    #[test]
    fn snapshots_are_verified_by_size_and_sha256() {
        assert_eq!(verify_snapshot(&snapshot_of(1024)), Ok(()));
        assert_eq!(
            verify_snapshot(&snapshot_of(1000)).unwrap_err(),
            "sha256 checksum not found [bytes: 1032]"
        );
        let mut corrupt = snapshot_of(512);
        corrupt[3] ^= 1;
        assert!(
            verify_snapshot(&corrupt)
                .unwrap_err()
                .starts_with("expected sha256")
        );
    }
}
