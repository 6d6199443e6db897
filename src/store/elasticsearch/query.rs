//! The reads: filtered, sorted, paged opportunities and products, stats from counts and
//! aggregations, refresh candidates from the watchlist's copied fetch times, and the lookups
//! by id (product, history, checkpoint) as real-time gets.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::Es;
use super::docs::{self, Ix, fetched_field, listing_id, substring};
use crate::domain::{Asin, Market, Opportunity, PriceSeries, Product};
use crate::store::check::{search_query, search_words};
use crate::store::{
    JobRun, MarketFreshness, OpportunityFilter, Page, ProcessReport, ProductFilter, StoreError,
    StoreResult, StoreStats, WatchEntry, history,
};

/// Opportunities matching `f`.
pub(super) async fn opportunities(
    es: &Es,
    f: &OpportunityFilter,
) -> StoreResult<Page<Opportunity>> {
    let mut filter: Vec<Value> = Vec::new();
    for (field, v) in f.pct_minimums().map_err(StoreError::Invalid)? {
        filter.push(json!({"range": {field: {"gte": v}}}));
    }
    if let Some(v) = f.min_profit_cents {
        filter.push(json!({"range": {"net_profit": {"gte": v}}}));
    }
    for (field, markets) in [("buy_market", &f.buy), ("sell_market", &f.sell)] {
        if !markets.is_empty() {
            let codes: Vec<&str> = markets.iter().map(|m| m.code()).collect();
            filter.push(json!({"terms": {field: codes}}));
        }
    }
    if let Some(q) = search_query(f.text.as_deref()) {
        filter.push(substring(&q));
    }
    if let Some(ranked) = f.ranked {
        filter.push(json!({"term": {"ranked": ranked}}));
    }
    if !f.keys.is_empty() {
        let ids: Vec<String> = f
            .keys
            .iter()
            .map(|k| docs::opportunity_id(k.asin, k.buy, k.sell))
            .collect();
        filter.push(json!({"ids": {"values": ids}}));
    }
    let dir = if f.descending { "desc" } else { "asc" };
    let mut sort: Vec<Value> = f.sort.keys().iter().map(|k| json!({ *k: dir })).collect();
    for tie in ["asin", "buy_rank", "sell_rank"] {
        sort.push(json!({ tie: "asc" }));
    }
    let query = json!({"bool": {"filter": filter}});
    let (total, hits) = page(es, Ix::Opportunities, query, json!(sort), f.offset, f.limit).await?;
    let items = hits
        .iter()
        .map(|h| docs::value(&h["doc"], &|| format!("opportunity {}", h["doc"]["asin"])))
        .collect::<StoreResult<Vec<Opportunity>>>()?;
    Ok(Page { total, items })
}

/// Products listed in at least one market and matching `f`, by ASIN.
pub(super) async fn products(es: &Es, f: &ProductFilter) -> StoreResult<Page<Product>> {
    let mut filter = vec![json!({"exists": {"field": "markets"}})];
    if !f.markets.is_empty() {
        let codes: Vec<&str> = f.markets.iter().map(|m| m.code()).collect();
        filter.push(json!({"terms": {"markets": codes}}));
    }
    for w in search_words(f.text.as_deref()) {
        filter.push(substring(&w));
    }
    if let Some(before) = f.before {
        filter.push(json!({"range": {"asin": {"lt": before.as_str()}}}));
    }
    let query = json!({"bool": {"filter": filter}});
    let sort = json!([{"asin": "asc"}]);
    let (total, hits) = page(es, Ix::Products, query, sort, f.offset, f.limit).await?;
    let items = hits
        .iter()
        .map(|h| docs::value(&h["doc"], &|| format!("product {}", h["asin"])))
        .collect::<StoreResult<Vec<Product>>>()?;
    Ok(Page { total, items })
}

/// One product, if it was ever fetched.
pub(super) async fn product(es: &Es, asin: Asin) -> StoreResult<Option<Product>> {
    Ok(products_by_asin(es, &[asin]).await?.pop().flatten())
}

/// Several products in one real-time multi-get, in the order asked.
pub(super) async fn products_by_asin(es: &Es, asins: &[Asin]) -> StoreResult<Vec<Option<Product>>> {
    if asins.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<(Ix, String)> = asins
        .iter()
        .map(|a| (Ix::Products, a.to_string()))
        .collect();
    let found = es.mget(&ids).await?;
    asins
        .iter()
        .zip(found)
        .map(|(asin, d)| match d {
            // A document with routes only: opportunities were stored, no listing ever was.
            Some(d) if d.get("doc").is_some() => {
                docs::value(&d["doc"], &|| format!("product {asin}")).map(Some)
            }
            _ => Ok(None),
        })
        .collect()
}

