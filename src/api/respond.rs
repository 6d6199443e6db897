//! Turning cached bodies into HTTP responses: content negotiation and revalidation.
//!
//! A cached body is sent as is (no re-serialization), gzipped from its lazily built gzip
//! copy when the client accepts it, and answered `304 Not Modified` when the client already
//! holds it (`If-None-Match` with the entry's ETag). Every response says `Vary:
//! Accept-Encoding` and `Cache-Control: no-cache`, so intermediaries revalidate.

use std::future::Future;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde::Serialize;

use super::ApiState;
use super::cache::Entry;
use super::error::ApiError;
use crate::store::StoreError;

/// Serializes a response body.
pub(crate) fn json<T: Serialize>(value: &T) -> Result<Bytes, ApiError> {
    serde_json::to_vec(value)
        .map(Bytes::from)
        .map_err(|e| ApiError::internal(format!("serializing a response failed: {e}")))
}

/// `value` as a JSON response that is built for each request (not cached, so no ETag).
pub(crate) fn fresh<T: Serialize>(value: &T) -> Response {
    match json(value) {
        Ok(body) => {
            let mut res = Response::new(Body::from(body));
            let h = res.headers_mut();
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
            res
        }
        Err(e) => e.into_response(),
    }
}

/// The store error to answer with while the last store probe found the store down: no
/// answer is built from (or served of) what a damaged store may still read.
pub(crate) fn store_up(state: &ApiState) -> Result<(), ApiError> {
    if state.store_down() {
        let down = StoreError::Unavailable(format!(
            "the last store probe found it down: {}",
            state.store_down_detail()
        ));
        return Err(ApiError::store(&down));
    }
    Ok(())
}

/// The body for `key` from the cache, or built by `build` and cached.
pub(crate) async fn cached<F, Fut>(
    state: &ApiState,
    headers: &HeaderMap,
    key: String,
    build: F,
) -> Response
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<Bytes, ApiError>>,
{
    if let Err(e) = store_up(state) {
        return e.into_response();
    }
    let generation = state.generation();
    match state.cache().get_or_build(key, generation, build).await {
        Ok(entry) => from_entry(&entry, headers, "application/json"),
        Err(e) => e.into_response(),
    }
}

/// `entry` as the answer to a request with `headers`: 304 when `If-None-Match` holds its
/// ETag, else its body (gzipped when the client takes gzip) as `content_type`.
pub(crate) fn from_entry(
    entry: &Entry,
    headers: &HeaderMap,
    content_type: &'static str,
) -> Response {
    let not_modified = not_modified(headers, &entry.etag);
    let gz = if !not_modified && accepts_gzip(headers) {
        entry.gzip()
    } else {
        None
    };
    let mut res = match (not_modified, gz) {
        (true, _) => Response::new(Body::empty()),
        (false, Some(gz)) => Response::new(Body::from(gz.clone())),
        (false, None) => Response::new(Body::from(entry.body.clone())),
    };
    let h = res.headers_mut();
    h.reserve(6);
    h.insert(header::ETAG, entry.etag.clone());
    h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if not_modified {
        *res.status_mut() = StatusCode::NOT_MODIFIED;
        return res;
    }
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if gz.is_some() {
        h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    res
}

/// Whether `If-None-Match` lists `etag` (or `*`), compared weakly as RFC 9110 §13.1.2
/// says: the tags are weak, since one body is sent gzipped or not under the same tag.
fn not_modified(headers: &HeaderMap, etag: &HeaderValue) -> bool {
    let opaque = |t: &[u8]| -> Vec<u8> { t.strip_prefix(b"W/").unwrap_or(t).to_vec() };
    let tag = opaque(etag.as_bytes());
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .flat_map(|v| v.as_bytes().split(|b| *b == b','))
        .map(|t| t.trim_ascii())
        .any(|t| t == b"*" || opaque(t) == tag)
}

/// Whether `Accept-Encoding` allows gzip (`gzip` or `*` with a non-zero q-value).
pub(crate) fn accepts_gzip(headers: &HeaderMap) -> bool {
    let mut star = false;
    for value in headers.get_all(header::ACCEPT_ENCODING) {
        let Ok(value) = value.to_str() else { continue };
        for item in value.split(',') {
            let mut parts = item.split(';');
            let coding = parts.next().unwrap_or("").trim();
            let zero = parts.any(|p| {
                p.trim()
                    .strip_prefix("q=")
                    .and_then(|q| q.trim().parse::<f32>().ok())
                    .is_some_and(|q| q <= 0.0)
            });
            if coding.eq_ignore_ascii_case("gzip") {
                return !zero;
            }
            if coding == "*" {
                star = !zero;
            }
        }
    }
    star
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(name: header::HeaderName, v: &str) -> HeaderMap {
        let mut m = HeaderMap::new();
        m.insert(name, HeaderValue::from_str(v).unwrap());
        m
    }

    #[test]
    fn gzip_negotiation() {
        assert!(accepts_gzip(&h(
            header::ACCEPT_ENCODING,
            "gzip, deflate, br"
        )));
        assert!(accepts_gzip(&h(
            header::ACCEPT_ENCODING,
            "br;q=1.0, GZIP;q=0.5"
        )));
        assert!(!accepts_gzip(&h(header::ACCEPT_ENCODING, "gzip;q=0")));
        assert!(accepts_gzip(&h(header::ACCEPT_ENCODING, "*")));
        assert!(!accepts_gzip(&h(header::ACCEPT_ENCODING, "identity")));
        assert!(!accepts_gzip(&HeaderMap::new()));
    }

    #[test]
    fn etag_revalidation() {
        let tag = HeaderValue::from_static("\"1-abc\"");
        assert!(not_modified(
            &h(header::IF_NONE_MATCH, "\"0-x\", \"1-abc\""),
            &tag
        ));
        assert!(not_modified(&h(header::IF_NONE_MATCH, "W/\"1-abc\""), &tag));
        let weak = HeaderValue::from_static("W/\"1-abc\"");
        assert!(not_modified(&h(header::IF_NONE_MATCH, "\"1-abc\""), &weak));
        assert!(not_modified(
            &h(header::IF_NONE_MATCH, "W/\"1-abc\""),
            &weak
        ));
        assert!(!not_modified(&h(header::IF_NONE_MATCH, "\"1-abd\""), &tag));
        assert!(!not_modified(&HeaderMap::new(), &tag));
    }
}
