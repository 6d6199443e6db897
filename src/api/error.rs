//! The API's one error type and its wire form, RFC 9457 `application/problem+json`.
//!
//! Every failure a client can see goes through `ApiError`: bad parameters (400, naming the
//! parameter, the value and what is accepted), unknown paths and ASINs (404), missing or
//! wrong tokens (401), a store that cannot answer (503, with the internal error logged and a
//! plain message sent). Internal details never reach the client; the `type` of each problem
//! points at its section of `/docs`, so a script author can look it up.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::store::StoreError;

/// The media type of every error body.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// An RFC 9457 problem document, as sent.
#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct Problem {
    /// Problem type: a link to its section of `/docs`, e.g. `/docs#problem-invalid-parameter`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Short, fixed summary of the problem type.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// What went wrong with this request and what to do about it.
    pub detail: String,
    /// The query parameter at fault (400s on parameters).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parameter: Option<String>,
    /// The rejected value, shortened and stripped of control characters.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// What would have been accepted: the allowed values, the allowed parameters, or a range.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub accepted: Vec<String>,
}

/// Any failure answered by the API (boxed: errors are rare, `Result`s are everywhere).
#[derive(Clone, Debug)]
pub struct ApiError(Box<Details>);

#[derive(Clone, Debug)]
struct Details {
    status: StatusCode,
    slug: &'static str,
    title: &'static str,
    detail: String,
    parameter: Option<String>,
    value: Option<String>,
    accepted: Vec<String>,
    /// Logged, never sent.
    internal: Option<String>,
    /// Seconds for a `Retry-After` header (429s).
    retry_after: Option<u64>,
}

impl ApiError {
    fn new(status: StatusCode, slug: &'static str, title: &'static str, detail: String) -> Self {
        ApiError(Box::new(Details {
            status,
            slug,
            title,
            detail,
            parameter: None,
            value: None,
            accepted: Vec::new(),
            internal: None,
            retry_after: None,
        }))
    }

