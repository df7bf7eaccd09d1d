//! Fault injection between members: a [`Transport`] wrapper that drops,
//! delays or duplicates messages and cuts links, following rules shared by
//! every member of a test cluster and a seeded random generator.
//!
//! Faults act where messages leave: wrap every member's transport with a
//! [`FaultTransport`] over one [`FaultNet`], and a cut between `a` and `b`
//! stops both `a`'s sends to `b` and `b`'s sends to `a`.

use std::collections::HashMap;
use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::Mutex;
use std::time::Duration;

use bytes::Bytes;
use futures::future::BoxFuture;
use raft_core::Message;
use rand::Rng;
use rand::SeedableRng;
use rand::rngs::SmallRng;

use crate::error::Result;
use crate::error::TransportError;
use crate::handler::RaftHandler;
use crate::handler::SnapshotSource;
use crate::stats::TransportStats;
use crate::transport::Transport;

/// Faults on one directed link.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct LinkFaults {
    /// Share of messages dropped, in [0, 1].
    pub drop_ratio: f64,
    /// Share of delivered messages sent twice, in [0, 1].
    pub duplicate_ratio: f64,
    /// How long each message is held before it is sent.
    pub delay: Duration,
}

/// What becomes of one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    Drop,
    Deliver { copies: usize, delay: Duration },
}

#[derive(Debug)]
struct NetState {
    rng: SmallRng,
    /// Directed links that carry nothing.
    cut: HashSet<(u64, u64)>,
    /// Members cut from everyone, both ways.
    isolated: HashSet<u64>,
    links: HashMap<(u64, u64), LinkFaults>,
    /// Faults on every link that has none of its own in `links`.
    every_link: LinkFaults,
}

/// The fault rules of a whole test cluster, shared by its members' wrappers.
#[derive(Debug)]
pub struct FaultNet {
    seed: u64,
    state: Mutex<NetState>,
}

impl FaultNet {
    /// A healthy network whose random faults follow `seed`.
    pub fn new(seed: u64) -> Arc<Self> {
        let state = NetState {
            rng: SmallRng::seed_from_u64(seed),
            cut: HashSet::new(),
            isolated: HashSet::new(),
            links: HashMap::new(),
            every_link: LinkFaults::default(),
        };
        Arc::new(Self {
            seed,
            state: Mutex::new(state),
        })
    }

    /// The seed, for the test to print.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    fn state(&self) -> std::sync::MutexGuard<'_, NetState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Cuts the link between `a` and `b` in both directions.
    pub fn cut(&self, a: u64, b: u64) {
        let mut s = self.state();
        s.cut.insert((a, b));
        s.cut.insert((b, a));
    }

    /// Cuts the link from `from` to `to` only.
    pub fn cut_one_way(&self, from: u64, to: u64) {
        self.state().cut.insert((from, to));
    }

    /// Cuts `member` from everyone, both ways.
    pub fn isolate(&self, member: u64) {
        self.state().isolated.insert(member);
    }

    /// Sets random faults on the link from `from` to `to`.
    pub fn set_link(&self, from: u64, to: u64, faults: LinkFaults) {
        check_ratios(&faults);
        self.state().links.insert((from, to), faults);
    }

    /// Sets random faults on every link that has none of its own (see
    /// [`FaultNet::set_link`]): how a member that knows no peer ids makes its
    /// own sends lossy.
    pub fn set_every_link(&self, faults: LinkFaults) {
        check_ratios(&faults);
        self.state().every_link = faults;
    }

    /// The faults [`FaultNet::set_every_link`] set.
    pub fn every_link(&self) -> LinkFaults {
        self.state().every_link
    }

    /// Restores the links between `a` and `b` (both ways), cuts and faults alike.
    pub fn heal_pair(&self, a: u64, b: u64) {
        let mut s = self.state();
        for link in [(a, b), (b, a)] {
            s.cut.remove(&link);
            s.links.remove(&link);
        }
    }

    /// Restores `member`'s links after [`FaultNet::isolate`].
    pub fn rejoin(&self, member: u64) {
        self.state().isolated.remove(&member);
    }

    /// Restores every link: no cuts, no isolation, no random faults.
    pub fn heal(&self) {
        let mut s = self.state();
        s.cut.clear();
        s.isolated.clear();
        s.links.clear();
        s.every_link = LinkFaults::default();
    }

    /// True if nothing passes from `from` to `to`.
    pub fn is_cut(&self, from: u64, to: u64) -> bool {
        let s = self.state();
        s.cut.contains(&(from, to)) || s.isolated.contains(&from) || s.isolated.contains(&to)
    }

