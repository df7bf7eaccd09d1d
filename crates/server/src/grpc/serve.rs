//! Serving the client API: gRPC (plaintext for `http://` client URLs, TLS
//! for `https://`) and the HTTP endpoints on the same listener (HTTP/1.1
//! and HTTP/2), plus the HTTP endpoints alone on `--listen-metrics-urls`.

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use api::etcdserverpb::cluster_server::ClusterServer;
use api::etcdserverpb::kv_server::KvServer;
use api::etcdserverpb::lease_server::LeaseServer;
use api::etcdserverpb::maintenance_server::MaintenanceServer;
use api::etcdserverpb::watch_server::WatchServer;
use futures::StreamExt;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tonic::service::Routes;
use tonic::transport::Certificate;
use tonic::transport::Identity;
use tonic::transport::Server;
use tonic::transport::ServerTlsConfig;
use tonic::transport::server::TcpIncoming;

use super::Limits;
use super::authority::AuthorityFix;
use super::cluster::ClusterService;
use super::kv::KvService;
use super::lease::LeaseService;
use super::maintenance::MaintenanceService;
use super::oversize;
use super::watch::WatchService;
use crate::backend::Backend;
use crate::http;

/// gRPC framing and metadata allowance above `--max-request-bytes` (etcd's
/// `grpcOverheadBytes`): larger messages are refused by the transport.
const GRPC_OVERHEAD_BYTES: usize = 512 * 1024;
/// etcd's defaults of `--grpc-keepalive-interval` and `--grpc-keepalive-timeout`.
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(2 * 60 * 60);
const KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(20);
/// After the shutdown signal, how long open streams (watches, keep-alives)
/// may hold the servers before they are dropped.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// The client TLS flags (`--cert-file`, `--key-file`, `--trusted-ca-file`,
/// `--client-cert-auth`), used by `https://` client URLs.
#[derive(Debug, Clone, Default)]
pub struct ClientTls {
    /// The server certificate (PEM).
    pub cert_file: Option<PathBuf>,
    /// The server key (PEM).
    pub key_file: Option<PathBuf>,
    /// CA certificates that sign client certificates (PEM).
    pub trusted_ca_file: Option<PathBuf>,
    /// Require a client certificate signed by the trusted CA.
    pub client_cert_auth: bool,
}

/// Everything [`serve`] needs besides the backend.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// `--listen-client-urls`: `http://host:port` or `https://host:port`.
    pub client_urls: Vec<String>,
    /// `--listen-metrics-urls`: the HTTP endpoints only.
    pub metrics_urls: Vec<String>,
    /// Client TLS, for `https://` URLs.
    pub tls: ClientTls,
    /// `--max-request-bytes` (etcd's default 1.5 MiB).
    pub max_request_bytes: usize,
    /// `--max-txn-ops` (etcd's default 128).
    pub max_txn_ops: usize,
    /// The smallest lease TTL granted: ceil(1.5 × election timeout), as etcd's lessor.
    pub min_lease_ttl_seconds: i64,
    /// `--experimental-watch-progress-notify-interval` (etcd's default 10 minutes).
    pub progress_notify_interval: Duration,
    /// How long a `hasleader` watch stream survives without a leader
    /// (etcd: three election timeouts).
    pub leader_loss_grace: Duration,
    /// `--max-concurrent-streams`: streams one client connection may open.
    pub max_concurrent_streams: u32,
    /// `--grpc-keepalive-interval`: idle time before the server pings a client.
    pub keepalive_interval: Duration,
    /// `--grpc-keepalive-timeout`: how long a ping may go unanswered.
    pub keepalive_timeout: Duration,
}

impl Default for ServeOptions {
    fn default() -> Self {
        Self {
            client_urls: vec!["http://127.0.0.1:2379".to_owned()],
            metrics_urls: Vec::new(),
            tls: ClientTls::default(),
            max_request_bytes: 1_572_864,
            max_txn_ops: 128,
            min_lease_ttl_seconds: 2,
            progress_notify_interval: Duration::from_secs(10 * 60),
            leader_loss_grace: Duration::from_secs(3),
            max_concurrent_streams: u32::MAX,
            keepalive_interval: KEEPALIVE_INTERVAL,
            keepalive_timeout: KEEPALIVE_TIMEOUT,
        }
    }
}

