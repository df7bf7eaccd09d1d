//! etcdctl's transaction syntax, read from stdin in three blocks that each
//! end with an empty line:
//!
//! ```text
//! mod("key1") > "0"          <- compares: target("key") op "value"
//! value("key2") = "x"
//!
//! put key1 "new value"       <- success requests: get, put, del with flags
//! get key2 --prefix
//!
//! del key1                   <- failure requests
//!
//! ```
//!
//! Targets are `ver`/`version`, `c`/`create`, `m`/`mod`, `val`/`value`
//! and `lease`; operators `=`, `!=`, `<`, `>`. Quoted strings are Go
//! strings (`"a\n"` or `` `raw` ``).

use std::io::BufRead;

use api::etcdserverpb::Compare;
use api::etcdserverpb::RequestOp;
use api::etcdserverpb::TxnRequest;
use api::etcdserverpb::compare::CompareResult;
use api::etcdserverpb::compare::CompareTarget;
use api::etcdserverpb::compare::TargetUnion;
use api::etcdserverpb::request_op::Request;
use clap::Parser;
use clap::Subcommand;

use crate::cli::DelArgs;
use crate::cli::GetArgs;
use crate::cli::PutArgs;
use crate::command::kv;

/// Reads a whole transaction; `prompt` is called before each block (it
/// prints the interactive prompts).
pub(crate) fn read_txn(
    input: &mut impl BufRead,
    mut prompt: impl FnMut(&str),
) -> Result<TxnRequest, String> {
    prompt("compares:");
    let compare = read_block(input)?
        .iter()
        .map(|line| parse_compare(line))
        .collect::<Result<_, _>>()?;
    prompt("success requests (get, put, del):");
    let success = read_block(input)?
        .iter()
        .map(|line| parse_request(line))
        .collect::<Result<_, _>>()?;
    prompt("failure requests (get, put, del):");
    let failure = read_block(input)?
        .iter()
        .map(|line| parse_request(line))
        .collect::<Result<_, _>>()?;
    Ok(TxnRequest {
        compare,
        success,
        failure,
    })
}

/// Trimmed lines up to the first empty one. Input that ends before that
/// empty line is an error (`EOF`), as in etcdctl.
fn read_block(input: &mut impl BufRead) -> Result<Vec<String>, String> {
    let mut lines = Vec::new();
    loop {
        let mut line = String::new();
        input
            .read_line(&mut line)
            .map_err(|error| error.to_string())?;
        if !line.ends_with('\n') {
            return Err("EOF".to_owned());
        }
        let line = line.trim();
        if line.is_empty() {
            return Ok(lines);
        }
        lines.push(line.to_owned());
    }
}

/// Parses `target("key") op "value"`.
pub(crate) fn parse_compare(line: &str) -> Result<Compare, String> {
    let malformed = || format!("malformed comparison: {line}");
    let (target, rest) = line.split_once('(').ok_or_else(malformed)?;
    let (key, rest) = scan_quoted(rest).ok_or_else(malformed)?;
    let rest = rest.trim_start().strip_prefix(')').ok_or_else(malformed)?;
    let rest = rest.trim_start();
    let op_len = rest.find(char::is_whitespace).ok_or_else(malformed)?;
    let (op, rest) = rest.split_at(op_len);
    let (value, _) = scan_quoted(rest).ok_or_else(malformed)?;
    let result = match op {
        "=" | "==" => CompareResult::Equal,
        "!=" => CompareResult::NotEqual,
        ">" => CompareResult::Greater,
        "<" => CompareResult::Less,
        _ => {
            return Err(format!(
                "malformed comparison: {line} (unknown operator {op})"
            ));
        }
    };
    let number = || -> Result<i64, String> {
        std::str::from_utf8(&value)
            .ok()
            .and_then(|text| text.parse().ok())
            .ok_or_else(|| format!("invalid txn compare request: {line}"))
    };
    let (target, union) = match target {
        "ver" | "version" => (CompareTarget::Version, TargetUnion::Version(number()?)),
        "c" | "create" => (
            CompareTarget::Create,
            TargetUnion::CreateRevision(number()?),
        ),
        "m" | "mod" => (CompareTarget::Mod, TargetUnion::ModRevision(number()?)),
        "val" | "value" => (CompareTarget::Value, TargetUnion::Value(value.clone())),
        "lease" => (CompareTarget::Lease, TargetUnion::Lease(number()?)),
        _ => {
            return Err(format!(
                "malformed comparison: {line} (unknown target {target})"
            ));
        }
    };
    Ok(Compare {
        result: result as i32,
        target: target as i32,
        key,
        target_union: Some(union),
        range_end: Vec::new(),
    })
}

