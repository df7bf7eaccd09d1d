//! `get`, `put`, `del` and `compaction`: request building (shared with
//! `txn`) and running.

use std::io::Read;

use api::etcdserverpb::CompactionRequest;
use api::etcdserverpb::DeleteRangeRequest;
use api::etcdserverpb::PutRequest;
use api::etcdserverpb::RangeRequest;
use api::etcdserverpb::kv_client::KvClient;
use api::etcdserverpb::range_request::SortOrder;
use api::etcdserverpb::range_request::SortTarget;

use super::emit;
use crate::cli::CompactionArgs;
use crate::cli::DelArgs;
use crate::cli::GetArgs;
use crate::cli::PutArgs;
use crate::connect::Session;
use crate::failure::Failure;
use crate::keys::Selection;
use crate::keys::key_range;
use crate::output::Format;

fn selection(prefix: bool, from_key: bool) -> Selection {
    match (prefix, from_key) {
        (true, _) => Selection::Prefix,
        (_, true) => Selection::FromKey,
        _ => Selection::Exact,
    }
}

const BOTH_PREFIX_AND_FROM_KEY: &str =
    "`--prefix` and `--from-key` cannot be set at the same time, choose one";
const TOO_MANY_FOR_PREFIX: &str =
    "too many arguments, only accept one argument when `--prefix` or `--from-key` is set";

/// The Range request `get` sends, validated as etcdctl validates it.
pub(crate) fn range_request(args: &GetArgs) -> anyhow::Result<RangeRequest> {
    let Some(key) = args.args.first() else {
        return Err(Failure::bad_args(
            "get command needs one argument as key and an optional argument as range_end",
        ));
    };
    if args.prefix && args.from_key {
        return Err(Failure::bad_args(BOTH_PREFIX_AND_FROM_KEY));
    }
    if args.keys_only && args.count_only {
        return Err(Failure::bad_args(
            "`--keys-only` and `--count-only` cannot be set at the same time, choose one",
        ));
    }
    let serializable = match args.consistency.as_str() {
        "s" => true,
        "l" => false,
        other => {
            return Err(Failure::bad_feature(format!(
                "unknown consistency flag {}",
                crate::go_fmt::quote(other.as_bytes())
            )));
        }
    };
    let range_end = args.args.get(1);
    if range_end.is_some() && (args.prefix || args.from_key) {
        return Err(Failure::bad_args(TOO_MANY_FOR_PREFIX));
    }
    let (sort_order, sort_target) = sort(&args.order, &args.sort_by)?;
    let (key, range_end) = key_range(
        key,
        range_end.map(String::as_str),
        selection(args.prefix, args.from_key),
    );
    Ok(RangeRequest {
        key,
        range_end,
        limit: args.limit,
        revision: args.rev.max(0),
        sort_order: sort_order as i32,
        sort_target: sort_target as i32,
        serializable,
        keys_only: args.keys_only,
        count_only: args.count_only,
        ..Default::default()
    })
}

/// etcdctl's `--order` and `--sort-by`; ascending by key is the server's
/// natural order, so clientv3 sends it as no sorting.
fn sort(order: &str, sort_by: &str) -> anyhow::Result<(SortOrder, SortTarget)> {
    let order = match order.to_uppercase().as_str() {
        "ASCEND" => SortOrder::Ascend,
        "DESCEND" => SortOrder::Descend,
        "" => SortOrder::None,
        _ => return Err(Failure::bad_feature(format!("bad sort order {order}"))),
    };
    let target = match sort_by.to_uppercase().as_str() {
        "CREATE" => SortTarget::Create,
        "KEY" | "" => SortTarget::Key,
        "MODIFY" => SortTarget::Mod,
        "VALUE" => SortTarget::Value,
        "VERSION" => SortTarget::Version,
        _ => return Err(Failure::bad_feature(format!("bad sort target {sort_by}"))),
    };
    if target == SortTarget::Key && order == SortOrder::Ascend {
        return Ok((SortOrder::None, target));
    }
    Ok((order, target))
}

