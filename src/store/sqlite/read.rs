//! The unpaged reads: one product, its history, totals, jobs, the watchlist, refresh
//! candidates and checkpoints.
//!
//! Every value read back is decoded strictly (`codec`), so a damaged row is a `Corrupt`
//! error naming it. Totals are separate index-backed queries rather than one scan: counts
//! use the narrowest index and the best margin is one index probe.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, Row, params};

use super::binary::decode_doc;
use super::codec::{
    Doing, Fail, Res, count_from, count_param, from_json, from_micros, market_bit, market_from,
    market_id, micros,
};
use super::totals;
use crate::domain::{Asin, Market, PriceSeries, PriceSnapshot, Product};
use crate::store::history;
use crate::store::{JobRun, MarketFreshness, ProcessReport, StoreStats, WatchEntry, WatchSource};

/// The product of `asin` if it was ever fetched: identity and the snapshots of the markets
/// that list it.
pub(super) fn load_product(c: &Connection, asin: Asin) -> Res<Option<Product>> {
    let what = || format!("product {asin}");
    let row = c
        .prepare_cached(
            "SELECT title, brand, image_url, eans, package_quantity FROM products
             WHERE asin = ?1",
        )
        .and_then(|mut st| {
            st.query_row([asin.as_str()], |r| {
                Ok((
                    r.get::<_, Option<String>>(0)?,
                    r.get::<_, Option<String>>(1)?,
                    r.get::<_, Option<String>>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, Option<i64>>(4)?,
                ))
            })
            .optional()
        })
        .doing("reading a product")?;
    let Some((title, brand, image_url, eans, package_quantity)) = row else {
        return Ok(None);
    };
    let mut st = c
        .prepare_cached(
            "SELECT market, listed, snapshot FROM listings WHERE asin = ?1 ORDER BY market",
        )
        .doing("preparing the snapshot read")?;
    let mut rows = st.query([asin.as_str()]).doing("reading snapshots")?;
    let mut markets = BTreeMap::new();
    let mut not_listed = Vec::new();
    while let Some(r) = rows.next().doing("reading snapshots")? {
        let market = market_from(r.get(0).doing("reading snapshots")?, &what)?;
        if !r.get::<_, bool>(1).doing("reading snapshots")? {
            not_listed.push(market);
            continue;
        }
        let snapshot: PriceSnapshot =
            decode_doc(r.get_ref(2).doing("reading snapshots")?, &|| {
                format!("listing {asin}:{market}")
            })?;
        markets.insert(market, snapshot);
    }
    Ok(Some(Product {
        asin,
        title,
        brand,
        image_url,
        eans: from_json(&eans, &what)?,
        package_quantity,
        markets,
        // In display order, as the maps are: markets are stored by Keepa domain id,
        // which sorts as they do.
        not_listed: Some(not_listed),
    }))
}

/// One product.
pub(super) fn product(c: &Connection, asin: Asin) -> Res<Option<Product>> {
    load_product(c, asin)
}

/// Every stored history series of `asin`, by market then kind.
pub(super) fn history(c: &Connection, asin: Asin) -> Res<Vec<PriceSeries>> {
    let mut st = c
        .prepare_cached("SELECT market, history FROM listings WHERE asin = ?1 ORDER BY market")
        .doing("preparing the history read")?;
    let rows = st
        .query_map([asin.as_str()], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?))
        })
        .doing("reading history")?;
    let mut out = Vec::new();
    for row in rows {
        let (m, blob) = row.doing("reading history")?;
        let what = || format!("history of {asin} (market id {m})");
        let market = market_from(m, &what)?;
        let series = history::series_of(market, &blob)
            .map_err(|e| Fail::Corrupt(format!("{}: {e}", what())))?;
        out.extend(series);
    }
    Ok(out)
}

/// Totals, from the running counts in `meta` and one index probe for the best margin.
pub(super) fn stats(c: &Connection) -> Res<StoreStats> {
    let t = totals::read(c)?;
    let get = |k: &str| t.get(k).copied().unwrap_or(0);
    let best: Option<f64> = c
        .prepare_cached(
            "SELECT gross_margin_pct FROM opportunities ORDER BY gross_margin_pct DESC LIMIT 1",
        )
        .and_then(|mut st| st.query_row([], |r| r.get(0)).optional())
        .doing("reading the best margin")?;
    let rows = get(totals::OPPORTUNITIES);
    let watchlist: i64 = c
        .prepare_cached("SELECT count(*) FROM watchlist")
        .and_then(|mut st| st.query_row([], |r| r.get(0)))
        .doing("counting the watchlist")?;
    let last = t
        .get(totals::LAST_UPDATE)
        .map(|v| from_micros(*v, &|| "meta last_update".to_string()))
        .transpose()?;
    Ok(StoreStats {
        total_products: count_from(get(totals::PRODUCTS_LISTED)),
        opportunities: count_from(rows),
        ranked_opportunities: count_from(get(totals::RANKED)),
        best_gross_margin_pct: best,
        avg_gross_margin_pct: (rows > 0)
            .then(|| get(totals::GROSS_MICROS) as f64 / 1e6 / rows as f64),
        products_per_market: Market::ALL
            .iter()
            .map(|m| (*m, count_from(get(&totals::listed_key(*m)))))
            .collect(),
        last_update: last,
        watchlist: count_from(watchlist),
    })
}

