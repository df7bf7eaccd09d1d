//! One module per etcdctl command group; each runs its RPCs and prints.

pub(crate) mod endpoint;
pub(crate) mod kv;
pub(crate) mod lease;
pub(crate) mod maintenance;
pub(crate) mod member;
pub(crate) mod snapshot;
pub(crate) mod snapshot_save;
pub(crate) mod txn;
pub(crate) mod watch;

use std::io::Write;

use crate::failure::Failure;

/// Writes command output to stdout and flushes it (watch and keep-alive
/// print while they run).
pub(crate) fn emit(text: impl AsRef<[u8]>) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(text.as_ref())?;
    stdout.flush()?;
    Ok(())
}

/// Parses a hexadecimal ID as Go's `strconv.ParseInt(s, 16, 64)`, with
/// etcdctl's error text for `what` (`lease ID`, `member ID`).
pub(crate) fn parse_hex_i64(text: &str, what: &str) -> anyhow::Result<i64> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let parsed = u64::from_str_radix(digits, 16).ok().and_then(|value| {
        if negative {
            0i64.checked_sub_unsigned(value)
        } else {
            i64::try_from(value).ok()
        }
    });
    parsed.ok_or_else(|| {
        Failure::bad_args(format!(
            "bad {what} (strconv.ParseInt: parsing {}: invalid syntax), expecting ID in Hex",
            crate::go_fmt::quote(text.as_bytes())
        ))
    })
}

/// Parses a hexadecimal member ID as Go's `strconv.ParseUint(s, 16, 64)`.
pub(crate) fn parse_member_id(text: &str) -> anyhow::Result<u64> {
    u64::from_str_radix(text, 16).map_err(|_| {
        Failure::bad_args(format!(
            "bad member ID arg (strconv.ParseUint: parsing {}: invalid syntax), expecting ID in Hex",
            crate::go_fmt::quote(text.as_bytes())
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_ids_parse_as_go_does() {
        assert_eq!(
            parse_hex_i64("3ceea200db0c9110", "lease ID").unwrap(),
            0x3ceea200db0c9110
        );
        assert_eq!(parse_hex_i64("0", "lease ID").unwrap(), 0);
        assert_eq!(parse_hex_i64("-1", "lease ID").unwrap(), -1);
        assert!(parse_hex_i64("zz", "lease ID").is_err());
        assert!(parse_hex_i64("ffffffffffffffff", "lease ID").is_err());
        assert_eq!(
            parse_member_id("628170c800dbcee").unwrap(),
            0x628170c800dbcee
        );
        assert!(parse_member_id("").is_err());
    }
}
