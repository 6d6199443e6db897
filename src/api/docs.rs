//! `GET /openapi.json` and `GET /docs`: the contract, generated from the code, and a page to
//! explore and try it that works with no network.
//!
//! The OpenAPI document is derived from the handlers' `#[utoipa::path]` annotations and the
//! response types' `ToSchema`, built once when the router is built. `/docs` is one
//! self-contained HTML page (`docs.html`, compiled into the binary: inline CSS and script,
//! no CDN, no fonts) that renders `/openapi.json` and sends requests with an optional
//! bearer token; its `Content-Security-Policy` forbids loading anything from elsewhere.
//! It also documents each problem type, which the `type` of every error body links to.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::Response;
use bytes::Bytes;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::{ParameterBuilder, ParameterIn};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{Content, Ref, RefOr, Required, ResponseBuilder};
use utoipa::{Modify, OpenApi};

use super::ApiState;
use super::dto::{
    BreakdownLineOut, BreakdownOut, ComponentOut, Components, FxOut, Health, JobOut, JobRunOut,
    KeepaOut, ListingStats, MarketDetail, MarketPrices, OpportunityItem, OpportunityPage,
    PackageOut, PipelineOut, Prices, ProductDetail, ProductPage, ProductSummary, ReporterOut,
    SeriesOut, StageOut, Stats,
};
use super::error::{PROBLEM_JSON, Problem};
use super::middleware::OPEN_PATHS;
use crate::component::HealthStatus;
use crate::domain::{Asin, Currency, Market, Money, PricePoint, SeriesKind};
use crate::pipeline::Source;
use crate::store::{OpportunitySort, SortOrder};

/// The bearer scheme, and on every operation the middleware guards (all but its open
/// paths) the requirement, and on every operation the 401 and 429 of a wrong token (a
/// token sent to an open path is checked too) and the 403 and 406 the middleware answers,
/// so the document says what the server does.
struct BearerAuth;

/// A problem+json response described by `text`.
fn problem(text: &str) -> RefOr<utoipa::openapi::Response> {
    RefOr::T(
        ResponseBuilder::new()
            .description(text)
            .content(
                PROBLEM_JSON,
                Content::new(Some(Ref::from_schema_name("Problem"))),
            )
            .build(),
    )
}

/// A problem+json response described by `text` that carries the header `name`.
fn problem_with_header(text: &str, name: &str, header: &str) -> RefOr<utoipa::openapi::Response> {
    let mut p = problem(text);
    if let RefOr::T(p) = &mut p {
        p.headers
            .insert(name.into(), RefOr::T(response_header(header)));
    }
    p
}

/// Declares `code` as a problem described by `text`, or, where the operation declares its
/// own (its parameters, read-only), adds `text` to that description: the middleware
/// answers it on every path.
fn also_answers(
    r: &mut std::collections::BTreeMap<String, RefOr<utoipa::openapi::Response>>,
    code: &str,
    text: &str,
) {
    match r.entry(code.to_string()).or_insert_with(|| problem(text)) {
        RefOr::T(own) if !own.description.contains(text) => {
            own.description = format!("{} {text}", own.description);
        }
        _ => {}
    }
}

/// The answers served from the response cache, and the two built once: they carry an
/// `ETag`, and a request that sends it back in `If-None-Match` gets a 304 while it holds.
const CACHED_PATHS: [&str; 5] = [
    "/opportunities",
    "/products",
    "/products/{asin}",
    "/openapi.json",
    "/docs",
];

