//! Tests that start processes: run one at a time.

use std::io::BufRead;
use std::io::BufReader;
use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::process::Stdio;
use std::sync::mpsc;
use std::time::Duration;

use rand::Rng;
use wal::Wal;
use wal::WalSnapshot;

use crate::common::entries;
use crate::common::rng;
use crate::common::state;
use crate::common::std_opts;

const TEST: &str = "serial::sigkill_during_saves_loses_no_returned_save";
const CHILD_ENV: &str = "WAL_SIGKILL_CHILD_DIR";
const SEGMENT_BYTES: u64 = 16 * 1024;
const ROUNDS: usize = 8;

/// Saves batches forever, printing `saved <last index>` after each save returned.
fn child(dir: &Path) -> ! {
    let mut log = match Wal::open(dir, WalSnapshot::default(), std_opts(SEGMENT_BYTES)) {
        Ok((log, _)) => log,
        Err(_) => Wal::create(dir, b"sigkill", std_opts(SEGMENT_BYTES)).unwrap(),
    };
    let mut stdout = std::io::stdout().lock();
    let mut batch = 1;
    loop {
        let next = log.last_index() + 1;
        let last = next + batch % 7;
        log.save(&state(1, next - 1), &entries(1, next, last))
            .unwrap();
        writeln!(stdout, "saved {last}").unwrap();
        stdout.flush().unwrap();
        batch += 1;
    }
}

/// A child process saving under load is killed with SIGKILL at a random point,
/// many times; every save it reported returned is in the log after each kill.
#[test]
fn sigkill_during_saves_loses_no_returned_save() {
    if let Some(dir) = std::env::var_os(CHILD_ENV) {
        child(Path::new(&dir));
    }
    let mut rng = rng(TEST);
    let dir = tempfile::tempdir().unwrap();
    let mut acked = 0;
    for round in 0..ROUNDS {
        let kill_after = rng.random_range(1..120);
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([TEST, "--exact", "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let (tx, rx) = mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let n = line
                    .strip_prefix("saved ")
                    .and_then(|n| n.parse::<u64>().ok());
                if n.is_some_and(|n| tx.send(n).is_err()) {
                    break;
                }
            }
        });
        let mut seen = 0;
        while seen < kill_after {
            match rx.recv_timeout(Duration::from_secs(60)) {
                Ok(n) => acked = acked.max(n),
                Err(e) => {
                    let _ = child.kill();
                    panic!("round {round}: the child stopped reporting saves: {e}");
                }
            }
            seen += 1;
        }
        child.kill().unwrap();
        child.wait().unwrap();
        reader.join().unwrap();
        // Lines printed before the kill are saves that returned.
        acked = rx.try_iter().fold(acked, u64::max);

        let (_, read) =
            Wal::open(dir.path(), WalSnapshot::default(), std_opts(SEGMENT_BYTES)).unwrap();
        assert!(
            read.entries.len() as u64 >= acked,
            "round {round}: {} entries, {acked} acknowledged",
            read.entries.len()
        );
        assert_eq!(
            read.entries[..acked as usize],
            entries(1, 1, acked)[..],
            "round {round}"
        );
        println!(
            "round {round}: killed after {kill_after} saves; {acked} entries acknowledged, {} read",
            read.entries.len()
        );
    }
    assert!(
        crate::common::segment_files(dir.path()).len() > 1,
        "no segment was cut under load"
    );
}
