//! `txn`: a transaction read from stdin in etcdctl's syntax.

use api::etcdserverpb::kv_client::KvClient;

use super::emit;
use crate::cli::TxnArgs;
use crate::connect::Session;
use crate::failure::Failure;
use crate::txn_syntax::read_txn;

/// `txn [-i]`.
pub(crate) async fn txn(session: &Session, args: &TxnArgs) -> anyhow::Result<()> {
    if !args.args.is_empty() {
        return Err(Failure::bad_args("txn command does not accept argument"));
    }
    let channel = session.channel().await?;
    let mut stdin = std::io::stdin().lock();
    let interactive = args.interactive;
    let request = read_txn(&mut stdin, |prompt| {
        if interactive {
            println!("{prompt}");
        }
    })
    .map_err(Failure::invalid_input)?;
    let mut client = KvClient::new(channel);
    let response = session.call(client.txn(request)).await?;
    emit(&session.printer().txn(&response)?)
}
