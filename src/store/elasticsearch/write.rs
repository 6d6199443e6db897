//! The other writes: opportunities, the watchlist and job runs.
//!
//! `replace_opportunities` knows which routes an ASIN has from its product document's
//! `routes` (read in real time), so retiring a vanished route is a delete by id rather than
//! a delete-by-query that would depend on the index having been refreshed; the same read
//! fetches the `first_seen` of the routes stored already, which they keep. The watchlist
//! carries copies of what refresh scheduling sorts on (fetch time per market, markets with
//! an opportunity), kept current by the writes that change them.

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::Ordering;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use super::docs::{self, Ix, fetched_field, listing_id, micros, opportunity_id, route};
use super::{Bulk, Es};
use crate::domain::{Asin, Market, Opportunity};
use crate::store::check::{self, search_text};
use crate::store::{JobRun, ProcessReport, REPORTS_KEPT_FOR, StoreError, StoreResult, WatchSource};

/// Adds ASINs to the watchlist; returns those that were new.
pub(super) async fn watch_add(
    es: &Es,
    asins: Vec<Asin>,
    source: WatchSource,
    now: DateTime<Utc>,
) -> StoreResult<Vec<Asin>> {
    let asins = Asin::distinct(&asins);
    // What scheduling needs of ASINs fetched before they were watched.
    let mut ids = Vec::new();
    for a in &asins {
        ids.extend(Market::ALL.map(|m| (Ix::Listings, listing_id(*a, m))));
        ids.push((Ix::Products, a.to_string()));
    }
    let only: [(Ix, &[&str]); 2] = [(Ix::Listings, &["fetched_at"]), (Ix::Products, &["routes"])];
    let found = es.mget_fields(&ids, &only).await?;
    let mut bulk = Bulk::default();
    let source = docs::to_value(&source, &|| "a watchlist source".into())?;
    for (a, docs) in asins.iter().zip(found.chunks(Market::ALL.len() + 1)) {
        let mut doc = Map::new();
        doc.insert("asin".into(), json!(a.as_str()));
        doc.insert("source".into(), source.clone());
        doc.insert("added_at".into(), json!(micros(now)));
        for (m, listing) in Market::ALL.iter().zip(docs) {
            if let Some(t) = listing.as_ref().and_then(|l| l["fetched_at"].as_i64()) {
                doc.insert(fetched_field(*m), json!(t));
            }
        }
        let routes = docs.last().cloned().flatten().map(|p| p["routes"].clone());
        doc.insert(
            "opp_markets".into(),
            json!(route_markets(routes.as_ref().unwrap_or(&Value::Null))),
        );
        bulk.create(&es.name(Ix::Watchlist), a.as_str(), Value::Object(doc));
    }
    // The bulk answer has an item per write, in the order written.
    let items = es.bulk(bulk, |i| i.status == 409).await?;
    Ok(asins
        .into_iter()
        .zip(&items)
        .filter(|(_, i)| i.status == 201)
        .map(|(a, _)| a)
        .collect())
}

/// Removes ASINs from the watchlist; returns those that were there.
pub(super) async fn watch_remove(es: &Es, asins: Vec<Asin>) -> StoreResult<Vec<Asin>> {
    let asins = Asin::distinct(&asins);
    let mut bulk = Bulk::default();
    for a in &asins {
        bulk.delete(&es.name(Ix::Watchlist), a.as_str());
    }
    let items = es.bulk(bulk, |_| false).await?;
    Ok(asins
        .into_iter()
        .zip(&items)
        .filter(|(_, i)| i.result.as_deref() == Some("deleted"))
        .map(|(a, _)| a)
        .collect())
}

