//! Writing listings: the listing rows with their merged price history, the merged products
//! and the import checkpoint, all in the caller's one transaction.
//!
//! Work is done per ASIN: its stored listing rows are read once, the batch's listings of
//! that ASIN are applied in memory, and only rows that changed are written back, followed by
//! the product. That is one read, the changed rows and one product write per ASIN, whatever
//! the number of markets and history kinds; a redelivered batch writes nothing.
//!
//! The newest data wins: a listing replaces the stored one for its (ASIN, market) unless
//! the stored one is a newer Keepa observation, or the same one fetched later (see
//! [`check::replaces`]: a redelivered old batch or an old dump cannot roll prices back),
//! while its history is always merged in, since old points are still true. A listing of Keepa
//! type other than 0, or without a title, is stored as "fetched, not listed here": it counts
//! for refresh scheduling but adds no market and no identity to the product.
//!
//! The product of every ASIN touched is rebuilt from all its listing rows, identity taken
//! from the listed markets in display order (UK, DE, FR, IT, ES), and returned in the order
//! the ASINs first appear in the batch. Snapshots of this batch are reused, not parsed back.

use std::borrow::Borrow;
use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use rusqlite::{CachedStatement, Connection, params};

use super::binary::{decode_bytes, doc_bytes, encode_snapshot};
use super::codec::{
    Doing, Fail, Res, from_json, market_bit, market_from, market_id, micros, statement, to_json,
};
use super::totals::{self, Totals};
use crate::domain::{Asin, Listing, Market, PriceSnapshot, Product};
use crate::store::Checkpoint;
use crate::store::check::{self, Identity, search_text};
use crate::store::history;

/// A listing with the documents its row stores (the EANs as JSON, the snapshot in the
/// binary form of [`super::binary`]) and the history blob of a row stored for the first time.
pub(super) struct Encoded {
    listing: Listing,
    eans: String,
    snapshot: Vec<u8>,
    /// The listing's history merged into nothing and trimmed: the blob of a new row, which
    /// is what most listings of a large import are. Taken when used; a listing whose row
    /// exists merges its history into the stored one instead.
    new_history: Option<Vec<u8>>,
}

impl Borrow<Listing> for Encoded {
    fn borrow(&self) -> &Listing {
        &self.listing
    }
}

/// A batch ready for [`upsert_listings`]: checked, grouped by ASIN, encoded.
pub(super) struct Prepared {
    /// The ASINs in the order they first appear.
    order: Vec<Asin>,
    /// Each ASIN's listings in batch order.
    by_asin: HashMap<Asin, Vec<Encoded>>,
    batch: Batch,
}

/// What is left of a written batch: its listings, to be freed.
pub(super) type Leftovers = HashMap<Asin, Vec<Encoded>>;

/// Checks, groups and encodes `listings` fetched at `fetched_at` for [`upsert_listings`].
/// Pure CPU work, done before the writer connection is taken, so it overlaps another
/// batch's write: everything that does not depend on what is stored is done here.
pub(super) fn prepare(
    listings: Vec<Listing>,
    fetched_at: DateTime<Utc>,
    history_days: u32,
) -> Res<Prepared> {
    let encoded = listings
        .into_iter()
        .map(|listing| {
            let what = || format!("listing {}:{}", listing.asin, listing.market);
            let (new_history, _) =
                history::merge_blob(None, &listing.history, fetched_at, history_days);
            Ok(Encoded {
                eans: to_json(&listing.eans, &what)?,
                snapshot: encode_snapshot(&listing.snapshot),
                new_history: Some(new_history),
                listing,
            })
        })
        .collect::<Res<Vec<_>>>()?;
    let (order, by_asin) = check::by_asin(encoded).map_err(Fail::Invalid)?;
    Ok(Prepared {
        order,
        by_asin,
        batch: Batch {
            fetched: micros(fetched_at),
            now: fetched_at,
            history_days,
        },
    })
}

