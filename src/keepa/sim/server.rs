//! The simulator's HTTP handlers.
//!
//! One handler per endpoint, all sharing the same steps: check the key, apply faults,
//! validate parameters (400 `invalidParameter` naming the parameter), charge the bucket
//! (429 with the envelope when it is empty), answer with the envelope plus the payload.
//! Trailing slashes are accepted (`/product/`), as the Python client sends them.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, PoisonError};

use axum::Router;
use axum::extract::{Path, Query, State as AxState};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Map, Value, json};
use tokio::time::Instant;
use tower_http::compression::CompressionLayer;

use super::State;
use super::catalog::{Options, ROOTS};
use super::rng::{hash, unit};
use crate::domain::{Asin, Market};
use crate::keepa::wire::{Category, Envelope};

type Params = HashMap<String, String>;

pub(super) fn router(state: Arc<State>) -> Router {
    Router::new()
        .route("/{endpoint}", get(handle).fallback(wrong_method))
        .route("/{endpoint}/", get(handle).fallback(wrong_method))
        .fallback(no_endpoint)
        .with_state(state)
        .layer(CompressionLayer::new())
}

/// Every body is JSON with the envelope, errors included (keepa-api.md §4): a path with no
/// endpoint.
async fn no_endpoint(AxState(state): AxState<Arc<State>>, uri: axum::http::Uri) -> Response {
    let answer = error(
        StatusCode::NOT_FOUND,
        "notFound",
        format!("no endpoint at {}", uri.path()),
    );
    json_response(answer.status, with_envelope(&state, Instant::now(), answer))
}

/// ... and a method other than GET.
async fn wrong_method(AxState(state): AxState<Arc<State>>, method: axum::http::Method) -> Response {
    let answer = error(
        StatusCode::METHOD_NOT_ALLOWED,
        "methodNotAllowed",
        format!("{method} is not supported: Keepa's endpoints take GET"),
    );
    json_response(answer.status, with_envelope(&state, Instant::now(), answer))
}

fn json_response(status: StatusCode, text: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json;charset=UTF-8")],
        text,
    )
        .into_response()
}

/// An answer before serialization: status, cost charged, payload fields.
struct Answer {
    status: StatusCode,
    consumed: i64,
    payload: Map<String, Value>,
}

fn error(status: StatusCode, kind: &str, message: impl Into<String>) -> Answer {
    let mut payload = Map::new();
    payload.insert(
        "error".into(),
        json!({ "type": kind, "message": message.into() }),
    );
    Answer {
        status,
        consumed: 0,
        payload,
    }
}

fn bad_param(name: &str, why: impl std::fmt::Display) -> Answer {
    error(
        StatusCode::BAD_REQUEST,
        "invalidParameter",
        format!("You used an invalid parameter for this API Call: {name}: {why}"),
    )
}

async fn handle(
    AxState(state): AxState<Arc<State>>,
    Path(endpoint): Path<String>,
    Query(params): Query<Params>,
) -> Response {
    let started = Instant::now();
    let n = state.requests.fetch_add(1, Ordering::Relaxed);
    let faults = state.faults();
    if !faults.latency.is_zero() {
        tokio::time::sleep(faults.latency).await;
    }
    let roll = |tag: &[u8]| unit(hash(state.config.seed, &[tag, &n.to_le_bytes()]));
    let fail = faults.error_rate > 0.0 && roll(b"error") < faults.error_rate;
    let answer = match n % 3 {
        // A proxy in front of Keepa answers in HTML, without the envelope.
        1 if fail => {
            return (
                StatusCode::BAD_GATEWAY,
                [(header::CONTENT_TYPE, "text/html")],
                "<html><body>502 Bad Gateway</body></html>",
            )
                .into_response();
        }
        // Keepa's own errors are JSON with the envelope, as every answer of it is.
        0 if fail => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internalError",
            "An internal error occurred. Please try again.",
        ),
        _ if fail => error(
            StatusCode::SERVICE_UNAVAILABLE,
            "serviceUnavailable",
            "The service is temporarily unavailable. Please try again.",
        ),
        _ => answer(&state, &endpoint, &params, faults.payment_required),
    };
    let status = answer.status;
    let mut text = with_envelope(&state, started, answer);
    if status == StatusCode::OK
        && faults.malformed_body_rate > 0.0
        && roll(b"body") < faults.malformed_body_rate
    {
        let mut cut = text.len() / 2;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
    }
    if faults.malformed_product_rate > 0.0 && endpoint == "product" {
        // Applied after the envelope so the rest of the batch stays intact.
        text = corrupt_products(&state, n, &text, faults.malformed_product_rate);
    }
    json_response(status, text)
}