/// Why the client API could not be served.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// A listen URL is not `http://host:port` or `https://host:port`.
    #[error("invalid listen URL {0:?}: expected http://host:port or https://host:port")]
    BadUrl(String),
    /// A listen address could not be bound.
    #[error("cannot listen on {url}: {source}")]
    Bind {
        /// The URL.
        url: String,
        /// Why.
        source: std::io::Error,
    },
    /// TLS is configured wrongly or its files cannot be read.
    #[error("client TLS: {0}")]
    Tls(String),
    /// The transport failed.
    #[error("client transport: {0}")]
    Transport(#[from] tonic::transport::Error),
}

/// One listen URL, parsed.
#[derive(Debug)]
struct ListenUrl {
    url: String,
    tls: bool,
    host: String,
    port: u16,
}

fn parse_url(url: &str) -> Result<ListenUrl, ServeError> {
    let bad = || ServeError::BadUrl(url.to_owned());
    let (tls, rest) = if let Some(rest) = url.strip_prefix("http://") {
        (false, rest)
    } else if let Some(rest) = url.strip_prefix("https://") {
        (true, rest)
    } else {
        return Err(bad());
    };
    let rest = rest.trim_end_matches('/');
    let (host, port) = rest.rsplit_once(':').ok_or_else(bad)?;
    let port = port.parse().map_err(|_| bad())?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() {
        return Err(bad());
    }
    Ok(ListenUrl {
        url: url.to_owned(),
        tls,
        host: host.to_owned(),
        port,
    })
}

async fn bind(url: &ListenUrl) -> Result<TcpIncoming, ServeError> {
    let listener = TcpListener::bind((url.host.as_str(), url.port))
        .await
        .map_err(|source| ServeError::Bind {
            url: url.url.clone(),
            source,
        })?;
    Ok(TcpIncoming::from(listener).with_nodelay(Some(true)))
}

fn read_pem(path: &Option<PathBuf>, what: &str) -> Result<Vec<u8>, ServeError> {
    let path = path
        .as_ref()
        .ok_or_else(|| ServeError::Tls(format!("https client URL needs {what}")))?;
    std::fs::read(path).map_err(|err| ServeError::Tls(format!("{}: {err}", path.display())))
}

fn tls_config(tls: &ClientTls) -> Result<ServerTlsConfig, ServeError> {
    let cert = read_pem(&tls.cert_file, "--cert-file")?;
    let key = read_pem(&tls.key_file, "--key-file")?;
    let mut config = ServerTlsConfig::new().identity(Identity::from_pem(cert, key));
    if tls.trusted_ca_file.is_some() {
        let ca = read_pem(&tls.trusted_ca_file, "--trusted-ca-file")?;
        config = config
            .client_ca_root(Certificate::from_pem(ca))
            .client_auth_optional(!tls.client_cert_auth);
    } else if tls.client_cert_auth {
        return Err(ServeError::Tls(
            "--client-cert-auth needs --trusted-ca-file".to_owned(),
        ));
    }
    Ok(config)
}

/// Every gRPC service and HTTP endpoint, as one router.
fn client_routes<B: Backend>(backend: &Arc<B>, limits: Limits) -> Routes {
    let max_decoding = limits.max_request_bytes.saturating_add(GRPC_OVERHEAD_BYTES);
    let (_reporter, health) = tonic_health::server::health_reporter();
    let mut builder = Routes::builder();
    builder
        .add_service(
            KvServer::new(KvService::new(Arc::clone(backend), limits))
                .max_decoding_message_size(max_decoding)
                .max_encoding_message_size(usize::MAX),
        )
        .add_service(
            WatchServer::new(WatchService::new(Arc::clone(backend), limits))
                .max_decoding_message_size(max_decoding)
                .max_encoding_message_size(usize::MAX),
        )
        .add_service(
            LeaseServer::new(LeaseService::new(Arc::clone(backend), limits))
                .max_decoding_message_size(max_decoding),
        )
        .add_service(
            ClusterServer::new(ClusterService::new(Arc::clone(backend)))
                .max_decoding_message_size(max_decoding),
        )
        .add_service(
            MaintenanceServer::new(MaintenanceService::new(Arc::clone(backend)))
                .max_decoding_message_size(max_decoding)
                .max_encoding_message_size(usize::MAX),
        )
        .add_service(health);
    let grpc = builder
        .routes()
        .into_axum_router()
        .layer(axum::middleware::map_response(oversize::as_grpc_go));
    Routes::from(grpc.merge(http::router(Arc::clone(backend))))
}

