//! Writing opportunities, the watchlist and job runs, each call in the caller's one
//! transaction.
//!
//! `replace_opportunities` compares each wanted row's encoded document with the stored one
//! and writes only what changed: re-detecting an unchanged product touches nothing, rows
//! that vanished are deleted with their documents, and the narrow indexed columns are
//! always derived from the same `Opportunity` as the document, so they cannot disagree. Rows
//! are validated first: a non-finite percentage or non-EUR profit would sort and filter
//! wrongly forever, so it is refused with the row's key.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use rusqlite::{CachedStatement, Connection, params};

use super::binary::{doc_bytes, encode_opportunity};
use super::codec::{Doing, Fail, Res, market_bit_sql, market_id, micros, statement};
use super::totals::{self, Totals};
use crate::domain::{Asin, Market, Opportunity};
use crate::store::check::{self, search_text};
use crate::store::{JobRun, ProcessReport, REPORTS_KEPT_FOR, WatchSource};

/// Runs kept per job; older ones are deleted as new ones are recorded.
const RUNS_KEPT: i64 = 50;

/// Adds ASINs not yet watched; returns those that were new. A new entry starts with the
/// markets it was already fetched in.
pub(super) fn watch_add(
    c: &Connection,
    asins: &[Asin],
    source: WatchSource,
    now: DateTime<Utc>,
) -> Res<Vec<Asin>> {
    let mut st = c
        .prepare_cached(&format!(
            "INSERT INTO watchlist (asin, source, added_at, fetched) VALUES (?1, ?2, ?3,
                 (SELECT coalesce(sum({}), 0) FROM listings WHERE asin = ?1))
             ON CONFLICT (asin) DO NOTHING",
            market_bit_sql("market")
        ))
        .doing("preparing the watchlist insert")?;
    let mut added = Vec::new();
    for a in asins {
        let n = st
            .execute(params![a.as_str(), source.name(), micros(now)])
            .doing("adding to the watchlist")?;
        if n > 0 {
            added.push(*a);
        }
    }
    Ok(added)
}

/// Removes ASINs from the watchlist; returns those that were there.
pub(super) fn watch_remove(c: &Connection, asins: &[Asin]) -> Res<Vec<Asin>> {
    let mut st = c
        .prepare_cached("DELETE FROM watchlist WHERE asin = ?1")
        .doing("preparing the watchlist delete")?;
    let mut removed = Vec::new();
    for a in asins {
        let n = st
            .execute([a.as_str()])
            .doing("removing from the watchlist")?;
        if n > 0 {
            removed.push(*a);
        }
    }
    Ok(removed)
}

