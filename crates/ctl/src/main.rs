//! keelctl: a command line client for keel with etcdctl v3's commands,
//! flags, output formats and exit codes, so that an etcd user's habits and
//! scripts work unchanged. It speaks the etcd v3 gRPC API through the
//! `api` crate's tonic clients, so it also works against etcd itself.
//!
//! # Commands
//!
//! `get`, `put`, `del`, `txn [-i]`, `compaction [--physical]`,
//! `watch [-i] [--prefix] [--rev] [--prev-kv] [--progress-notify] [-- cmd]`,
//! `lease grant|revoke|timetolive [--keys]|list|keep-alive [--once]`,
//! `member add [--learner] --peer-urls|remove|update|list|promote`,
//! `endpoint health|status|hashkv [--cluster]`, `snapshot save|status|restore`,
//! `defrag [--cluster]`, `move-leader`, `alarm list|disarm`, `version`,
//! and keel's own `force-new-cluster --data-dir` (offline);
//! global flags `--endpoints`, `--dial-timeout`, `--command-timeout`,
//! `--keepalive-time`, `--keepalive-timeout`, `--cacert`, `--cert`,
//! `--key`, `--insecure-skip-tls-verify`, `--hex` and
//! `-w simple|json|fields|table`, each also from its `ETCDCTL_*`
//! environment variable.
//!
//! # Compatibility
//!
//! The output of etcdctl 3.4 is the oracle: `tests/ctl.rs` runs every
//! command with both tools against two real etcd 3.4 servers and compares
//! stdout, stderr and exit codes. Where keelctl differs, on purpose:
//!
//! - `get --count-only` and `watch --progress-notify` come from etcdctl 3.5.
//! - A txn compare accepts `==` as well as `=`, and `lease("k") = "N"`
//!   takes a decimal lease ID (etcdctl 3.4 cannot parse lease compares).
//! - `snapshot status|restore` read keel's snapshot file (see the server's
//!   `restore` module), not etcd's bolt database; status's hash is the
//!   store's HashKV and its total keys the live keys.
//! - Not implemented: `auth`, `user`, `role`, `lock`, `elect`,
//!   `make-mirror`, `check`, `--user`/`--password` and DNS discovery.
//! - A global flag given twice keeps its last value (etcdctl appends
//!   repeated `--endpoints`).
//! - Table cells are never wrapped (tablewriter wraps cells over 30
//!   characters at spaces).
//! - `snapshot save` checks the snapshot's sha256 before writing it and
//!   reports the size and duration on stderr instead of zap log lines.

// Tests may unwrap: a panic there is a failed test.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

mod cli;
mod command;
mod connect;
mod failure;
mod go_fmt;
mod insecure_tls;
mod keys;
mod output;
mod txn_syntax;

use std::process::ExitCode;

use clap::Parser;
use clap::error::ContextKind;
use clap::error::ContextValue;
use clap::error::ErrorKind;

use crate::cli::Cli;
use crate::cli::Command;
use crate::connect::Session;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error)
            if matches!(
                error.kind(),
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion
            ) =>
        {
            let _ = error.print();
            return ExitCode::SUCCESS;
        }
        Err(error) => {
            eprintln!("Error: {}", usage_error(&error));
            return ExitCode::from(failure::ExitCode::Error as u8);
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("Error: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            let message = format!("{error:#}");
            if !message.is_empty() {
                eprintln!("Error: {message}");
            }
            ExitCode::from(failure::exit_code_of(&error) as u8)
        }
    }
}

/// A command-line error in one line, with etcdctl's (cobra's) wording for
/// unknown flags and commands.
fn usage_error(error: &clap::Error) -> String {
    let context = |kind| match error.get(kind) {
        Some(ContextValue::String(value)) => Some(value.clone()),
        _ => None,
    };
    match error.kind() {
        ErrorKind::UnknownArgument => {
            if let Some(flag) = context(ContextKind::InvalidArg) {
                return format!("unknown flag: {}", flag.split('=').next().unwrap_or(&flag));
            }
        }
        ErrorKind::InvalidSubcommand => {
            if let Some(command) = context(ContextKind::InvalidSubcommand) {
                return format!("unknown command {command:?} for \"keelctl\"");
            }
        }
        _ => {}
    }
    let rendered = error.to_string();
    let first_line = rendered.lines().next().unwrap_or_default();
    first_line.trim_start_matches("error: ").to_owned()
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let session = Session::new(&cli.global)?;
    match &cli.command {
        Command::Get(args) => command::kv::get(&session, args).await,
        Command::Put(args) => command::kv::put(&session, args).await,
        Command::Del(args) => command::kv::del(&session, args).await,
        Command::Txn(args) => command::txn::txn(&session, args).await,
        Command::Compaction(args) => command::kv::compaction(&session, args).await,
        Command::Watch(args) => command::watch::watch(&session, args).await,
        Command::Lease(command) => command::lease::lease(&session, command).await,
        Command::Member(command) => command::member::member(&session, command).await,
        Command::Endpoint(args) => command::endpoint::endpoint(&session, args).await,
        Command::Snapshot(command) => command::snapshot::snapshot(&session, command).await,
        Command::Defrag(cluster) => command::maintenance::defrag(&session, *cluster).await,
        Command::MoveLeader(args) => command::maintenance::move_leader(&session, args).await,
        Command::Alarm(command) => command::maintenance::alarm(&session, command).await,
        Command::ForceNewCluster(args) => command::snapshot::force_new_cluster(args),
        Command::Version => command::emit(format!(
            "keelctl version: {}\nAPI version: 3.5\n",
            env!("CARGO_PKG_VERSION")
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usage(args: &[&str]) -> String {
        usage_error(&Cli::try_parse_from(args).unwrap_err())
    }

    #[test]
    fn usage_errors_use_etcdctls_words() {
        assert_eq!(
            usage(&["keelctl", "get", "--bogus", "a"]),
            "unknown flag: --bogus"
        );
        assert_eq!(
            usage(&["keelctl", "get", "--bogus=1", "a"]),
            "unknown flag: --bogus"
        );
        assert_eq!(
            usage(&["keelctl", "bogus"]),
            "unknown command \"bogus\" for \"keelctl\""
        );
        assert!(!usage(&["keelctl", "get", "--limit", "x"]).contains('\n'));
    }
}
