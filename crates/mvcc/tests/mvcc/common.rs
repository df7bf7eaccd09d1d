//! Helpers shared by the test modules.

use std::path::Path;

use mvcc::*;
use tempfile::TempDir;

/// A store in a temporary directory that tracks the next raft index.
pub struct Harness {
    pub dir: TempDir,
    pub store: Option<Store>,
    pub index: u64,
}

impl Harness {
    pub fn new() -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), StoreOptions::default()).unwrap();
        Harness {
            dir,
            store: Some(store),
            index: 0,
        }
    }

    pub fn store(&self) -> &Store {
        self.store.as_ref().unwrap()
    }

    pub fn apply(&mut self, op: WriteOp) -> Applied {
        self.index += 1;
        self.store()
            .apply(self.index, op)
            .unwrap()
            .expect("a new index is applied")
    }

    /// Applies and unwraps the response.
    pub fn ok(&mut self, op: WriteOp) -> WriteResponse {
        let applied = self.apply(op);
        applied
            .response
            .unwrap_or_else(|e| panic!("unexpected error {e:?}"))
    }

    pub fn err(&mut self, op: WriteOp) -> AppliedError {
        self.apply(op).response.expect_err("the request must fail")
    }

    pub fn reopen(&mut self) {
        drop(self.store.take());
        self.store = Some(Store::open(self.dir.path(), StoreOptions::default()).unwrap());
    }

    pub fn get(&self, key: &[u8]) -> Option<KeyValue> {
        self.store()
            .range(&get(key))
            .unwrap()
            .kvs
            .into_iter()
            .next()
    }

    pub fn all(&self, revision: i64) -> RangeResponse {
        let req = RangeRequest {
            key: vec![0],
            range_end: vec![0],
            revision,
            ..Default::default()
        };
        self.store().range(&req).unwrap()
    }
}

pub fn get(key: &[u8]) -> RangeRequest {
    RangeRequest {
        key: key.to_vec(),
        ..Default::default()
    }
}

pub fn put(key: &[u8], value: &[u8]) -> WriteOp {
    WriteOp::Put(put_req(key, value))
}

pub fn put_req(key: &[u8], value: &[u8]) -> PutRequest {
    PutRequest {
        key: key.to_vec(),
        value: value.to_vec(),
        ..Default::default()
    }
}

pub fn delete(key: &[u8], range_end: &[u8]) -> WriteOp {
    WriteOp::DeleteRange(DeleteRangeRequest {
        key: key.to_vec(),
        range_end: range_end.to_vec(),
        prev_kv: true,
    })
}

pub fn open(path: &Path) -> Store {
    Store::open(path, StoreOptions::default()).unwrap()
}

/// A seed from `MVCC_SEED` or the clock, printed so a failure can be replayed.
pub fn seed(test: &str) -> u64 {
    let seed = std::env::var("MVCC_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        });
    println!("{test}: seed {seed} (replay with MVCC_SEED={seed})");
    seed
}