/// Records a job run and forgets the oldest beyond `RUNS_KEPT`.
pub(super) fn record_job(c: &Connection, run: &JobRun) -> Res<()> {
    c.prepare_cached(
        "INSERT INTO job_runs (job, started_at, finished_at, result, detail)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )
    .and_then(|mut st| {
        st.execute(params![
            run.job,
            micros(run.started_at),
            micros(run.finished_at),
            run.result,
            run.detail
        ])
    })
    .doing("recording a job run")?;
    c.prepare_cached(
        "DELETE FROM job_runs WHERE job = ?1 AND id NOT IN
             (SELECT id FROM job_runs WHERE job = ?1
              ORDER BY started_at DESC, id DESC LIMIT ?2)",
    )
    .and_then(|mut st| st.execute(params![run.job, RUNS_KEPT]))
    .doing("forgetting old job runs")?;
    Ok(())
}

/// Records a process's report in place of its previous one; forgets reports not renewed
/// for [`REPORTS_KEPT_FOR`].
pub(super) fn report_process(c: &Connection, r: &ProcessReport) -> Res<()> {
    c.prepare_cached(
        "INSERT INTO process_reports (id, updated_at, body) VALUES (?1, ?2, ?3)
         ON CONFLICT (id) DO UPDATE SET updated_at = excluded.updated_at, body = excluded.body",
    )
    .and_then(|mut st| st.execute(params![r.id, micros(r.updated_at), r.body]))
    .doing("recording a process report")?;
    c.prepare_cached("DELETE FROM process_reports WHERE updated_at < ?1")
        .and_then(|mut st| st.execute(params![micros(r.updated_at - REPORTS_KEPT_FOR)]))
        .doing("forgetting old process reports")?;
    Ok(())
}

/// One wanted row, validated, with its document (see [`super::binary`]) and search text.
pub(super) struct Wanted {
    o: Opportunity,
    body: Vec<u8>,
    search: String,
}

/// Each ASIN's wanted rows by route.
pub(super) type Prepared = Vec<(Asin, BTreeMap<(Market, Market), Wanted>)>;

/// Validates and serializes `sets` for [`replace_opportunities`]. Pure CPU work, done before
/// the writer connection is taken, so it overlaps another batch's write.
/// A later set of an ASIN replaces an earlier one in the same call (the end state of
/// applying them in order, without retiring and re-creating routes in between, which would
/// reset their `first_seen`).
pub(super) fn prepare(sets: Vec<(Asin, Vec<Opportunity>)>) -> Res<Prepared> {
    let mut out: Prepared = Vec::with_capacity(sets.len());
    let mut at: HashMap<Asin, usize> = HashMap::with_capacity(sets.len());
    for (asin, opps) in sets {
        let mut wanted = BTreeMap::new();
        // The rows of an ASIN share its title, and so their search text.
        let mut last: Option<(Option<Arc<str>>, String)> = None;
        for o in opps {
            check::opportunity(asin, &o).map_err(Fail::Invalid)?;
            let body = encode_opportunity(&o);
            let search = match &last {
                Some((t, text)) if *t == o.title => text.clone(),
                _ => {
                    let title = o.title.as_deref();
                    let text = search_text([title, Some(asin.as_str())].into_iter().flatten());
                    last = Some((o.title.clone(), text.clone()));
                    text
                }
            };
            wanted.insert((o.buy_market, o.sell_market), Wanted { o, body, search });
        }
        match at.get(&asin) {
            Some(&i) => out[i].1 = wanted,
            None => {
                at.insert(asin, out.len());
                out.push((asin, wanted));
            }
        }
    }
    Ok(out)
}

/// Makes each ASIN's stored opportunities exactly its set (the last set wins for an ASIN
/// given twice, and the last row for a route given twice).
pub(super) fn replace_opportunities(c: &Connection, sets: &Prepared) -> Res<()> {
    let mut totals = Totals::default();
    let mut st = Statements::prepare(c)?;
    for (asin, wanted) in sets {
        let stored = retire_and_compare(&mut st, *asin, wanted, &mut totals)?;
        for (route, w) in wanted {
            let before = stored.get(route);
            if before.is_some_and(|s| s.unchanged) {
                continue;
            }
            let o = &w.o;
            write(&mut st, w, before)?;
            let (count, ranked, gross) = before.map_or((0, 0, 0), |s| (1, s.ranked, s.gross));
            totals.add(totals::OPPORTUNITIES, 1 - count);
            totals.add(totals::RANKED, i64::from(o.ranked) - ranked);
            totals.add(
                totals::GROSS_MICROS,
                totals::gross_micros(o.gross_margin_pct) - gross,
            );
        }
    }
    drop(st);
    totals.flush(c)
}

/// The statements of a call, prepared once for all its ASINs.
struct Statements<'c> {
    read: CachedStatement<'c>,
    delete: CachedStatement<'c>,
    delete_doc: CachedStatement<'c>,
    insert: CachedStatement<'c>,
    update: CachedStatement<'c>,
    /// An update of the time alone, for a row whose indexed columns are as stored: SQLite
    /// then leaves the three sort indexes alone (an update that names their columns
    /// rewrites their entries even when the values are the same, at three random places
    /// of the file for every route of every refresh).
    touch: CachedStatement<'c>,
    insert_doc: CachedStatement<'c>,
    update_doc: CachedStatement<'c>,
}

