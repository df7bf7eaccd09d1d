//! The gRPC connections the clients share.

use anyhow::Context;
use tonic::transport::Channel;
use tonic::transport::Endpoint;

use crate::cli::Global;

/// Opens `--conns` connections; connection `i` goes to endpoint `i` modulo
/// the number of endpoints, so load spreads over the members as etcd's
/// round-robin balancer spreads it.
pub(crate) async fn open(global: &Global) -> anyhow::Result<Vec<Channel>> {
    let endpoints: Vec<String> = global
        .endpoints
        .iter()
        .map(|e| e.trim())
        .filter(|e| !e.is_empty())
        .map(url)
        .collect();
    let mut conns = Vec::with_capacity(global.conns);
    for i in 0..global.conns {
        let url = &endpoints[i % endpoints.len()];
        let endpoint = Endpoint::from_shared(url.clone())
            .with_context(|| format!("bad endpoint {url}"))?
            .connect_timeout(global.dial_timeout())
            .tcp_nodelay(true);
        let channel = endpoint
            .connect()
            .await
            .with_context(|| format!("connecting to {url}"))?;
        conns.push(channel);
    }
    Ok(conns)
}

/// An endpoint as a URL: `host:port` becomes `http://host:port`.
pub(crate) fn url(endpoint: &str) -> String {
    if endpoint.contains("://") {
        endpoint.to_string()
    } else {
        format!("http://{endpoint}")
    }
}

/// The connection client `i` uses.
pub(crate) fn for_client(conns: &[Channel], i: usize) -> Channel {
    assert!(!conns.is_empty(), "open() makes at least one connection");
    conns[i % conns.len()].clone()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn bare_endpoints_get_http() {
        assert_eq!(url("127.0.0.1:2379"), "http://127.0.0.1:2379");
        assert_eq!(url("https://h:1"), "https://h:1");
    }
}