    /// A query parameter with a value that cannot be used (400).
    pub fn bad_parameter(
        parameter: &str,
        value: Option<&str>,
        detail: impl Into<String>,
        accepted: Vec<String>,
    ) -> Self {
        let mut e = ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid-parameter",
            "Invalid query parameter",
            detail.into(),
        );
        e.0.parameter = Some(parameter.to_string());
        e.0.value = value.map(shorten);
        e.0.accepted = accepted;
        e
    }

    /// Refuses a query string on a request that takes none (`POST /jobs/…`, `/actions/…`),
    /// naming its parameters; `hint` says where arguments go instead, if anywhere.
    pub fn refuse_query(query: Option<&str>, hint: &str) -> Result<(), Self> {
        match query.filter(|q| !q.is_empty()) {
            None => Ok(()),
            Some(query) => {
                let names: Vec<String> = query
                    .split('&')
                    .map(|p| p.split('=').next().unwrap_or("").to_string())
                    .collect();
                Err(ApiError::unknown_parameters(&names, &[], hint))
            }
        }
    }

    /// A request that would change stored data, on a read-only server: `what` is what it
    /// is (`'watch'`, `discovery`).
    pub fn read_only(what: &str) -> Self {
        ApiError::from_status(
            StatusCode::FORBIDDEN,
            format!(
                "this server is read-only (--read-only): {what} changes stored data; run it \
                 on a process started without it"
            ),
        )
    }

    /// Query parameters the endpoint does not know (400): a typo must not widen a query.
    pub fn unknown_parameters(unknown: &[String], accepted: &[&str], hint: &str) -> Self {
        // A few names are enough to see the mistake; thousands would only bloat the answer.
        const SHOWN: usize = 10;
        let mut names: Vec<String> = unknown
            .iter()
            .take(SHOWN)
            .map(|u| format!("'{}'", shorten(u)))
            .collect();
        if unknown.len() > SHOWN {
            names.push(format!("and {} more", unknown.len() - SHOWN));
        }
        let takes = if accepted.is_empty() {
            "this endpoint takes no query parameters".to_string()
        } else {
            format!("this endpoint accepts: {}", accepted.join(", "))
        };
        let detail = format!(
            "unknown query parameter{} {}{hint}; {takes}",
            if unknown.len() == 1 { "" } else { "s" },
            names.join(", "),
        );
        let mut e = ApiError::new(
            StatusCode::BAD_REQUEST,
            "unknown-parameter",
            "Unknown query parameter",
            detail,
        );
        e.0.parameter = unknown.first().map(|u| shorten(u));
        e.0.accepted = accepted.iter().map(|s| s.to_string()).collect();
        e
    }

    /// A path segment that is not well formed (400), e.g. a malformed ASIN.
    pub fn bad_path(parameter: &str, value: &str, detail: impl Into<String>) -> Self {
        let mut e = ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid-path",
            "Invalid path parameter",
            detail.into(),
        );
        e.0.parameter = Some(parameter.to_string());
        e.0.value = Some(shorten(value));
        e
    }

    /// Nothing at this path, or no such product (404).
    pub fn not_found(detail: impl Into<String>) -> Self {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not-found",
            "Not found",
            detail.into(),
        )
    }

    /// A bearer token that is not the server's (401, `error="invalid_token"` as RFC 6750
    /// §3.1 says).
    pub fn invalid_token(detail: impl Into<String>) -> Self {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            INVALID_TOKEN,
            detail.into(),
        )
    }

    /// A client locked out for sending wrong bearer tokens (429), for `left` more.
    pub fn too_many_attempts(left: std::time::Duration) -> Self {
        let secs = left.as_secs() + u64::from(left.subsec_nanos() > 0);
        let mut e = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too-many-attempts",
            "Too many wrong tokens",
            format!(
                "this address sent {} wrong bearer tokens within {} s, so requests from it that \
                 carry a token are refused for another {secs} s. Check the token (the server's \
                 api.token / ARBDESK_API_TOKEN) and retry after that",
                super::lockout::MAX_WRONG,
                super::lockout::WINDOW.as_secs(),
            ),
        );
        e.0.retry_after = Some(secs);
        e
    }

    /// A missing bearer token (401).
    pub fn unauthorized(detail: impl Into<String>) -> Self {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Authentication required",
            detail.into(),
        )
    }

    /// The store failed (503); the internal message is logged, not sent.
    pub fn store(err: &StoreError) -> Self {
        let detail = match err {
            StoreError::Unavailable(_) => {
                "the store is unavailable; the data cannot be read right now. A busy store answers again shortly; if it persists, /health says why (its store component: a file gone or damaged, a full disk, a cluster down) and what to do, and the server log has the error"
            }
            StoreError::Corrupt(_) => {
                "the store's data cannot be read: the database is damaged or was written by a newer arbdesk; see the server log"
            }
            StoreError::Invalid(_) => "the store rejected this query; see the server log",
        };
        let mut e = ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "store-unavailable",
            "Store unavailable",
            detail.to_string(),
        );
        e.0.internal = Some(err.to_string());
        e
    }

    /// A write the store refused (503): nothing was changed. The internal message is
    /// logged, not sent.
    pub fn store_write(err: &StoreError) -> Self {
        let detail = match err {
            StoreError::Unavailable(_) | StoreError::Corrupt(_) => {
                "the store cannot take writes right now, so nothing was changed. A busy store answers again shortly; if it persists, /health says why (its store component) and what to do, and the server log has the error"
            }
            StoreError::Invalid(_) => "the store rejected this change; see the server log",
        };
        let mut e = ApiError::store(err);
        e.0.detail = detail.to_string();
        e
    }

    /// A failure that is the server's own fault (500); the message is logged, not sent.
    pub fn internal(what: impl Into<String>) -> Self {
        let mut e = ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Internal error",
            "the server failed to build the response; see the server log".into(),
        );
        e.0.internal = Some(what.into());
        e
    }

    /// An error status produced outside the handlers (405, 413, timeouts), given a detail.
    pub fn from_status(status: StatusCode, detail: impl Into<String>) -> Self {
        let (slug, title) = match status.as_u16() {
            405 => ("method-not-allowed", "Method not allowed"),
            408 => ("request-timeout", "Request timeout"),
            503 => ("unavailable", "Service unavailable"),
            413 => ("payload-too-large", "Request body too large"),
            415 => ("unsupported-media-type", "Unsupported media type"),
            406 => ("not-acceptable", "Not acceptable"),
            403 => ("forbidden", "Forbidden"),
            404 => ("not-found", "Not found"),
            409 => ("conflict", "Not served by this process"),
            s if s < 500 => ("bad-request", "Bad request"),
            _ => ("internal", "Internal error"),
        };
        ApiError::new(status, slug, title, detail.into())
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.0.status
    }

    /// The problem document sent for this error.
    pub fn problem(&self) -> Problem {
        Problem {
            kind: format!("/docs#problem-{}", self.0.slug),
            title: self.0.title.to_string(),
            status: self.0.status.as_u16(),
            detail: self.0.detail.clone(),
            parameter: self.0.parameter.clone(),
            value: self.0.value.clone(),
            accepted: self.0.accepted.clone(),
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.0.status.as_u16(),
            self.0.title,
            self.0.detail
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let Some(internal) = &self.0.internal {
            if self.0.status == StatusCode::SERVICE_UNAVAILABLE {
                tracing::warn!(error = %internal, "API request failed: the store did not answer.");
            } else {
                tracing::error!(error = %internal, "API request failed inside the server.");
            }
        }
        let body = serde_json::to_vec(&self.problem()).unwrap_or_else(|_| {
            br#"{"type":"/docs#problem-internal","title":"Internal error","status":500,"detail":"unserializable problem"}"#.to_vec()
        });
        let mut res = (self.0.status, body).into_response();
        let h = res.headers_mut();
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if self.0.status == StatusCode::UNAUTHORIZED {
            h.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(if self.0.title == INVALID_TOKEN {
                    "Bearer realm=\"arbdesk\", error=\"invalid_token\""
                } else {
                    "Bearer realm=\"arbdesk\""
                }),
            );
        }
        if let Some(secs) = self.0.retry_after {
            h.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        } else if self.0.status == StatusCode::SERVICE_UNAVAILABLE {
            h.insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        }
        res
    }
}