/// Per market: the listed count from the totals, the oldest Keepa update and the stale
/// count from `listings_observed` (a seek and a range count, never a scan of the rows).
pub(super) fn freshness(c: &Connection, stale_before: DateTime<Utc>) -> Res<Vec<MarketFreshness>> {
    let t = totals::read(c)?;
    let mut oldest_st = c
        .prepare_cached("SELECT min(observed_at) FROM listings WHERE market = ?1 AND listed = 1")
        .doing("preparing the oldest-update read")?;
    let mut stale_st = c
        .prepare_cached(
            "SELECT count(*) FROM listings WHERE market = ?1 AND listed = 1 AND observed_at < ?2",
        )
        .doing("preparing the stale count")?;
    let cut = micros(stale_before);
    Market::ALL
        .iter()
        .map(|&m| {
            let id = market_id(m);
            let oldest: Option<i64> = oldest_st
                .query_row([id], |r| r.get(0))
                .doing("reading the oldest update")?;
            let stale: i64 = stale_st
                .query_row(params![id, cut], |r| r.get(0))
                .doing("counting stale listings")?;
            Ok(MarketFreshness {
                market: m,
                listed: count_from(t.get(&totals::listed_key(m)).copied().unwrap_or(0)),
                oldest: oldest
                    .map(|v| from_micros(v, &|| format!("the oldest update in {m}")))
                    .transpose()?,
                stale: count_from(stale),
            })
        })
        .collect()
}

fn job_run(r: &Row<'_>) -> rusqlite::Result<(String, i64, i64, String, String)> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
}

/// The latest run of each job (latest start, then latest recorded), by job name.
pub(super) fn jobs(c: &Connection) -> Res<Vec<JobRun>> {
    let mut st = c
        .prepare_cached(
            "SELECT job, started_at, finished_at, result, detail FROM job_runs r
             WHERE id = (SELECT id FROM job_runs r2 WHERE r2.job = r.job
                         ORDER BY started_at DESC, id DESC LIMIT 1)
             ORDER BY job",
        )
        .doing("preparing the jobs read")?;
    let rows = st.query_map([], job_run).doing("reading jobs")?;
    let mut out = Vec::new();
    for row in rows {
        let (job, started, finished, result, detail) = row.doing("reading jobs")?;
        let what = || format!("job run of '{job}'");
        out.push(JobRun {
            started_at: from_micros(started, &what)?,
            finished_at: from_micros(finished, &what)?,
            job,
            result,
            detail,
        });
    }
    Ok(out)
}

/// The process reports made at or after `since`, by id.
pub(super) fn process_reports(c: &Connection, since: DateTime<Utc>) -> Res<Vec<ProcessReport>> {
    let mut st = c
        .prepare_cached(
            "SELECT id, updated_at, body FROM process_reports WHERE updated_at >= ?1 ORDER BY id",
        )
        .doing("preparing the process reports read")?;
    let rows = st
        .query_map(params![micros(since)], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, String>(2)?,
            ))
        })
        .doing("reading process reports")?;
    let mut out = Vec::new();
    for row in rows {
        let (id, at, body) = row.doing("reading process reports")?;
        let updated_at = from_micros(at, &|| format!("report of process '{id}'"))?;
        out.push(ProcessReport {
            id,
            updated_at,
            body,
        });
    }
    Ok(out)
}

fn source_from(s: &str, asin: &str) -> Res<WatchSource> {
    WatchSource::from_name(s)
        .ok_or_else(|| Fail::Corrupt(format!("watchlist entry {asin}: source '{s}' is unknown")))
}

