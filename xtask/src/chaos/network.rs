//! Network faults through keel's test-only fault layer: each member started
//! with `KEEL_FAULT_INJECTION=1` takes requests on `POST /fault` of its
//! client port (`isolate`, `cut <ids>`, `drop <ratio>`, `delay <ms>`,
//! `heal`, `power-off`). A member's fault layer filters what it sends, so
//! every partition is told to both sides.

use std::io::Read;
use std::io::Write;
use std::net::TcpStream;
use std::time::Duration;
use std::time::Instant;

use anyhow::bail;

use super::faults::Rng;
use super::members::Members;

/// The environment variable that turns keel's fault layer on.
pub(crate) const SWITCH_VAR: &str = "KEEL_FAULT_INJECTION";
/// How long a member gets to answer a control request (it may be restarting).
const CONTROL_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a network fault lasts, in milliseconds: longer than an election.
const PARTITION_MS: (u64, u64) = (2000, 5000);
/// How long peer messages are dropped and delayed, in milliseconds.
const LOSSY_MS: (u64, u64) = (2000, 5000);
/// The share of peer messages dropped while lossy, in percent.
const DROP_PERCENT: (u64, u64) = (10, 31);
/// The delay of every peer message while lossy, in milliseconds.
const DELAY_MS: (u64, u64) = (5, 60);

/// Sends one control request to the member serving clients on `port`;
/// returns the answer's body.
pub(crate) fn request(port: u16, method: &str, body: &str) -> anyhow::Result<String> {
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(1))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(
        stream,
        "{method} /fault HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )?;
    let mut response = String::new();
    stream.take(64 * 1024).read_to_string(&mut response)?;
    let (head, answer) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let status = head.split_whitespace().nth(1).unwrap_or_default();
    if status != "200" {
        bail!(
            "{method} /fault {body:?}: status {status}: {}",
            answer.trim()
        );
    }
    Ok(answer.to_owned())
}