/// Writes a prepared batch and the checkpoint; returns the merged products, and the
/// batch's leftovers for the caller to drop once the writer is free again (freeing a
/// large batch's listings takes a while).
pub(super) fn upsert_listings(
    c: &Connection,
    prepared: Prepared,
    checkpoint: Option<Checkpoint>,
) -> Res<(Vec<Product>, Leftovers)> {
    let Prepared {
        order,
        mut by_asin,
        batch,
    } = prepared;
    let any = !order.is_empty();
    let mut products = Vec::with_capacity(order.len());
    let mut totals = Totals::default();
    let mut st = Statements::prepare(c)?;
    for asin in order {
        let group = by_asin
            .get_mut(&asin)
            .map(Vec::as_mut_slice)
            .unwrap_or_default();
        products.push(batch.apply(&mut st, asin, group, &mut totals)?);
    }
    drop(st);
    totals.flush(c)?;
    if any {
        c.prepare_cached(
            "INSERT INTO meta (key, value) VALUES (?1, ?2)
             ON CONFLICT (key) DO UPDATE SET value = max(value, excluded.value)",
        )
        .and_then(|mut st| st.execute(params![totals::LAST_UPDATE, batch.fetched]))
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
        .and_then(|mut st| st.execute(params![cp.key, offset, batch.fetched]))
        .doing("writing a checkpoint (an import's progress, or the store's source)")?;
    }
    Ok((products, by_asin))
}

/// One stored listing row.
#[derive(Clone, PartialEq)]
struct Row {
    listed: bool,
    product_type: i64,
    title: Option<String>,
    brand: Option<String>,
    image_url: Option<String>,
    eans: String,
    package_quantity: Option<i64>,
    root_category: Option<i64>,
    fetched_at: i64,
    observed_at: i64,
    snapshot: Vec<u8>,
    history: Vec<u8>,
}

impl Row {
    /// The row of a listing, its encoded documents and text moved in (not copied): the
    /// listing is not read again.
    fn from_listing(e: &mut Encoded, fetched_at: i64, history: Vec<u8>) -> Row {
        let l = &mut e.listing;
        Row {
            listed: l.is_listed(),
            product_type: l.product_type,
            title: l.title.take(),
            brand: l.brand.take(),
            image_url: l.image_url.take(),
            eans: std::mem::take(&mut e.eans),
            package_quantity: l.package_quantity,
            root_category: l.root_category,
            fetched_at,
            observed_at: micros(l.snapshot.observed_at),
            snapshot: std::mem::take(&mut e.snapshot),
            history,
        }
    }
}

/// What every ASIN of a batch shares.
struct Batch {
    fetched: i64,
    now: DateTime<Utc>,
    history_days: u32,
}

impl Batch {
    /// Applies one ASIN's listings and returns its merged product.
    fn apply(
        &self,
        st: &mut Statements<'_>,
        asin: Asin,
        listings: &mut [Encoded],
        totals: &mut Totals,
    ) -> Res<Product> {
        let mut rows = read_rows(st, asin)?;
        // A product row exists exactly when a listing row does.
        let was_empty = rows.is_empty();
        let was_listed: Vec<Market> = listed(&rows);
        // Listings whose snapshot replaces the stored one, in batch order.
        let mut replacing = Vec::new();
        let mut changed = false;
        for (i, e) in listings.iter_mut().enumerate() {
            let market = e.listing.market;
            let stored = rows.get(&market);
            let history = match (stored, e.new_history.take()) {
                (None, Some(blob)) => blob,
                _ => self.merged_history(&e.listing, stored),
            };
            let observed = micros(e.listing.snapshot.observed_at);
            let replace = stored.is_none_or(|r| {
                check::replaces(observed, self.fetched, r.observed_at, r.fetched_at)
            });
            let row = match stored {
                Some(r) if !replace => Row {
                    history,
                    ..r.clone()
                },
                _ => Row::from_listing(e, self.fetched, history),
            };
            if replace {
                replacing.push(i);
            }
            if stored != Some(&row) {
                write_row(st, asin, market, &row, stored.is_some())?;
                rows.insert(market, row);
                changed = true;
            }
        }
        // A later listing of a market wins, as in the loop.
        let mut fresh: HashMap<Market, PriceSnapshot> = HashMap::new();
        for &i in &replacing {
            let s = &mut listings[i].listing.snapshot;
            fresh.insert(s.market, take_snapshot(s));
        }
        let product = merge_product(asin, &rows, fresh)?;
        if changed {
            write_product(st, &product, &rows, !was_empty)?;
            let now_listed = listed(&rows);
            for m in Market::ALL {
                let delta = i64::from(now_listed.contains(&m)) - i64::from(was_listed.contains(&m));
                totals.add(&totals::listed_key(m), delta);
            }
            let delta = i64::from(!now_listed.is_empty()) - i64::from(!was_listed.is_empty());
            totals.add(totals::PRODUCTS_LISTED, delta);
        }
        mark_fetched(st, asin, &rows)?;
        Ok(product)
    }

