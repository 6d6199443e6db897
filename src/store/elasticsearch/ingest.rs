//! Writing listings: listing and history documents, the merged products and the watchlist's
//! fetch times in one bulk request, then the import checkpoint once that request has
//! succeeded (a checkpoint never runs ahead of the data it covers).
//!
//! The rules are the SQLite store's: per (ASIN, market) the newest fetch wins while history
//! is always merged; a listing of Keepa type other than 0 or without a title records the
//! fetch but lists nothing; identity comes from the listed markets in display order. One
//! real-time multi-get reads what the batch touches (every market's listing of each ASIN,
//! the histories the batch extends, the product documents), and only documents that change
//! are written, so a redelivered batch writes nothing but the unchanged-product check.

use std::collections::{BTreeMap, HashMap};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::docs::{self, Ix, fetched_field, listing_id, micros};
use super::{Bulk, Es};
use crate::domain::{Asin, Listing, Market, Product};
use crate::store::check::{self, Identity, search_text};
use crate::store::{Checkpoint, StoreError, StoreResult, history};

/// A stored listing: the last fetch in one market, history kept apart.
#[derive(Clone, PartialEq)]
struct Row {
    fetched_at: i64,
    listing: Listing,
}

impl Row {
    fn listed(&self) -> bool {
        self.listing.is_listed()
    }
}

/// What the multi-get found for one ASIN.
#[derive(Default)]
struct Stored {
    rows: BTreeMap<Market, Row>,
    history: HashMap<Market, Vec<u8>>,
    /// The product document's `routes`, carried over when it is rewritten; `None` when
    /// there is no product document.
    routes: Option<Value>,
}

/// Writes `listings` fetched at `fetched_at` and the checkpoint; returns the merged products
/// of the ASINs touched, in the order they first appear.
pub(super) async fn upsert_listings(
    es: &Es,
    history_days: u32,
    listings: Vec<Listing>,
    fetched_at: DateTime<Utc>,
    checkpoint: Option<Checkpoint>,
) -> StoreResult<Vec<Product>> {
    let (order, mut by_asin) = check::by_asin(listings).map_err(StoreError::Invalid)?;
    let mut stored = read(es, &order, &by_asin).await?;
    let fetched = micros(fetched_at);
    let mut bulk = Bulk::default();
    let mut products = Vec::with_capacity(order.len());
    for asin in &order {
        let group = by_asin.remove(asin).unwrap_or_default();
        let s = stored.remove(asin).unwrap_or_default();
        products.push(apply(
            es,
            &mut bulk,
            *asin,
            group,
            s,
            fetched,
            history_days,
        )?);
    }
    es.bulk(bulk, |item| {
        // The ASIN left the watchlist since it was read: nothing to schedule.
        item.error.as_deref() == Some("document_missing_exception")
    })
    .await?;
    if let Some(cp) = checkpoint {
        let offset = i64::try_from(cp.offset).map_err(|_| {
            StoreError::Invalid(format!(
                "checkpoint offset {} for '{}' is larger than the store can hold (2^63 - 1)",
                cp.offset, cp.key
            ))
        })?;
        if cp.key.len() > 512 {
            return Err(StoreError::Invalid(format!(
                "checkpoint key '{}…' is longer than 512 bytes, the longest document id",
                cp.key.chars().take(40).collect::<String>()
            )));
        }
        let mut b = Bulk::default();
        b.index(
            &es.name(Ix::Checkpoints),
            &cp.key,
            json!({"key": cp.key, "offset": offset, "updated_at": fetched}),
        );
        es.bulk(b, |_| false).await?;
    }
    Ok(products)
}

/// Reads every market's listing of each ASIN, the histories the batch extends and the
/// product documents, in one real-time multi-get.
async fn read(
    es: &Es,
    order: &[Asin],
    by_asin: &HashMap<Asin, Vec<Listing>>,
) -> StoreResult<HashMap<Asin, Stored>> {
    #[derive(Clone, Copy)]
    enum Slot {
        Row(Asin, Market),
        History(Asin, Market),
        Product(Asin),
    }
    let mut ids: Vec<(Ix, String)> = Vec::new();
    let mut slots: Vec<Slot> = Vec::new();
    for asin in order {
        for m in Market::ALL {
            ids.push((Ix::Listings, listing_id(*asin, m)));
            slots.push(Slot::Row(*asin, m));
        }
        let mut markets: Vec<Market> = by_asin[asin].iter().map(|l| l.market).collect();
        markets.sort();
        markets.dedup();
        for m in markets {
            ids.push((Ix::History, listing_id(*asin, m)));
            slots.push(Slot::History(*asin, m));
        }
        ids.push((Ix::Products, asin.to_string()));
        slots.push(Slot::Product(*asin));
    }
    let found = es.mget_fields(&ids, &[(Ix::Products, &["routes"])]).await?;
    let mut out: HashMap<Asin, Stored> = HashMap::new();
    for (slot, doc) in slots.into_iter().zip(found) {
        let Some(doc) = doc else { continue };
        match slot {
            Slot::Row(asin, m) => {
                let what = || format!("listing {asin}:{m}");
                let row = Row {
                    fetched_at: doc["fetched_at"]
                        .as_i64()
                        .ok_or_else(|| docs::corrupt(what(), "no fetched_at"))?,
                    listing: docs::value(&doc["doc"], &what)?,
                };
                out.entry(asin).or_default().rows.insert(m, row);
            }
            Slot::History(asin, m) => {
                // A damaged blob is replaced by the incoming points (see `merge_blob`).
                let blob = doc["history"]
                    .as_str()
                    .and_then(|b| STANDARD.decode(b).ok())
                    .unwrap_or_default();
                out.entry(asin).or_default().history.insert(m, blob);
            }
            Slot::Product(asin) => {
                out.entry(asin).or_default().routes =
                    Some(doc.get("routes").cloned().unwrap_or(json!([])));
            }
        }
    }
    Ok(out)
}