/// The watchlist, oldest addition first (ties by ASIN), with each entry's oldest fetch.
pub(super) fn watchlist(c: &Connection) -> Res<Vec<WatchEntry>> {
    let mut st = c
        .prepare_cached(
            "SELECT w.asin, w.source, w.added_at,
                    (SELECT min(l.fetched_at) FROM listings l WHERE l.asin = w.asin),
                    w.fetched
             FROM watchlist w ORDER BY w.added_at, w.asin",
        )
        .doing("preparing the watchlist read")?;
    let rows = st
        .query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, Option<i64>>(3)?,
                r.get::<_, i64>(4)?,
            ))
        })
        .doing("reading the watchlist")?;
    let mut out = Vec::new();
    for row in rows {
        let (asin, source, added, oldest, bits) = row.doing("reading the watchlist")?;
        let what = || format!("watchlist entry {asin}");
        // The bit set of markets it was ever fetched in, kept with the entry.
        let fetched = Market::ALL
            .into_iter()
            .filter(|m| bits & market_bit(*m) != 0)
            .collect();
        out.push(WatchEntry {
            asin: asin
                .parse()
                .map_err(|e| Fail::Corrupt(format!("{}: {e}", what())))?,
            source: source_from(&source, &asin)?,
            added_at: from_micros(added, &what)?,
            oldest_fetch: oldest.map(|v| from_micros(v, &what)).transpose()?,
            fetched,
        });
    }
    Ok(out)
}

/// Watched ASINs to refresh in `market`: never fetched there (oldest addition first, ties
/// by ASIN), then those with an opportunity buying or selling there, then the rest; the
/// stalest fetch first within the last two tiers, ties by ASIN. Each tier is a walk of an
/// index in the order wanted, stopping once `limit` are found.
pub(super) fn refresh_candidates(c: &Connection, market: Market, limit: usize) -> Res<Vec<Asin>> {
    let mut out: Vec<Asin> = Vec::new();
    let never = "SELECT asin FROM watchlist INDEXED BY watchlist_added WHERE (fetched & ?1) = 0
                 ORDER BY added_at, asin LIMIT ?2";
    // `?3` is 1 for the tier with an open opportunity in the market, 0 for the rest.
    let fetched = "SELECT l.asin FROM listings l INDEXED BY listings_fetched
                   WHERE l.market = ?1
                     AND EXISTS (SELECT 1 FROM watchlist w WHERE w.asin = l.asin)
                     AND EXISTS (SELECT 1 FROM opportunities o
                                 WHERE o.asin = l.asin AND (o.buy = ?1 OR o.sell = ?1)) = ?3
                   ORDER BY l.fetched_at, l.asin LIMIT ?2";
    for (sql, p1, tier) in [
        (never, market_bit(market), None),
        (fetched, market_id(market), Some(1)),
        (fetched, market_id(market), Some(0)),
    ] {
        let want = limit - out.len();
        if want == 0 {
            break;
        }
        let mut st = c
            .prepare_cached(sql)
            .doing("preparing the refresh candidates")?;
        let rows: Vec<String> = match tier {
            None => st
                .query_map(params![p1, count_param(want)], |r| r.get(0))
                .and_then(|rows| rows.collect()),
            Some(t) => st
                .query_map(params![p1, count_param(want), t], |r| r.get(0))
                .and_then(|rows| rows.collect()),
        }
        .doing("choosing refresh candidates")?;
        for a in rows {
            let asin: Asin = a
                .parse()
                .map_err(|e| Fail::Corrupt(format!("watchlist entry '{a}': {e}")))?;
            if !out.contains(&asin) {
                out.push(asin);
            }
        }
    }
    Ok(out)
}

/// Of `asins`, those with a route buying or selling in `market`, in the order given, each
/// with whether one is at a net profit (one look-up of the `(asin, buy, sell)` key each).
pub(super) fn routes_in(
    c: &Connection,
    market: Market,
    asins: Vec<Asin>,
) -> Res<Vec<(Asin, bool)>> {
    let mut st = c
        .prepare_cached(
            "SELECT count(*), coalesce(max(net_profit > 0), 0) FROM opportunities
             WHERE asin = ?1 AND (buy = ?2 OR sell = ?2)",
        )
        .doing("preparing the routes in a market")?;
    let m = market_id(market);
    let mut out = Vec::new();
    for a in asins {
        let (routes, open): (i64, bool) = st
            .query_row(params![a.as_str(), m], |r| Ok((r.get(0)?, r.get(1)?)))
            .doing("reading the routes in a market")?;
        if routes > 0 {
            out.push((a, open));
        }
    }
    Ok(out)
}

/// The committed offset of an import.
pub(super) fn checkpoint(c: &Connection, key: &str) -> Res<Option<u64>> {
    let v: Option<i64> = c
        .prepare_cached("SELECT byte_offset FROM checkpoints WHERE key = ?1")
        .and_then(|mut st| st.query_row([key], |r| r.get(0)).optional())
        .doing("reading a checkpoint")?;
    v.map(|o| {
        u64::try_from(o)
            .map_err(|_| Fail::Corrupt(format!("checkpoint '{key}': offset {o} is negative")))
    })
    .transpose()
}
