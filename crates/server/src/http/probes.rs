//! `/livez` and `/readyz` (etcd 3.5.11+): Kubernetes-style probes made of
//! named checks, each also served on its own sub-path.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::sync::Arc;

use axum::extract::Path;
use axum::extract::Query;
use axum::extract::State;
use axum::http::StatusCode;
use axum::http::header;
use axum::response::IntoResponse;
use axum::response::Response;

use super::health::read_check;
use crate::backend::Backend;
use crate::grpc::CORRUPT_ALARM;

/// The checks `/livez` runs.
const LIVEZ_CHECKS: &[&str] = &["serializable_read"];
/// The checks `/readyz` runs.
const READYZ_CHECKS: &[&str] = &["data_corruption", "serializable_read", "linearizable_read"];

type Params = Query<Vec<(String, String)>>;

/// `/livez`: is this process able to serve local reads.
pub(super) async fn livez<B: Backend>(state: State<Arc<B>>, params: Params) -> Response {
    run_root(state.0.as_ref(), LIVEZ_CHECKS, &params.0).await
}

/// `/readyz`: can this member serve clients (no corruption, reads work).
pub(super) async fn readyz<B: Backend>(state: State<Arc<B>>, params: Params) -> Response {
    run_root(state.0.as_ref(), READYZ_CHECKS, &params.0).await
}

/// `/livez/<check>`.
pub(super) async fn livez_check<B: Backend>(
    state: State<Arc<B>>,
    Path(name): Path<String>,
    params: Params,
) -> Response {
    run_one(state.0.as_ref(), LIVEZ_CHECKS, &name, &params.0).await
}

/// `/readyz/<check>`.
pub(super) async fn readyz_check<B: Backend>(
    state: State<Arc<B>>,
    Path(name): Path<String>,
    params: Params,
) -> Response {
    run_one(state.0.as_ref(), READYZ_CHECKS, &name, &params.0).await
}

async fn run_root<B: Backend>(
    backend: &B,
    checks: &[&str],
    params: &[(String, String)],
) -> Response {
    let excluded: HashSet<&str> = params
        .iter()
        .filter(|(k, v)| k == "exclude" && !v.is_empty())
        .map(|(_, v)| v.as_str())
        .collect();
    let selected: Vec<&str> = checks
        .iter()
        .copied()
        .filter(|c| !excluded.contains(c))
        .collect();
    run(backend, &selected, params).await
}

async fn run_one<B: Backend>(
    backend: &B,
    checks: &[&str],
    name: &str,
    params: &[(String, String)],
) -> Response {
    match checks.iter().find(|c| **c == name) {
        Some(check) => run(backend, &[*check], params).await,
        None => (StatusCode::NOT_FOUND, "404 page not found\n").into_response(),
    }
}

/// Runs the checks; the body lists each as `[+]name ok` or `[-]name failed: why`,
/// always on failure (503) and on success only with `?verbose`.
async fn run<B: Backend>(backend: &B, checks: &[&str], params: &[(String, String)]) -> Response {
    let mut report = String::new();
    let mut healthy = true;
    for name in checks {
        match run_check(backend, name).await {
            Ok(()) => {
                let _ = writeln!(report, "[+]{name} ok");
            }
            Err(why) => {
                healthy = false;
                let _ = writeln!(report, "[-]{name} failed: {why}");
            }
        }
    }
    if !healthy {
        return (StatusCode::SERVICE_UNAVAILABLE, report).into_response();
    }
    let verbose = params.iter().any(|(k, _)| k == "verbose");
    let body = if verbose {
        report + "ok\n"
    } else {
        "ok\n".to_owned()
    };
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        body,
    )
        .into_response()
}

async fn run_check<B: Backend>(backend: &B, name: &str) -> Result<(), String> {
    match name {
        "data_corruption" => {
            if backend.alarms().iter().any(|a| a.alarm == CORRUPT_ALARM) {
                Err("alarm activated: CORRUPT".to_owned())
            } else {
                Ok(())
            }
        }
        "serializable_read" => read_check(backend, true).await.map_err(|e| e.to_string()),
        "linearizable_read" => read_check(backend, false).await.map_err(|e| e.to_string()),
        other => Err(format!("unknown check {other}")),
    }
}
