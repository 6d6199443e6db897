//! The API's own middleware: request metrics, bearer authentication, body limit, request
//! timeout, and turning every error response into problem+json — one hand-written tower
//! layer, `Front`, because it runs on every request and two `from_fn` layers cost an extra
//! boxed service clone and future each.
//!
//! It sits inside CORS and compression, so it counts every answer the handlers and the
//! router give (401s and timeouts included; CORS preflights, answered by the CORS layer,
//! are not) under the matched route. It checks the bearer token in constant time
//! (`/health`, `/docs` and `/openapi.json` stay open so probes and readers need no secret),
//! refuses bodies above the limit by their `Content-Length` (the two handlers that read a
//! body, `POST /actions/{id}` and `POST /jobs/{name}`, stop a chunked one at the same
//! limit), bounds the handler's time with the request timeout
//! (503), and rewrites any error that did not come from `ApiError` — 405 from the router,
//! extractor rejections — into a problem document that says what to do. Doing the limit
//! and timeout here rather than with tower-http's layers keeps their errors problem+json.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Instant;

use axum::body::{Body, to_bytes};
use axum::extract::{ConnectInfo, MatchedPath, Request};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tower::{Layer, Service};

use super::ApiState;
use super::error::{ApiError, PROBLEM_JSON};
use super::metrics::HttpMetrics;
use crate::component::BoxFuture;

/// Paths served without a token.
pub(crate) const OPEN_PATHS: [&str; 3] = ["/health", "/docs", "/openapi.json"];

/// Wraps each route in `Front`.
#[derive(Clone)]
pub(crate) struct FrontLayer {
    state: ApiState,
}

impl FrontLayer {
    pub fn new(state: ApiState) -> Self {
        FrontLayer { state }
    }
}

impl<S> Layer<S> for FrontLayer {
    type Service = Front<S>;

    fn layer(&self, inner: S) -> Front<S> {
        Front {
            inner,
            state: self.state.clone(),
        }
    }
}

/// Metrics, auth, body limit, timeout and error shaping around one route.
#[derive(Clone)]
pub(crate) struct Front<S> {
    inner: S,
    state: ApiState,
}

impl<S> Service<Request> for Front<S>
where
    S: Service<Request, Error = Infallible> + Clone + Send + 'static,
    S::Response: IntoResponse,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Response, Infallible>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        // The clone is ready only after its own `poll_ready`; the ready one goes with this call.
        let clone = self.inner.clone();
        let inner = std::mem::replace(&mut self.inner, clone);
        let state = self.state.clone();
        Box::pin(async move {
            let route =
                HttpMetrics::route_index(req.extensions().get::<MatchedPath>().map(|m| m.as_str()));
            let started = Instant::now();
            let res = guard(&state, inner, req).await;
            state
                .http_metrics()
                .record(route, res.status().as_u16(), started.elapsed());
            Ok(res)
        })
    }
}