    fn fate(&self, from: u64, to: u64) -> Fate {
        let mut s = self.state();
        if s.cut.contains(&(from, to)) || s.isolated.contains(&from) || s.isolated.contains(&to) {
            return Fate::Drop;
        }
        let link = s.links.get(&(from, to)).copied().unwrap_or(s.every_link);
        if link == LinkFaults::default() {
            return Fate::Deliver {
                copies: 1,
                delay: Duration::ZERO,
            };
        }
        if link.drop_ratio > 0.0 && s.rng.random_bool(link.drop_ratio) {
            return Fate::Drop;
        }
        let copies = if link.duplicate_ratio > 0.0 && s.rng.random_bool(link.duplicate_ratio) {
            2
        } else {
            1
        };
        Fate::Deliver {
            copies,
            delay: link.delay,
        }
    }
}

/// Panics unless both ratios of `faults` lie in [0, 1].
fn check_ratios(faults: &LinkFaults) {
    assert!(
        (0.0..=1.0).contains(&faults.drop_ratio),
        "drop_ratio {} outside [0, 1]",
        faults.drop_ratio
    );
    assert!(
        (0.0..=1.0).contains(&faults.duplicate_ratio),
        "duplicate_ratio {} outside [0, 1]",
        faults.duplicate_ratio
    );
}

/// One member's transport, seen through the network's faults.
pub struct FaultTransport {
    inner: Arc<dyn Transport>,
    net: Arc<FaultNet>,
    member_id: u64,
    /// Told of snapshots the faults swallow, as the real transport would be.
    handler: Arc<dyn RaftHandler>,
}

impl std::fmt::Debug for FaultTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FaultTransport")
            .field("member_id", &self.member_id)
            .field("net", &self.net)
            .finish()
    }
}

impl FaultTransport {
    /// Wraps `inner`, the transport of `member_id`.
    pub fn new(
        inner: Arc<dyn Transport>,
        member_id: u64,
        net: Arc<FaultNet>,
        handler: Arc<dyn RaftHandler>,
    ) -> Arc<Self> {
        Arc::new(Self {
            inner,
            net,
            member_id,
            handler,
        })
    }

    /// Sorts messages into those to send now and those to send later.
    fn route(&self, msgs: Vec<Message>) -> (Vec<Message>, Vec<(Duration, Message)>) {
        let mut now = Vec::with_capacity(msgs.len());
        let mut later = Vec::new();
        for m in msgs {
            let Fate::Deliver { copies, delay } = self.net.fate(self.member_id, m.to) else {
                continue;
            };
            for _ in 1..copies {
                push(&mut now, &mut later, delay, m.clone());
            }
            push(&mut now, &mut later, delay, m);
        }
        (now, later)
    }

    fn send_later(&self, later: Vec<(Duration, Message)>) {
        for (delay, m) in later {
            let inner = self.inner.clone();
            tokio::spawn(async move {
                tokio::time::sleep(delay).await;
                inner.send(vec![m]);
            });
        }
    }
}

fn push(now: &mut Vec<Message>, later: &mut Vec<(Duration, Message)>, delay: Duration, m: Message) {
    if delay.is_zero() {
        now.push(m)
    } else {
        later.push((delay, m))
    }
}

impl Transport for FaultTransport {
    fn send(&self, msgs: Vec<Message>) {
        let (now, later) = self.route(msgs);
        if !now.is_empty() {
            self.inner.send(now);
        }
        self.send_later(later);
    }

    fn send_wait(&self, msgs: Vec<Message>) -> BoxFuture<'_, Result<()>> {
        let (now, later) = self.route(msgs);
        self.send_later(later);
        self.inner.send_wait(now)
    }

    fn send_snapshot(&self, msg: Message, data: SnapshotSource) {
        let to = msg.to;
        match self.net.fate(self.member_id, to) {
            Fate::Drop => {
                self.handler.report_unreachable(to);
                self.handler.report_snapshot(to, true);
            }
            Fate::Deliver { .. } => self.inner.send_snapshot(msg, data),
        }
    }

    fn request(&self, to: u64, body: Bytes) -> BoxFuture<'static, Result<Bytes>> {
        // A request needs the answer to come back too.
        if self.net.is_cut(self.member_id, to) || self.net.is_cut(to, self.member_id) {
            let reason = "link cut by fault injection".to_owned();
            return Box::pin(async move { Err(TransportError::Unreachable { peer: to, reason }) });
        }
        self.inner.request(to, body)
    }

    fn add_peer(&self, id: u64, addr: SocketAddr) {
        self.inner.add_peer(id, addr);
    }

    fn remove_peer(&self, id: u64) {
        self.inner.remove_peer(id);
    }

    fn update_peer(&self, id: u64, addr: SocketAddr) {
        self.inner.update_peer(id, addr);
    }

    fn stats(&self) -> TransportStats {
        self.inner.stats()
    }
}
