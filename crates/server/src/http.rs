//! The plain HTTP endpoints etcd serves beside gRPC on its client port (and
//! alone on `--listen-metrics-urls`): `/health`, `/livez`, `/readyz`,
//! `/version` and `/metrics`, with etcd's paths, bodies and status codes.

pub(crate) mod fault;
mod health;
pub mod metrics;
mod probes;

use std::sync::Arc;

use axum::Router;
use axum::http::StatusCode;
use axum::http::header;
use axum::response::IntoResponse;
use axum::response::Response;
use axum::routing::get;

use crate::backend::Backend;

/// The router serving every HTTP endpoint for `backend`.
pub fn router<B: Backend>(backend: Arc<B>) -> Router {
    let router = Router::new()
        .route("/health", get(health::health::<B>))
        .route("/livez", get(probes::livez::<B>))
        .route("/livez/{check}", get(probes::livez_check::<B>))
        .route("/readyz", get(probes::readyz::<B>))
        .route("/readyz/{check}", get(probes::readyz_check::<B>))
        .route("/version", get(version))
        .route("/metrics", get(metrics_text::<B>))
        .with_state(backend);
    fault::add_routes(router)
}

/// `/version`: the server and cluster versions as etcd reports them.
async fn version() -> Response {
    let versions = Versions {
        etcdserver: metrics::SERVER_VERSION,
        etcdcluster: metrics::CLUSTER_VERSION,
    };
    json_response(StatusCode::OK, &versions)
}

/// The `/version` body, in etcd's field order.
#[derive(serde::Serialize)]
struct Versions {
    etcdserver: &'static str,
    etcdcluster: &'static str,
}

/// A JSON response, as Go's `json.Marshal` writes it.
fn json_response<T: serde::Serialize>(status: StatusCode, body: &T) -> Response {
    match serde_json::to_string(body) {
        Ok(text) => (status, [(header::CONTENT_TYPE, "application/json")], text).into_response(),
        Err(err) => (StatusCode::INTERNAL_SERVER_ERROR, err.to_string()).into_response(),
    }
}

/// `/metrics`: every metric in the Prometheus (OpenMetrics) text format.
async fn metrics_text<B: Backend>(
    axum::extract::State(backend): axum::extract::State<Arc<B>>,
) -> Response {
    let text = metrics::global().render(backend.as_ref());
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        text,
    )
        .into_response()
}
