//! `watch`: prints events as they come until interrupted or cancelled.

use std::collections::HashMap;

use api::etcdserverpb::WatchCreateRequest;
use api::etcdserverpb::WatchProgressRequest;
use api::etcdserverpb::WatchRequest;
use api::etcdserverpb::WatchResponse;
use api::etcdserverpb::watch_client::WatchClient;
use api::etcdserverpb::watch_request::RequestUnion;
use clap::Parser;
use tokio_stream::wrappers::ReceiverStream;
use tonic::Status;

use super::emit;
use crate::cli::WatchArgs;
use crate::connect::Session;
use crate::connect::status_error;
use crate::failure::ExitCode;
use crate::failure::Failure;
use crate::go_fmt::quote;
use crate::keys::Selection;
use crate::keys::key_range;
use crate::output::Printer;

/// The error clientv3 reports for a watch the server cancelled.
pub(crate) fn cancel_error(response: &WatchResponse) -> String {
    if response.compact_revision != 0 {
        "etcdserver: mvcc: required revision has been compacted".to_owned()
    } else if !response.cancel_reason.is_empty() {
        response.cancel_reason.clone()
    } else {
        "etcdserver: mvcc: required revision is a future revision".to_owned()
    }
}

/// clientv3's `IsProgressNotify`.
pub(crate) fn is_progress_notify(response: &WatchResponse) -> bool {
    response.events.is_empty()
        && !response.canceled
        && !response.created
        && response.compact_revision == 0
        && response
            .header
            .as_ref()
            .is_some_and(|header| header.revision != 0)
}

/// The create request for the watch arguments.
pub(crate) fn create_request(args: &WatchArgs) -> anyhow::Result<WatchCreateRequest> {
    if args.interactive {
        return Err(Failure::bad_feature(
            "interactive watch is not supported by keelctl",
        ));
    }
    let (Some(key), 1..=2) = (args.args.first(), args.args.len()) else {
        return Err(Failure::bad_args("bad number of arguments"));
    };
    let range_end = args.args.get(1);
    if range_end.is_some() && args.prefix {
        return Err(Failure::bad_args(
            "`range_end` and `--prefix` are mutually exclusive",
        ));
    }
    let selection = if args.prefix {
        Selection::Prefix
    } else {
        Selection::Exact
    };
    let (key, range_end) = key_range(key, range_end.map(String::as_str), selection);
    Ok(WatchCreateRequest {
        key,
        range_end,
        start_revision: args.rev,
        progress_notify: args.progress_notify,
        prev_kv: args.prev_kv,
        ..Default::default()
    })
}

/// `watch`: one watch from the command line, or with `-i` watches and
/// progress requests read from stdin.
pub(crate) async fn watch(session: &Session, args: &WatchArgs) -> anyhow::Result<()> {
    if args.interactive {
        return interactive(session).await;
    }
    let create = create_request(args)?;
    let (requests, mut stream) = open_stream(session).await?;
    send(&requests, RequestUnion::CreateRequest(create)).await?;
    let printer = session.printer();
    let mut fragments = HashMap::new();
    while let Some(response) = next_response(&mut stream, &mut fragments).await? {
        print_response(&printer, &response, &args.exec).await?;
        if response.canceled {
            break;
        }
    }
    drop(requests);
    Err(canceled_by_server())
}

fn canceled_by_server() -> anyhow::Error {
    Failure::new(ExitCode::Interrupted, "watch is canceled by the server").into()
}

type Requests = tokio::sync::mpsc::Sender<WatchRequest>;
type Responses = tokio::sync::mpsc::Receiver<Result<WatchResponse, Status>>;

/// Opens the bidirectional watch stream, requiring a leader as etcdctl
/// does. A task owns the call: servers send the response headers only with
/// the first response, so awaiting the call here would wait for a request
/// that interactive mode has not read yet.
async fn open_stream(session: &Session) -> anyhow::Result<(Requests, Responses)> {
    let mut client = WatchClient::new(session.channel().await?);
    let (requests, receiver) = tokio::sync::mpsc::channel(16);
    let (response_sender, responses) = tokio::sync::mpsc::channel(16);
    let mut request = tonic::Request::new(ReceiverStream::new(receiver));
    // clientv3.WithRequireLeader: the server cancels the watch when it has no leader.
    request.metadata_mut().insert(
        "hasleader",
        tonic::metadata::MetadataValue::from_static("true"),
    );
    tokio::spawn(async move {
        let mut stream = match client.watch(request).await {
            Ok(response) => response.into_inner(),
            Err(status) => {
                let _ = response_sender.send(Err(status)).await;
                return;
            }
        };
        loop {
            let item = match stream.message().await {
                Ok(Some(response)) => Ok(response),
                Ok(None) => return,
                Err(status) => Err(status),
            };
            let failed = item.is_err();
            if response_sender.send(item).await.is_err() || failed {
                return;
            }
        }
    });
    Ok((requests, responses))
}

