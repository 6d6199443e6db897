//! `GET /watchlist`: the watched ASINs, where each came from and how far fetching got.
//!
//! The list `arbdesk watch ls` prints, one page at a time: an entry names the markets it
//! was fetched in and, of the markets this process tracks, those not fetched yet (a new
//! entry waits for its first fetch there; the refresh order is never-fetched first).
//! Adding and removing go through `POST /actions/watch`. Not cached: the watchlist changes
//! without a store write the pipeline would announce (an ASIN added by `arbdesk watch add`
//! in another process), so every page is read from the store: one query over the list.

use std::sync::LazyLock;

use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::{IntoParams, ToSchema};

use super::error::{ApiError, Problem};
use super::params::Params;
use super::{ApiState, respond};
use crate::domain::{Asin, Market};
use crate::pipeline::Source;
use crate::store::{WatchEntry, WatchSource};

/// Query parameters of `GET /watchlist`. Empty values count as absent.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // Documents the query; the handler parses it strictly with `Params`.
pub(crate) struct WatchQuery {
    /// Only entries from this source: `user` (console, CLI, API), `discovery` (best-seller
    /// lists) or `import`.
    #[param(value_type = Option<WatchOrigin>)]
    source: Option<WatchSource>,
    /// `true`: only entries not yet fetched in every tracked market (`false`: only those
    /// fetched in all of them).
    pending: Option<bool>,
    /// Page size, 1 to 1000 (default 50).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u64>,
    /// Entries to skip (default 0, at most 1000000000).
    #[param(minimum = 0, maximum = 1_000_000_000)]
    offset: Option<u64>,
}

static ACCEPTED: LazyLock<Vec<&'static str>> = LazyLock::new(super::params::names::<WatchQuery>);

/// One page of the watchlist, oldest entry first.
#[derive(Debug, Serialize, ToSchema)]
pub struct WatchPage {
    /// `live` Keepa data or `demo` (simulated) data, as `/health` says.
    pub source: Source,
    /// The markets this process tracks: what `not_fetched` is counted against.
    pub markets: Vec<Market>,
    /// Matching entries in all pages.
    pub total: u64,
    /// Page size used.
    pub limit: u64,
    /// Entries skipped.
    pub offset: u64,
    /// This page, in the order the entries were added.
    pub items: Vec<WatchItem>,
}

/// One watched ASIN.
#[derive(Debug, Serialize, ToSchema)]
pub struct WatchItem {
    /// The ASIN.
    #[schema(value_type = String, example = "B0V97D4503")]
    pub asin: Asin,
    /// Where it came from.
    pub source: WatchOrigin,
    /// When it was added (RFC 3339, UTC).
    pub added_at: DateTime<Utc>,
    /// The oldest fetch among the markets it was fetched in; `null` = never fetched.
    pub oldest_fetch: Option<DateTime<Utc>>,
    /// The markets it was fetched in, listed there or not.
    pub fetched: Vec<Market>,
    /// Tracked markets it was not fetched in yet.
    pub not_fetched: Vec<Market>,
}

/// Where a watched ASIN came from: `user` (the console, the CLI, the API), `discovery`
/// (a best-seller list) or `import`.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum WatchOrigin {
    /// Added by a person.
    User,
    /// Found by best-seller discovery.
    Discovery,
    /// Brought in by `arbdesk import --watch`.
    Import,
}

impl From<WatchSource> for WatchOrigin {
    fn from(s: WatchSource) -> Self {
        match s {
            WatchSource::User => WatchOrigin::User,
            WatchSource::Discovery => WatchOrigin::Discovery,
            WatchSource::Import => WatchOrigin::Import,
        }
    }
}

impl WatchItem {
    fn new(w: WatchEntry, tracked: &[Market]) -> Self {
        let not_fetched = w.not_fetched(tracked);
        WatchItem {
            asin: w.asin,
            source: w.source.into(),
            added_at: w.added_at,
            oldest_fetch: w.oldest_fetch,
            fetched: w.fetched,
            not_fetched,
        }
    }
}

struct Filter {
    source: Option<WatchSource>,
    pending: Option<bool>,
    limit: usize,
    offset: usize,
}

fn parse(raw: Option<&str>) -> Result<Filter, ApiError> {
    let p = Params::parse(raw, &ACCEPTED)?;
    let source = p.choice("source", &WatchSource::ALL.map(|s| (s.name(), s)))?;
    let pending = p.boolean("pending")?;
    let (limit, offset) = p.page()?;
    Ok(Filter {
        source,
        pending,
        limit,
        offset,
    })
}

/// The watchlist, one page.
#[utoipa::path(
    get,
    path = "/watchlist",
    operation_id = "listWatchlist",
    tag = "watchlist",
    params(WatchQuery),
    responses(
        (status = 200, description = "One page of the watchlist.", body = WatchPage),
        (status = 400, description = "A parameter is unknown or has a bad value.", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The store cannot answer.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn list(State(state): State<ApiState>, RawQuery(query): RawQuery) -> Response {
    match page(&state, query.as_deref()).await {
        Ok(page) => respond::fresh(&page),
        Err(e) => e.into_response(),
    }
}

async fn page(state: &ApiState, query: Option<&str>) -> Result<WatchPage, ApiError> {
    let filter = parse(query)?;
    respond::store_up(state)?;
    let status = state.status_snapshot();
    let markets = status.tracked_markets();
    let entries = state
        .store()
        .watchlist()
        .await
        .map_err(|e| ApiError::store(&e))?;
    let matching = entries
        .into_iter()
        .filter(|w| filter.source.is_none_or(|s| w.source == s))
        .filter(|w| filter.pending.is_none_or(|p| w.pending(&markets) == p));
    let mut total = 0u64;
    let mut items = Vec::with_capacity(filter.limit);
    for (i, w) in matching.enumerate() {
        total += 1;
        if i >= filter.offset && items.len() < filter.limit {
            items.push(WatchItem::new(w, &markets));
        }
    }
    Ok(WatchPage {
        source: status.source,
        markets,
        total,
        limit: filter.limit as u64,
        offset: filter.offset as u64,
        items,
    })
}