impl<'c> Statements<'c> {
    fn prepare(c: &'c Connection) -> Res<Self> {
        Ok(Statements {
            read: statement(
                c,
                "SELECT o.id, o.buy, o.sell, o.ranked, o.gross_margin_pct, d.body,
                        o.net_margin_pct, o.net_profit, o.roi_pct, o.expected_monthly_profit,
                        o.search
                 FROM opportunities o LEFT JOIN opportunity_docs d ON d.id = o.id
                 WHERE o.asin = ?1",
                "preparing the opportunity read",
            )?,
            delete: statement(
                c,
                "DELETE FROM opportunities WHERE id = ?1",
                "preparing the opportunity delete",
            )?,
            delete_doc: statement(
                c,
                "DELETE FROM opportunity_docs WHERE id = ?1",
                "preparing the opportunity document delete",
            )?,
            insert: statement(
                c,
                "INSERT INTO opportunities (asin, buy, sell, gross_margin_pct,
                     net_margin_pct, net_profit, roi_pct, expected_monthly_profit, ranked,
                     updated_at, search, first_seen)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
                "preparing the opportunity insert",
            )?,
            update: statement(
                c,
                "UPDATE opportunities SET gross_margin_pct = ?4, net_margin_pct = ?5,
                     net_profit = ?6, roi_pct = ?7, expected_monthly_profit = ?8,
                     ranked = ?9, updated_at = ?10, search = ?11
                 WHERE id = ?12 AND asin = ?1 AND buy = ?2 AND sell = ?3",
                "preparing the opportunity update",
            )?,
            touch: statement(
                c,
                "UPDATE opportunities SET updated_at = ?2 WHERE id = ?1",
                "preparing the opportunity time update",
            )?,
            insert_doc: statement(
                c,
                "INSERT INTO opportunity_docs (id, body) VALUES (?1, ?2)",
                "preparing the opportunity document insert",
            )?,
            update_doc: statement(
                c,
                "UPDATE opportunity_docs SET body = ?2 WHERE id = ?1",
                "preparing the opportunity document update",
            )?,
        })
    }
}

/// What is stored for a wanted route.
struct Stored {
    /// Row id in `opportunities` and `opportunity_docs`.
    id: i64,
    /// The stored document is exactly the wanted one.
    unchanged: bool,
    /// Stored `ranked` (0 or 1).
    ranked: i64,
    /// Stored gross margin in millionths of a percent.
    gross: i64,
    /// The stored row's columns other than the time are the wanted row's: an update need
    /// only set the time (and the document).
    same_columns: bool,
}

/// A row's figures as its columns hold them: gross margin %, then net margin %, net
/// profit, ROI % and expected monthly profit, which are NULL when unknown (`NO_TABLE`), so
/// no net filter matches them.
type Figures = (f64, Option<f64>, Option<i64>, Option<f64>, Option<i64>);

fn figures(o: &Opportunity) -> Figures {
    let net = o.has_net();
    (
        o.gross_margin_pct,
        net.then_some(o.net_margin_pct),
        net.then_some(o.net_profit.minor),
        net.then_some(o.roi_pct),
        net.then_some(o.expected_monthly_profit.minor),
    )
}

/// The columns of an `opportunities` row that its indexes and filters read, as stored.
struct Columns {
    ranked: bool,
    figures: Figures,
    search: String,
}

impl Columns {
    /// Whether `w` stores exactly these columns (floats compared as stored: SQLite keeps a
    /// REAL's bits).
    fn are_those_of(&self, w: &Wanted) -> bool {
        self.ranked == w.o.ranked && self.figures == figures(&w.o) && self.search == w.search
    }
}

