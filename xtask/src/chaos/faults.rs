//! The faults and their seeded schedule.

use std::time::Duration;

use clap::ValueEnum;

use super::members::Members;
use super::members::etcdctl;
use super::members::leader;
use super::network;

/// A fault the injector can apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Fault {
    /// kill -9 a follower, restart it after a pause.
    Kill,
    /// kill -9 the leader, restart it after a pause.
    RestartLeader,
    /// SIGSTOP a member (a crude partition), SIGCONT it after a pause.
    Pause,
    /// SIGSTOP the leader, SIGCONT it after a pause.
    PauseLeader,
    /// Transfer leadership to a follower (`etcdctl move-leader`).
    MoveLeader,
    /// Defragment a member during load (compaction runs in the harness throughout).
    Defrag,
    /// Cut the leader off from the others (keel's fault layer), then heal.
    PartitionLeader,
    /// Cut a minority of members off from the majority, then heal.
    PartitionMinority,
    /// Drop 10-30% of every member's peer messages and delay the rest, then heal.
    Lossy,
    /// Cut a member's power (its unsynced WAL bytes are dropped), then restart it.
    PowerOff,
    /// kill -9 a follower for long enough to fall behind the leader's log
    /// (with a low `--snapshot-count`, it catches up through a snapshot).
    Lag,
    /// A member stops sending to one or all others (it still receives), then heal.
    PartitionOneway,
}

impl Fault {
    /// Every fault kind.
    pub(crate) const ALL: [Fault; 12] = [
        Fault::Kill,
        Fault::RestartLeader,
        Fault::Pause,
        Fault::PauseLeader,
        Fault::MoveLeader,
        Fault::Defrag,
        Fault::PartitionLeader,
        Fault::PartitionMinority,
        Fault::Lossy,
        Fault::PowerOff,
        Fault::Lag,
        Fault::PartitionOneway,
    ];

    /// The name `--fault` takes.
    pub(crate) fn name(self) -> String {
        self.to_possible_value()
            .map_or_else(|| format!("{self:?}"), |v| v.get_name().to_owned())
    }

    /// True for the faults only keel's test-only fault layer can inject.
    pub(crate) fn needs_fault_layer(self) -> bool {
        matches!(
            self,
            Fault::PartitionLeader
                | Fault::PartitionMinority
                | Fault::PartitionOneway
                | Fault::Lossy
                | Fault::PowerOff
        )
    }
}

/// A tiny seeded generator (SplitMix64): xtask carries no rand crate.
#[derive(Debug)]
pub(crate) struct Rng(u64);

