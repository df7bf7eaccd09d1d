//! `range KEY [END]`: reads, linearizable or serializable.

use api::etcdserverpb::RangeRequest;
use api::etcdserverpb::kv_client::KvClient;
use tonic::transport::Channel;

use crate::cli::Consistency;
use crate::cli::RangeArgs;
use crate::runner::Op;

/// The same range request, over and over.
#[derive(Debug)]
pub(crate) struct Range {
    request: RangeRequest,
}

impl Range {
    /// The workload for the command line's key, end, limit and consistency.
    pub(crate) fn new(args: &RangeArgs) -> Self {
        let request = RangeRequest {
            key: args.key.as_bytes().to_vec(),
            range_end: args
                .end
                .as_deref()
                .map(|e| e.as_bytes().to_vec())
                .unwrap_or_default(),
            limit: args.limit,
            serializable: args.consistency == Consistency::S,
            ..Default::default()
        };
        Self { request }
    }
}

impl Op for Range {
    type Client = KvClient<Channel>;

    async fn connect(&self, _task: usize, channel: Channel) -> Result<Self::Client, tonic::Status> {
        Ok(KvClient::new(channel))
    }

    async fn call(&self, client: &mut Self::Client, _seq: u64) -> Result<(), tonic::Status> {
        client.range(self.request.clone()).await.map(drop)
    }
}