/// One request line: `get`, `put` or `del` with their command-line flags.
#[derive(Debug, Parser)]
#[command(no_binary_name = true)]
struct RequestLine {
    #[command(subcommand)]
    op: RequestCommand,
}

#[derive(Debug, Subcommand)]
enum RequestCommand {
    Get(GetArgs),
    Put(PutArgs),
    Del(DelArgs),
}

/// Parses a request line such as `put key "some value" --lease=1f`.
pub(crate) fn parse_request(line: &str) -> Result<RequestOp, String> {
    let args = argify(line)?;
    if args.len() < 2 {
        return Err(format!("invalid txn compare request: {line}"));
    }
    let invalid = || format!("invalid txn request: {line}");
    let parsed = RequestLine::try_parse_from(&args).map_err(|_| invalid())?;
    let request = match parsed.op {
        RequestCommand::Get(get) => {
            Request::RequestRange(kv::range_request(&get).map_err(|_| invalid())?)
        }
        RequestCommand::Put(put) => {
            Request::RequestPut(kv::put_request(&put, || None).map_err(|_| invalid())?)
        }
        RequestCommand::Del(del) => {
            Request::RequestDeleteRange(kv::delete_request(&del).map_err(|_| invalid())?)
        }
    };
    Ok(RequestOp {
        request: Some(request),
    })
}

/// Splits a line into arguments as etcdctl does: whitespace-separated
/// words, `"Go strings"` (unquoted) and `'single-quoted strings'`.
pub(crate) fn argify(line: &str) -> Result<Vec<String>, String> {
    let mut args = Vec::new();
    let mut rest = line.trim_start();
    while !rest.is_empty() {
        let (arg, tail) = if rest.starts_with('"') {
            let (bytes, tail) =
                scan_quoted(rest).ok_or_else(|| format!("bad quoted string in: {line}"))?;
            (String::from_utf8_lossy(&bytes).into_owned(), tail)
        } else if let Some(quoted) = rest.strip_prefix('\'') {
            let (arg, tail) = quoted
                .split_once('\'')
                .ok_or_else(|| format!("unterminated quote in: {line}"))?;
            (arg.to_owned(), tail)
        } else {
            let (arg, tail) = rest.split_at(rest.find(char::is_whitespace).unwrap_or(rest.len()));
            (arg.to_owned(), tail)
        };
        args.push(arg);
        rest = tail.trim_start();
    }
    Ok(args)
}

/// Scans a Go quoted string (after optional spaces), as `fmt.Sscanf("%q")`:
/// `"..."` with Go escapes or a raw `` `...` `` string. Returns the bytes
/// and the rest of the input.
fn scan_quoted(text: &str) -> Option<(Vec<u8>, &str)> {
    let text = text.trim_start();
    if let Some(raw) = text.strip_prefix('`') {
        let (body, tail) = raw.split_once('`')?;
        return Some((body.as_bytes().to_vec(), tail));
    }
    let body = text.strip_prefix('"')?;
    let mut out = Vec::new();
    let mut chars = body.char_indices();
    while let Some((index, c)) = chars.next() {
        match c {
            '"' => return Some((out, body.get(index + 1..)?)),
            '\\' => unescape(&mut chars, &mut out)?,
            c => out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes()),
        }
    }
    None
}

/// Decodes one Go escape sequence (after the backslash) into `out`.
fn unescape(chars: &mut std::str::CharIndices<'_>, out: &mut Vec<u8>) -> Option<()> {
    let (_, c) = chars.next()?;
    let mut digits = |count: usize, radix: u32| -> Option<u32> {
        let text: String = chars.by_ref().take(count).map(|(_, c)| c).collect();
        if text.len() != count {
            return None;
        }
        u32::from_str_radix(&text, radix).ok()
    };
    let simple = match c {
        'a' => Some(7u8),
        'b' => Some(8),
        'f' => Some(12),
        'n' => Some(b'\n'),
        'r' => Some(b'\r'),
        't' => Some(b'\t'),
        'v' => Some(11),
        '\\' => Some(b'\\'),
        '"' => Some(b'"'),
        '\'' => Some(b'\''),
        _ => None,
    };
    match (simple, c) {
        (Some(byte), _) => out.push(byte),
        (None, 'x') => out.push(u8::try_from(digits(2, 16)?).ok()?),
        (None, '0'..='7') => {
            let rest = digits(2, 8)?;
            let value = c.to_digit(8)? * 64 + rest;
            out.push(u8::try_from(value).ok()?);
        }
        (None, 'u') => push_char(out, digits(4, 16)?)?,
        (None, 'U') => push_char(out, digits(8, 16)?)?,
        _ => return None,
    }
    Some(())
}