/// Authenticates, limits, times out, then makes sure an error response is problem+json.
async fn guard<S>(state: &ApiState, mut inner: S, req: Request) -> Response
where
    S: Service<Request, Error = Infallible>,
    S::Response: IntoResponse,
{
    // Two Host headers name no one host (RFC 9112 §3.2: answer 400), two Authorization
    // headers no one credential: which one a proxy and this server each took could differ.
    for (name, shown) in [
        (header::HOST, "Host"),
        (header::AUTHORIZATION, "Authorization"),
    ] {
        if req.headers().get_all(name).iter().nth(1).is_some() {
            return ApiError::from_status(
                StatusCode::BAD_REQUEST,
                format!("the request has more than one {shown} header: send one"),
            )
            .into_response();
        }
    }
    if let Some(host) = req.headers().get(header::HOST)
        && !state
            .settings()
            .allows_host(host.to_str().unwrap_or("(not text)"))
    {
        let host = super::error::shorten(&String::from_utf8_lossy(host.as_bytes()));
        return ApiError::from_status(
            StatusCode::FORBIDDEN,
            format!(
                "this server does not answer for the host '{host}': without a token it answers \
                 IP addresses, localhost and the names in api.allowed_hosts (a page on another \
                 name that points here could otherwise read it). Add the name to \
                 api.allowed_hosts, or set api.token"
            ),
        )
        .into_response();
    }
    if let Some(token) = &state.settings().bearer_token {
        // A token sent to an open path is checked too (`/health` says more with it): a
        // guesser gets no answer there that the lockout does not count.
        let open = OPEN_PATHS.contains(&req.uri().path());
        match bearer(req.headers()) {
            None if open => {}
            None => {
                return ApiError::unauthorized(
                    "this server requires a bearer token: send 'Authorization: Bearer <token>' \
                     with the server's api.token / ARBDESK_API_TOKEN",
                )
                .into_response();
            }
            Some(presented) => {
                let client = req
                    .extensions()
                    .get::<ConnectInfo<SocketAddr>>()
                    .map(|c| c.0.ip());
                let now = Instant::now();
                if let Some(left) = state.lockout().locked(client, now) {
                    return ApiError::too_many_attempts(left).into_response();
                }
                if !token.matches(presented) {
                    state.bad_token(client, now);
                    return ApiError::invalid_token("the bearer token is not this server's token")
                        .into_response();
                }
            }
        }
    }
    if let Some(accept) = req.headers().get(header::ACCEPT) {
        let served = served_type(req.uri().path());
        if let Some(served) = served
            && !acceptable(accept.as_bytes(), served)
        {
            let asked = super::error::shorten(&String::from_utf8_lossy(accept.as_bytes()));
            let csv = if served == "application/json" {
                " (CSV comes from `arbdesk export --format csv`)"
            } else {
                ""
            };
            return ApiError::from_status(
                StatusCode::NOT_ACCEPTABLE,
                format!(
                    "this path answers in {served} only, and Accept: {asked} does not take it; \
                     send Accept: {served} or */*{csv}"
                ),
            )
            .into_response();
        }
    }
    let limit = state.settings().body_limit;
    if let Some(len) = content_length(req.headers())
        && len > limit
    {
        return ApiError::from_status(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "the request body is {len} bytes, above the limit of {limit} bytes; send a \
                 smaller one (the server's limit is `body_limit_bytes` in its config file's \
                 [api] section)"
            ),
        )
        .into_response();
    }
    if let Some(encoding) = req.headers().get(header::CONTENT_ENCODING)
        && !encoding.as_bytes().eq_ignore_ascii_case(b"identity")
    {
        let encoding = super::error::shorten(&String::from_utf8_lossy(encoding.as_bytes()));
        return ApiError::from_status(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!(
                "a request body with Content-Encoding: {encoding} is not read here: send it \
                 uncompressed, without Content-Encoding"
            ),
        )
        .into_response();
    }
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let timeout = state.settings().request_timeout;
    // Whether the client sent its whole body: a timeout while it is still arriving is the
    // client's (408), not the server's (503).
    let has_body = content_length(req.headers()).is_some_and(|n| n > 0)
        || req.headers().contains_key(header::TRANSFER_ENCODING);
    let received = Arc::new(AtomicBool::new(false));
    let req = if has_body {
        req.map(|body| {
            Body::new(Watched {
                inner: body,
                received: received.clone(),
            })
        })
    } else {
        req
    };
    let res = match tokio::time::timeout(timeout, inner.call(req)).await {
        Ok(Ok(res)) => res.into_response(),
        Ok(Err(never)) => match never {},
        Err(_) if has_body && !received.load(Ordering::Relaxed) => {
            tracing::warn!(%method, path, timeout_s = timeout.as_secs_f64(), "An API request's body did not arrive in time.");
            return ApiError::from_status(
                StatusCode::REQUEST_TIMEOUT,
                format!(
                    "the request body did not arrive within {:.1} s; send it whole with the request",
                    timeout.as_secs_f64()
                ),
            )
            .into_response();
        }
        Err(_) => {
            tracing::warn!(%method, path, timeout_s = timeout.as_secs_f64(), "API request timed out.");
            return ApiError::from_status(
                StatusCode::SERVICE_UNAVAILABLE,
                format!(
                    "the request did not finish within {:.1} s; retry, or narrow the query (a lower limit, more filters)",
                    timeout.as_secs_f64()
                ),
            )
            .into_response();
        }
    };
    let status = res.status();
    if !(status.is_client_error() || status.is_server_error()) || is_problem(res.headers()) {
        return res;
    }
    problemize(res, &method, &path).await
}

