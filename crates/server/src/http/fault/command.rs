//! The control requests of the fault endpoint, one line of text each.

use std::time::Duration;

use super::write_back_fs::PowerCut;

/// The most peers one `cut` names.
pub(crate) const MAX_CUT_PEERS: usize = 64;
/// The longest delay a `delay` may set.
pub(crate) const MAX_DELAY: Duration = Duration::from_secs(10);

/// What the harness asks a member's fault layer to do.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum FaultCommand {
    /// Drop everything this member sends (`isolate`).
    Isolate,
    /// Drop everything this member sends to these peers (`cut <hex id>...`).
    Cut(Vec<u64>),
    /// Drop this share of the messages this member sends (`drop <0..1>`).
    Drop(f64),
    /// Hold every message this member sends this long (`delay <ms>`).
    Delay(Duration),
    /// Undo every network fault (`heal`).
    Heal,
    /// Cut the power: unsynced WAL bytes never reach the disk (`power-off`), or
    /// reach it torn, sector by sector, as the seed chooses (`power-off <seed>`).
    PowerOff(PowerCut),
    /// An injected bug, to see the harness catch it: WAL syncs succeed
    /// without making anything durable (`unsynced-acks`).
    UnsyncedAcks,
    /// A slow store: the apply thread waits this long before each batch of
    /// committed entries (`slow-apply <ms>`; 0 ends it).
    SlowApply(Duration),
}

impl FaultCommand {
    /// Parses one request, e.g. `cut 8e9e05c52164694d 91bc3c398fb3c146`.
    pub(crate) fn parse(text: &str) -> Result<FaultCommand, String> {
        let mut words = text.split_whitespace();
        let verb = words.next().ok_or("empty fault request")?;
        let args: Vec<&str> = words.collect();
        let command = match verb {
            "isolate" => FaultCommand::Isolate,
            "heal" => FaultCommand::Heal,
            "power-off" => FaultCommand::PowerOff(parse_power_cut(&args)?),
            "unsynced-acks" => FaultCommand::UnsyncedAcks,
            "cut" => FaultCommand::Cut(parse_ids(&args)?),
            "drop" => FaultCommand::Drop(parse_ratio(one(verb, &args)?)?),
            "delay" => FaultCommand::Delay(parse_delay(one(verb, &args)?)?),
            "slow-apply" => FaultCommand::SlowApply(parse_delay(one(verb, &args)?)?),
            other => return Err(format!("unknown fault request {other:?}")),
        };
        let takes_args = matches!(
            command,
            FaultCommand::Cut(_)
                | FaultCommand::Drop(_)
                | FaultCommand::Delay(_)
                | FaultCommand::SlowApply(_)
                | FaultCommand::PowerOff(_)
        );
        if !takes_args && !args.is_empty() {
            return Err(format!("{verb} takes no arguments"));
        }
        Ok(command)
    }
}

fn parse_power_cut(args: &[&str]) -> Result<PowerCut, String> {
    match args {
        [] => Ok(PowerCut::DropAll),
        [seed] => seed
            .parse()
            .map(|seed| PowerCut::TearSectors { seed })
            .map_err(|_| format!("power-off takes a seed, not {seed:?}")),
        _ => Err("power-off takes at most one argument".into()),
    }
}

fn one<'a>(verb: &str, args: &[&'a str]) -> Result<&'a str, String> {
    match args {
        [arg] => Ok(arg),
        _ => Err(format!("{verb} takes one argument")),
    }
}

fn parse_ids(args: &[&str]) -> Result<Vec<u64>, String> {
    if args.is_empty() || args.len() > MAX_CUT_PEERS {
        return Err(format!("cut takes 1 to {MAX_CUT_PEERS} member ids"));
    }
    args.iter()
        .map(|id| u64::from_str_radix(id, 16).map_err(|_| format!("bad member id {id:?} (hex)")))
        .collect()
}

fn parse_ratio(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(ratio) if (0.0..=1.0).contains(&ratio) => Ok(ratio),
        _ => Err(format!("drop ratio {text:?} is not in [0, 1]")),
    }
}

fn parse_delay(text: &str) -> Result<Duration, String> {
    let millis: u64 = text
        .parse()
        .map_err(|_| format!("bad delay {text:?} (milliseconds)"))?;
    let delay = Duration::from_millis(millis);
    if delay > MAX_DELAY {
        return Err(format!("delay {millis} ms is over {MAX_DELAY:?}"));
    }
    Ok(delay)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_request_parses() {
        let parse = |t| FaultCommand::parse(t).unwrap();
        assert_eq!(parse("isolate"), FaultCommand::Isolate);
        assert_eq!(parse(" heal\n"), FaultCommand::Heal);
        assert_eq!(
            parse("power-off"),
            FaultCommand::PowerOff(PowerCut::DropAll)
        );
        assert_eq!(
            parse("power-off 42"),
            FaultCommand::PowerOff(PowerCut::TearSectors { seed: 42 })
        );
        assert_eq!(parse("unsynced-acks"), FaultCommand::UnsyncedAcks);
        assert_eq!(
            parse("cut a 8E9E05C52164694D"),
            FaultCommand::Cut(vec![10, 0x8e9e_05c5_2164_694d])
        );
        assert_eq!(parse("drop 0.25"), FaultCommand::Drop(0.25));
        assert_eq!(parse("drop 1"), FaultCommand::Drop(1.0));
        assert_eq!(
            parse("delay 40"),
            FaultCommand::Delay(Duration::from_millis(40))
        );
        assert_eq!(
            parse("slow-apply 30"),
            FaultCommand::SlowApply(Duration::from_millis(30))
        );
    }

    #[test]
    fn malformed_requests_are_refused() {
        for bad in [
            "",
            "partition",
            "isolate now",
            "heal 1",
            "cut",
            "cut xyz",
            "cut 1 -3",
            "drop",
            "drop 1.5",
            "drop -0.1",
            "drop NaN",
            "drop 0.1 0.2",
            "delay",
            "delay 10001",
            "delay 1.5",
            "power-off now",
            "power-off -1",
            "power-off 1 2",
            "unsynced-acks 1",
            "slow-apply",
            "slow-apply fast",
        ] {
            assert!(FaultCommand::parse(bad).is_err(), "{bad:?} accepted");
        }
        let too_many = format!("cut {}", vec!["1"; MAX_CUT_PEERS + 1].join(" "));
        assert!(FaultCommand::parse(&too_many).is_err());
        let most = format!("cut {}", vec!["1"; MAX_CUT_PEERS].join(" "));
        assert!(FaultCommand::parse(&most).is_ok());
    }
}
