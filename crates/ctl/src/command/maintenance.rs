//! `defrag`, `move-leader`, `alarm list|disarm`.

use api::etcdserverpb::AlarmMember;
use api::etcdserverpb::AlarmRequest;
use api::etcdserverpb::AlarmResponse;
use api::etcdserverpb::AlarmType;
use api::etcdserverpb::DefragmentRequest;
use api::etcdserverpb::MoveLeaderRequest;
use api::etcdserverpb::StatusRequest;
use api::etcdserverpb::alarm_request::AlarmAction;
use api::etcdserverpb::maintenance_client::MaintenanceClient;

use super::emit;
use crate::cli::AlarmCommand;
use crate::cli::ClusterFlag;
use crate::cli::MoveLeaderArgs;
use crate::connect::Session;
use crate::failure::ExitCode;
use crate::failure::Failure;
use crate::go_fmt::quote;

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