/// Deletes the ASIN's rows that are not wanted; returns what is stored for wanted routes.
fn retire_and_compare(
    st: &mut Statements<'_>,
    asin: Asin,
    wanted: &BTreeMap<(Market, Market), Wanted>,
    totals: &mut Totals,
) -> Res<HashMap<(Market, Market), Stored>> {
    let rows = st
        .read
        .query_map([asin.as_str()], |r| {
            Ok((
                (
                    r.get::<_, i64>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, i64>(2)?,
                ),
                r.get_ref(5).map(|v| doc_bytes(v).map(<[u8]>::to_vec))?,
                Columns {
                    ranked: r.get(3)?,
                    figures: (r.get(4)?, r.get(6)?, r.get(7)?, r.get(8)?, r.get(9)?),
                    search: r.get(10)?,
                },
            ))
        })
        .doing("reading opportunities")?
        .collect::<Result<Vec<_>, _>>()
        .doing("reading opportunities")?;
    let mut stored = HashMap::new();
    for ((id, buy, sell), body, columns) in rows {
        let ranked = i64::from(columns.ranked);
        let gross = totals::gross_micros(columns.figures.0);
        let route = wanted
            .iter()
            .find(|((b, s), _)| market_id(*b) == buy && market_id(*s) == sell);
        match route {
            None => {
                st.delete.execute([id]).doing("retiring an opportunity")?;
                st.delete_doc
                    .execute([id])
                    .doing("retiring an opportunity document")?;
                totals.add(totals::OPPORTUNITIES, -1);
                totals.add(totals::RANKED, -ranked);
                totals.add(totals::GROSS_MICROS, -gross);
            }
            Some((r, want)) => {
                let unchanged = body.as_deref() == Some(want.body.as_slice());
                stored.insert(
                    *r,
                    Stored {
                        id,
                        unchanged,
                        ranked,
                        gross,
                        same_columns: columns.are_those_of(want),
                    },
                );
            }
        }
    }
    Ok(stored)
}

/// Writes one row and its document: an update of row `id` (which keeps the row's
/// `first_seen`), or an insert. Plain statements,
/// since whether the row exists is known: an upsert would make SQLite journal every page it
/// touches in case the statement had to be undone halfway.
fn write(st: &mut Statements<'_>, w: &Wanted, stored: Option<&Stored>) -> Res<()> {
    let (o, body, search) = (&w.o, w.body.as_slice(), w.search.as_str());
    let (gross, net_margin, net_profit, roi, emp) = figures(o);
    // ?12: the row id of an update; the first seen time of an insert (a new route is
    // first seen now, unless the row says otherwise).
    let columns = |twelfth: i64| {
        (
            o.asin.as_str(),
            market_id(o.buy_market),
            market_id(o.sell_market),
            gross,
            net_margin,
            net_profit,
            roi,
            emp,
            o.ranked,
            micros(o.updated_at),
            search,
            twelfth,
        )
    };
    let updated = match stored {
        // Read in this transaction, under the same key: only the time changes.
        Some(s) if s.same_columns => {
            let n = st
                .touch
                .execute(params![s.id, micros(o.updated_at)])
                .doing("updating an opportunity's time")?;
            (n > 0).then_some(s.id)
        }
        Some(s) => {
            let n = st
                .update
                .execute(columns(s.id))
                .doing("updating an opportunity")?;
            (n > 0).then_some(s.id)
        }
        None => None,
    };
    let (id, new_doc) = match updated {
        Some(id) => (id, false),
        None => {
            let first_seen = micros(o.first_seen.unwrap_or(o.updated_at));
            let id = st
                .insert
                .insert(columns(first_seen))
                .doing("inserting an opportunity")?;
            (id, true)
        }
    };
    // A document missing beside an existing row (the file was edited by hand) is inserted.
    if new_doc
        || st
            .update_doc
            .execute(params![id, body])
            .doing("updating an opportunity document")?
            == 0
    {
        st.insert_doc
            .execute(params![id, body])
            .doing("inserting an opportunity document")?;
    }
    Ok(())
}
