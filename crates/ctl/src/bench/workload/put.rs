//! `put`: one key per request, as etcd's `benchmark put`.

use api::etcdserverpb::PutRequest;
use api::etcdserverpb::kv_client::KvClient;
use tonic::transport::Channel;

use crate::cli::KeyArgs;
use crate::keys;
use crate::keys::KeyChooser;
use crate::runner::Op;

/// Puts of `--val-size` values to keys chosen from the key space.
#[derive(Debug)]
pub(crate) struct Put {
    keys: KeyArgs,
    value: Vec<u8>,
}

impl Put {
    /// The workload; every put carries the same random value.
    pub(crate) fn new(keys: KeyArgs) -> Self {
        let value = keys::random_value(keys.val_size, 1);
        Self { keys, value }
    }
}

impl Op for Put {
    type Client = (KvClient<Channel>, KeyChooser);

    async fn connect(&self, task: usize, channel: Channel) -> Result<Self::Client, tonic::Status> {
        let k = &self.keys;
        let chooser = KeyChooser::new(k.key_size, k.key_space_size, k.sequential_keys, task as u64);
        Ok((KvClient::new(channel), chooser))
    }

    async fn call(&self, client: &mut Self::Client, seq: u64) -> Result<(), tonic::Status> {
        let (kv, chooser) = client;
        let number = chooser.number(seq);
        let key = chooser.key(number);
        let put = PutRequest {
            key,
            value: self.value.clone(),
            ..Default::default()
        };
        kv.put(put).await.map(drop)
    }
}