/// Every stored history series of `asin`, by market then kind.
pub(super) async fn history(es: &Es, asin: Asin) -> StoreResult<Vec<PriceSeries>> {
    let ids: Vec<(Ix, String)> = Market::ALL
        .iter()
        .map(|m| (Ix::History, listing_id(asin, *m)))
        .collect();
    let found = es.mget(&ids).await?;
    let mut out = Vec::new();
    for (m, doc) in Market::ALL.into_iter().zip(found) {
        let Some(doc) = doc else { continue };
        let what = || format!("the price history of {asin}:{m}");
        let blob = doc["history"]
            .as_str()
            .and_then(|b| STANDARD.decode(b).ok())
            .ok_or_else(|| docs::corrupt(what(), "the history is not base64"))?;
        out.extend(history::series_of(m, &blob).map_err(|e| docs::corrupt(what(), e))?);
    }
    Ok(out)
}

/// Per market: listed listings, the oldest Keepa update among them and how many are older
/// than `stale_before` (one aggregation). Listings written before `observed_at` was indexed
/// count as listed but have no time until they are fetched again.
pub(super) async fn freshness(
    es: &Es,
    stale_before: DateTime<Utc>,
) -> StoreResult<Vec<MarketFreshness>> {
    let cut = docs::micros(stale_before);
    let answer = es
        .search(
            Ix::Listings,
            json!({"size": 0, "query": {"term": {"listed": true}},
                   "aggs": {"markets": {"terms": {"field": "market", "size": 10},
                       "aggs": {"oldest": {"min": {"field": "observed_at"}},
                                "stale": {"filter": {"range": {"observed_at": {"lt": cut}}}}}}}}),
        )
        .await?;
    let mut out: Vec<MarketFreshness> = Market::ALL
        .iter()
        .map(|&market| MarketFreshness {
            market,
            listed: 0,
            oldest: None,
            stale: 0,
        })
        .collect();
    for b in answer["aggregations"]["markets"]["buckets"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let m = docs::market(&b["key"], &|| "a listings-per-market bucket".into())?;
        let Some(row) = out.iter_mut().find(|r| r.market == m) else {
            continue;
        };
        row.listed = b["doc_count"].as_u64().unwrap_or(0);
        row.stale = b["stale"]["doc_count"].as_u64().unwrap_or(0);
        row.oldest = match b["oldest"]["value"].as_f64() {
            Some(v) => Some(docs::time(&json!(v as i64), &|| {
                format!("the oldest update in {m}")
            })?),
            None => None,
        };
    }
    Ok(out)
}

/// Totals: counts, the best and average gross margin, products per market, last update.
pub(super) async fn stats(es: &Es) -> StoreResult<StoreStats> {
    // Five independent requests, sent together.
    let listed = json!({"exists": {"field": "markets"}});
    let (products, opps, ranked, last, watchlist) = tokio::try_join!(
        es.search(
            Ix::Products,
            json!({"size": 0, "track_total_hits": true, "query": listed,
                   "aggs": {"markets": {"terms": {"field": "markets", "size": 10}}}}),
        ),
        es.search(
            Ix::Opportunities,
            json!({"size": 0, "track_total_hits": true,
                   "aggs": {"best": {"max": {"field": "gross_margin_pct"}},
                            "avg": {"avg": {"field": "gross_margin_pct"}}}}),
        ),
        es.count(Ix::Opportunities, json!({"term": {"ranked": true}})),
        es.search(
            Ix::Listings,
            json!({"size": 0, "aggs": {"last": {"max": {"field": "fetched_at"}}}}),
        ),
        es.count(Ix::Watchlist, json!({"match_all": {}})),
    )?;

    let mut per_market: BTreeMap<Market, u64> = Market::ALL.iter().map(|m| (*m, 0)).collect();
    for b in products["aggregations"]["markets"]["buckets"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let m = docs::market(&b["key"], &|| "a products-per-market bucket".into())?;
        per_market.insert(m, b["doc_count"].as_u64().unwrap_or(0));
    }
    let opportunities = total_of(&opps);
    let agg = |name: &str| opps["aggregations"][name]["value"].as_f64();
    let last_update = match last["aggregations"]["last"]["value"].as_f64() {
        Some(v) => Some(docs::time(&json!(v as i64), &|| "the last update".into())?),
        None => None,
    };
    Ok(StoreStats {
        total_products: total_of(&products),
        opportunities,
        ranked_opportunities: ranked,
        best_gross_margin_pct: agg("best").filter(|_| opportunities > 0),
        avg_gross_margin_pct: agg("avg")
            .filter(|_| opportunities > 0)
            .map(|v| (v * 1e6).round() / 1e6),
        products_per_market: per_market,
        last_update,
        watchlist,
    })
}

