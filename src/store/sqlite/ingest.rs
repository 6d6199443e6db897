//! Writing listings: the snapshot rows, the merged price history, the merged products and
//! the import checkpoint, all in the caller's one transaction.
//!
//! The newest fetch wins: a listing replaces the stored one for its (ASIN, market) unless
//! the stored one was fetched later (a redelivered old batch cannot roll prices back), while
//! its history is always merged in, since old points are still true. A listing of Keepa
//! type other than 0, or without a title, is stored as "fetched, not listed here": it counts
//! for refresh scheduling but adds no market and no identity to the product. Re-applying a
//! batch rewrites identical rows and changes nothing.
//!
//! The product of every ASIN touched is rebuilt from all its listing rows, identity taken
//! from the listed markets in display order (UK, DE, FR, IT, ES), and returned in the order
//! the ASINs first appear in the batch. Snapshots written by this batch are reused rather
//! than parsed back.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};

use super::codec::{
    Doing, Fail, Res, from_json, kind_id, market_from, market_id, micros, search_text, to_json,
};
use super::history;
use crate::domain::{Asin, Listing, Market, PriceSnapshot, Product};
use crate::store::Checkpoint;

/// Writes `listings` fetched at `fetched_at` and the checkpoint; returns the merged products.
pub(super) fn upsert_listings(
    c: &Connection,
    history_days: u32,
    listings: &[Listing],
    fetched_at: DateTime<Utc>,
    checkpoint: Option<Checkpoint>,
) -> Res<Vec<Product>> {
    let fetched = micros(fetched_at);
    let mut order = Vec::new();
    let mut seen = HashSet::new();
    let mut fresh: HashMap<(Asin, Market), &PriceSnapshot> = HashMap::new();
    for l in listings {
        validate(l)?;
        if write_listing(c, l, fetched)? {
            fresh.insert((l.asin, l.market), &l.snapshot);
        }
        write_history(c, l, fetched_at, history_days)?;
        if seen.insert(l.asin) {
            order.push(l.asin);
        }
    }
    let products = order
        .into_iter()
        .map(|asin| merge_product(c, asin, &fresh))
        .collect::<Res<Vec<_>>>()?;
    if !listings.is_empty() {
        c.prepare_cached(
            "INSERT INTO meta (key, value) VALUES ('last_update', ?1)
             ON CONFLICT (key) DO UPDATE SET value = max(value, excluded.value)",
        )
        .and_then(|mut st| st.execute([fetched]))
        .doing("recording the last update")?;
    }
    if let Some(cp) = checkpoint {
        let offset = i64::try_from(cp.offset).map_err(|_| {
            Fail::Invalid(format!(
                "checkpoint offset {} for '{}' is larger than the store can hold (2^63 - 1)",
                cp.offset, cp.key
            ))
        })?;
        c.prepare_cached(
            "INSERT INTO checkpoints (key, byte_offset, updated_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (key) DO UPDATE
             SET byte_offset = excluded.byte_offset, updated_at = excluded.updated_at",
        )
        .and_then(|mut st| st.execute(params![cp.key, offset, fetched]))
        .doing("writing the import checkpoint")?;
    }
    Ok(products)
}

/// A listing must describe one market throughout.
fn validate(l: &Listing) -> Res<()> {
    let wrong = std::iter::once(l.snapshot.market)
        .chain(l.history.iter().map(|s| s.market))
        .find(|m| *m != l.market);
    match wrong {
        Some(m) => Err(Fail::Invalid(format!(
            "listing {}:{} carries data for market {m}: a listing's snapshot and history \
             must be for its own market",
            l.asin, l.market
        ))),
        None => Ok(()),
    }
}

/// True when the market really sells the product.
fn is_listed(l: &Listing) -> bool {
    l.product_type == 0 && l.title.is_some()
}

/// Upserts the listing row unless a later fetch is stored; true when written.
fn write_listing(c: &Connection, l: &Listing, fetched: i64) -> Res<bool> {
    let what = || format!("listing {}:{}", l.asin, l.market);
    let eans = to_json(&l.eans, &what)?;
    let snapshot = to_json(&l.snapshot, &what)?;
    let mut st = c
        .prepare_cached(
            "INSERT INTO listings (asin, market, listed, product_type, title, brand, image_url,
                                   eans, package_quantity, root_category, fetched_at,
                                   observed_at, snapshot)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)
             ON CONFLICT (asin, market) DO UPDATE SET
                 listed = excluded.listed, product_type = excluded.product_type,
                 title = excluded.title, brand = excluded.brand,
                 image_url = excluded.image_url, eans = excluded.eans,
                 package_quantity = excluded.package_quantity,
                 root_category = excluded.root_category, fetched_at = excluded.fetched_at,
                 observed_at = excluded.observed_at, snapshot = excluded.snapshot
             WHERE excluded.fetched_at >= listings.fetched_at",
        )
        .doing("preparing the listing upsert")?;
    let changed = st
        .execute(params![
            l.asin.as_str(),
            market_id(l.market),
            is_listed(l),
            l.product_type,
            l.title,
            l.brand,
            l.image_url,
            eans,
            l.package_quantity,
            l.root_category,
            fetched,
            micros(l.snapshot.observed_at),
            snapshot,
        ])
        .doing("writing a listing")?;
    Ok(changed > 0)
}

