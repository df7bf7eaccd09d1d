//! Fault injection for robustness tests (`cargo xtask chaos`), never for
//! production: off unless `keel` starts with `KEEL_FAULT_INJECTION=1` in its
//! environment (not an etcd flag, and not listed among keel's flags).
//!
//! When on, the member's peer transport is wrapped in transport-quic's
//! [`FaultTransport`] over a network of its own, its WAL writes go through
//! a [`WriteBackFs`] (unsynced bytes stay in memory), and the HTTP listener
//! serves `/fault`:
//! - `GET /fault` answers `member <hex id>`;
//! - `POST /fault` takes one request as its body: `isolate`,
//!   `cut <hex id>...`, `drop <ratio>`, `delay <ms>`, `heal`,
//!   `power-off [seed]`, `slow-apply <ms>` (the apply thread waits that long
//!   before each batch: a slow store), or the injected bug `unsynced-acks` (WAL syncs that
//!   make nothing durable: the harness must then report lost writes).
//!
//! The fault layer filters what this member sends, so a partition needs both
//! sides told: isolating a member is `isolate` to it and `cut <its id>` to
//! every other member. `power-off` makes every later WAL write and sync fail
//! and drops what was not synced (with a seed: tears it, each sector written
//! or not as the seed chooses), and the store goes back to its last sync
//! at the next boot (see `store_power`); the harness then kills the process.

mod command;
mod store_power;
mod write_back_fs;

use std::sync::Arc;
use std::sync::OnceLock;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering;

use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;
use transport_quic::FaultNet;
use transport_quic::FaultTransport;
use transport_quic::RaftHandler;
use transport_quic::Transport;

use self::command::FaultCommand;
pub(crate) use self::store_power::booted as store_booted;
pub(crate) use self::store_power::roll_back_after_power_cut;
pub(crate) use self::store_power::store_synced;
use self::write_back_fs::WriteBackFs;

/// The environment variable that turns fault injection on (value `1`).
pub(crate) const SWITCH_VAR: &str = "KEEL_FAULT_INJECTION";

/// The faults of this process, once its member has started with the switch on.
#[derive(Debug)]
struct Injector {
    member_id: u64,
    net: Arc<FaultNet>,
}

static INJECTOR: OnceLock<Injector> = OnceLock::new();
static WAL_FS: OnceLock<WriteBackFs> = OnceLock::new();
/// Set by `slow-apply`: milliseconds the apply thread waits before each batch.
static APPLY_DELAY_MS: AtomicU64 = AtomicU64::new(0);

/// Test only: the `slow-apply` fault's wait, before the apply thread applies a batch
/// (never set unless fault injection is on).
pub(crate) fn before_apply() {
    let ms = APPLY_DELAY_MS.load(Ordering::Acquire);
    if ms > 0 {
        std::thread::sleep(std::time::Duration::from_millis(ms));
    }
}

/// True when `KEEL_FAULT_INJECTION=1`.
pub(crate) fn enabled() -> bool {
    std::env::var_os(SWITCH_VAR).is_some_and(|v| v == "1")
}

/// The file system the WAL writes through: the real one, or with the
/// switch on, one that keeps unsynced bytes in memory for `power-off`.
pub(crate) fn wal_file_system() -> Arc<dyn wal::FileSystem> {
    if enabled() {
        Arc::new(WAL_FS.get_or_init(WriteBackFs::default).clone())
    } else {
        Arc::new(wal::StdFs)
    }
}

/// `inner`, or with the switch on, `inner` behind the fault layer that
/// `/fault` controls. Only the first member of a process is wrapped.
pub(crate) fn wrap_peer_transport(
    inner: Arc<dyn Transport>,
    member_id: u64,
    handler: Arc<dyn RaftHandler>,
) -> Arc<dyn Transport> {
    if !enabled() {
        return inner;
    }
    // Random drops follow the member id: runs differ in timing anyway.
    let net = FaultNet::new(member_id);
    if INJECTOR
        .set(Injector {
            member_id,
            net: Arc::clone(&net),
        })
        .is_err()
    {
        tracing::warn!("fault injection already serves another member of this process");
        return inner;
    }
    tracing::warn!(
        member_id = format!("{member_id:x}"),
        "{SWITCH_VAR}=1: peer traffic and WAL writes go through the fault layer (tests only)"
    );
    FaultTransport::new(inner, member_id, net, handler)
}

/// Adds `/fault` to `router` when the fault layer is on.
pub(crate) fn add_routes(router: Router) -> Router {
    if INJECTOR.get().is_none() {
        return router;
    }
    router.route("/fault", get(describe).post(control))
}

/// `GET /fault`: which member this is.
async fn describe() -> (StatusCode, String) {
    match INJECTOR.get() {
        Some(injector) => (StatusCode::OK, format!("member {:x}\n", injector.member_id)),
        None => (StatusCode::NOT_FOUND, "fault injection is off\n".into()),
    }
}

/// `POST /fault`: applies one request.
async fn control(body: String) -> (StatusCode, String) {
    let Some(injector) = INJECTOR.get() else {
        return (StatusCode::NOT_FOUND, "fault injection is off\n".into());
    };
    match FaultCommand::parse(&body) {
        Ok(command) => {
            tracing::warn!(request = body.trim(), "fault injected");
            injector.apply(command);
            (StatusCode::OK, "ok\n".into())
        }
        Err(reason) => (StatusCode::BAD_REQUEST, format!("{reason}\n")),
    }
}

impl Injector {
    fn apply(&self, command: FaultCommand) {
        let net = &self.net;
        match command {
            FaultCommand::Isolate => net.isolate(self.member_id),
            FaultCommand::Cut(peers) => {
                for peer in peers {
                    net.cut(self.member_id, peer);
                }
            }
            FaultCommand::Drop(ratio) => {
                let mut faults = net.every_link();
                faults.drop_ratio = ratio;
                net.set_every_link(faults);
            }
            FaultCommand::Delay(delay) => {
                let mut faults = net.every_link();
                faults.delay = delay;
                net.set_every_link(faults);
            }
            FaultCommand::Heal => net.heal(),
            FaultCommand::PowerOff(cut) => {
                net.isolate(self.member_id);
                WAL_FS.get_or_init(WriteBackFs::default).power_off(cut);
                store_power::cut();
            }
            FaultCommand::UnsyncedAcks => {
                WAL_FS
                    .get_or_init(WriteBackFs::default)
                    .acknowledge_unsynced();
            }
            FaultCommand::SlowApply(delay) => {
                let ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
                APPLY_DELAY_MS.store(ms, Ordering::Release);
            }
        }
    }
}