fn push_char(out: &mut Vec<u8>, code: u32) -> Option<()> {
    let c = char::from_u32(code)?;
    out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argify_splits_words_and_quoted_strings() {
        assert_eq!(
            argify(r#"put k "a b\n" 'c d'  e"#).unwrap(),
            ["put", "k", "a b\n", "c d", "e"]
        );
        assert_eq!(
            argify("get  foo --prefix").unwrap(),
            ["get", "foo", "--prefix"]
        );
        assert!(argify("put k 'open").is_err());
    }

    #[test]
    fn compares_parse_every_target_and_operator() {
        let mod_gt = parse_compare(r#"mod("key1") > "0""#).unwrap();
        assert_eq!(mod_gt.key, b"key1");
        assert_eq!(mod_gt.result(), CompareResult::Greater);
        assert_eq!(mod_gt.target(), CompareTarget::Mod);
        assert_eq!(mod_gt.target_union, Some(TargetUnion::ModRevision(0)));

        let value_eq = parse_compare(r#"value("k") = "a \"b\"""#).unwrap();
        assert_eq!(
            value_eq.target_union,
            Some(TargetUnion::Value(b"a \"b\"".to_vec()))
        );
        assert_eq!(value_eq.result(), CompareResult::Equal);

        let version = parse_compare(r#"ver("k") != "3""#).unwrap();
        assert_eq!(
            (version.target(), version.result()),
            (CompareTarget::Version, CompareResult::NotEqual)
        );
        let create = parse_compare(r#"c("k") < "9""#).unwrap();
        assert_eq!(create.target_union, Some(TargetUnion::CreateRevision(9)));
        let raw = parse_compare(r#"val(`raw\n`) = "x""#).unwrap();
        assert_eq!(raw.key, b"raw\\n");
    }

    #[test]
    fn bad_compares_name_the_line() {
        assert_eq!(
            parse_compare("bad").unwrap_err(),
            "malformed comparison: bad"
        );
        assert_eq!(
            parse_compare(r#"size("k") = "1""#).unwrap_err(),
            r#"malformed comparison: size("k") = "1" (unknown target size)"#
        );
        assert_eq!(
            parse_compare(r#"mod("k") > "x""#).unwrap_err(),
            r#"invalid txn compare request: mod("k") > "x""#
        );
        assert!(parse_compare(r#"mod("k") >= "1""#).is_err());
    }

    #[test]
    fn requests_parse_with_their_flags() {
        let put = parse_request(r#"put k "v 1" --prev-kv"#).unwrap();
        let Some(Request::RequestPut(put)) = put.request else {
            panic!("not a put")
        };
        assert_eq!(
            (put.key.as_slice(), put.value.as_slice(), put.prev_kv),
            (&b"k"[..], &b"v 1"[..], true)
        );

        let get = parse_request("get foo --prefix --limit=3").unwrap();
        let Some(Request::RequestRange(get)) = get.request else {
            panic!("not a get")
        };
        assert_eq!((get.range_end.as_slice(), get.limit), (&b"fop"[..], 3));

        let Some(Request::RequestDeleteRange(del)) = parse_request("del a c").unwrap().request
        else {
            panic!("not a del")
        };
        assert_eq!(del.range_end, b"c");

        assert_eq!(
            parse_request("get").unwrap_err(),
            "invalid txn compare request: get"
        );
        assert_eq!(
            parse_request("frob k").unwrap_err(),
            "invalid txn request: frob k"
        );
    }

    #[test]
    fn a_whole_transaction_reads_in_three_blocks() {
        let input = "mod(\"foo\") > \"0\"\n\nput foo z\nget foo\n\nget foo\n\n";
        let mut prompts = Vec::new();
        let txn = read_txn(&mut input.as_bytes(), |prompt| {
            prompts.push(prompt.to_owned())
        })
        .unwrap();
        assert_eq!(
            (txn.compare.len(), txn.success.len(), txn.failure.len()),
            (1, 2, 1)
        );
        assert_eq!(prompts.len(), 3);
        assert_eq!(
            read_txn(&mut "mod(\"foo\") > \"0\"\n".as_bytes(), |_| {}).unwrap_err(),
            "EOF"
        );
    }
}
