//! `GET /opportunities`: the ranked list, filtered on gross and net figures.
//!
//! Parameters are parsed strictly into the store's `OpportunityFilter`; the normalized
//! filter (markets sorted, defaults applied) is the cache key, so `buy=it,de` and
//! `buy=DE&buy=IT` share one cached body. `min_margin` keeps the original API's meaning,
//! gross margin percent; the net filters sit beside it.

use std::sync::LazyLock;

use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use utoipa::IntoParams;

use super::dto::{OpportunityItem, OpportunityPage};
use super::error::{ApiError, Problem};
use super::params::Params;
use super::{ApiState, respond};
use crate::domain::Market;
use crate::filter::Filter;
use crate::store::{OpportunityFilter, OpportunitySort, SortOrder};
use chrono::{DateTime, Utc};

/// Query parameters of `GET /opportunities`. Empty values count as absent.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // Documents the query; the handler parses it strictly with `Params`.
pub(crate) struct OpportunityQuery {
    /// Minimum gross margin in percent (the original API's `min_margin`), e.g. `10`.
    min_margin: Option<f64>,
    /// Minimum net margin (net profit over net revenue) in percent.
    min_net_margin: Option<f64>,
    /// Minimum net profit per unit in euros, up to 2 decimals, e.g. `3.5`.
    #[param(minimum = -1_000_000_000.0, maximum = 1_000_000_000.0, multiple_of = 0.01)]
    min_profit: Option<f64>,
    /// Minimum ROI (net profit over landed cost) in percent.
    min_roi: Option<f64>,
    /// Buy markets, comma-separated (`DE,IT`) or repeated; default all.
    #[param(style = Form, explode = false)]
    buy: Option<Vec<Market>>,
    /// Sell markets, comma-separated (`UK,FR`) or repeated; default all.
    #[param(style = Form, explode = false)]
    sell: Option<Vec<Market>>,
    /// The console's `/` filter (at most 200 characters): space-separated terms that must
    /// all hold, `!` negating one. A word or `"quoted phrase"` matches the ASIN or title
    /// (case-insensitive); a field term compares `asin title brand src dst route profit net
    /// margin gross roi emp price bsr sold drops30 age flags` with `= != > >= < <= ~`, e.g.
    /// `roi>=25 route=it>de,es>de !amz`, `sold>=50 src=uk`, `title~^nord`, `age<2h`, `ranked`.
    #[param(max_length = 200)]
    q: Option<String>,
    /// `true` keeps only the rows that pass every gate, `false` only the rows that fail at
    /// least one (their failed gates are in `flags`); absent, both come back.
    ranked: Option<bool>,
    /// Sort key (default `expected_monthly_profit`: ranked rows first, equal profits by ROI,
    /// then net profit, then ASIN).
    sort: Option<OpportunitySort>,
    /// Sort direction (default `desc`).
    order: Option<SortOrder>,
    /// Page size, 1 to 1000 (default 50).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u64>,
    /// Rows to skip (default 0, at most 1000000000).
    #[param(minimum = 0, maximum = 1_000_000_000)]
    offset: Option<u64>,
    /// Include each row's net breakdown (default `false`).
    breakdown: Option<bool>,
}

static ACCEPTED: LazyLock<Vec<&'static str>> =
    LazyLock::new(super::params::names::<OpportunityQuery>);

/// The names `/opportunities` accepts.
pub(crate) fn accepted() -> &'static [&'static str] {
    &ACCEPTED
}

/// A parsed query: the store's filter, the `q` filter on top of it, and `breakdown`.
#[derive(Debug)]
struct Parsed {
    query: OpportunityFilter,
    filter: Filter,
    breakdown: bool,
}

fn parse(raw: Option<&str>) -> Result<Parsed, ApiError> {
    let p = Params::parse(raw, accepted())?;
    let descending = p
        .choice("order", &SortOrder::NAMES)?
        .unwrap_or_default()
        .is_descending();
    let mut filter = OpportunityFilter {
        min_gross_margin_pct: p.percent("min_margin")?,
        min_net_margin_pct: p.percent("min_net_margin")?,
        min_profit_cents: p.euros("min_profit")?,
        min_roi_pct: p.percent("min_roi")?,
        buy: p.markets("buy")?,
        sell: p.markets("sell")?,
        text: None,
        ranked: p.boolean("ranked")?,
        keys: Vec::new(),
        sort: p
            .choice("sort", &OpportunitySort::NAMES)?
            .unwrap_or_default(),
        descending,
        limit: 0,
        offset: 0,
    };
    (filter.limit, filter.offset) = p.page()?;
    let q = p.text("q", 200)?;
    let grammar = match q.as_deref().map(Filter::parse).transpose() {
        Ok(f) => f.unwrap_or_default(),
        Err(detail) => {
            return Err(ApiError::bad_parameter(
                "q",
                q.as_deref(),
                format!("q: {detail}"),
                vec![format!(
                    "terms such as roi>=25 route=it>de !amz; fields: {}",
                    crate::filter::FIELDS
                )],
            ));
        }
    };
    Ok(Parsed {
        query: filter,
        filter: grammar,
        breakdown: p.boolean("breakdown")?.unwrap_or(false),
    })
}