/// Applies one ASIN's listings to what is stored, queues the changed documents, and
/// returns the merged product.
fn apply(
    es: &Es,
    bulk: &mut Bulk,
    asin: Asin,
    listings: Vec<Listing>,
    mut stored: Stored,
    fetched: i64,
    history_days: u32,
) -> StoreResult<Product> {
    let now = DateTime::from_timestamp_micros(fetched).unwrap_or_default();
    let mut changed = stored.routes.is_none();
    let mut fetch_times = serde_json::Map::new();
    for mut l in listings {
        let m = l.market;
        let id = listing_id(asin, m);
        let old_blob = stored.history.get(&m).map(Vec::as_slice);
        let (blob, damage) = history::merge_blob(old_blob, &l.history, now, history_days);
        if let Some(reason) = damage {
            tracing::warn!(%asin, market = %m, %reason, "Replaced a damaged price history blob.");
        }
        if old_blob != Some(blob.as_slice()) {
            let doc = json!({"asin": asin.as_str(), "market": m.code(),
                             "history": STANDARD.encode(&blob)});
            bulk.index(&es.name(Ix::History), &id, doc);
        }
        let old = stored.rows.get(&m);
        let observed = micros(l.snapshot.observed_at);
        if old.is_some_and(|r| {
            !check::replaces(
                observed,
                fetched,
                micros(r.listing.snapshot.observed_at),
                r.fetched_at,
            )
        }) {
            continue; // Older data: its history is merged, its snapshot is not.
        }
        l.history = Vec::new();
        let row = Row {
            fetched_at: fetched,
            listing: l,
        };
        if old == Some(&row) {
            continue;
        }
        if old.is_none_or(|r| r.fetched_at != fetched) {
            fetch_times.insert(fetched_field(m), json!(fetched));
        }
        let what = || format!("listing {asin}:{m}");
        let doc = json!({
            "asin": asin.as_str(),
            "market": m.code(),
            "listed": row.listed(),
            "fetched_at": fetched,
            "observed_at": micros(row.listing.snapshot.observed_at),
            "doc": docs::to_value(&row.listing, &what)?,
        });
        bulk.index(&es.name(Ix::Listings), &id, doc);
        stored.rows.insert(m, row);
        changed = true;
    }
    let product = merge_product(asin, &stored.rows);
    if changed {
        let updated = stored.rows.values().map(|r| r.fetched_at).max();
        let search = search_text(
            [
                product.title.as_deref(),
                product.brand.as_deref(),
                Some(asin.as_str()),
            ]
            .into_iter()
            .flatten(),
        );
        let markets: Vec<&str> = product.markets.keys().map(|m| m.code()).collect();
        let doc = json!({
            "asin": asin.as_str(),
            "markets": markets,
            "search": search,
            "updated_at": updated,
            "routes": stored.routes.unwrap_or(json!([])),
            "doc": docs::to_value(&product, &|| format!("product {asin}"))?,
        });
        bulk.index(&es.name(Ix::Products), asin.as_str(), doc);
    }
    if !fetch_times.is_empty() {
        bulk.update(
            &es.name(Ix::Watchlist),
            asin.as_str(),
            Value::Object(fetch_times),
            false,
        );
    }
    Ok(product)
}

/// The product of `asin` from its listed markets (the map is in display order).
fn merge_product(asin: Asin, rows: &BTreeMap<Market, Row>) -> Product {
    let listed = rows.iter().filter(|(_, r)| r.listed()).map(|(m, r)| {
        let l = &r.listing;
        let id = Identity {
            title: l.title.as_ref(),
            brand: l.brand.as_ref(),
            image_url: l.image_url.as_ref(),
            package_quantity: l.package_quantity,
            eans: &l.eans,
        };
        (*m, id, l.snapshot.clone())
    });
    let not_listed = rows.iter().filter(|(_, r)| !r.listed()).map(|(m, _)| *m);
    check::merged_product(asin, listed, not_listed)
}