    /// The stored history of the listing's row with its incoming points merged and trimmed.
    fn merged_history(&self, l: &Listing, stored: Option<&Row>) -> Vec<u8> {
        let stored = stored.map(|r| r.history.as_slice());
        let (blob, damage) = history::merge_blob(stored, &l.history, self.now, self.history_days);
        if let Some(reason) = damage {
            tracing::warn!(
                asin = %l.asin, market = %l.market, %reason,
                "Replaced a damaged price history blob."
            );
        }
        blob
    }
}

/// The markets whose rows list the product.
fn listed(rows: &BTreeMap<Market, Row>) -> Vec<Market> {
    rows.iter()
        .filter(|(_, r)| r.listed)
        .map(|(m, _)| *m)
        .collect()
}

/// Records on the watchlist entry, if any, every market the ASIN was fetched in.
fn mark_fetched(st: &mut Statements<'_>, asin: Asin, rows: &BTreeMap<Market, Row>) -> Res<()> {
    let mask = rows.keys().fold(0, |acc, m| acc | market_bit(*m));
    st.mark_fetched
        .execute(params![asin.as_str(), mask])
        .doing("recording fetched markets on the watchlist")?;
    Ok(())
}

/// The statements of a batch, prepared once for all its ASINs.
struct Statements<'c> {
    read_rows: CachedStatement<'c>,
    insert_row: CachedStatement<'c>,
    update_row: CachedStatement<'c>,
    insert_product: CachedStatement<'c>,
    update_product: CachedStatement<'c>,
    mark_fetched: CachedStatement<'c>,
}

impl<'c> Statements<'c> {
    fn prepare(c: &'c Connection) -> Res<Self> {
        Ok(Statements {
            read_rows: statement(
                c,
                "SELECT market, listed, product_type, title, brand, image_url, eans,
                        package_quantity, root_category, fetched_at, observed_at, snapshot,
                        history
                 FROM listings WHERE asin = ?1",
                "preparing the listing read",
            )?,
            insert_row: statement(
                c,
                "INSERT INTO listings (asin, market, listed, product_type, title, brand,
                     image_url, eans, package_quantity, root_category, fetched_at,
                     observed_at, snapshot, history)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
                "preparing the listing insert",
            )?,
            update_row: statement(
                c,
                "UPDATE listings SET listed = ?3, product_type = ?4, title = ?5,
                     brand = ?6, image_url = ?7, eans = ?8, package_quantity = ?9,
                     root_category = ?10, fetched_at = ?11, observed_at = ?12,
                     snapshot = ?13, history = ?14
                 WHERE asin = ?1 AND market = ?2",
                "preparing the listing update",
            )?,
            insert_product: statement(
                c,
                "INSERT INTO products (asin, title, brand, image_url, eans,
                     package_quantity, markets, search, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                "preparing the product insert",
            )?,
            update_product: statement(
                c,
                "UPDATE products SET title = ?2, brand = ?3, image_url = ?4,
                     eans = ?5, package_quantity = ?6, markets = ?7, search = ?8,
                     updated_at = ?9
                 WHERE asin = ?1",
                "preparing the product update",
            )?,
            mark_fetched: statement(
                c,
                "UPDATE watchlist SET fetched = fetched | ?2
                 WHERE asin = ?1 AND (fetched & ?2) != ?2",
                "preparing the watchlist update",
            )?,
        })
    }
}

/// Moves a snapshot out of `s`, leaving its text fields empty: the batch's listing is not
/// read again, and a copy would cost as much as the move saves.
fn take_snapshot(s: &mut PriceSnapshot) -> PriceSnapshot {
    PriceSnapshot {
        title: s.title.take(),
        eans: std::mem::take(&mut s.eans),
        product_group: s.product_group.take(),
        ..*s
    }
}