/// Merges each history series of the listing into the stored one.
fn write_history(c: &Connection, l: &Listing, now: DateTime<Utc>, days: u32) -> Res<()> {
    let mut get = c
        .prepare_cached("SELECT points FROM history WHERE asin = ?1 AND market = ?2 AND kind = ?3")
        .doing("preparing the history read")?;
    let mut put = c
        .prepare_cached(
            "INSERT INTO history (asin, market, kind, points) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (asin, market, kind) DO UPDATE SET points = excluded.points",
        )
        .doing("preparing the history write")?;
    for series in &l.history {
        let incoming = history::normalize(&series.points);
        if incoming.is_empty() {
            continue;
        }
        let key = params![l.asin.as_str(), market_id(l.market), kind_id(series.kind)];
        let stored: Option<Vec<u8>> = get
            .query_row(key, |r| r.get(0))
            .optional()
            .doing("reading history")?;
        let existing = match stored.as_deref().map(history::decode) {
            None => Vec::new(),
            Some(Ok(points)) => points,
            // The incoming points replace a damaged blob rather than blocking the listing.
            Some(Err(reason)) => {
                tracing::warn!(
                    asin = %l.asin, market = %l.market, kind = ?series.kind, %reason,
                    "Replaced a damaged price history blob."
                );
                Vec::new()
            }
        };
        let mut merged = history::merge(&existing, &incoming);
        history::trim(&mut merged, now, days);
        let blob = history::encode(&merged);
        if stored.as_deref() != Some(blob.as_slice()) {
            put.execute(params![
                l.asin.as_str(),
                market_id(l.market),
                kind_id(series.kind),
                blob
            ])
            .doing("writing history")?;
        }
    }
    Ok(())
}

/// One stored listing row, as the merge reads it.
struct Row {
    market: i64,
    listed: bool,
    title: Option<String>,
    brand: Option<String>,
    image_url: Option<String>,
    eans: String,
    package_quantity: Option<i64>,
    fetched_at: i64,
    snapshot: String,
}

/// Rebuilds and stores the product of `asin` from all its listing rows.
fn merge_product(
    c: &Connection,
    asin: Asin,
    fresh: &HashMap<(Asin, Market), &PriceSnapshot>,
) -> Res<Product> {
    let mut st = c
        .prepare_cached(
            "SELECT market, listed, title, brand, image_url, eans, package_quantity,
                    fetched_at, snapshot
             FROM listings WHERE asin = ?1 ORDER BY market",
        )
        .doing("preparing the product merge")?;
    let raw = st
        .query_map([asin.as_str()], |r| {
            Ok(Row {
                market: r.get(0)?,
                listed: r.get(1)?,
                title: r.get(2)?,
                brand: r.get(3)?,
                image_url: r.get(4)?,
                eans: r.get(5)?,
                package_quantity: r.get(6)?,
                fetched_at: r.get(7)?,
                snapshot: r.get(8)?,
            })
        })
        .doing("reading listings")?
        .collect::<Result<Vec<_>, _>>()
        .doing("reading listings")?;
    let mut p = Product {
        asin,
        title: None,
        brand: None,
        image_url: None,
        eans: Vec::new(),
        package_quantity: None,
        markets: BTreeMap::new(),
    };
    let mut mask = 0i64;
    let mut updated = 0i64;
    for row in raw {
        let what = || format!("listing {asin} (market id {})", row.market);
        let market = market_from(row.market, &what)?;
        updated = updated.max(row.fetched_at);
        if !row.listed {
            continue;
        }
        let what = || format!("listing {asin}:{market}");
        let snapshot = match fresh.get(&(asin, market)) {
            Some(s) => (*s).clone(),
            None => from_json(&row.snapshot, &what)?,
        };
        let eans: Vec<String> = from_json(&row.eans, &what)?;
        p.title = p.title.or(row.title);
        p.brand = p.brand.or(row.brand);
        p.image_url = p.image_url.or(row.image_url);
        p.package_quantity = p.package_quantity.or(row.package_quantity);
        for e in eans {
            if !p.eans.contains(&e) {
                p.eans.push(e);
            }
        }
        mask |= market_bit(market);
        p.markets.insert(market, snapshot);
    }
    let search = search_text(
        [p.title.as_deref(), p.brand.as_deref(), Some(asin.as_str())]
            .into_iter()
            .flatten(),
    );
    let eans = to_json(&p.eans, &|| format!("product {asin}"))?;
    c.prepare_cached(
        "INSERT INTO products (asin, title, brand, image_url, eans, package_quantity, markets,
                               search, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
         ON CONFLICT (asin) DO UPDATE SET
             title = excluded.title, brand = excluded.brand, image_url = excluded.image_url,
             eans = excluded.eans, package_quantity = excluded.package_quantity,
             markets = excluded.markets, search = excluded.search,
             updated_at = excluded.updated_at",
    )
    .and_then(|mut st| {
        st.execute(params![
            asin.as_str(),
            p.title,
            p.brand,
            p.image_url,
            eans,
            p.package_quantity,
            mask,
            search,
            updated,
        ])
    })
    .doing("writing a product")?;
    Ok(p)
}

/// The bit of a market in `products.markets`: its position in display order.
pub(super) fn market_bit(m: Market) -> i64 {
    let i = Market::ALL.iter().position(|x| *x == m).unwrap_or(0);
    1 << i
}