/// The whole watchlist, oldest addition first (ties by ASIN).
pub(super) async fn watchlist(es: &Es) -> StoreResult<Vec<WatchEntry>> {
    let sort = json!([{"added_at": "asc"}, {"asin": "asc"}]);
    let (_, hits) = page(
        es,
        Ix::Watchlist,
        json!({"match_all": {}}),
        sort,
        0,
        usize::MAX,
    )
    .await?;
    hits.iter()
        .map(|h| {
            let what = || format!("watchlist entry {}", h["asin"]);
            // Each market's last fetch, where there was one.
            let times: Vec<(Market, i64)> = Market::ALL
                .into_iter()
                .filter_map(|m| Some((m, h[fetched_field(m)].as_i64()?)))
                .collect();
            let oldest = times.iter().map(|(_, t)| *t).min();
            let fetched = times.iter().map(|(m, _)| *m).collect();
            Ok(WatchEntry {
                asin: docs::asin(&h["asin"], &what)?,
                source: docs::value(&h["source"], &what)?,
                added_at: docs::time(&h["added_at"], &what)?,
                oldest_fetch: oldest.map(|t| docs::time(&json!(t), &what)).transpose()?,
                fetched,
            })
        })
        .collect()
}

/// Watched ASINs to refresh in `market`: never fetched there (oldest addition first, ties
/// by ASIN), then those with an opportunity buying or selling there, then the rest; the
/// stalest fetch first within the last two tiers, ties by ASIN.
pub(super) async fn refresh_candidates(
    es: &Es,
    market: Market,
    limit: usize,
) -> StoreResult<Vec<Asin>> {
    let fetched = fetched_field(market);
    let has_fetch = json!({"exists": {"field": fetched}});
    let opp = json!({"term": {"opp_markets": market.code()}});
    let tiers = [
        (
            json!({"bool": {"must_not": [has_fetch]}}),
            json!([{"added_at": "asc"}, {"asin": "asc"}]),
        ),
        (
            json!({"bool": {"filter": [has_fetch, opp]}}),
            json!([{ fetched.as_str(): "asc" }, {"asin": "asc"}]),
        ),
        (
            json!({"bool": {"filter": [has_fetch], "must_not": [opp]}}),
            json!([{ fetched.as_str(): "asc" }, {"asin": "asc"}]),
        ),
    ];
    let mut out: Vec<Asin> = Vec::new();
    for (query, sort) in tiers {
        let want = limit - out.len();
        if want == 0 {
            break;
        }
        let (_, hits) = page(es, Ix::Watchlist, query, sort, 0, want).await?;
        for h in hits {
            let asin = docs::asin(&h["asin"], &|| "a watchlist entry".into())?;
            if !out.contains(&asin) {
                out.push(asin);
            }
        }
    }
    Ok(out)
}

/// Of `asins`, those with a route buying or selling in `market`, in the order given, each
/// with whether one is at a net profit: one search of the opportunities a thousand
/// products at a time (each has at most eight routes through a market).
pub(super) async fn routes_in(
    es: &Es,
    market: Market,
    asins: Vec<Asin>,
) -> StoreResult<Vec<(Asin, bool)>> {
    let mut out = Vec::new();
    for chunk in asins.chunks(1_000) {
        let ids: Vec<&str> = chunk.iter().map(|a| a.as_str()).collect();
        let query = json!({"bool": {
            "filter": [{"terms": {"asin": ids}}],
            "should": [
                {"term": {"buy_market": market.code()}},
                {"term": {"sell_market": market.code()}},
            ],
            "minimum_should_match": 1,
        }});
        // Each product's routes through the market (one buying there and one selling there
        // for each other market), their ASIN and net profit only.
        let size = chunk.len() * 2 * (Market::ALL.len() - 1);
        let v = es
            .search(
                Ix::Opportunities,
                json!({"query": query, "size": size, "_source": ["asin", "net_profit"]}),
            )
            .await?;
        let hits = sources(&v);
        // Per product: any route, and any at a net profit (a row with no net figures has
        // no `net_profit`).
        let mut routes: std::collections::HashMap<&str, bool> = std::collections::HashMap::new();
        for h in &hits {
            if let Some(a) = h["asin"].as_str() {
                let open = h["net_profit"].as_i64().is_some_and(|p| p > 0);
                *routes.entry(a).or_default() |= open;
            }
        }
        out.extend(
            chunk
                .iter()
                .filter_map(|a| routes.get(a.as_str()).map(|open| (*a, *open))),
        );
    }
    Ok(out)
}