/// Makes each ASIN's opportunities exactly the given set.
pub(super) async fn replace_opportunities(
    es: &Es,
    sets: Vec<(Asin, Vec<Opportunity>)>,
) -> StoreResult<()> {
    // A later set of the same ASIN replaces an earlier one, as if applied in order.
    let mut order = Vec::new();
    let mut wanted: HashMap<Asin, Vec<Opportunity>> = HashMap::new();
    for (asin, opps) in sets {
        for o in &opps {
            check::opportunity(asin, o).map_err(StoreError::Invalid)?;
        }
        if wanted.insert(asin, opps).is_none() {
            order.push(asin);
        }
    }
    // One real-time read: each ASIN's product and watchlist documents, then the stored
    // `first_seen` of every wanted route (missing for a route not stored yet).
    let mut ids = Vec::new();
    for a in &order {
        ids.push((Ix::Products, a.to_string()));
        ids.push((Ix::Watchlist, a.to_string()));
    }
    let pairs = ids.len();
    for a in &order {
        for o in wanted.get(a).into_iter().flatten() {
            let id = opportunity_id(*a, o.buy_market, o.sell_market);
            ids.push((Ix::Opportunities, id));
        }
    }
    let only: [(Ix, &[&str]); 3] = [
        (Ix::Products, &["routes"]),
        (Ix::Watchlist, &["opp_markets"]),
        (Ix::Opportunities, &["doc.first_seen"]),
    ];
    let mut found = es.mget_fields(&ids, &only).await?;
    let route_docs = found.split_off(pairs);
    let first_seen = kept_first_seen(&ids[pairs..], route_docs)?;
    let mut bulk = Bulk::default();
    for (a, docs) in order.iter().zip(found.chunks(2)) {
        let opps = wanted.remove(a).unwrap_or_default();
        let stored_routes = docs[0].as_ref().map(|p| p["routes"].clone());
        let mut routes: BTreeSet<String> = BTreeSet::new();
        for mut o in opps {
            routes.insert(route(o.buy_market, o.sell_market));
            let id = opportunity_id(*a, o.buy_market, o.sell_market);
            o.first_seen = match first_seen.get(&id) {
                Some(kept) => *kept,
                None => Some(o.first_seen.unwrap_or(o.updated_at)),
            };
            bulk.index(&es.name(Ix::Opportunities), &id, opportunity_doc(&o)?);
        }
        let before: BTreeSet<String> = strings(stored_routes.as_ref());
        for gone in before.difference(&routes) {
            bulk.delete(&es.name(Ix::Opportunities), &format!("{a}:{gone}"));
        }
        if stored_routes.is_none() || before != routes {
            let partial = json!({"asin": a.as_str(), "routes": routes});
            bulk.update(&es.name(Ix::Products), a.as_str(), partial, true);
        }
        if let Some(w) = &docs[1] {
            let markets = route_markets(&json!(routes));
            let now: BTreeSet<String> = markets.iter().map(|m| m.to_string()).collect();
            if strings(Some(&w["opp_markets"])) != now {
                let partial = json!({ "opp_markets": markets });
                bulk.update(&es.name(Ix::Watchlist), a.as_str(), partial, false);
            }
        }
    }
    es.bulk(bulk, |item| {
        item.error.as_deref() == Some("document_missing_exception")
    })
    .await?;
    Ok(())
}

/// The stored `first_seen` of each route that is stored already, by opportunity id (`None`
/// for rows stored before the store kept it), so a route keeps the time it was first
/// stored; `found` answers `ids`.
fn kept_first_seen(
    ids: &[(Ix, String)],
    found: Vec<Option<Value>>,
) -> StoreResult<HashMap<String, Option<DateTime<Utc>>>> {
    let mut out = HashMap::with_capacity(ids.len());
    for ((_, id), doc) in ids.iter().zip(found) {
        let Some(doc) = doc else { continue };
        let kept = match &doc["doc"]["first_seen"] {
            Value::Null => None,
            v => Some(docs::value::<DateTime<Utc>>(v, &|| {
                format!("opportunity {id}")
            })?),
        };
        out.insert(id.clone(), kept);
    }
    Ok(out)
}