/// Sends each member its control requests (in order), in rounds: a member
/// that does not answer (it may be restarting to install a snapshot) is
/// retried after the others were told, so it delays no one else's fault.
fn tell_all(members: &Members, requests: &[(usize, String)]) -> anyhow::Result<()> {
    let mut pending: Vec<&(usize, String)> = requests.iter().collect();
    let deadline = Instant::now() + CONTROL_TIMEOUT;
    loop {
        let mut failed = Vec::new();
        let mut last_error = None;
        for request in pending {
            let (i, body) = request;
            // A member's later requests wait for its earlier ones.
            if failed.iter().any(|(j, _): &&(usize, String)| j == i) {
                failed.push(request);
                continue;
            }
            if let Err(e) = self::request(members.spec.client_port(*i), "POST", body) {
                last_error = Some(e.context(format!("member {}", members.spec.name(*i))));
                failed.push(request);
            }
        }
        let Some(error) = last_error else {
            return Ok(());
        };
        if Instant::now() >= deadline {
            return Err(error);
        }
        pending = failed;
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Member `i`'s id, hex, as its fault layer reports it.
pub(crate) fn member_id(port: u16) -> anyhow::Result<String> {
    let answer = request(port, "GET", "")?;
    match answer.trim().strip_prefix("member ") {
        Some(id) if u64::from_str_radix(id, 16).is_ok() => Ok(id.to_owned()),
        _ => bail!("GET /fault answered {answer:?}"),
    }
}

/// Heals the network of every running member; errors are only logged (a
/// member that restarted meanwhile came back healed).
pub(crate) fn heal_all(members: &Members, log: &mut dyn FnMut(String)) {
    let requests: Vec<(usize, String)> = (0..members.spec.nodes)
        .filter(|&i| members.is_running(i))
        .map(|i| (i, "heal".to_owned()))
        .collect();
    if let Err(e) = tell_all(members, &requests) {
        log(format!("heal failed: {e:#}"));
    }
}

/// The requests that split `side` from the other members: each side cuts the other.
pub(crate) fn partition_requests(ids: &[String], side: &[usize]) -> Vec<(usize, String)> {
    let (inside, outside): (Vec<usize>, Vec<usize>) =
        (0..ids.len()).partition(|i| side.contains(i));
    let cut = |to: &[usize]| {
        let names: Vec<&str> = to
            .iter()
            .filter_map(|&j| ids.get(j).map(String::as_str))
            .collect();
        format!("cut {}", names.join(" "))
    };
    let mut requests = Vec::new();
    for &i in &inside {
        requests.push((i, cut(&outside)));
    }
    for &i in &outside {
        requests.push((i, cut(&inside)));
    }
    requests
}

/// Splits `side` from the rest for a seeded while, then heals.
pub(crate) fn partition(
    members: &Members,
    side: &[usize],
    rng: &mut Rng,
    log: &mut dyn FnMut(String),
) -> anyhow::Result<bool> {
    if side.is_empty() || side.len() >= members.spec.nodes {
        log("partition: skipped (nothing to split)".to_owned());
        return Ok(false);
    }
    let names: Vec<String> = side.iter().map(|&i| members.spec.name(i)).collect();
    let told = tell_all(members, &partition_requests(&members.ids, side));
    if let Err(e) = told {
        log(format!(
            "partition {{{}}}: failed (not counted): {e:#}",
            names.join(",")
        ));
        heal_all(members, log);
        return Ok(false);
    }
    log(format!("partition {{{}}} from the others", names.join(",")));
    std::thread::sleep(rng.millis(PARTITION_MS.0, PARTITION_MS.1));
    heal_all(members, log);
    log("heal: network".to_owned());
    Ok(true)
}

/// The request that makes member `from` stop sending to `to` (all the
/// others when `None`); the others go on sending to it.
pub(crate) fn oneway_request(ids: &[String], from: usize, to: Option<usize>) -> (usize, String) {
    let names: Vec<&str> = (0..ids.len())
        .filter(|&j| j != from && to.is_none_or(|t| t == j))
        .filter_map(|j| ids.get(j).map(String::as_str))
        .collect();
    (from, format!("cut {}", names.join(" ")))
}

/// A one-way partition for a seeded while, then heals: a random member
/// (perhaps the leader) stops sending to one random other member or to all
/// of them, while what they send it still arrives.
pub(crate) fn oneway(
    members: &Members,
    leader: Option<usize>,
    rng: &mut Rng,
    log: &mut dyn FnMut(String),
) -> anyhow::Result<bool> {
    let nodes = members.spec.nodes;
    if nodes < 2 {
        log("partition-oneway: skipped (one member)".to_owned());
        return Ok(false);
    }
    let from = rng.below(nodes as u64) as usize;
    let to = match rng.below(2) {
        0 => None,
        _ => Some((from + 1 + rng.below(nodes as u64 - 1) as usize) % nodes),
    };
    let role = if Some(from) == leader {
        "leader"
    } else {
        "follower"
    };
    let what = format!(
        "partition-oneway: {} ({role}) stops sending to {}",
        members.spec.name(from),
        to.map_or_else(|| "every other member".to_owned(), |t| members.spec.name(t))
    );
    if let Err(e) = tell_all(members, &[oneway_request(&members.ids, from, to)]) {
        log(format!("{what}: failed (not counted): {e:#}"));
        heal_all(members, log);
        return Ok(false);
    }
    log(what);
    std::thread::sleep(rng.millis(PARTITION_MS.0, PARTITION_MS.1));
    heal_all(members, log);
    log("heal: network".to_owned());
    Ok(true)
}

/// Drops and delays every member's peer messages for a seeded while, then heals.
pub(crate) fn lossy(
    members: &Members,
    rng: &mut Rng,
    log: &mut dyn FnMut(String),
) -> anyhow::Result<bool> {
    let drop_percent = DROP_PERCENT.0 + rng.below(DROP_PERCENT.1 - DROP_PERCENT.0);
    let delay = rng.millis(DELAY_MS.0, DELAY_MS.1).as_millis();
    let requests: Vec<(usize, String)> = (0..members.spec.nodes)
        .flat_map(|i| {
            [
                (i, format!("drop 0.{drop_percent:02}")),
                (i, format!("delay {delay}")),
            ]
        })
        .collect();
    let told = tell_all(members, &requests);
    if let Err(e) = told {
        log(format!("lossy: failed (not counted): {e:#}"));
        heal_all(members, log);
        return Ok(false);
    }
    log(format!(
        "lossy: every member drops {drop_percent}% of its peer messages and delays the rest {delay} ms"
    ));
    std::thread::sleep(rng.millis(LOSSY_MS.0, LOSSY_MS.1));
    heal_all(members, log);
    log("heal: network".to_owned());
    Ok(true)
}

/// Cuts member `i`'s power (its unsynced WAL bytes are dropped, or torn by
/// sector with the seed `tear`), then kills it.
pub(crate) fn power_off(members: &mut Members, i: usize, tear: Option<u64>) -> anyhow::Result<()> {
    let request = match tear {
        Some(seed) => format!("power-off {seed}"),
        None => "power-off".to_owned(),
    };
    tell_all(members, &[(i, request)])?;
    // The member runs on a moment without its disk, so that under load a WAL
    // save meets the cut (and is torn or lost) before the process dies.
    std::thread::sleep(POWER_FADE);
    members.kill(i)
}

/// The injected bug `--inject-unsynced-acks`: every member's WAL syncs from
/// now on succeed without making anything durable.
pub(crate) fn acknowledge_unsynced(members: &mut Members) -> anyhow::Result<()> {
    let requests: Vec<(usize, String)> = (0..members.spec.nodes)
        .map(|i| (i, "unsynced-acks".to_owned()))
        .collect();
    tell_all(members, &requests)?;
    members.unsynced_acks = true;
    Ok(())
}

/// How long a member runs after its power is cut.
const POWER_FADE: std::time::Duration = std::time::Duration::from_millis(200);

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_partition_is_told_to_both_sides() {
        let ids: Vec<String> = ["a1", "b2", "c3", "d4", "e5"].map(String::from).to_vec();
        let requests = partition_requests(&ids, &[1, 3]);
        assert_eq!(
            requests,
            vec![
                (1, "cut a1 c3 e5".to_owned()),
                (3, "cut a1 c3 e5".to_owned()),
                (0, "cut b2 d4".to_owned()),
                (2, "cut b2 d4".to_owned()),
                (4, "cut b2 d4".to_owned()),
            ]
        );
        let leader = partition_requests(&ids[..3], &[0]);
        assert_eq!(leader.len(), 3);
        assert!(leader.contains(&(0, "cut b2 c3".to_owned())));
        assert!(leader.contains(&(2, "cut a1".to_owned())));
    }

    #[test]
    fn a_oneway_partition_is_told_to_the_sender_only() {
        let ids: Vec<String> = ["a1", "b2", "c3"].map(String::from).to_vec();
        assert_eq!(oneway_request(&ids, 1, None), (1, "cut a1 c3".to_owned()));
        assert_eq!(oneway_request(&ids, 0, Some(2)), (0, "cut c3".to_owned()));
    }
}
