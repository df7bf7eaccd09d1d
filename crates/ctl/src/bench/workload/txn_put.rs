//! `txn-put`: transactions of `--txn-ops` puts to distinct keys.

use api::etcdserverpb::PutRequest;
use api::etcdserverpb::RequestOp;
use api::etcdserverpb::TxnRequest;
use api::etcdserverpb::kv_client::KvClient;
use api::etcdserverpb::request_op::Request;
use tonic::transport::Channel;

use crate::cli::TxnPutArgs;
use crate::keys;
use crate::keys::KeyChooser;
use crate::runner::Op;

/// Unconditional transactions whose success branch puts several keys.
#[derive(Debug)]
pub(crate) struct TxnPut {
    args: TxnPutArgs,
    value: Vec<u8>,
}

impl TxnPut {
    /// The workload; every put carries the same random value.
    pub(crate) fn new(args: TxnPutArgs) -> Self {
        let value = keys::random_value(args.keys.val_size, 1);
        Self { args, value }
    }

    fn request(&self, chooser: &mut KeyChooser, seq: u64) -> TxnRequest {
        let numbers: Vec<u64> = chooser.distinct(seq, self.args.txn_ops).collect();
        let success = numbers
            .into_iter()
            .map(|n| RequestOp {
                request: Some(Request::RequestPut(PutRequest {
                    key: chooser.key(n),
                    value: self.value.clone(),
                    ..Default::default()
                })),
            })
            .collect();
        TxnRequest {
            success,
            ..Default::default()
        }
    }
}

impl Op for TxnPut {
    type Client = (KvClient<Channel>, KeyChooser);

    async fn connect(&self, task: usize, channel: Channel) -> Result<Self::Client, tonic::Status> {
        let k = &self.args.keys;
        let chooser = KeyChooser::new(k.key_size, k.key_space_size, k.sequential_keys, task as u64);
        Ok((KvClient::new(channel), chooser))
    }

    async fn call(&self, client: &mut Self::Client, seq: u64) -> Result<(), tonic::Status> {
        let (kv, chooser) = client;
        let txn = self.request(chooser, seq);
        kv.txn(txn).await.map(drop)
    }
}