/// The indexed fields of an opportunity, and the opportunity itself under `doc`.
fn opportunity_doc(o: &Opportunity) -> StoreResult<Value> {
    let rank = |m: Market| Market::ALL.iter().position(|x| *x == m).unwrap_or(0);
    let search = search_text(
        [o.title.as_deref(), Some(o.asin.as_str())]
            .into_iter()
            .flatten(),
    );
    Ok(json!({
        "asin": o.asin.as_str(),
        "buy_market": o.buy_market.code(),
        "sell_market": o.sell_market.code(),
        "buy_rank": rank(o.buy_market),
        "sell_rank": rank(o.sell_market),
        "gross_margin_pct": o.gross_margin_pct,
        // Unknown net figures (`NO_TABLE`) are missing: no range filter matches them and
        // sorts list them last in either direction (Elasticsearch's default for missing
        // values; the SQLite store says `NULLS LAST`).
        "net_margin_pct": o.has_net().then_some(o.net_margin_pct),
        "roi_pct": o.has_net().then_some(o.roi_pct),
        "net_profit": o.has_net().then_some(o.net_profit.minor),
        "expected_monthly_profit": o.has_net().then_some(o.expected_monthly_profit.minor),
        "ranked": o.ranked,
        "updated_at": micros(o.updated_at),
        "search": search,
        "doc": docs::to_value(o, &|| format!("opportunity {}", o.key()))?,
    }))
}

/// Records a job run: the stored run of a job is replaced only by one that started no
/// earlier (the start time is the document's external version).
pub(super) async fn record_job(es: &Es, run: JobRun) -> StoreResult<()> {
    let started = micros(run.started_at).max(0);
    let doc = json!({
        "job": run.job,
        "started_at": started,
        "doc": docs::to_value(&run, &|| format!("job run {}", run.job))?,
    });
    let mut bulk = Bulk::default();
    bulk.index_versioned(&es.name(Ix::Jobs), &run.job, started, doc);
    es.bulk(bulk, |i| i.status == 409).await?;
    Ok(())
}

/// How often (in report time) lapsed process reports are looked for: an hour.
const SWEEP_EVERY_MICROS: i64 = 3_600_000_000;

/// Records a process's report in place of its previous one, and deletes reports not
/// renewed for [`REPORTS_KEPT_FOR`], looked for at most once an hour (of report time) per
/// process: a search on every report would be one more request every 10 s.
pub(super) async fn report_process(es: &Es, r: ProcessReport) -> StoreResult<()> {
    let doc: Value = serde_json::from_str(&r.body).map_err(|e| {
        StoreError::Invalid(format!("the report of process {} is not JSON: {e}", r.id))
    })?;
    let index = es.name(Ix::Processes);
    let mut bulk = Bulk::default();
    bulk.index(
        &index,
        &r.id,
        json!({"id": r.id, "updated_at": micros(r.updated_at), "doc": doc}),
    );
    let at = micros(r.updated_at);
    let sweep = at.saturating_sub(es.reports_swept.load(Ordering::Relaxed)) >= SWEEP_EVERY_MICROS;
    if sweep {
        let cutoff = micros(r.updated_at - REPORTS_KEPT_FOR);
        let old = es
            .search(
                Ix::Processes,
                json!({"query": {"range": {"updated_at": {"lt": cutoff}}}, "size": 100,
                       "_source": false}),
            )
            .await?;
        for hit in old["hits"]["hits"].as_array().into_iter().flatten() {
            // (This process's own old report is the one just replaced.)
            if let Some(id) = hit["_id"].as_str().filter(|id| *id != r.id) {
                bulk.delete(&index, id);
            }
        }
    }
    es.bulk(bulk, |_| false).await?;
    if sweep {
        es.reports_swept.fetch_max(at, Ordering::Relaxed);
    }
    Ok(())
}

/// The markets of stored routes (`BUY:SELL` strings), in display order.
fn route_markets(routes: &Value) -> Vec<&'static str> {
    let routes = strings(Some(routes));
    Market::ALL
        .iter()
        .filter(|m| {
            routes
                .iter()
                .any(|r| r.split(':').any(|code| code == m.code()))
        })
        .map(|m| m.code())
        .collect()
}

/// A JSON array of strings as a set (anything else is empty).
fn strings(v: Option<&Value>) -> BTreeSet<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}
