//! `GET /products` and `GET /products/{asin}`: the catalogue, one page or one product.
//!
//! Both go through the response cache. A malformed ASIN is a 400 that says what an ASIN
//! looks like; a well-formed one the store does not know is a 404. History is opt-in
//! (`history=true`) because it is most of a product's size.

use std::sync::LazyLock;

use axum::extract::{Path, Request, State};
use axum::response::{IntoResponse, Response};
use utoipa::IntoParams;

use super::dto::{ProductDetail, ProductPage, ProductSummary};
use super::error::{ApiError, Problem};
use super::params::Params;
use super::{ApiState, respond};
use crate::domain::{Asin, Market};
use crate::store::ProductFilter;

/// Query parameters of `GET /products`. Empty values count as absent.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // Documents the query; the handler parses it strictly with `Params`.
pub(crate) struct ProductQuery {
    /// Words, each a case-insensitive substring of the title, brand or ASIN, all of which a
    /// product holds (`kestrel ssd`); a "quoted phrase" is one word. At most 200 characters.
    #[param(max_length = 200)]
    q: Option<String>,
    /// Only products listed in at least one of these markets, comma-separated (`DE,IT`) or
    /// repeated; default all.
    #[param(style = Form, explode = false)]
    market: Option<Vec<Market>>,
    /// Page size, 1 to 1000 (default 50).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u64>,
    /// Rows to skip (default 0, at most 1000000000).
    #[param(minimum = 0, maximum = 1_000_000_000)]
    offset: Option<u64>,
}

/// Query parameters of `GET /products/{asin}`.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // Documents the query; the handler parses it strictly with `Params`.
pub(crate) struct ProductDetailQuery {
    /// Include the price and rank history per market (default `false`).
    history: Option<bool>,
}

static LIST_ACCEPTED: LazyLock<Vec<&'static str>> =
    LazyLock::new(super::params::names::<ProductQuery>);
static DETAIL_ACCEPTED: LazyLock<Vec<&'static str>> =
    LazyLock::new(super::params::names::<ProductDetailQuery>);

fn parse_list(raw: Option<&str>) -> Result<ProductFilter, ApiError> {
    let p = Params::parse(raw, &LIST_ACCEPTED)?;
    let (text, markets) = (p.text("q", 200)?, p.markets("market")?);
    let (limit, offset) = p.page()?;
    Ok(ProductFilter {
        text,
        markets,
        before: None,
        limit,
        offset,
    })
}

/// Products with their current prices per market.
#[utoipa::path(
    get,
    path = "/products",
    operation_id = "listProducts",
    tag = "products",
    params(ProductQuery),
    responses(
        (status = 200, description = "One page of products.", body = ProductPage),
        (status = 304, description = "Not modified: `If-None-Match` holds the current ETag."),
        (status = 400, description = "A parameter is unknown or has a bad value.", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The store cannot answer.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn list(State(state): State<ApiState>, req: Request) -> Response {
    let (query, headers) = (req.uri().query(), req.headers());
    let filter = match parse_list(query) {
        Ok(f) => f,
        Err(e) => return e.into_response(),
    };
    let key = format!("/products {filter:?}");
    let (limit, offset) = (filter.limit as u64, filter.offset as u64);
    let store = state.store();
    let source = state.status_snapshot().source;
    respond::cached(&state, headers, key, move || async move {
        let page = store
            .products(filter)
            .await
            .map_err(|e| ApiError::store(&e))?;
        respond::json(&ProductPage {
            source,
            total: page.total,
            limit,
            offset,
            items: page.items.iter().map(ProductSummary::from).collect(),
        })
    })
    .await
}

/// One product: prices, averages and signals per market, Amazon links, optional history.
#[utoipa::path(
    get,
    path = "/products/{asin}",
    operation_id = "getProduct",
    tag = "products",
    params(
        ("asin" = String, Path, description = "The ASIN: 10 letters or digits, any case.", example = "B0V97D4503"),
        ProductDetailQuery
    ),
    responses(
        (status = 200, description = "The product.", body = ProductDetail),
        (status = 304, description = "Not modified: `If-None-Match` holds the current ETag."),
        (status = 400, description = "Malformed ASIN or bad parameter.", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No product with this ASIN is known.", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The store cannot answer.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn detail(
    State(state): State<ApiState>,
    raw: Result<Path<String>, axum::extract::rejection::PathRejection>,
    req: Request,
) -> Response {
    let raw = match super::error::path_text(raw, "asin") {
        Ok(raw) => raw,
        Err(e) => return e.into_response(),
    };
    let (query, headers) = (req.uri().query(), req.headers());
    // A path is exact: spaces around an ASIN (`%20`) are a malformed path, not the ASIN.
    let asin = if raw.trim() == raw {
        raw.parse::<Asin>().map_err(|e| e.to_string())
    } else {
        Err("an ASIN has no spaces around it; expected 10 letters or digits".to_string())
    };
    let parsed = asin
        .map_err(|why| ApiError::bad_path("asin", &raw, why))
        .and_then(|asin| {
            let p = Params::parse(query, &DETAIL_ACCEPTED)?;
            Ok((asin, p.boolean("history")?.unwrap_or(false)))
        });
    let (asin, with_history) = match parsed {
        Ok(v) => v,
        Err(e) => return e.into_response(),
    };
    let key = format!("/products/{asin} history={with_history}");
    let store = state.store();
    respond::cached(&state, headers, key, move || async move {
        let product = store
            .product(asin)
            .await
            .map_err(|e| ApiError::store(&e))?
            .ok_or_else(|| {
                ApiError::not_found(format!(
                    "no product with ASIN '{asin}' is known; GET /products lists the known ones"
                ))
            })?;
        // Fetched, but listed nowhere (Keepa's productType other than 0, or no title): not
        // a product `/products` lists, so not one to answer with an empty shell either.
        if product.markets.is_empty() {
            return Err(ApiError::not_found(format!(
                "'{asin}' was fetched, but Keepa lists it in none of the covered markets (no \
                 standard product there); GET /products lists the known ones"
            )));
        }
        let history = if with_history {
            Some(store.history(asin).await.map_err(|e| ApiError::store(&e))?)
        } else {
            None
        };
        respond::json(&ProductDetail::new(&product, history.as_deref()))
    })
    .await
}
