//! The unpaged reads: one product, its history, totals, jobs, the watchlist, refresh
//! candidates and checkpoints.
//!
//! Every value read back is decoded strictly (`codec`), so a damaged row is a `Corrupt`
//! error naming it. Totals are separate index-backed queries rather than one scan: counts
//! use the narrowest index and the best margin is one index probe.

use std::collections::BTreeMap;

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::codec::{
    Doing, Fail, Res, count_from, count_param, from_json, from_micros, market_from, market_id,
};
use super::history;
use super::write::source_name;
use crate::domain::{Asin, Market, PriceSeries, PriceSnapshot, Product};
use crate::store::{JobRun, StoreStats, WatchEntry, WatchSource};

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
            "SELECT market, snapshot FROM listings WHERE asin = ?1 AND listed = 1
             ORDER BY market",
        )
        .doing("preparing the snapshot read")?;
    let rows = st
        .query_map([asin.as_str()], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
        })
        .doing("reading snapshots")?;
    let mut markets = BTreeMap::new();
    for row in rows {
        let (id, json) = row.doing("reading snapshots")?;
        let market = market_from(id, &what)?;
        let snapshot: PriceSnapshot = from_json(&json, &|| format!("listing {asin}:{market}"))?;
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
        let all = history::decode(&blob).map_err(|e| Fail::Corrupt(format!("{}: {e}", what())))?;
        for (kind, steps) in all {
            let points = history::points(&steps)
                .ok_or_else(|| Fail::Corrupt(format!("{}: a time is out of range", what())))?;
            out.push(PriceSeries {
                market,
                kind,
                points,
            });
        }
    }
    Ok(out)
}

fn count(c: &Connection, sql: &str, doing: &'static str) -> Res<u64> {
    let n: i64 = c
        .prepare_cached(sql)
        .and_then(|mut st| st.query_row([], |r| r.get(0)))
        .doing(doing)?;
    Ok(count_from(n))
}

/// Totals.
pub(super) fn stats(c: &Connection) -> Res<StoreStats> {
    let (best, avg): (Option<f64>, Option<f64>) = c
        .prepare_cached("SELECT max(gross_margin_pct), avg(gross_margin_pct) FROM opportunities")
        .and_then(|mut st| st.query_row([], |r| Ok((r.get(0)?, r.get(1)?))))
        .doing("reading margins")?;
    let mut per_market: BTreeMap<Market, u64> = Market::ALL.iter().map(|m| (*m, 0)).collect();
    let mut st = c
        .prepare_cached("SELECT market, count(*) FROM listings WHERE listed = 1 GROUP BY market")
        .doing("preparing the market counts")?;
    let rows = st
        .query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)))
        .doing("counting products per market")?;
    for row in rows {
        let (m, n) = row.doing("counting products per market")?;
        let market = market_from(m, &|| "listings".to_string())?;
        per_market.insert(market, count_from(n));
    }
    let last: Option<i64> = c
        .prepare_cached("SELECT value FROM meta WHERE key = 'last_update'")
        .and_then(|mut st| st.query_row([], |r| r.get(0)).optional())
        .doing("reading the last update")?;
    Ok(StoreStats {
        total_products: count(
            c,
            "SELECT count(*) FROM products WHERE markets != 0",
            "counting products",
        )?,
        opportunities: count(
            c,
            "SELECT count(*) FROM opportunities",
            "counting opportunities",
        )?,
        ranked_opportunities: count(
            c,
            "SELECT count(*) FROM opportunities WHERE ranked = 1",
            "counting ranked opportunities",
        )?,
        best_gross_margin_pct: best,
        avg_gross_margin_pct: avg,
        products_per_market: per_market,
        last_update: last
            .map(|v| from_micros(v, &|| "meta last_update".to_string()))
            .transpose()?,
        watchlist: count(
            c,
            "SELECT count(*) FROM watchlist",
            "counting the watchlist",
        )?,
    })
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

fn source_from(s: &str, asin: &str) -> Res<WatchSource> {
    [
        WatchSource::User,
        WatchSource::Discovery,
        WatchSource::Import,
    ]
    .into_iter()
    .find(|w| source_name(*w) == s)
    .ok_or_else(|| Fail::Corrupt(format!("watchlist entry {asin}: source '{s}' is unknown")))
}

/// The watchlist, oldest addition first (ties by ASIN), with each entry's oldest fetch.
pub(super) fn watchlist(c: &Connection) -> Res<Vec<WatchEntry>> {
    let mut st = c
        .prepare_cached(
            "SELECT w.asin, w.source, w.added_at,
                    (SELECT min(l.fetched_at) FROM listings l WHERE l.asin = w.asin)
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
            ))
        })
        .doing("reading the watchlist")?;
    let mut out = Vec::new();
    for row in rows {
        let (asin, source, added, oldest) = row.doing("reading the watchlist")?;
        let what = || format!("watchlist entry {asin}");
        out.push(WatchEntry {
            asin: asin
                .parse()
                .map_err(|e| Fail::Corrupt(format!("{}: {e}", what())))?,
            source: source_from(&source, &asin)?,
            added_at: from_micros(added, &what)?,
            oldest_fetch: oldest.map(|v| from_micros(v, &what)).transpose()?,
        });
    }
    Ok(out)
}

/// Watched ASINs to refresh in `market`: never fetched there (oldest addition first), then
/// those with an opportunity buying or selling there, then the rest; within the last two
/// tiers the stalest fetch first. Ties break by addition, then ASIN.
pub(super) fn refresh_candidates(c: &Connection, market: Market, limit: usize) -> Res<Vec<Asin>> {
    if limit == 0 {
        return Ok(Vec::new());
    }
    let mut st = c
        .prepare_cached(
            "SELECT w.asin FROM watchlist w
             LEFT JOIN listings l ON l.asin = w.asin AND l.market = ?1
             ORDER BY
                 CASE WHEN l.fetched_at IS NULL THEN 0
                      WHEN EXISTS (SELECT 1 FROM opportunities o
                                   WHERE o.asin = w.asin AND (o.buy = ?1 OR o.sell = ?1))
                      THEN 1
                      ELSE 2 END,
                 l.fetched_at, w.added_at, w.asin
             LIMIT ?2",
        )
        .doing("preparing the refresh candidates")?;
    let rows = st
        .query_map(params![market_id(market), count_param(limit)], |r| {
            r.get::<_, String>(0)
        })
        .doing("choosing refresh candidates")?;
    let mut out = Vec::new();
    for row in rows {
        let a = row.doing("choosing refresh candidates")?;
        out.push(
            a.parse()
                .map_err(|e| Fail::Corrupt(format!("watchlist entry '{a}': {e}")))?,
        );
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