async fn send(requests: &Requests, request: RequestUnion) -> anyhow::Result<()> {
    let request = WatchRequest {
        request_union: Some(request),
    };
    requests
        .send(request)
        .await
        .map_err(|_| Failure::new(ExitCode::BadConnection, "watch stream closed").into())
}

/// The next whole response worth printing: fragments are joined per watch
/// and creation acknowledgements skipped, as clientv3 does.
async fn next_response(
    responses: &mut Responses,
    fragments: &mut HashMap<i64, WatchResponse>,
) -> anyhow::Result<Option<WatchResponse>> {
    while let Some(response) = responses.recv().await {
        let response = response.map_err(|status| status_error(&status))?;
        let mut pending = fragments.remove(&response.watch_id);
        let watch_id = response.watch_id;
        match merge_fragment(&mut pending, response) {
            Some(whole) if whole.created && !whole.canceled => {}
            Some(whole) => return Ok(Some(whole)),
            None => {
                if let Some(partial) = pending {
                    fragments.insert(watch_id, partial);
                }
            }
        }
    }
    Ok(None)
}

/// `watch -i`: lines `watch [options] <key> [range_end]` add watches on the
/// stream and `progress` requests a progress notification, until stdin ends.
async fn interactive(session: &Session) -> anyhow::Result<()> {
    let (requests, mut stream) = open_stream(session).await?;
    let (line_sender, mut lines) = tokio::sync::mpsc::channel::<String>(16);
    std::thread::spawn(move || {
        for line in std::io::stdin().lines().map_while(Result::ok) {
            if line_sender.blocking_send(line).is_err() {
                return;
            }
        }
    });
    let printer = session.printer();
    let mut fragments = HashMap::new();
    loop {
        tokio::select! {
            line = lines.recv() => match line {
                Some(line) => interactive_line(&line, &requests).await?,
                None => return Err(Failure::invalid_input("Error reading watch request line: EOF")),
            },
            response = next_response(&mut stream, &mut fragments) => match response? {
                Some(response) => print_response(&printer, &response, &[]).await?,
                None => return Err(canceled_by_server()),
            },
        }
    }
}

/// A `watch` line of interactive mode: the watch command's own flags.
#[derive(Debug, Parser)]
#[command(no_binary_name = true)]
struct WatchLine {
    #[command(flatten)]
    args: WatchArgs,
}

/// Handles one line of interactive mode; bad lines are reported on stderr
/// and skipped, as etcdctl does.
async fn interactive_line(line: &str, requests: &Requests) -> anyhow::Result<()> {
    let words = crate::txn_syntax::argify(line).unwrap_or_default();
    match words.first().map(String::as_str) {
        Some("watch") if words.len() < 2 => {
            eprintln!("Invalid command {line} (command type or key is not provided)");
        }
        Some("watch") => {
            let create = WatchLine::try_parse_from(&words[1..])
                .map_err(|error| error.to_string())
                .and_then(|parsed| create_request(&parsed.args).map_err(|error| error.to_string()));
            match create {
                Ok(create) => send(requests, RequestUnion::CreateRequest(create)).await?,
                Err(error) => eprintln!(
                    "Invalid command {line} ({})",
                    error.lines().next().unwrap_or_default()
                ),
            }
        }
        Some("progress") => {
            send(
                requests,
                RequestUnion::ProgressRequest(WatchProgressRequest {}),
            )
            .await?
        }
        Some(_) => eprintln!("Invalid command {line} (only support watch)"),
        None => eprintln!("Invalid command: {line} (watch and progress supported)"),
    }
    Ok(())
}

/// Joins fragmented responses; returns a response once it is whole.
fn merge_fragment(
    pending: &mut Option<WatchResponse>,
    response: WatchResponse,
) -> Option<WatchResponse> {
    let fragment = response.fragment;
    let merged = match pending.take() {
        Some(mut head) => {
            head.events.extend(response.events);
            head.fragment = fragment;
            head
        }
        None => response,
    };
    if fragment {
        *pending = Some(merged);
        return None;
    }
    Some(merged)
}