/// A path segment as text: one that is not UTF-8 once decoded (`/products/%FF`) is a 400
/// naming `name`, in words rather than the router's.
pub(crate) fn path_text(
    segment: Result<axum::extract::Path<String>, axum::extract::rejection::PathRejection>,
    name: &str,
) -> Result<String, ApiError> {
    segment.map(|p| p.0).map_err(|_| {
        ApiError::bad_path(
            name,
            "(not UTF-8)",
            format!("the {name} in the path is not UTF-8 text once decoded; percent-encode UTF-8 bytes only"),
        )
    })
}

/// The title of a 401 for a token presented but wrong.
const INVALID_TOKEN: &str = "Invalid bearer token";

/// A client-supplied value made safe to echo: control characters escaped, at most 80
/// characters.
pub(crate) fn shorten(s: &str) -> String {
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i == 80 {
            out.push('…');
            break;
        }
        // A control character is shown as its JSON escape (`\u0000`, `\n`), so the value
        // named is the value sent.
        if c.is_control() {
            match c {
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                c => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::shorten;

    #[test]
    fn an_echoed_value_shows_control_characters_as_json_escapes_and_is_cut() {
        assert_eq!(shorten("a\u{0}b\nc\u{1b}[1m"), "a\\u0000b\\nc\\u001b[1m");
        let long = "x".repeat(100);
        assert_eq!(shorten(&long), format!("{}…", "x".repeat(80)));
    }
}