const PUT_NEEDS_ARGS: &str = "put command needs 1 argument and input from stdin or 2 arguments";

/// The Put request `put` sends; `stdin` supplies the value when only the
/// key is given.
pub(crate) fn put_request(
    args: &PutArgs,
    stdin: impl FnOnce() -> Option<Vec<u8>>,
) -> anyhow::Result<PutRequest> {
    let Some(key) = args.args.first() else {
        return Err(Failure::bad_args(PUT_NEEDS_ARGS));
    };
    if args.ignore_value && args.args.len() > 1 {
        return Err(Failure::bad_args(
            "put command needs only 1 argument when 'ignore-value' is set",
        ));
    }
    let value = if args.ignore_value {
        Vec::new()
    } else {
        match args.args.get(1) {
            Some(value) => value.as_bytes().to_vec(),
            None => stdin()
                .filter(|text| !text.is_empty())
                .ok_or_else(|| Failure::bad_args(PUT_NEEDS_ARGS))?,
        }
    };
    let lease = super::parse_hex_i64(&args.lease, "lease ID")?;
    Ok(PutRequest {
        key: key.as_bytes().to_vec(),
        value,
        lease,
        prev_kv: args.prev_kv,
        ignore_value: args.ignore_value,
        ignore_lease: args.ignore_lease,
    })
}

/// The DeleteRange request `del` sends.
pub(crate) fn delete_request(args: &DelArgs) -> anyhow::Result<DeleteRangeRequest> {
    let (Some(key), 1..=2) = (args.args.first(), args.args.len()) else {
        return Err(Failure::bad_args(
            "del command needs one argument as key and an optional argument as range_end",
        ));
    };
    if args.prefix && args.from_key {
        return Err(Failure::bad_args(BOTH_PREFIX_AND_FROM_KEY));
    }
    let range_end = args.args.get(1);
    if range_end.is_some() && (args.prefix || args.from_key) {
        return Err(Failure::bad_args(TOO_MANY_FOR_PREFIX));
    }
    let (key, range_end) = key_range(
        key,
        range_end.map(String::as_str),
        selection(args.prefix, args.from_key),
    );
    Ok(DeleteRangeRequest {
        key,
        range_end,
        prev_kv: args.prev_kv,
    })
}

/// All of stdin, as bytes: a value piped in may be binary.
fn read_stdin() -> Option<Vec<u8>> {
    let mut value = Vec::new();
    std::io::stdin().read_to_end(&mut value).ok()?;
    Some(value)
}

/// `get`.
pub(crate) async fn get(session: &Session, args: &GetArgs) -> anyhow::Result<()> {
    let request = range_request(args)?;
    let mut client = KvClient::new(session.channel().await?);
    let response = session.call(client.range(request)).await?;
    let mut printer = session.printer();
    if args.count_only && printer.format != Format::Fields {
        return Err(Failure::bad_args(
            "--count-only is only for `--write-out=fields`",
        ));
    }
    if args.print_value_only {
        if printer.format != Format::Simple {
            return Err(Failure::bad_args(
                "print-value-only is only for `--write-out=simple`",
            ));
        }
        printer.value_only = true;
    }
    emit(&printer.get(&response)?)
}

/// `put`.
pub(crate) async fn put(session: &Session, args: &PutArgs) -> anyhow::Result<()> {
    let request = put_request(args, read_stdin)?;
    let mut client = KvClient::new(session.channel().await?);
    let response = session.call(client.put(request)).await?;
    emit(&session.printer().put(&response)?)
}

/// `del`.
pub(crate) async fn del(session: &Session, args: &DelArgs) -> anyhow::Result<()> {
    let request = delete_request(args)?;
    let mut client = KvClient::new(session.channel().await?);
    let response = session.call(client.delete_range(request)).await?;
    emit(&session.printer().del(&response)?)
}

