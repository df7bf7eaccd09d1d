//! etcd's status for a request above the transport's size limit.
//!
//! A request larger than `--max-request-bytes` plus gRPC's overhead is refused
//! by the transport before any service sees it. grpc-go (so etcd) answers
//! `ResourceExhausted` with "grpc: received message larger than max (N vs.
//! M)"; tonic answers `OutOfRange` with its own words. Clients key retries
//! and error handling on the code, so the answer is rewritten to etcd's.

use axum::http::HeaderValue;
use axum::response::Response;

/// tonic's message for a message above the decoding limit starts so.
const TONIC_TOO_LARGE: &str = "Error, decoded message length too large: found ";

/// Rewrites tonic's "message too large" answer into grpc-go's; other
/// responses pass unchanged.
pub(crate) async fn as_grpc_go(mut response: Response) -> Response {
    let headers = response.headers_mut();
    if headers.get("grpc-status").map(HeaderValue::as_bytes) != Some(b"11") {
        return response;
    }
    let Some((found, limit)) = headers
        .get("grpc-message")
        .and_then(|v| v.to_str().ok())
        .and_then(|m| sizes(&percent_decoded(m)))
    else {
        return response;
    };
    let message = format!("grpc: received message larger than max ({found} vs. {limit})");
    if let Ok(message) = HeaderValue::from_str(&message) {
        headers.insert("grpc-status", HeaderValue::from_static("8"));
        headers.insert("grpc-message", message);
    }
    response
}

/// A `grpc-message` value without its percent-encoding (tonic encodes spaces).
fn percent_decoded(value: &str) -> String {
    let mut rest = value.as_bytes();
    let mut out = Vec::with_capacity(rest.len());
    while let Some((&first, tail)) = rest.split_first() {
        let escaped = tail
            .get(..2)
            .filter(|_| first == b'%')
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match escaped {
            Some(byte) => {
                out.push(byte);
                rest = tail.get(2..).unwrap_or_default();
            }
            None => {
                out.push(first);
                rest = tail;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The found and limit sizes of tonic's message.
fn sizes(message: &str) -> Option<(u64, u64)> {
    let rest = message.strip_prefix(TONIC_TOO_LARGE)?;
    let (found, rest) = rest.split_once(" bytes, the limit is: ")?;
    let limit = rest.strip_suffix(" bytes")?;
    Some((found.parse().ok()?, limit.parse().ok()?))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn response(status: &'static str, message: &'static str) -> Response {
        let mut r = Response::new(axum::body::Body::empty());
        r.headers_mut()
            .insert("grpc-status", HeaderValue::from_static(status));
        r.headers_mut()
            .insert("grpc-message", HeaderValue::from_static(message));
        r
    }

    #[tokio::test]
    async fn tonics_too_large_becomes_grpc_gos_and_nothing_else_changes() {
        let tonic = "Error,%20decoded%20message%20length%20too%20large:%20found%203145743%20bytes,%20the%20limit%20is:%202097152%20bytes";
        let r = as_grpc_go(response("11", tonic)).await;
        assert_eq!(r.headers()["grpc-status"], "8");
        assert_eq!(
            r.headers()["grpc-message"],
            "grpc: received message larger than max (3145743 vs. 2097152)"
        );
        let compacted = "etcdserver: mvcc: required revision has been compacted";
        let r = as_grpc_go(response("11", compacted)).await;
        assert_eq!(
            (
                r.headers()["grpc-status"].as_bytes(),
                r.headers()["grpc-message"].as_bytes()
            ),
            (&b"11"[..], compacted.as_bytes())
        );
        let r = as_grpc_go(Response::new(axum::body::Body::empty())).await;
        assert!(r.headers().get("grpc-status").is_none());
    }
}