/// The stored listing rows of `asin`, by market.
fn read_rows(st: &mut Statements<'_>, asin: Asin) -> Res<BTreeMap<Market, Row>> {
    let st = &mut st.read_rows;
    let raw = st
        .query_map([asin.as_str()], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                Row {
                    listed: r.get(1)?,
                    product_type: r.get(2)?,
                    title: r.get(3)?,
                    brand: r.get(4)?,
                    image_url: r.get(5)?,
                    eans: r.get(6)?,
                    package_quantity: r.get(7)?,
                    root_category: r.get(8)?,
                    fetched_at: r.get(9)?,
                    observed_at: r.get(10)?,
                    snapshot: r
                        .get_ref(11)
                        .map(|v| doc_bytes(v).unwrap_or_default().to_vec())?,
                    history: r.get(12)?,
                },
            ))
        })
        .doing("reading listings")?;
    let mut rows = BTreeMap::new();
    for row in raw {
        let (id, row) = row.doing("reading listings")?;
        let market = market_from(id, &|| format!("listing {asin} (market id {id})"))?;
        rows.insert(market, row);
    }
    Ok(rows)
}

/// Writes a listing row. Plain `INSERT` or `UPDATE`, since whether the row exists is known:
/// an upsert statement would make SQLite journal every page it touches, in case the
/// statement had to be undone halfway.
fn write_row(
    st: &mut Statements<'_>,
    asin: Asin,
    market: Market,
    r: &Row,
    exists: bool,
) -> Res<()> {
    let columns = params![
        asin.as_str(),
        market_id(market),
        r.listed,
        r.product_type,
        r.title,
        r.brand,
        r.image_url,
        r.eans,
        r.package_quantity,
        r.root_category,
        r.fetched_at,
        r.observed_at,
        r.snapshot,
        r.history,
    ];
    // An update that finds no row (the file was edited by hand) falls back to an insert.
    if !exists || st.update_row.execute(columns).doing("updating a listing")? == 0 {
        st.insert_row
            .execute(columns)
            .doing("inserting a listing")?;
    }
    Ok(())
}

/// Builds the product of `asin` from its rows (the map is in display order).
fn merge_product(
    asin: Asin,
    rows: &BTreeMap<Market, Row>,
    mut fresh: HashMap<Market, PriceSnapshot>,
) -> Res<Product> {
    let mut listed = Vec::new();
    let mut eans = Vec::new();
    for (market, row) in rows.iter().filter(|(_, r)| r.listed) {
        let what = || format!("listing {asin}:{market}");
        let snapshot = match fresh.remove(market) {
            Some(s) => s,
            None => decode_bytes(&row.snapshot, &what)?,
        };
        eans.push(from_json::<Vec<String>>(&row.eans, &what)?);
        listed.push((*market, row, snapshot));
    }
    Ok(check::merged_product(
        asin,
        listed
            .into_iter()
            .zip(&eans)
            .map(|((market, row, snapshot), eans)| {
                let id = Identity {
                    title: row.title.as_ref(),
                    brand: row.brand.as_ref(),
                    image_url: row.image_url.as_ref(),
                    package_quantity: row.package_quantity,
                    eans,
                };
                (market, id, snapshot)
            }),
        rows.iter().filter(|(_, r)| !r.listed).map(|(m, _)| *m),
    ))
}

/// Stores the identity of a merged product, its listed markets and its search text.
fn write_product(
    st: &mut Statements<'_>,
    p: &Product,
    rows: &BTreeMap<Market, Row>,
    exists: bool,
) -> Res<()> {
    let asin = p.asin;
    let mask = p.markets.keys().fold(0, |m, k| m | market_bit(*k));
    let updated = rows.values().map(|r| r.fetched_at).max().unwrap_or(0);
    let search = search_text(
        [p.title.as_deref(), p.brand.as_deref(), Some(asin.as_str())]
            .into_iter()
            .flatten(),
    );
    let eans = to_json(&p.eans, &|| format!("product {asin}"))?;
    let columns = params![
        asin.as_str(),
        p.title,
        p.brand,
        p.image_url,
        eans,
        p.package_quantity,
        mask,
        search,
        updated,
    ];
    if !exists
        || st
            .update_product
            .execute(columns)
            .doing("updating a product")?
            == 0
    {
        st.insert_product
            .execute(columns)
            .doing("inserting a product")?;
    }
    Ok(())
}
