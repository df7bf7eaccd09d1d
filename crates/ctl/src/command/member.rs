//! `member add|remove|update|list|promote`.

use api::etcdserverpb::MemberAddRequest;
use api::etcdserverpb::MemberAddResponse;
use api::etcdserverpb::MemberListRequest;
use api::etcdserverpb::MemberPromoteRequest;
use api::etcdserverpb::MemberRemoveRequest;
use api::etcdserverpb::MemberUpdateRequest;
use api::etcdserverpb::cluster_client::ClusterClient;

use super::emit;
use super::parse_member_id;
use crate::cli::MemberCommand;
use crate::connect::Session;
use crate::failure::Failure;
use crate::go_fmt::quote;
use crate::output::Format;

fn one_member_id(args: &[String]) -> anyhow::Result<u64> {
    match args {
        [id] => parse_member_id(id),
        _ => Err(Failure::bad_args("member ID is not provided")),
    }
}

fn peer_urls(urls: &str) -> anyhow::Result<Vec<String>> {
    if urls.is_empty() {
        return Err(Failure::bad_args("member peer urls not provided"));
    }
    Ok(urls.split(',').map(str::to_owned).collect())
}

/// The name `member add` was given, checked as etcdctl checks it.
fn new_member_name(args: &[String]) -> anyhow::Result<&str> {
    match args {
        [] => Err(Failure::bad_args("member name not provided")),
        [name] => Ok(name),
        _ => {
            let mut message = String::from("too many arguments");
            for arg in args
                .iter()
                .filter(|arg| arg.to_lowercase().starts_with("http"))
            {
                message.push_str(&format!(", did you mean --peer-urls={arg}"));
            }
            Err(Failure::bad_args(message))
        }
    }
}

/// The `ETCD_*` lines `member add` prints for starting the new member.
pub(crate) fn new_member_environment(
    name: &str,
    urls: &str,
    response: &MemberAddResponse,
) -> String {
    let new_id = response.member.as_ref().map_or(0, |member| member.id);
    let cluster: Vec<String> = response
        .members
        .iter()
        .flat_map(|member| {
            let member_name = if member.id == new_id {
                name
            } else {
                member.name.as_str()
            };
            member
                .peer_ur_ls
                .iter()
                .map(move |url| format!("{member_name}={url}"))
        })
        .collect();
    format!(
        "\nETCD_NAME={}\nETCD_INITIAL_CLUSTER={}\nETCD_INITIAL_ADVERTISE_PEER_URLS={}\nETCD_INITIAL_CLUSTER_STATE=\"existing\"\n",
        quote(name.as_bytes()),
        quote(cluster.join(",").as_bytes()),
        quote(urls.as_bytes()),
    )
}

/// Runs a `member` subcommand.
pub(crate) async fn member(session: &Session, command: &MemberCommand) -> anyhow::Result<()> {
    let printer = session.printer();
    match command {
        MemberCommand::Add {
            args,
            peer_urls: urls,
            learner,
        } => {
            let name = new_member_name(args)?;
            let list = peer_urls(urls)?;
            let mut client = ClusterClient::new(session.channel().await?);
            let request = MemberAddRequest {
                peer_ur_ls: list,
                is_learner: *learner,
            };
            let response = session.call(client.member_add(request)).await?;
            emit(&printer.member_add(&response)?)?;
            if printer.format == Format::Simple {
                emit(new_member_environment(name, urls, &response))?;
            }
            Ok(())
        }
        MemberCommand::Remove { args } => {
            let id = one_member_id(args)?;
            let mut client = ClusterClient::new(session.channel().await?);
            let response = session
                .call(client.member_remove(MemberRemoveRequest { id }))
                .await?;
            emit(&printer.member_changed(
                "removed from",
                id,
                response.header.as_ref(),
                &response.members,
            )?)
        }
        MemberCommand::Update {
            args,
            peer_urls: urls,
        } => {
            let id = one_member_id(args)?;
            let list = peer_urls(urls)?;
            let mut client = ClusterClient::new(session.channel().await?);
            let response = session
                .call(client.member_update(MemberUpdateRequest {
                    id,
                    peer_ur_ls: list,
                }))
                .await?;
            emit(&printer.member_changed(
                "updated in",
                id,
                response.header.as_ref(),
                &response.members,
            )?)
        }
        MemberCommand::List => {
            let mut client = ClusterClient::new(session.channel().await?);
            let response = session
                .call(client.member_list(MemberListRequest {
                    linearizable: false,
                }))
                .await?;
            emit(&printer.member_list(&response)?)
        }
        MemberCommand::Promote { args } => {
            let id = one_member_id(args)?;
            let mut client = ClusterClient::new(session.channel().await?);
            let response = session
                .call(client.member_promote(MemberPromoteRequest { id }))
                .await?;
            emit(&printer.member_changed(
                "promoted in",
                id,
                response.header.as_ref(),
                &response.members,
            )?)
        }
    }
}

#[cfg(test)]
mod tests {
    use api::etcdserverpb::Member;

    use super::*;

    #[test]
    fn member_add_prints_the_new_members_environment() {
        let response = MemberAddResponse {
            member: Some(Member {
                id: 2,
                peer_ur_ls: vec!["http://b:2380".into()],
                ..Default::default()
            }),
            members: vec![
                Member {
                    id: 1,
                    name: "a".into(),
                    peer_ur_ls: vec!["http://a:2380".into()],
                    ..Default::default()
                },
                Member {
                    id: 2,
                    peer_ur_ls: vec!["http://b:2380".into()],
                    ..Default::default()
                },
            ],
            ..Default::default()
        };
        assert_eq!(
            new_member_environment("b", "http://b:2380", &response),
            "\nETCD_NAME=\"b\"\nETCD_INITIAL_CLUSTER=\"a=http://a:2380,b=http://b:2380\"\n\
             ETCD_INITIAL_ADVERTISE_PEER_URLS=\"http://b:2380\"\nETCD_INITIAL_CLUSTER_STATE=\"existing\"\n"
        );
    }

    #[test]
    fn member_add_arguments_are_checked_as_etcdctl_does() {
        assert_eq!(
            new_member_name(&[]).unwrap_err().to_string(),
            "member name not provided"
        );
        let two = ["n".to_owned(), "http://x:2380".to_owned()];
        assert_eq!(
            new_member_name(&two).unwrap_err().to_string(),
            "too many arguments, did you mean --peer-urls=http://x:2380"
        );
        assert_eq!(
            peer_urls("http://a,http://b").unwrap(),
            ["http://a", "http://b"]
        );
        assert!(peer_urls("").is_err());
    }
}