/// The answer's body: the token envelope as the bucket stands now, then its payload.
fn with_envelope(state: &State, started: Instant, answer: Answer) -> String {
    let now = Instant::now();
    let (left, refill_in, rate) = {
        let mut b = state.bucket.lock().unwrap_or_else(PoisonError::into_inner);
        (b.left(now), b.refill_in_ms(now), b.rate())
    };
    let env = Envelope {
        timestamp: state.now_ms(),
        tokens_left: left,
        refill_in,
        refill_rate: rate,
        token_flow_reduction: 0.0,
        tokens_consumed: answer.consumed,
        processing_time_in_ms: started.elapsed().as_millis() as i64,
        error: None,
    };
    let mut body = match serde_json::to_value(&env) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    };
    body.extend(answer.payload);
    Value::Object(body).to_string()
}

fn corrupt_products(state: &State, n: u64, text: &str, rate: f64) -> String {
    let Ok(Value::Object(mut body)) = serde_json::from_str::<Value>(text) else {
        return text.to_string();
    };
    if let Some(Value::Array(products)) = body.get_mut("products") {
        for (i, p) in products.iter_mut().enumerate() {
            if unit(hash(
                state.config.seed,
                &[b"product-fault", &n.to_le_bytes(), &i.to_le_bytes()],
            )) >= rate
            {
                continue;
            }
            match p.get_mut("csv").and_then(|c| c.get_mut(1)) {
                Some(series @ Value::Array(_)) => {
                    if let Value::Array(a) = series {
                        a.push(json!(7));
                    }
                }
                _ => {
                    p["lastUpdate"] = json!("yesterday");
                }
            }
        }
    }
    Value::Object(body).to_string()
}

fn answer(state: &State, endpoint: &str, params: &Params, payment_required: bool) -> Answer {
    let key = params.get("key").map(String::as_str).unwrap_or("");
    let key_ok = !key.is_empty()
        && state
            .config
            .accepted_keys
            .as_ref()
            .is_none_or(|keys| keys.iter().any(|k| k == key));
    if !key_ok {
        return error(StatusCode::BAD_REQUEST, "invalidKey", "Invalid access key.");
    }
    if payment_required {
        return error(
            StatusCode::PAYMENT_REQUIRED,
            "paymentRequired",
            "No active subscription for this access key.",
        );
    }
    match endpoint {
        "token" => Answer {
            status: StatusCode::OK,
            consumed: 0,
            payload: Map::new(),
        },
        "product" => product(state, params),
        "bestsellers" => bestsellers(state, params),
        "category" => category(state, params),
        other => error(
            StatusCode::NOT_FOUND,
            "notFound",
            format!(
                "Unknown endpoint /{}",
                other.chars().take(40).collect::<String>()
            ),
        ),
    }
}

fn market(params: &Params) -> Result<Market, Answer> {
    let raw = params
        .get("domain")
        .ok_or_else(|| bad_param("domain", "missing"))?;
    let id: i64 = raw
        .parse()
        .map_err(|_| bad_param("domain", format!("'{raw}' is not an integer domain id")))?;
    Market::from_keepa_domain(id)
        .ok_or_else(|| bad_param("domain", format!("{id} is not simulated (2, 3, 4, 8, 9)")))
}

fn flag(params: &Params, name: &str) -> Result<bool, Answer> {
    match params.get(name).map(String::as_str) {
        None | Some("0") => Ok(false),
        Some("1") => Ok(true),
        Some(v) => Err(bad_param(name, format!("'{v}' is not 0 or 1"))),
    }
}