impl Rng {
    /// A generator from `seed`.
    pub(crate) fn new(seed: u64) -> Self {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n > 0`).
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        assert!(n > 0, "below(0)");
        self.next() % n
    }

    /// A duration between `lo` and `hi` milliseconds.
    pub(crate) fn millis(&mut self, lo: u64, hi: u64) -> Duration {
        Duration::from_millis(lo + self.below(hi.saturating_sub(lo).max(1)))
    }
}

/// How long a lagging follower stays down, in milliseconds.
const LAG_MS: (u64, u64) = (4000, 7000);

/// A random minority of `nodes` members (at least one).
fn minority(nodes: usize, rng: &mut Rng) -> Vec<usize> {
    let mut all: Vec<usize> = (0..nodes).collect();
    for i in (1..all.len()).rev() {
        let j = rng.below(i as u64 + 1) as usize;
        all.swap(i, j);
    }
    all.truncate(((nodes.saturating_sub(1)) / 2).max(1));
    all.sort_unstable();
    all
}

/// Applies `fault` (and heals it after a seeded pause), logging each step
/// or why it was skipped; false when skipped.
pub(crate) fn apply(
    fault: Fault,
    members: &mut Members,
    rng: &mut Rng,
    log: &mut dyn FnMut(String),
) -> anyhow::Result<bool> {
    let nodes = members.spec.nodes;
    let found = leader(members);
    let leader_index = found.as_ref().map(|(l, _)| *l);
    let followers: Vec<usize> = (0..nodes)
        .filter(|&i| Some(i) != leader_index && members.is_running(i))
        .collect();
    let follower = match followers.len() {
        0 => None,
        n => followers.get(rng.below(n as u64) as usize).copied(),
    };
    if fault == Fault::Lossy {
        return network::lossy(members, rng, log);
    }
    if fault == Fault::PartitionMinority {
        return network::partition(members, &minority(nodes, rng), rng, log);
    }
    if fault == Fault::PartitionOneway {
        return network::oneway(members, leader_index, rng, log);
    }
    let target = match fault {
        Fault::Kill | Fault::Pause | Fault::Defrag | Fault::Lag => follower.or(leader_index),
        Fault::PowerOff => match rng.below(2) {
            0 => follower.or(leader_index),
            _ => leader_index,
        },
        Fault::RestartLeader
        | Fault::PauseLeader
        | Fault::MoveLeader
        | Fault::PartitionLeader
        | Fault::PartitionMinority
        | Fault::PartitionOneway
        | Fault::Lossy => leader_index,
    };
    let Some(i) = target else {
        log(format!("{fault:?}: skipped (no leader or member found)"));
        return Ok(false);
    };
    let name = members.spec.name(i);
    let role = if Some(i) == leader_index {
        "leader"
    } else {
        "follower"
    };
    match fault {
        Fault::PartitionLeader
        | Fault::PartitionMinority
        | Fault::PartitionOneway
        | Fault::Lossy => {
            return network::partition(members, &[i], rng, log);
        }
        Fault::PowerOff => {
            // Half the cuts tear the unsynced WAL writes sector by sector. Not
            // with the injected bug: every save since it went in is unsynced,
            // and tearing them all leaves damage mid-WAL, which the member
            // refuses at boot; dropped whole, they are lost writes to report.
            let tear = (rng.below(2) == 1).then(|| rng.next());
            let tear = tear.filter(|_| !members.unsynced_acks);
            if let Err(e) = network::power_off(members, i, tear) {
                log(format!("power-off {name} failed (not counted): {e:#}"));
                return Ok(false);
            }
            let wal = match tear {
                Some(seed) => format!("unsynced WAL sectors torn (seed {seed})"),
                None => "unsynced WAL bytes dropped".to_owned(),
            };
            log(format!(
                "power-off {name} ({role}): {wal}, store back to its last sync"
            ));
            std::thread::sleep(rng.millis(500, 3000));
            members.restart(i)?;
            log(format!("heal: restart {name}"));
        }
        Fault::Lag => {
            members.kill(i)?;
            log(format!("kill -9 {name} ({role}) to lag behind"));
            std::thread::sleep(rng.millis(LAG_MS.0, LAG_MS.1));
            members.restart(i)?;
            log(format!("heal: restart {name}"));
        }
        Fault::Kill | Fault::RestartLeader => {
            members.kill(i)?;
            log(format!("kill -9 {name} ({role})"));
            std::thread::sleep(rng.millis(500, 3000));
            members.restart(i)?;
            log(format!("heal: restart {name}"));
        }
        Fault::Pause | Fault::PauseLeader => {
            members.pause(i);
            log(format!("SIGSTOP {name} ({role})"));
            std::thread::sleep(rng.millis(1000, 4000));
            members.resume(i);
            log(format!("heal: SIGCONT {name}"));
        }
        Fault::MoveLeader => {
            let ids = found.map(|(_, ids)| ids).unwrap_or_default();
            let to = follower.and_then(|f| ids.get(f).cloned().flatten());
            match to {
                Some(id) => match etcdctl(&members.spec, i, &["move-leader", &id]) {
                    Ok(_) => log(format!("move-leader {name} -> {id}")),
                    Err(e) => {
                        log(format!(
                            "move-leader {name} -> {id} failed (not counted): {e}"
                        ));
                        return Ok(false);
                    }
                },
                None => {
                    log("move-leader: skipped (no follower id)".to_owned());
                    return Ok(false);
                }
            }
        }
        Fault::Defrag => match etcdctl(&members.spec, i, &["defrag"]) {
            Ok(_) => log(format!("defrag {name} ({role})")),
            Err(e) => {
                log(format!("defrag {name} failed (not counted): {e}"));
                return Ok(false);
            }
        },
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_minority_is_less_than_half() {
        let mut rng = Rng::new(5);
        for nodes in [3, 5, 7] {
            for _ in 0..20 {
                let side = minority(nodes, &mut rng);
                assert_eq!(side.len(), (nodes - 1) / 2);
                assert!(side.iter().all(|&i| i < nodes));
                assert!(side.windows(2).all(|w| w[0] < w[1]));
            }
        }
        assert_eq!(Fault::PartitionLeader.name(), "partition-leader");
        assert!(Fault::PowerOff.needs_fault_layer() && !Fault::Lag.needs_fault_layer());
        assert_eq!(Fault::PartitionOneway.name(), "partition-oneway");
        assert!(Fault::PartitionOneway.needs_fault_layer());
    }

    #[test]
    fn the_generator_is_a_function_of_the_seed() {
        let draw = |seed| {
            let mut rng = Rng::new(seed);
            (0..8).map(|_| rng.below(6)).collect::<Vec<_>>()
        };
        assert_eq!(draw(7), draw(7));
        assert_ne!(draw(7), draw(8));
        let mut rng = Rng::new(1);
        assert!((0..100).all(|_| (1000..4000).contains(&rng.millis(1000, 4000).as_millis())));
    }
}
