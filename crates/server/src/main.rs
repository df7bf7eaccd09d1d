//! `keel`: one member of a keel cluster. Reads etcd's flags, starts the member
//! and serves the etcd v3 API until SIGTERM/SIGINT (graceful: a leader first
//! hands leadership over) or a storage failure (exit status 1).

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use server::config::ConfigError;
use server::config::ServerConfig;
use server::config::Url;
use server::grpc;
use server::node::Node;
use server::node::Stopped;
use tracing_subscriber::EnvFilter;

/// The etcd version keel reports (clients gate features on it).
const ETCD_VERSION: &str = "3.5.17";

fn main() -> ExitCode {
    let config = match ServerConfig::load() {
        Ok(config) => config,
        Err(ConfigError::Clap(e)) => e.exit(),
        Err(e) => {
            eprintln!("keel: {e}");
            return ExitCode::from(2);
        }
    };
    if config.print_version {
        println!("keel Version: {}", env!("CARGO_PKG_VERSION"));
        println!("etcd API Version: {ETCD_VERSION}");
        return ExitCode::SUCCESS;
    }
    init_tracing(&config.log_level);
    for flag in &config.ignored_flags {
        tracing::warn!(
            "--{flag} is accepted for compatibility with etcd and has no effect in keel"
        );
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("keel: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(run(config));
    drop(runtime);
    match outcome {
        Ok(Exit::Done) => ExitCode::SUCCESS,
        Ok(Exit::Restart) => restart(),
        Err(e) => {
            tracing::error!("{e:#}");
            eprintln!("keel: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_tracing(level: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colours for a terminal only: log files and collectors get plain text.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}

/// How `run` ended without an error.
#[derive(Debug, PartialEq, Eq)]
enum Exit {
    /// Stopped by a signal.
    Done,
    /// The member asked to restart (to install a snapshot at boot).
    Restart,
}

/// Replaces this process with a fresh `keel` with the same arguments and environment.
fn restart() -> ExitCode {
    use std::os::unix::process::CommandExt;
    let program = match std::env::current_exe() {
        Ok(program) => program,
        Err(e) => {
            eprintln!("keel: cannot restart: {e}");
            return ExitCode::FAILURE;
        }
    };
    let error = std::process::Command::new(program)
        .args(std::env::args_os().skip(1))
        .exec();
    eprintln!("keel: cannot restart: {error}");
    ExitCode::FAILURE
}

/// The client TLS files: from the flags, or made by `--auto-tls` in
/// `<data-dir>/fixtures/client` when an `https://` URL has none.
fn client_tls(config: &ServerConfig) -> anyhow::Result<grpc::ClientTls> {
    let tls = &config.client_tls;
    let (mut cert_file, mut key_file) = (tls.cert_file.clone(), tls.key_file.clone());
    let wants_tls = config
        .listen_client_urls
        .iter()
        .any(|u| u.scheme == server::config::Scheme::Https);
    if tls.auto_tls && cert_file.is_none() && wants_tls {
        let hosts: Vec<String> = config
            .listen_client_urls
            .iter()
            .chain(&config.advertise_client_urls)
            .filter_map(|u| u.socket_addr().ok())
            .map(|a| a.ip().to_string())
            .collect();
        let dir = config.data_dir.join("fixtures").join("client");
        let (cert, key) = grpc::self_signed_client_cert(&dir, &hosts)?;
        (cert_file, key_file) = (Some(cert), Some(key));
    }
    Ok(grpc::ClientTls {
        cert_file,
        key_file,
        trusted_ca_file: tls.trusted_ca_file.clone(),
        client_cert_auth: tls.client_cert_auth,
    })
}

async fn run(config: ServerConfig) -> anyhow::Result<Exit> {
    let node = Node::start(&config)
        .await
        .context("cannot start the member")?;
    if config.initial_corrupt_check
        && let Err(reason) = node.initial_corruption_check().await
    {
        node.stop().await;
        anyhow::bail!("{reason}");
    }
    let backend = node.backend();
    let options = grpc::ServeOptions {
        client_urls: config
            .listen_client_urls
            .iter()
            .map(Url::to_string)
            .collect(),
        metrics_urls: config
            .listen_metrics_urls
            .iter()
            .map(Url::to_string)
            .collect(),
        tls: client_tls(&config)?,
        max_request_bytes: config.max_request_bytes as usize,
        max_txn_ops: config.max_txn_ops as usize,
        min_lease_ttl_seconds: backend.min_lease_ttl_seconds(),
        progress_notify_interval: config.watch_progress_notify_interval,
        leader_loss_grace: 3 * config.election_timeout,
        max_concurrent_streams: config.max_concurrent_streams,
        keepalive_interval: config.grpc_keepalive_interval,
        keepalive_timeout: config.grpc_keepalive_timeout,
    };
    // Clients are served once the member has published itself, as etcd does: until
    // then it may hold an older state than one it served before a crash.
    let unpublished = tokio::select! {
        () = node.published() => None,
        signal = shutdown_signal() => {
            tracing::info!(%signal, "stopping before serving clients");
            Some(Ok(Exit::Done))
        }
        stopped = node.stopped() => Some(stop_outcome(stopped)),
    };
    if let Some(outcome) = unpublished {
        drop(backend);
        node.stop().await;
        return outcome;
    }
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let mut serving = tokio::spawn(grpc::serve(Arc::clone(&backend), options, async move {
        let _ = stop_rx.await;
    }));
    let mut serving_done = false;
    let outcome = tokio::select! {
        signal = shutdown_signal() => {
            tracing::info!(%signal, "stopping gracefully");
            Ok(Exit::Done)
        }
        stopped = node.stopped() => stop_outcome(stopped),
        served = &mut serving => {
            serving_done = true;
            match served {
                Ok(Ok(())) => Ok(Exit::Done),
                Ok(Err(e)) => Err(anyhow::anyhow!("client API: {e}")),
                Err(e) => Err(anyhow::anyhow!("client API task: {e}")),
            }
        }
    };
    if matches!(outcome, Ok(Exit::Done)) {
        // Hand leadership over while clients are still served, then close the API.
        backend.transfer_leadership().await;
    }
    let _ = stop_tx.send(());
    if matches!(outcome, Ok(Exit::Restart)) {
        // Back in a moment with the leader's snapshot: clients reconnect,
        // and open streams must not hold the restart up.
        serving.abort();
    } else if !serving_done {
        let _ = tokio::time::timeout(Duration::from_secs(5), serving).await;
    }
    // The member's state must be released for `stop` to close the store promptly.
    drop(backend);
    node.stop().await;
    outcome
}

/// What a stop the member asked for means for the process.
fn stop_outcome(stopped: Stopped) -> anyhow::Result<Exit> {
    match stopped {
        Stopped::Failed(reason) => Err(anyhow::anyhow!("the member failed: {reason}")),
        Stopped::Restart(reason) => {
            tracing::info!(%reason, "restarting");
            Ok(Exit::Restart)
        }
        Stopped::Removed => Err(anyhow::anyhow!(
            "the member has been permanently removed from the cluster"
        )),
    }
}

/// Resolves on SIGTERM or SIGINT with the signal's name.
async fn shutdown_signal() -> &'static str {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(term) => term,
        Err(e) => {
            tracing::warn!(error = %e, "cannot listen for SIGTERM");
            let _ = tokio::signal::ctrl_c().await;
            return "SIGINT";
        }
    };
    tokio::select! {
        _ = term.recv() => "SIGTERM",
        _ = tokio::signal::ctrl_c() => "SIGINT",
    }
}