/// A response header described by `text`.
fn response_header(text: &str) -> utoipa::openapi::header::Header {
    HeaderBuilder::new().description(Some(text)).build()
}

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for (path, item) in openapi.paths.paths.iter_mut() {
            let guarded = !OPEN_PATHS.contains(&path.as_str());
            let ops = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ];
            for (i, op) in ops.into_iter().enumerate() {
                let Some(op) = op else { continue };
                // `i == 0` is GET: a request body there is refused like any other.
                let reads_body = i != 0;
                if guarded {
                    // The token is needed only when the server has one: the empty
                    // requirement says a client may call without it.
                    op.security = Some(vec![
                        SecurityRequirement::new("bearer", Vec::<String>::new()),
                        SecurityRequirement::default(),
                    ]);
                }
                if i == 0 && CACHED_PATHS.contains(&path.as_str()) {
                    op.parameters.get_or_insert_with(Vec::new).push(RefOr::T(
                        ParameterBuilder::new()
                            .name("If-None-Match")
                            .parameter_in(ParameterIn::Header)
                            .required(Required::False)
                            .schema(Some(utoipa::openapi::schema::Object::with_type(
                                utoipa::openapi::schema::Type::String,
                            )))
                            .description(Some(
                                "The ETag of an earlier answer: 304, without a body, while \
                                 it is still the answer.",
                            ))
                            .build(),
                    ));
                    let etag = || {
                        response_header(
                            "A weak tag of this answer (the same for its gzipped form); send \
                             it back in If-None-Match.",
                        )
                    };
                    let r = &mut op.responses.responses;
                    if let Some(RefOr::T(ok)) = r.get_mut("200") {
                        ok.headers.insert("ETag".into(), RefOr::T(etag()));
                    }
                    let not_modified = r.entry("304".to_string()).or_insert_with(|| {
                        RefOr::T(
                            ResponseBuilder::new()
                                .description("Not modified: the If-None-Match tag still holds.")
                                .build(),
                        )
                    });
                    // A 304 the operation declares itself carries the tag too.
                    if let RefOr::T(not_modified) = not_modified {
                        not_modified
                            .headers
                            .entry("ETag".into())
                            .or_insert_with(|| RefOr::T(etag()));
                    }
                }
                let r = &mut op.responses.responses;
                // A token sent to an open path is checked too, and a wrong one counts
                // towards the lockout as anywhere.
                r.entry("401".to_string()).or_insert_with(|| {
                    problem_with_header(
                        if guarded {
                            "The server has a bearer token and the request did not send it, \
                             or sent another."
                        } else {
                            "The request sent a bearer token that is not the server's (this \
                             path needs none: send none or the right one)."
                        },
                        "WWW-Authenticate",
                        "`Bearer realm=\"arbdesk\"`, with `error=\"invalid_token\"` when a \
                         token was sent.",
                    )
                });
                r.entry("429".to_string()).or_insert_with(|| {
                    problem_with_header(
                        "This client address sent 10 wrong bearer tokens within a minute: its \
                         requests with a token are refused for a minute (Retry-After).",
                        "Retry-After",
                        "Seconds until it may try again.",
                    )
                });
                // What the middleware answers on every path: a Host it does not serve
                // (without a token), and an Accept header that takes nothing the path
                // serves (JSON, the metrics' text, the docs page's HTML).
                also_answers(
                    r,
                    "403",
                    "Without a bearer token the server answers only a Host that is an IP \
                     address, localhost or a name in api.allowed_hosts.",
                );
                // And a request with two Host headers; an operation's own 400 names its
                // parameters.
                also_answers(r, "400", "The request has more than one Host header.");
                r.entry("406".to_string()).or_insert_with(|| {
                    problem(
                        "The Accept header takes neither what the path serves nor \
                         application/problem+json.",
                    )
                });
                // The request layer, on every path: a body over `api.body_limit_bytes` by
                // its Content-Length, a compressed body, the request timeout, and a failure
                // of the server's own.
                r.entry("413".to_string()).or_insert_with(|| {
                    problem(
                        "The request body is over the server's limit (api.body_limit_bytes, \
                         64 KiB by default).",
                    )
                });
                r.entry("415".to_string()).or_insert_with(|| {
                    problem("A request body with a Content-Encoding: send it uncompressed.")
                });
                if reads_body {
                    r.entry("408".to_string()).or_insert_with(|| {
                        problem("The request body did not arrive within the request timeout.")
                    });
                }
                r.entry("503".to_string()).or_insert_with(|| {
                    problem(
                        "The store is unavailable, or the answer took longer than the request \
                         timeout (api.request_timeout_secs); retry later.",
                    )
                });
                r.entry("500".to_string()).or_insert_with(|| {
                    problem("The server failed to build the answer; see its log.")
                });
            }
        }
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "Required when the server has a token (api.token / ARBDESK_API_TOKEN).",
                    ))
                    .build(),
            ),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "arbdesk API",
        description = "Amazon EU cross-marketplace arbitrage (UK, DE, FR, IT, ES) from Keepa data. \
            Money is integer minor units with an ISO currency code; percentages are numbers. \
            Errors are application/problem+json naming the parameter at fault.",
        license(name = "MIT")
    ),
    paths(
        super::health::health,
        super::products::list,
        super::products::detail,
        super::opportunities::list,
        super::stats::stats,
        super::watchlist::list,
        super::jobs::run,
        super::actions::list,
        super::actions::run,
        super::metrics::metrics,
        openapi_json,
        docs_page,
    ),
    components(schemas(
        Problem, Health, Components, ComponentOut, ProductPage, ProductSummary, MarketPrices,
        ProductDetail, MarketDetail, Prices, ListingStats, PackageOut, SeriesOut, OpportunityPage,
        OpportunityItem, BreakdownOut, BreakdownLineOut, Stats, PipelineOut, ReporterOut, StageOut,
        KeepaOut, JobOut, JobRunOut, FxOut, SortOrder, OpportunitySort, Market, Money, Currency,
        Asin, SeriesKind, PricePoint, HealthStatus, Source, super::actions::ActionList,
        super::actions::ActionOut, super::actions::KeyOut, super::actions::ActionRequest,
        super::actions::ActionDone, super::jobs::JobAnswer, super::watchlist::WatchPage,
        super::watchlist::WatchItem, super::watchlist::WatchOrigin,
    )),
    modifiers(&BearerAuth),
    tags(
        (name = "opportunities", description = "Arbitrage routes with gross and net economics."),
        (name = "products", description = "The catalogue: prices per market, signals, history."),
        (name = "stats", description = "Totals and pipeline state."),
        (name = "health", description = "Liveness, component health, Prometheus metrics."),
        (name = "watchlist", description = "The watched ASINs and how far fetching got; `POST /actions/watch` adds and removes."),
        (name = "jobs", description = "Scheduled jobs, run now."),
        (name = "actions", description = "The console's actions (one vocabulary with its keymap and `:` line); refresh and watch run here."),
        (name = "docs", description = "This documentation."),
    )
)]
struct ApiDoc;