fn int(params: &Params, name: &str) -> Result<Option<i64>, Answer> {
    params
        .get(name)
        .map(|v| {
            v.parse::<i64>()
                .map_err(|_| bad_param(name, format!("'{v}' is not an integer")))
        })
        .transpose()
}

/// Charges the bucket; `Err` is the 429 answer.
fn charge(state: &State, cost: i64) -> Result<(), Answer> {
    let mut b = state.bucket.lock().unwrap_or_else(PoisonError::into_inner);
    if b.try_spend(cost, Instant::now()) {
        Ok(())
    } else {
        Err(Answer {
            status: StatusCode::TOO_MANY_REQUESTS,
            consumed: 0,
            payload: Map::new(),
        })
    }
}

fn product(state: &State, params: &Params) -> Answer {
    let run = || -> Result<Answer, Answer> {
        let market = market(params)?;
        if params.contains_key("code") {
            return Err(bad_param(
                "code",
                "code lookups are not simulated; use asin",
            ));
        }
        if params.contains_key("offers") {
            return Err(bad_param("offers", "live offers are not simulated"));
        }
        let raw = params
            .get("asin")
            .ok_or_else(|| bad_param("asin", "missing"))?;
        let asins = raw
            .split(',')
            .map(|a| a.parse::<Asin>().map_err(|e| bad_param("asin", e)))
            .collect::<Result<Vec<_>, _>>()?;
        if asins.is_empty() || asins.len() > 100 {
            return Err(bad_param(
                "asin",
                format!("{} ASINs; 1 to 100 per request", asins.len()),
            ));
        }
        // On unless `history=0`, and checked as strictly as the other flags.
        let history = match params.get("history").map(String::as_str) {
            None | Some("1") => true,
            Some("0") => false,
            Some(v) => return Err(bad_param("history", format!("'{v}' is not 0 or 1"))),
        };
        let buybox = flag(params, "buybox")?;
        let days = int(params, "days")?.unwrap_or(0);
        if days < 0 {
            return Err(bad_param("days", "must be 0 or more"));
        }
        let stats_days = match params.get("stats") {
            None => None,
            // Refused rather than answered with other days' figures.
            Some(s) if s.contains(',') => {
                return Err(bad_param(
                    "stats",
                    format!("'{s}': start,end intervals are not simulated; send a number of days"),
                ));
            }
            Some(s) => match s.parse::<i64>() {
                Ok(days) if days >= 1 => Some(days),
                _ => {
                    return Err(bad_param(
                        "stats",
                        format!("'{s}' is not a number of days (1 or more)"),
                    ));
                }
            },
        };
        let update = int(params, "update")?;
        let rating = flag(params, "rating")?;
        for f in ["stock", "videos", "aplus", "only-live-offers"] {
            flag(params, f)?;
        }
        // The rating costs a token when its data is under 14 days old, as the simulator's
        // always is.
        let per = 1 + if buybox { 2 } else { 0 } + i64::from(update == Some(0)) + i64::from(rating);
        let cost = per * asins.len() as i64;
        charge(state, cost)?;
        let now = state.now_ms();
        let opts = Options {
            history,
            days,
            stats_days,
            buybox,
            rating,
        };
        let products: Vec<Value> = asins
            .iter()
            .map(|a| {
                let mut p = state.catalog.product(a, market, now, opts);
                // `update=0` has Keepa fetch the product from Amazon now.
                if update == Some(0) {
                    p.product.last_update = Some(crate::keepa::time::unix_ms_to_keepa(now));
                }
                serde_json::to_value(p).unwrap_or(Value::Null)
            })
            .collect();
        let mut payload = Map::new();
        payload.insert("products".into(), Value::Array(products));
        Ok(Answer {
            status: StatusCode::OK,
            consumed: cost,
            payload,
        })
    };
    run().unwrap_or_else(|a| a)
}