/// A request body that records when it has been read to its end.
struct Watched {
    inner: Body,
    received: Arc<AtomicBool>,
}

impl http_body::Body for Watched {
    type Data = axum::body::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        let frame = std::pin::Pin::new(&mut self.inner).poll_frame(cx);
        if matches!(frame, Poll::Ready(None)) {
            self.received.store(true, Ordering::Relaxed);
        }
        frame
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// The media type a path answers in (`None`, not checked: no endpoint, whose 404 answers
/// whatever the client accepts, or the docs' assets).
fn served_type(path: &str) -> Option<&'static str> {
    match path {
        "/metrics" => Some("text/plain"),
        "/docs" => Some("text/html"),
        // No endpoint: its 404 says so, whatever the client accepts.
        p if !super::is_endpoint(p) => None,
        _ => Some("application/json"),
    }
}

/// Whether an `Accept` header takes `served` (`type/subtype`): a range that matches it,
/// `type/*` or `*/*`, without `q=0`. JSON answers also match `application/problem+json`
/// (errors are written in it). An empty or unreadable header takes anything.
fn acceptable(accept: &[u8], served: &str) -> bool {
    let Ok(accept) = std::str::from_utf8(accept) else {
        return true;
    };
    if accept.trim().is_empty() {
        return true;
    }
    let (s_type, s_sub) = served.split_once('/').unwrap_or((served, ""));
    // One pass. The most specific range decides (RFC 9110 §12.5.1): `q=0` on exactly the
    // served type refuses it whatever else matches (`application/json;q=0, */*`).
    let mut taken = false;
    for range in accept.split(',') {
        let mut parts = range.split(';');
        let media = parts.next().unwrap_or("").trim();
        let refused = parts.any(q_zero);
        if refused && media.eq_ignore_ascii_case(served) {
            return false;
        }
        let (r_type, r_sub) = media.split_once('/').unwrap_or((media, ""));
        let matches = r_type == "*"
            || (r_type.eq_ignore_ascii_case(s_type)
                && (r_sub == "*"
                    || r_sub.eq_ignore_ascii_case(s_sub)
                    || (served == "application/json"
                        && r_sub.eq_ignore_ascii_case("problem+json"))));
        taken |= matches && !refused;
    }
    taken
}

/// Whether a media-range parameter is `q=0` (not acceptable).
fn q_zero(param: &str) -> bool {
    param
        .trim()
        .strip_prefix("q=")
        .and_then(|q| q.trim().parse::<f32>().ok())
        .is_some_and(|q| q <= 0.0)
}

fn content_length(headers: &HeaderMap) -> Option<usize> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// Whether a request with `headers` may see what the token guards: the server has no token,
/// or the request sent it. For open paths that say more to those who have it (`/health`).
pub(crate) fn authorized(state: &ApiState, headers: &HeaderMap) -> bool {
    match &state.settings().bearer_token {
        None => true,
        Some(token) => bearer(headers).is_some_and(|p| token.matches(p)),
    }
}

/// The token of an `Authorization: Bearer <token>` header (scheme case-insensitive).
fn bearer(headers: &HeaderMap) -> Option<&[u8]> {
    let value = headers.get(header::AUTHORIZATION)?.as_bytes();
    let (scheme, rest) = value.split_at_checked(7)?;
    scheme
        .eq_ignore_ascii_case(b"bearer ")
        .then(|| rest.trim_ascii())
}

/// Whether an error response is already a document a client can use: problem+json from
/// `ApiError`, or JSON on purpose (the `/health` report with its 503). Bodies without a
/// type or in plain text come from the framework and are rewritten.
fn is_problem(headers: &HeaderMap) -> bool {
    headers.get(header::CONTENT_TYPE).is_some_and(|v| {
        let v = v.as_bytes();
        v.starts_with(PROBLEM_JSON.as_bytes()) || v.starts_with(b"application/json")
    })
}