/// The OpenAPI document for this build, serialized.
pub(crate) fn openapi_bytes(version: &str) -> Bytes {
    let mut doc = ApiDoc::openapi();
    doc.info.version = version.to_string();
    match serde_json::to_value(&doc).and_then(|mut v| {
        lift_ref_descriptions(&mut v);
        serde_json::to_string(&v)
    }) {
        Ok(s) => Bytes::from(s),
        Err(e) => {
            tracing::error!(error = %e, "Serializing the OpenAPI document failed.");
            Bytes::from_static(b"{}")
        }
    }
}

/// Moves the description of an optional field up to the field itself. utoipa writes
/// `Option<T>` of a named schema as `oneOf: [{$ref, description}, {type: null}]`, and
/// documentation viewers (Swagger UI among them) read a property's description only at its
/// own level, so those fields showed none.
fn lift_ref_descriptions(v: &mut serde_json::Value) {
    use serde_json::Value;
    match v {
        Value::Object(map) => {
            if !map.contains_key("description")
                && let Some(Value::Array(alts)) = map.get_mut("oneOf")
                && let Some(text) = alts.iter_mut().find_map(|alt| {
                    let alt = alt.as_object_mut()?;
                    alt.contains_key("$ref")
                        .then(|| alt.remove("description"))
                        .flatten()
                })
            {
                map.insert("description".into(), text);
            }
            map.values_mut().for_each(lift_ref_descriptions);
        }
        Value::Array(items) => items.iter_mut().for_each(lift_ref_descriptions),
        _ => {}
    }
}

/// The OpenAPI 3.1 document of this API.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "docs",
    responses((status = 200, description = "OpenAPI 3.1 document.", content_type = "application/json", body = Object))
)]
pub(crate) async fn openapi_json(State(state): State<ApiState>, headers: HeaderMap) -> Response {
    super::respond::from_entry(state.openapi(), &headers, "application/json")
}

/// The page of `/docs`.
pub(crate) const PAGE: &str = include_str!("docs.html");

/// Interactive documentation, self-contained (works offline).
#[utoipa::path(
    get,
    path = "/docs",
    tag = "docs",
    responses((status = 200, description = "HTML page rendering /openapi.json.", content_type = "text/html", body = String))
)]
pub(crate) async fn docs_page(State(state): State<ApiState>, headers: HeaderMap) -> Response {
    let mut res = super::respond::from_entry(state.docs(), &headers, "text/html; charset=utf-8");
    res.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; \
             connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'",
        ),
    );
    res
}