/// `compaction`.
pub(crate) async fn compaction(session: &Session, args: &CompactionArgs) -> anyhow::Result<()> {
    let [revision] = args.args.as_slice() else {
        return Err(Failure::bad_args("compaction command needs 1 argument"));
    };
    let revision: i64 = revision.parse().map_err(|_| {
        anyhow::anyhow!(
            "strconv.ParseInt: parsing {}: invalid syntax",
            crate::go_fmt::quote(revision.as_bytes())
        )
    })?;
    let mut client = KvClient::new(session.channel().await?);
    session
        .call(client.compact(CompactionRequest {
            revision,
            physical: args.physical,
        }))
        .await?;
    emit(format!("compacted revision {revision}\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get_args(args: &[&str]) -> GetArgs {
        GetArgs {
            args: args.iter().map(|arg| arg.to_string()).collect(),
            consistency: "l".into(),
            ..Default::default()
        }
    }

    #[test]
    fn get_builds_prefix_ranges_and_sorting_as_clientv3() {
        let mut args = get_args(&["foo"]);
        args.prefix = true;
        args.limit = 2;
        args.sort_by = "modify".into();
        args.order = "DESCEND".into();
        let request = range_request(&args).unwrap();
        assert_eq!(
            (request.key.as_slice(), request.range_end.as_slice()),
            (&b"foo"[..], &b"fop"[..])
        );
        assert_eq!(request.limit, 2);
        assert_eq!(request.sort_order(), SortOrder::Descend);
        assert_eq!(request.sort_target(), SortTarget::Mod);

        let mut ascend_by_key = get_args(&["a", "z"]);
        ascend_by_key.order = "ascend".into();
        let request = range_request(&ascend_by_key).unwrap();
        assert_eq!(request.sort_order(), SortOrder::None);
        assert_eq!(request.range_end, b"z");
    }

    #[test]
    fn get_refuses_what_etcdctl_refuses() {
        assert!(range_request(&get_args(&[])).is_err());
        let mut both = get_args(&["a"]);
        both.prefix = true;
        both.from_key = true;
        assert!(range_request(&both).is_err());
        let mut prefix_with_end = get_args(&["a", "b"]);
        prefix_with_end.prefix = true;
        assert!(range_request(&prefix_with_end).is_err());
        let mut bad_order = get_args(&["a"]);
        bad_order.order = "sideways".into();
        let error = range_request(&bad_order).unwrap_err();
        assert_eq!(error.to_string(), "bad sort order sideways");
        let mut bad_consistency = get_args(&["a"]);
        bad_consistency.consistency = "x".into();
        assert_eq!(
            range_request(&bad_consistency).unwrap_err().to_string(),
            "unknown consistency flag \"x\""
        );
    }

    #[test]
    fn put_takes_the_value_from_args_or_stdin_and_a_hex_lease() {
        let args = PutArgs {
            args: vec!["k".into()],
            lease: "1f".into(),
            ..Default::default()
        };
        let request = put_request(&args, || Some(b"from stdin".to_vec())).unwrap();
        assert_eq!(request.value, b"from stdin");
        assert_eq!(request.lease, 0x1f);
        assert!(put_request(&args, || None).is_err());
        let ignore = PutArgs {
            args: vec!["k".into()],
            lease: "0".into(),
            ignore_value: true,
            ..Default::default()
        };
        assert!(put_request(&ignore, || None).unwrap().value.is_empty());
        let bad_lease = PutArgs {
            args: vec!["k".into(), "v".into()],
            lease: "xyz".into(),
            ..Default::default()
        };
        assert!(put_request(&bad_lease, || None).is_err());
    }

    #[test]
    fn del_builds_from_key_ranges() {
        let args = DelArgs {
            args: vec!["k".into()],
            from_key: true,
            ..Default::default()
        };
        let request = delete_request(&args).unwrap();
        assert_eq!(
            (request.key.as_slice(), request.range_end.as_slice()),
            (&b"k"[..], &b"\0"[..])
        );
        assert!(
            delete_request(&DelArgs {
                args: vec!["a".into(), "b".into(), "c".into()],
                ..Default::default()
            })
            .is_err()
        );
    }
}
