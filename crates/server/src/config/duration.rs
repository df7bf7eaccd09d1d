//! Go's duration syntax (`300ms`, `1h30m`, `20s`, `0`), as etcd's flags take it.

use std::time::Duration;

/// Parses a Go duration string such as `1h30m` or `250ms` (negative durations are refused).
pub(crate) fn parse_go_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if text == "0" {
        return Ok(Duration::ZERO);
    }
    let invalid = || format!("invalid duration {text:?}");
    let mut rest = text.strip_prefix('+').unwrap_or(text);
    if rest.is_empty() {
        return Err(invalid());
    }
    let mut total_nanos: u128 = 0;
    while !rest.is_empty() {
        let number_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(invalid)?;
        let (number, after) = rest.split_at(number_end);
        let unit_end = after
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(after.len());
        let (unit, next) = after.split_at(unit_end);
        let unit_nanos: f64 = match unit {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return Err(invalid()),
        };
        let value: f64 = number.parse().map_err(|_| invalid())?;
        total_nanos += (value * unit_nanos).round() as u128;
        rest = next;
    }
    let nanos = u64::try_from(total_nanos).map_err(|_| invalid())?;
    Ok(Duration::from_nanos(nanos))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_go_durations() {
        assert_eq!(parse_go_duration("0").unwrap(), Duration::ZERO);
        assert_eq!(parse_go_duration("10m").unwrap(), Duration::from_secs(600));
        assert_eq!(
            parse_go_duration("1h30m").unwrap(),
            Duration::from_secs(5400)
        );
        assert_eq!(
            parse_go_duration("1.5s").unwrap(),
            Duration::from_millis(1500)
        );
        assert_eq!(
            parse_go_duration("20000000000ns").unwrap(),
            Duration::from_secs(20)
        );
        assert_eq!(
            parse_go_duration("100us").unwrap(),
            Duration::from_micros(100)
        );
    }

    #[test]
    fn refuses_malformed_durations() {
        for bad in ["", "5", "s", "5x", "-5s", "1h-3m"] {
            assert!(parse_go_duration(bad).is_err(), "{bad} parsed");
        }
    }
}
