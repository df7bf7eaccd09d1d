//! The recorded history: every operation's invocation, completion and
//! outcome, as JSON lines, plus what the watchers saw.

use std::io::BufRead;
use std::io::Write;

use anyhow::Context;
use serde::Deserialize;
use serde::Serialize;

/// What a client asked for. Every put writes a value unique in the run, so
/// a value read back names the write that produced it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub(crate) enum Request {
    /// `Put(key, value)`.
    Put { key: String, value: String },
    /// `Range(key)`; only linearizable gets take part in the KV check.
    Get { key: String, linearizable: bool },
    /// `DeleteRange(key)`.
    Delete { key: String },
    /// Kubernetes-style: `if mod_revision(key) == expected then put else get`;
    /// `expected == 0` means "the key does not exist".
    Txn {
        key: String,
        expected_mod_revision: u64,
        value: String,
    },
}

impl Request {
    /// The one key the request touches.
    pub(crate) fn key(&self) -> &str {
        match self {
            Request::Put { key, .. }
            | Request::Get { key, .. }
            | Request::Delete { key }
            | Request::Txn { key, .. } => key,
        }
    }

    /// True for requests that may change the store.
    pub(crate) fn is_write(&self) -> bool {
        !matches!(self, Request::Get { .. })
    }
}

/// A key's value and modification revision, as a read returned it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub(crate) struct ReadKv {
    /// The value.
    pub(crate) value: String,
    /// Its `mod_revision`.
    pub(crate) mod_revision: u64,
}

/// What the server answered (header revision first in every variant).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub(crate) enum Response {
    /// A put, done at `revision`.
    Put { revision: u64 },
    /// A get at header `revision`.
    Get { revision: u64, kv: Option<ReadKv> },
    /// A delete; `deleted` keys were removed at `revision` when non-zero.
    Delete { revision: u64, deleted: u64 },
    /// A txn; on failure, `kv` is what the else-branch get returned.
    Txn {
        revision: u64,
        succeeded: bool,
        kv: Option<ReadKv>,
    },
}

impl Response {
    /// The response header's revision.
    pub(crate) fn revision(&self) -> u64 {
        match self {
            Response::Put { revision }
            | Response::Get { revision, .. }
            | Response::Delete { revision, .. }
            | Response::Txn { revision, .. } => *revision,
        }
    }

    /// The revision this response's write created, if it wrote.
    pub(crate) fn write_revision(&self) -> Option<u64> {
        match self {
            Response::Put { revision } => Some(*revision),
            Response::Delete { revision, deleted } if *deleted > 0 => Some(*revision),
            Response::Txn {
                revision,
                succeeded: true,
                ..
            } => Some(*revision),
            _ => None,
        }
    }
}

/// One operation of the history. `response == None` means indeterminate:
/// it timed out or failed in a way that leaves open whether it applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Operation {
    /// The client that ran it.
    pub(crate) client: u32,
    /// Invocation time, nanoseconds since the run began.
    pub(crate) call_ns: u64,
    /// Completion time; `None` when indeterminate.
    pub(crate) return_ns: Option<u64>,
    /// The request.
    pub(crate) request: Request,
    /// The response; `None` when indeterminate.
    pub(crate) response: Option<Response>,
}

impl Operation {
    /// Completion time, indeterminate operations never completing.
    pub(crate) fn return_or_max(&self) -> u64 {
        self.return_ns.unwrap_or(u64::MAX)
    }
}

/// What one watcher saw, in the order it saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub(crate) enum WatchRecord {
    /// A (re)started watch from `start_revision`; events before it are not expected.
    Start { watcher: u32, start_revision: u64 },
    /// One watch response's events (a response carries whole revisions).
    Events {
        watcher: u32,
        events: Vec<WatchEvent>,
    },
    /// A progress notification at `revision`.
    Progress { watcher: u32, revision: u64 },
}

/// One watch event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct WatchEvent {
    /// The key.
    pub(crate) key: String,
    /// The event's `mod_revision`.
    pub(crate) revision: u64,
    /// The value of a put; `None` for a delete.
    pub(crate) value: Option<String>,
}

/// A line of the history file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
pub(crate) enum Line {
    /// A KV operation.
    Op(Operation),
    /// A watch record.
    Watch(WatchRecord),
}

/// Writes the history as JSON lines.
pub(crate) fn write(
    path: &std::path::Path,
    ops: &[Operation],
    watches: &[WatchRecord],
) -> anyhow::Result<()> {
    let file =
        std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
    let mut out = std::io::BufWriter::new(file);
    for op in ops {
        serde_json::to_writer(&mut out, &Line::Op(op.clone()))?;
        out.write_all(b"\n")?;
    }
    for w in watches {
        serde_json::to_writer(&mut out, &Line::Watch(w.clone()))?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(())
}

/// Reads a history written by [`write`].
pub(crate) fn read(path: &std::path::Path) -> anyhow::Result<(Vec<Operation>, Vec<WatchRecord>)> {
    let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let (mut ops, mut watches) = (Vec::new(), Vec::new());
    for (n, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line?;
        match serde_json::from_str(&line).with_context(|| format!("line {}", n + 1))? {
            Line::Op(op) => ops.push(op),
            Line::Watch(w) => watches.push(w),
        }
    }
    Ok((ops, watches))
}
