//! The running totals behind `stats`, kept in `meta` by the writes that change them.
//!
//! Counting 100,000 products, 500,000 listings and half a million opportunity rows (and
//! averaging their margins) took a tenth of a second per `stats` call; the console's tiles
//! and `/stats` ask for it all the time. So each write transaction adds up its changes here
//! and folds them into `meta` before it commits: the totals are exactly as consistent as the
//! rows. The gross margin sum is kept in integer millionths of a percent, so it never
//! drifts however many times rows are added and removed.

use std::collections::BTreeMap;

use rusqlite::Connection;

use super::codec::{Doing, Res};
use crate::domain::Market;

/// The latest listing fetch, in microseconds (a maximum, not a running count).
pub(super) const LAST_UPDATE: &str = "last_update";
/// Products listed in at least one market.
pub(super) const PRODUCTS_LISTED: &str = "products_listed";
/// Opportunity rows.
pub(super) const OPPORTUNITIES: &str = "opportunities";
/// Ranked opportunity rows.
pub(super) const RANKED: &str = "ranked";
/// Sum of every row's gross margin, in millionths of a percent.
pub(super) const GROSS_MICROS: &str = "gross_micros";

/// The key of the number of products listed in `m`.
pub(super) fn listed_key(m: Market) -> String {
    format!("listed_{}", m.code())
}

/// A gross margin as counted in `GROSS_MICROS` (saturating; margins are finite).
pub(super) fn gross_micros(pct: f64) -> i64 {
    (pct * 1e6).round() as i64
}

/// Changes to the totals made by one transaction.
#[derive(Default)]
pub(super) struct Totals(BTreeMap<String, i64>);

impl Totals {
    /// Adds `delta` to `key`.
    pub fn add(&mut self, key: &str, delta: i64) {
        if delta != 0 {
            let v = self.0.entry(key.to_string()).or_insert(0);
            *v = v.saturating_add(delta);
        }
    }

    /// Folds the changes into `meta`.
    pub fn flush(self, c: &Connection) -> Res<()> {
        let mut st = c
            .prepare_cached(
                "INSERT INTO meta (key, value) VALUES (?1, ?2)
                 ON CONFLICT (key) DO UPDATE SET value = value + excluded.value",
            )
            .doing("preparing the totals update")?;
        for (key, delta) in self.0.into_iter().filter(|(_, d)| *d != 0) {
            st.execute(rusqlite::params![key, delta])
                .doing("updating the totals")?;
        }
        Ok(())
    }
}

/// Every total, by key (missing keys are zero).
pub(super) fn read(c: &Connection) -> Res<BTreeMap<String, i64>> {
    let mut st = c
        .prepare_cached("SELECT key, CAST(value AS INTEGER) FROM meta")
        .doing("preparing the totals read")?;
    let rows = st
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
        .doing("reading the totals")?;
    let mut out = BTreeMap::new();
    for row in rows {
        let (k, v) = row.doing("reading the totals")?;
        out.insert(k, v);
    }
    Ok(out)
}
