//! Connections to endpoints and the one place where RPC failures become
//! etcdctl's error lines.

use std::future::Future;

use anyhow::Context;
use tonic::Code;
use tonic::Status;
use tonic::transport::Certificate;
use tonic::transport::Channel;
use tonic::transport::ClientTlsConfig;
use tonic::transport::Endpoint;
use tonic::transport::Identity;

use crate::cli::GlobalFlags;
use crate::failure::ExitCode;
use crate::failure::Failure;
use crate::insecure_tls::SkipServerVerification;
use crate::output::Printer;

/// What etcdctl prints when an endpoint cannot be reached or a call runs
/// past `--command-timeout` (Go's `context.DeadlineExceeded`).
pub(crate) const DEADLINE_EXCEEDED: &str = "context deadline exceeded";

/// The global flags turned into what every command needs: endpoints,
/// timeouts, TLS and the printer.
#[derive(Debug, Clone)]
pub(crate) struct Session {
    pub(crate) flags: GlobalFlags,
    tls: Option<ClientTlsConfig>,
}

impl Session {
    /// Reads the TLS files named by the flags, if any.
    pub(crate) fn new(flags: &GlobalFlags) -> anyhow::Result<Self> {
        for (name, value) in [
            ("cert", &flags.cert),
            ("key", &flags.key),
            ("cacert", &flags.cacert),
        ] {
            if value.as_deref() == Some("") {
                return Err(Failure::bad_args(format!(
                    "empty string is passed to --{name} option"
                )));
            }
        }
        Ok(Session {
            flags: flags.clone(),
            tls: tls_config(flags)?,
        })
    }

    /// A printer for the chosen output format.
    pub(crate) fn printer(&self) -> Printer {
        Printer {
            hex: self.flags.hex,
            ..Printer::new(self.flags.write_out)
        }
    }

    /// A channel to the first endpoint that answers.
    pub(crate) async fn channel(&self) -> anyhow::Result<Channel> {
        let mut last_error = None;
        for endpoint in &self.flags.endpoints {
            match self.channel_to(endpoint).await {
                Ok(channel) => return Ok(channel),
                Err(error) => last_error = Some(error),
            }
        }
        Err(last_error.unwrap_or_else(|| Failure::bad_args("no endpoints given")))
    }

    /// A channel to one endpoint, connected within `--dial-timeout`.
    pub(crate) async fn channel_to(&self, endpoint: &str) -> anyhow::Result<Channel> {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        let uri = if endpoint.contains("://") {
            endpoint.to_owned()
        } else {
            format!("{scheme}://{endpoint}")
        };
        let mut target = Endpoint::from_shared(uri)
            .map_err(|error| Failure::bad_args(format!("bad endpoint {endpoint:?}: {error}")))?
            .connect_timeout(self.flags.dial_timeout)
            .http2_keep_alive_interval(self.flags.keepalive_time)
            .keep_alive_timeout(self.flags.keepalive_timeout);
        target = match (&self.tls, self.flags.insecure_skip_tls_verify) {
            (Some(tls), true) => target
                .tls_config_with_verifier(tls.clone(), SkipServerVerification::new())
                .context("TLS configuration")?,
            (Some(tls), false) => target
                .tls_config(tls.clone())
                .context("TLS configuration")?,
            (None, _) => target,
        };
        match tokio::time::timeout(self.flags.dial_timeout, target.connect()).await {
            Ok(Ok(channel)) => Ok(channel),
            Ok(Err(_)) | Err(_) => Err(Failure::new(ExitCode::Error, DEADLINE_EXCEEDED).into()),
        }
    }

    /// Runs one unary call within `--command-timeout`, turning a failure
    /// into etcdctl's error text.
    pub(crate) async fn call<T>(
        &self,
        call: impl Future<Output = Result<tonic::Response<T>, Status>>,
    ) -> anyhow::Result<T> {
        match tokio::time::timeout(self.flags.command_timeout, call).await {
            Ok(Ok(response)) => Ok(response.into_inner()),
            Ok(Err(status)) => Err(status_error(&status)),
            Err(_) => Err(Failure::new(ExitCode::Error, DEADLINE_EXCEEDED).into()),
        }
    }
}

fn tls_config(flags: &GlobalFlags) -> anyhow::Result<Option<ClientTlsConfig>> {
    let any_file = flags.cacert.is_some() || flags.cert.is_some() || flags.key.is_some();
    if !any_file && !flags.insecure_skip_tls_verify {
        return Ok(None);
    }
    let mut config = ClientTlsConfig::new();
    // With verification skipped there is no CA to trust (tonic refuses both).
    if let Some(path) = flags
        .cacert
        .as_ref()
        .filter(|_| !flags.insecure_skip_tls_verify)
    {
        let pem = std::fs::read(path).with_context(|| format!("reading --cacert {path}"))?;
        config = config.ca_certificate(Certificate::from_pem(pem));
    }
    match (&flags.cert, &flags.key) {
        (Some(cert), Some(key)) => {
            let cert = std::fs::read(cert).with_context(|| format!("reading --cert {cert}"))?;
            let key = std::fs::read(key).with_context(|| format!("reading --key {key}"))?;
            config = config.identity(Identity::from_pem(cert, key));
        }
        (None, None) => {}
        _ => return Err(Failure::bad_args("--cert and --key must be given together")),
    }
    Ok(Some(config))
}

/// The text etcdctl prints for a failed call: etcd's own error message
/// when the server sent one (`etcdserver: ...`), otherwise Go's gRPC
/// status text.
pub(crate) fn status_message(status: &Status) -> String {
    let message = status.message();
    if message.starts_with("etcdserver: ") || message.starts_with("etcdserver:") {
        return message.to_owned();
    }
    if status.code() == Code::DeadlineExceeded {
        return DEADLINE_EXCEEDED.to_owned();
    }
    format!(
        "rpc error: code = {} desc = {message}",
        go_code_name(status.code())
    )
}

/// A failed call as an error exiting with code 1.
pub(crate) fn status_error(status: &Status) -> anyhow::Error {
    Failure::new(ExitCode::Error, status_message(status)).into()
}

/// grpc-go's names for status codes (`Canceled` is spelled the Go way).
fn go_code_name(code: Code) -> String {
    match code {
        Code::Cancelled => "Canceled".to_owned(),
        other => format!("{other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etcd_errors_print_their_message_and_others_grpc_text() {
        let compacted =
            Status::out_of_range("etcdserver: mvcc: required revision has been compacted");
        assert_eq!(
            status_message(&compacted),
            "etcdserver: mvcc: required revision has been compacted"
        );
        let other = Status::unavailable("connection reset");
        assert_eq!(
            status_message(&other),
            "rpc error: code = Unavailable desc = connection reset"
        );
        assert_eq!(
            status_message(&Status::cancelled("x")),
            "rpc error: code = Canceled desc = x"
        );
        assert_eq!(
            status_message(&Status::deadline_exceeded("slow")),
            DEADLINE_EXCEEDED
        );
    }
}