/// The committed offset of an import.
pub(super) async fn checkpoint(es: &Es, key: &str) -> StoreResult<Option<u64>> {
    if key.len() > 512 {
        return Ok(None);
    }
    let found = es.mget(&[(Ix::Checkpoints, key.to_string())]).await?;
    match found.into_iter().next().flatten() {
        None => Ok(None),
        Some(d) => d["offset"]
            .as_u64()
            .map(Some)
            .ok_or_else(|| docs::corrupt(format!("checkpoint '{key}'"), "no offset")),
    }
}

/// The latest run of each job, by job name.
pub(super) async fn jobs(es: &Es) -> StoreResult<Vec<JobRun>> {
    let sort = json!([{"job": "asc"}]);
    let (_, hits) = page(es, Ix::Jobs, json!({"match_all": {}}), sort, 0, usize::MAX).await?;
    hits.iter()
        .map(|h| docs::value(&h["doc"], &|| format!("job {}", h["job"])))
        .collect()
}

/// The process reports made at or after `since`, by id.
pub(super) async fn process_reports(
    es: &Es,
    since: DateTime<Utc>,
) -> StoreResult<Vec<ProcessReport>> {
    let query = json!({"range": {"updated_at": {"gte": docs::micros(since)}}});
    let sort = json!([{"id": "asc"}]);
    let (_, hits) = page(es, Ix::Processes, query, sort, 0, WINDOW).await?;
    hits.iter()
        .map(|h| {
            let id = h["id"].as_str().unwrap_or_default().to_string();
            let what = || format!("report of process '{id}'");
            let at = h["updated_at"]
                .as_i64()
                .and_then(DateTime::from_timestamp_micros)
                .ok_or_else(|| docs::corrupt(what(), "no time"))?;
            if !h["doc"].is_object() {
                return Err(docs::corrupt(what(), "no status"));
            }
            Ok(ProcessReport {
                updated_at: at,
                body: h["doc"].to_string(),
                id,
            })
        })
        .collect()
}

/// The largest `from + size` a search may ask for (Elasticsearch's default
/// `index.max_result_window`); deeper pages walk with `search_after`.
const WINDOW: usize = 10_000;

/// One page of a sorted search: the total and the `_source` of `limit` hits after
/// `offset`. The sort must end in a unique key, so deep pages can walk with
/// `search_after` past the `from + size` window.
async fn page(
    es: &Es,
    ix: Ix,
    query: Value,
    sort: Value,
    offset: usize,
    limit: usize,
) -> StoreResult<(u64, Vec<Value>)> {
    let fits = offset.checked_add(limit).is_some_and(|end| end <= WINDOW);
    if fits {
        let v = es
            .search(
                ix,
                json!({"query": query, "sort": sort, "from": offset, "size": limit,
                       "track_total_hits": true}),
            )
            .await?;
        return Ok((total_of(&v), sources(&v)));
    }
    let mut total = None;
    let mut after: Option<Value> = None;
    let mut skipped = 0;
    let mut out = Vec::new();
    loop {
        let skipping = skipped < offset;
        let size = if skipping {
            (offset - skipped).min(WINDOW)
        } else {
            (limit - out.len()).min(WINDOW)
        };
        if size == 0 {
            break;
        }
        let mut body = json!({"query": query, "sort": sort, "size": size,
                              "track_total_hits": total.is_none()});
        if skipping {
            body["_source"] = json!(false);
        }
        if let Some(a) = &after {
            body["search_after"] = a.clone();
        }
        let v = es.search(ix, body).await?;
        if total.is_none() {
            total = Some(total_of(&v));
        }
        let hits = v["hits"]["hits"].as_array().cloned().unwrap_or_default();
        let Some(last) = hits.last() else { break };
        after = Some(last["sort"].clone());
        if skipping {
            skipped += hits.len();
        } else {
            out.extend(hits.into_iter().map(|h| h["_source"].clone()));
        }
    }
    Ok((total.unwrap_or(0), out))
}

/// `hits.total.value` of a search answer.
fn total_of(v: &Value) -> u64 {
    v["hits"]["total"]["value"].as_u64().unwrap_or(0)
}

/// The `_source` of every hit.
fn sources(v: &Value) -> Vec<Value> {
    v["hits"]["hits"]
        .as_array()
        .map(|h| h.iter().map(|x| x["_source"].clone()).collect())
        .unwrap_or_default()
}