fn bestsellers(state: &State, params: &Params) -> Answer {
    let run = || -> Result<Answer, Answer> {
        let market = market(params)?;
        let category = params
            .get("category")
            .filter(|c| !c.trim().is_empty())
            .ok_or_else(|| bad_param("category", "missing"))?;
        match int(params, "range")? {
            None | Some(0 | 30 | 90 | 180) => {}
            Some(r) => return Err(bad_param("range", format!("{r} is not 0, 30, 90 or 180"))),
        }
        // Past lists are refused rather than answered with today's.
        if params.contains_key("month") || params.contains_key("year") {
            return Err(bad_param(
                "month",
                "past lists (month, year) are not simulated",
            ));
        }
        for f in ["variations", "sublist"] {
            flag(params, f)?;
        }
        // Keepa answers a category it has no list for with none, at no cost.
        let Some(category_id) = known_category(category) else {
            return Ok(Answer {
                status: StatusCode::OK,
                consumed: 0,
                payload: Map::new(),
            });
        };
        charge(state, 50)?;
        let asins = state
            .catalog
            .bestsellers(market, category, state.config.bestseller_len);
        let mut payload = Map::new();
        payload.insert(
            "bestSellersList".into(),
            json!({
                "domainId": market.keepa_domain(),
                "lastUpdate": crate::keepa::time::unix_ms_to_keepa(state.now_ms()) / 60 * 60,
                "categoryId": category_id,
                "asinList": asins,
            }),
        );
        Ok(Answer {
            status: StatusCode::OK,
            consumed: 50,
            payload,
        })
    };
    run().unwrap_or_else(|a| a)
}

fn category(state: &State, params: &Params) -> Answer {
    let run = || -> Result<Answer, Answer> {
        market(params)?;
        let raw = params
            .get("category")
            .ok_or_else(|| bad_param("category", "missing"))?;
        let ids = raw
            .split(',')
            .map(|c| {
                c.trim()
                    .parse::<i64>()
                    .map_err(|_| bad_param("category", format!("'{c}' is not a node id")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        if ids.is_empty() || ids.len() > 10 {
            return Err(bad_param("category", "1 to 10 ids"));
        }
        let parents = flag(params, "parents")?;
        charge(state, 1)?;
        let all = tree();
        let by_id = |id: i64| all.iter().find(|c| c.cat_id == id);
        let entry = |c: &Category| {
            (
                c.cat_id.to_string(),
                serde_json::to_value(c).unwrap_or(Value::Null),
            )
        };
        let mut out = Map::new();
        let mut up = Map::new();
        for id in ids {
            let found: Vec<&Category> = if id == 0 {
                all.iter().filter(|c| c.parent == 0).collect()
            } else {
                by_id(id).into_iter().collect()
            };
            for c in found {
                // Every node above it, up to its root.
                let mut parent = c.parent;
                while parents && parent != 0 {
                    let Some(p) = by_id(parent) else { break };
                    up.extend([entry(p)]);
                    parent = p.parent;
                }
                out.extend([entry(c)]);
            }
        }
        let mut payload = Map::new();
        payload.insert("categories".into(), Value::Object(out));
        if parents {
            payload.insert("categoryParents".into(), Value::Object(up));
        }
        Ok(Answer {
            status: StatusCode::OK,
            consumed: 1,
            payload,
        })
    };
    run().unwrap_or_else(|a| a)
}

/// The `categoryId` of the list for `category`: a node of [`tree`], or `0` for one of the
/// catalogue's product groups (Keepa takes those too); `None` when there is no such list.
fn known_category(category: &str) -> Option<i64> {
    let category = category.trim();
    if let Ok(id) = category.parse::<i64>() {
        return tree().iter().any(|c| c.cat_id == id).then_some(id);
    }
    super::catalog::product_groups()
        .any(|g| g.eq_ignore_ascii_case(category))
        .then_some(0)
}

/// Root categories and seven children each (ids `root × 10 + k`, as the catalogue uses).
fn tree() -> Vec<Category> {
    let mut out = Vec::new();
    for (id, name) in ROOTS {
        let children: Vec<i64> = (0..7).map(|k| id * 10 + k).collect();
        for &c in &children {
            out.push(Category {
                cat_id: c,
                name: super::catalog::child_name(name, c),
                context_free_name: None,
                children: vec![],
                parent: id,
                product_count: 1_000 + c % 997,
            });
        }
        out.push(Category {
            cat_id: id,
            name: name.to_string(),
            context_free_name: Some(name.to_string()),
            children,
            parent: 0,
            product_count: 100_000 + id % 99_991,
        });
    }
    out
}
