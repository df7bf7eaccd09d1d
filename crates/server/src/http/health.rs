//! `/health`: etcd's JSON health check (alarms, then leader, then a read).

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::Query;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::response::Response;

use crate::backend::Backend;
use crate::error::ServerError;
use crate::grpc::alarm_name;
use crate::http::metrics;

/// How long the read check may take (etcd's request timeout at default
/// election settings: 5 s + 2 × 1 s).
const READ_CHECK_TIMEOUT: Duration = Duration::from_secs(7);

/// The `/health` body, in etcd's field order.
#[derive(Debug, serde::Serialize)]
struct Health {
    health: &'static str,
    reason: String,
}

/// The `/health` handler: `?serializable=true` checks this member only,
/// `?exclude=NOSPACE` (repeatable) ignores an alarm.
pub(super) async fn health<B: Backend>(
    State(backend): State<Arc<B>>,
    Query(params): Query<Vec<(String, String)>>,
) -> Response {
    let serializable = params
        .iter()
        .any(|(k, v)| k == "serializable" && v == "true");
    let excluded: HashSet<&str> = params
        .iter()
        .filter(|(k, v)| k == "exclude" && !v.is_empty())
        .map(|(_, v)| v.as_str())
        .collect();
    match check(backend.as_ref(), serializable, &excluded).await {
        Ok(()) => {
            metrics::global().health_success.inc();
            let body = Health {
                health: "true",
                reason: String::new(),
            };
            super::json_response(StatusCode::OK, &body)
        }
        Err(reason) => {
            metrics::global().health_failures.inc();
            tracing::warn!(%reason, "/health error");
            let body = Health {
                health: "false",
                reason,
            };
            // Go's http.Error ends the body with a newline.
            let text = serde_json::to_string(&body).unwrap_or_default() + "\n";
            (StatusCode::SERVICE_UNAVAILABLE, text).into_response()
        }
    }
}

/// etcd's checks in etcd's order; the error is the `reason` text.
async fn check<B: Backend>(
    backend: &B,
    serializable: bool,
    excluded: &HashSet<&str>,
) -> Result<(), String> {
    for alarm in backend.alarms() {
        let name = alarm_name(alarm.alarm);
        if !excluded.contains(name) {
            return Err(match name {
                "NOSPACE" | "CORRUPT" => format!("ALARM {name}"),
                _ => "ALARM UNKNOWN".to_owned(),
            });
        }
    }
    if !serializable && backend.status().leader == 0 {
        return Err("RAFT NO LEADER".to_owned());
    }
    read_check(backend, serializable)
        .await
        .map_err(|err| format!("RANGE ERROR:{err}"))
}

/// A one-key read, linearizable unless `serializable`, as etcd's health
/// checks make; bounded by [`READ_CHECK_TIMEOUT`].
pub(super) async fn read_check<B: Backend>(
    backend: &B,
    serializable: bool,
) -> Result<(), ServerError> {
    let read = async {
        if !serializable {
            backend.read_barrier().await?;
        }
        let probe = mvcc::RangeRequest {
            key: b"health".to_vec(),
            limit: 1,
            keys_only: true,
            ..Default::default()
        };
        backend.store().range(&probe)?;
        Ok(())
    };
    tokio::time::timeout(READ_CHECK_TIMEOUT, read)
        .await
        .unwrap_or(Err(ServerError::Timeout))
}