/// The normalized query as a cache key: every field of the filter (its `Debug` form, so a
/// field added later is in the key too). A `q` that compares `age` also holds the second,
/// so its answer follows the clock.
fn cache_key(parsed: &Parsed, now: DateTime<Utc>) -> String {
    let Parsed {
        query,
        filter,
        breakdown,
    } = parsed;
    let second = if filter.uses_clock() {
        now.timestamp().to_string()
    } else {
        String::new()
    };
    format!("opp|{query:?}|{breakdown}|{filter:?}|{second}")
}

/// Ranked arbitrage opportunities with gross and net figures.
#[utoipa::path(
    get,
    path = "/opportunities",
    operation_id = "listOpportunities",
    tag = "opportunities",
    params(OpportunityQuery),
    responses(
        (status = 200, description = "One page of opportunities.", body = OpportunityPage),
        (status = 304, description = "Not modified: `If-None-Match` holds the current ETag."),
        (status = 400, description = "A parameter is unknown or has a bad value; the problem names it and what is accepted.", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The store cannot answer.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn list(State(state): State<ApiState>, req: Request) -> Response {
    let (query, headers) = (req.uri().query(), req.headers());
    let parsed = match parse(query) {
        Ok(parsed) => parsed,
        Err(e) => return e.into_response(),
    };
    let now = Utc::now();
    let key = cache_key(&parsed, now);
    let Parsed {
        query: filter,
        filter: grammar,
        breakdown,
    } = parsed;
    let (limit, offset) = (filter.limit as u64, filter.offset as u64);
    let store = state.store();
    let detect = state.detector().filter(|_| breakdown);
    let source = state.status_snapshot().source;
    respond::cached(&state, headers, key, move || async move {
        let mut page = crate::filter::select(store.as_ref(), filter, &grammar, now)
            .await
            .map_err(|e| ApiError::store(&e))?;
        if let Some(detect) = detect {
            page.items = crate::pipeline::explain_all(store.as_ref(), detect.as_ref(), page.items)
                .await
                .map_err(|e| ApiError::store(&e))?;
        }
        respond::json(&OpportunityPage {
            source,
            total: page.total,
            limit,
            offset,
            items: page
                .items
                .iter()
                .map(|o| OpportunityItem::from_domain(o, breakdown))
                .collect(),
        })
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_normalization() {
        let p = parse(None).unwrap();
        assert_eq!(p.query, OpportunityFilter::default());
        assert!(!p.breakdown && p.filter.is_empty());
        let Parsed {
            query: f,
            breakdown: b,
            ..
        } = parse(Some(
            "buy=it,DE&sell=uk&order=asc&sort=roi_pct&min_profit=3.5&breakdown=true",
        ))
        .unwrap();
        assert_eq!(f.buy, vec![Market::DE, Market::IT]);
        assert_eq!(f.sell, vec![Market::UK]);
        assert!(!f.descending);
        assert_eq!(f.sort, OpportunitySort::RoiPct);
        assert_eq!(f.min_profit_cents, Some(350));
        assert!(b);
    }

    #[test]
    fn documented_names_are_the_accepted_names() {
        let names = accepted();
        for n in [
            "min_margin",
            "min_net_margin",
            "min_profit",
            "min_roi",
            "buy",
            "sell",
            "q",
            "ranked",
            "sort",
            "order",
            "limit",
            "offset",
            "breakdown",
        ] {
            assert!(names.contains(&n), "{n}");
        }
        assert_eq!(names.len(), 13);
    }

    #[test]
    fn bad_sort_lists_the_keys() {
        let e = parse(Some("sort=profit")).unwrap_err().problem();
        assert!(
            e.detail.starts_with(
                "sort 'profit' is not one of gross_margin_pct, net_margin_pct, net_profit"
            ),
            "{}",
            e.detail
        );
        assert_eq!(e.accepted.len(), 6);
    }
}