/// Rewrites an error response that did not come from `ApiError` (405 from the router,
/// extractor rejections) as problem+json, keeping its headers (`Allow`, CORS).
async fn problemize(res: Response, method: &Method, path: &str) -> Response {
    let (mut parts, body) = res.into_parts();
    let status = parts.status;
    let detail = if status == StatusCode::METHOD_NOT_ALLOWED {
        let allowed = parts
            .headers
            .get(header::ALLOW)
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty())
            // axum adds `Allow` outside this layer; the router knows what each path takes.
            .unwrap_or_else(|| super::allowed_methods(path));
        // With `api.cors_origins` set, preflights are answered before they get here.
        let preflight = if method == Method::OPTIONS {
            " (a browser's CORS preflight is answered only for the origins api.cors_origins \
             lists: add the page's origin there)"
        } else {
            ""
        };
        format!(
            "method {method} is not allowed on {}; use {allowed}{preflight}",
            super::error::shorten(path)
        )
    } else {
        let text = to_bytes(body, 2048).await.unwrap_or_default();
        let text = String::from_utf8_lossy(&text);
        let reason = status.canonical_reason().unwrap_or("error").to_lowercase();
        if text.trim().is_empty() {
            reason
        } else {
            format!("{reason}: {}", super::error::shorten(text.trim()))
        }
    };
    let (pparts, pbody) = ApiError::from_status(status, detail)
        .into_response()
        .into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.remove(header::CONTENT_ENCODING);
    for (name, value) in &pparts.headers {
        parts.headers.insert(name.clone(), value.clone());
    }
    Response::from_parts(parts, Body::new(pbody))
}

/// Refuses a request sent by a web page from an origin that is neither this server nor in
/// `api.cors_origins`. Jobs and actions spend Keepa tokens or change the watchlist, and
/// browsers send any page's form POST to a loopback server without asking; but they always
/// say where it came from, so only the command line, other programs and the configured
/// origins may send `what`.
pub(crate) fn refuse_cross_site(
    headers: &HeaderMap,
    settings: &super::ApiSettings,
    what: &str,
) -> Result<(), ApiError> {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return Ok(());
    };
    let origin = origin.to_str().unwrap_or("(not text)");
    let same_origin = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .is_some_and(|host| {
            origin
                .strip_prefix("http://")
                .or(origin.strip_prefix("https://"))
                == Some(host)
        });
    if same_origin || settings.names_origin(origin) {
        return Ok(());
    }
    Err(ApiError::from_status(
        StatusCode::FORBIDDEN,
        format!(
            "{what} cannot be started from a web page at {}: add the origin to \
             api.cors_origins to allow it (\"*\" lets pages read, not act)",
            super::error::shorten(origin)
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn accept_headers_that_take_json_or_text() {
        let json = "application/json";
        for ok in [
            "",
            "*/*",
            "application/json",
            "Application/JSON; charset=utf-8",
            "application/*",
            "application/problem+json",
            "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
        ] {
            assert!(acceptable(ok.as_bytes(), json), "{ok}");
        }
        for refused in [
            "text/csv",
            "text/html",
            "application/json;q=0",
            "*/*;q=0.0",
            "application/json;q=0, */*",
        ] {
            assert!(!acceptable(refused.as_bytes(), json), "{refused}");
        }
        // Prometheus asks for OpenMetrics first and takes text/plain.
        let prom = "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5";
        assert!(acceptable(prom.as_bytes(), "text/plain"));
        assert!(!acceptable(b"application/json", "text/plain"));
        assert_eq!(served_type("/docs/swagger-ui.css"), None);
        assert_eq!(served_type("/docs"), Some("text/html"));
        assert_eq!(served_type("/nope"), None, "a 404, not a 406");
        assert_eq!(served_type("/products/B0DEMO1234"), Some(json));
        assert_eq!(served_type("/opportunities"), Some(json));
    }

    #[test]
    fn bearer_parsing() {
        let mut h = HeaderMap::new();
        assert_eq!(bearer(&h), None);
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer abc"),
        );
        assert_eq!(bearer(&h), Some(&b"abc"[..]));
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("bearer  abc "),
        );
        assert_eq!(bearer(&h), Some(&b"abc"[..]));
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic abc"));
        assert_eq!(bearer(&h), None);
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Bear"));
        assert_eq!(bearer(&h), None);
    }
}