fn server_builder(options: &ServeOptions) -> Server {
    Server::builder()
        .accept_http1(true)
        .max_concurrent_streams(options.max_concurrent_streams)
        .http2_keepalive_interval(Some(options.keepalive_interval))
        .http2_keepalive_timeout(Some(options.keepalive_timeout))
}

/// Serves the client API of `backend` on every client URL (and the HTTP
/// endpoints on every metrics URL) until `shutdown` completes. Binds every
/// URL before serving any, so a bad address fails at once.
pub async fn serve<B: Backend>(
    backend: Arc<B>,
    options: ServeOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let limits = Limits::from(&options);
    let client_urls = options
        .client_urls
        .iter()
        .map(|u| parse_url(u))
        .collect::<Result<Vec<_>, _>>()?;
    let metrics_urls = options
        .metrics_urls
        .iter()
        .map(|u| parse_url(u))
        .collect::<Result<Vec<_>, _>>()?;
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut servers = JoinSet::new();
    let routes = client_routes(&backend, limits);
    for url in &client_urls {
        let incoming = bind(url).await?;
        let mut builder = server_builder(&options);
        if url.tls {
            builder = builder.tls_config(tls_config(&options.tls)?)?;
        }
        let router = builder.add_routes(routes.clone());
        let stop = stopped(stop_rx.clone());
        if url.tls {
            servers.spawn(async move { router.serve_with_incoming_shutdown(incoming, stop).await });
        } else {
            let incoming = incoming.map(|conn| conn.map(AuthorityFix::new));
            servers.spawn(async move { router.serve_with_incoming_shutdown(incoming, stop).await });
        }
        tracing::info!(url = %url.url, "serving client requests");
    }
    for url in &metrics_urls {
        let incoming = bind(url).await?;
        let mut builder = server_builder(&options);
        if url.tls {
            builder = builder.tls_config(tls_config(&options.tls)?)?;
        }
        let router = builder.add_routes(Routes::from(http::router(Arc::clone(&backend))));
        let stop = stopped(stop_rx.clone());
        servers.spawn(async move { router.serve_with_incoming_shutdown(incoming, stop).await });
        tracing::info!(url = %url.url, "serving metrics");
    }
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    });
    wait_all(servers, stop_rx).await
}

/// Completes when the stop flag is raised (or its sender is gone).
async fn stopped(mut rx: watch::Receiver<bool>) {
    let _ = rx.wait_for(|stop| *stop).await;
}

/// Waits for every server; after the stop signal, at most [`SHUTDOWN_GRACE`].
async fn wait_all(
    mut servers: JoinSet<Result<(), tonic::transport::Error>>,
    stop_rx: watch::Receiver<bool>,
) -> Result<(), ServeError> {
    let deadline = async {
        stopped(stop_rx).await;
        tokio::time::sleep(SHUTDOWN_GRACE).await;
    };
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            joined = servers.join_next() => match joined {
                None => return Ok(()),
                Some(Ok(Ok(()))) => {}
                Some(Ok(Err(err))) => return Err(err.into()),
                Some(Err(join)) => return Err(ServeError::Tls(format!("server task failed: {join}"))),
            },
            () = &mut deadline => {
                servers.abort_all();
                return Ok(());
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse_as_etcd_writes_them() {
        let u = parse_url("http://127.0.0.1:2379").unwrap();
        assert!(!u.tls);
        assert_eq!((u.host.as_str(), u.port), ("127.0.0.1", 2379));
        let u = parse_url("https://localhost:2379/").unwrap();
        assert!(u.tls);
        assert_eq!((u.host.as_str(), u.port), ("localhost", 2379));
        let u = parse_url("http://[::1]:2379").unwrap();
        assert_eq!(u.host, "::1");
        assert!(parse_url("unix://sock").is_err());
        assert!(parse_url("http://127.0.0.1").is_err());
        assert!(parse_url("http://:2379").is_err());
    }

    #[test]
    fn client_cert_auth_needs_a_ca() {
        let tls = ClientTls {
            client_cert_auth: true,
            ..Default::default()
        };
        assert!(tls_config(&tls).is_err());
    }
}