async fn print_response(
    printer: &Printer,
    response: &WatchResponse,
    exec: &[String],
) -> anyhow::Result<()> {
    if response.canceled {
        eprintln!("watch was canceled ({})", cancel_error(response));
    }
    if is_progress_notify(response) {
        let revision = response.header.as_ref().map_or(0, |header| header.revision);
        emit(format!("progress notify: {revision}\n"))?;
    }
    emit(&printer.watch(response)?)?;
    if let [program, program_args @ ..] = exec {
        for event in &response.events {
            run_for_event(program, program_args, response, event).await?;
        }
    }
    Ok(())
}

/// Runs the exec command for one event with etcdctl's environment variables.
async fn run_for_event(
    program: &str,
    args: &[String],
    response: &WatchResponse,
    event: &api::mvccpb::Event,
) -> anyhow::Result<()> {
    let revision = response.header.as_ref().map_or(0, |header| header.revision);
    let kv = event.kv.clone().unwrap_or_default();
    let status = tokio::process::Command::new(program)
        .args(args)
        .env("ETCD_WATCH_REVISION", revision.to_string())
        .env(
            "ETCD_WATCH_EVENT_TYPE",
            quote(event.r#type().as_str_name().as_bytes()),
        )
        .env("ETCD_WATCH_KEY", quote(&kv.key))
        .env("ETCD_WATCH_VALUE", quote(&kv.value))
        .status()
        .await;
    match status {
        Ok(status) if status.success() => Ok(()),
        Ok(status) => Err(exec_failure(program, args, &status.to_string())),
        Err(error) => Err(exec_failure(program, args, &error.to_string())),
    }
}

fn exec_failure(program: &str, args: &[String], error: &str) -> anyhow::Error {
    let words: Vec<String> = std::iter::once(program)
        .chain(args.iter().map(String::as_str))
        .map(|w| quote(w.as_bytes()))
        .collect();
    Failure::new(
        ExitCode::Error,
        format!("command [{}] error ({error})", words.join(" ")),
    )
    .into()
}

#[cfg(test)]
mod tests {
    use api::etcdserverpb::ResponseHeader;
    use api::mvccpb::Event;

    use super::*;

    fn args(keys: &[&str]) -> WatchArgs {
        WatchArgs {
            args: keys.iter().map(|key| key.to_string()).collect(),
            exec: vec![],
            interactive: false,
            prefix: false,
            rev: 0,
            prev_kv: false,
            progress_notify: false,
        }
    }

    #[test]
    fn create_request_follows_etcdctl() {
        let mut prefix = args(&["foo"]);
        prefix.prefix = true;
        prefix.rev = 7;
        let request = create_request(&prefix).unwrap();
        assert_eq!(
            (request.range_end.as_slice(), request.start_revision),
            (&b"fop"[..], 7)
        );
        assert!(create_request(&args(&[])).is_err());
        let mut both = args(&["a", "b"]);
        both.prefix = true;
        assert!(create_request(&both).is_err());
    }

    #[test]
    fn progress_notifications_and_cancellations_are_recognised() {
        let header = Some(ResponseHeader {
            revision: 5,
            ..Default::default()
        });
        let progress = WatchResponse {
            header,
            ..Default::default()
        };
        assert!(is_progress_notify(&progress));
        let with_event = WatchResponse {
            header,
            events: vec![Event::default()],
            ..Default::default()
        };
        assert!(!is_progress_notify(&with_event));
        let compacted = WatchResponse {
            header,
            canceled: true,
            compact_revision: 3,
            ..Default::default()
        };
        assert!(!is_progress_notify(&compacted));
        assert_eq!(
            cancel_error(&compacted),
            "etcdserver: mvcc: required revision has been compacted"
        );
    }

    #[test]
    fn fragments_merge_into_one_response() {
        let mut pending = None;
        let first = WatchResponse {
            fragment: true,
            events: vec![Event::default()],
            ..Default::default()
        };
        assert!(merge_fragment(&mut pending, first).is_none());
        let last = WatchResponse {
            fragment: false,
            events: vec![Event::default()],
            ..Default::default()
        };
        let whole = merge_fragment(&mut pending, last).unwrap();
        assert_eq!(whole.events.len(), 2);
        assert!(pending.is_none());
    }
}
