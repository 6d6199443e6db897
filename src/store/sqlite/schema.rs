//! The SQLite schema, its migrations, and the pragmas every connection runs with.
//!
//! The schema version is `PRAGMA user_version`: migration `n` (1-based) takes the file from
//! version `n - 1` to `n`, in one transaction together with the version bump, so a crash
//! mid-migration leaves the previous version intact. A file whose version is newer than the
//! last migration known here was written by a newer arbdesk and is refused, not guessed at.
//!
//! Shape of the data, and why:
//! - `listings` holds one row per (ASIN, market) with the identity columns the product merge
//!   reads, the whole snapshot (in the binary form of `binary.rs`; JSON in files written
//!   before, still read) and the price history of every kind as one compact blob
//!   (`history.rs`); `listed` marks rows whose market really sells the product (Keepa
//!   type 0 with a title), the others only record that the market was fetched.
//! - `products` holds the merged identity, a bit set of listed markets and a lower-cased
//!   search column; snapshots are read from `listings`. `listings_fetched` orders each
//!   market's rows stalest first for refresh scheduling and covers the per-market counts;
//!   `listings_observed` (listed rows by market and Keepa update time) answers the health
//!   view's oldest update and stale count per market without a scan.
//! - `watchlist` keeps, per ASIN, the bit set of markets it was ever fetched in, so "never
//!   fetched in this market" is a scan of one small covering index.
//! - `opportunities` is narrow (every filter and sort column, and `first_seen`, which an
//!   update leaves alone); the full row lives in `opportunity_docs` (in the binary form of
//!   `binary.rs`, ~250 bytes against ~1.1 KB as JSON, which files written before hold and
//!   which is still read; a row rewritten is stored in the binary form), so new fields need
//!   a new format version there, not a migration, and scans stay small. Only the keys the console and the API lead
//!   with are indexed (`key DESC, asin, buy, sell`, so a sorted page is an index walk):
//!   expected monthly profit (the default order), gross margin (the API's `min_margin`) and
//!   net margin (the console's default basis). Every index is paid for on every detection
//!   write, at random places; other sorts scan the narrow table. A bulk load drops these
//!   three and builds them once at its end (`SORT_INDEXES`). The net columns are NULL for
//!   a row without net figures (`NO_TABLE`), so net filters never match it.
//! - `meta` holds the running totals behind `stats` (kept in step by every write, so stats
//!   never scan) and the last update; `job_runs` keeps the last runs of each job;
//!   `checkpoints` maps import keys to offsets; `process_reports` keeps what each process
//!   running a pipeline stage reported last.

use rusqlite::{Connection, TransactionBehavior};

use super::codec::{Doing, Fail, Res};

/// One step of the schema.
pub(super) struct Migration {
    /// What it does, for errors.
    pub name: &'static str,
    /// The SQL, run as one batch.
    pub sql: &'static str,
}

/// Every migration, in order; the schema version is the number applied.
pub(super) const MIGRATIONS: &[Migration] = &[
    Migration {
        name: "initial schema",
        sql: r#"
CREATE TABLE watchlist (
    asin     TEXT PRIMARY KEY,
    source   TEXT NOT NULL,
    added_at INTEGER NOT NULL,
    fetched  INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX watchlist_added ON watchlist (added_at, asin, fetched);

CREATE TABLE products (
    asin             TEXT PRIMARY KEY,
    title            TEXT,
    brand            TEXT,
    image_url        TEXT,
    eans             TEXT NOT NULL,
    package_quantity INTEGER,
    markets          INTEGER NOT NULL,
    search           TEXT NOT NULL,
    updated_at       INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE listings (
    asin             TEXT NOT NULL,
    market           INTEGER NOT NULL,
    listed           INTEGER NOT NULL,
    product_type     INTEGER NOT NULL,
    title            TEXT,
    brand            TEXT,
    image_url        TEXT,
    eans             TEXT NOT NULL,
    package_quantity INTEGER,
    root_category    INTEGER,
    fetched_at       INTEGER NOT NULL,
    observed_at      INTEGER NOT NULL,
    snapshot         TEXT NOT NULL,
    history          BLOB NOT NULL,
    PRIMARY KEY (asin, market)
);
CREATE INDEX listings_fetched ON listings (market, fetched_at, asin, listed);

CREATE TABLE opportunities (
    id                      INTEGER PRIMARY KEY,
    asin                    TEXT NOT NULL,
    buy                     INTEGER NOT NULL,
    sell                    INTEGER NOT NULL,
    gross_margin_pct        REAL NOT NULL,
    net_margin_pct          REAL NOT NULL,
    net_profit              INTEGER NOT NULL,
    roi_pct                 REAL NOT NULL,
    expected_monthly_profit INTEGER NOT NULL,
    ranked                  INTEGER NOT NULL,
    updated_at              INTEGER NOT NULL,
    search                  TEXT NOT NULL,
    UNIQUE (asin, buy, sell)
);
CREATE INDEX opp_emp ON opportunities
    (ranked DESC, expected_monthly_profit DESC, asin, buy, sell);
CREATE INDEX opp_gross ON opportunities (gross_margin_pct DESC, asin, buy, sell);
CREATE INDEX opp_net ON opportunities (net_margin_pct DESC, asin, buy, sell);

CREATE TABLE opportunity_docs (
    id   INTEGER PRIMARY KEY,
    body TEXT NOT NULL
);

CREATE TABLE job_runs (
    id          INTEGER PRIMARY KEY,
    job         TEXT NOT NULL,
    started_at  INTEGER NOT NULL,
    finished_at INTEGER NOT NULL,
    result      TEXT NOT NULL,
    detail      TEXT NOT NULL
);
CREATE INDEX job_runs_job ON job_runs (job, started_at, id);

CREATE TABLE checkpoints (
    key         TEXT PRIMARY KEY,
    byte_offset INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) WITHOUT ROWID;
"#,
    },
    // Equal expected monthly profits are ordered by ROI, then profit (economics.md §4.1),
    // and the default order's index walk has to produce that order itself.
    Migration {
        name: "expected monthly profit ties by ROI, then profit",
        sql: r#"
DROP INDEX IF EXISTS opp_emp;
CREATE INDEX opp_emp ON opportunities
    (ranked DESC, expected_monthly_profit DESC, roi_pct DESC, net_profit DESC, asin, buy, sell);
"#,
    },
    // When each route was first stored (`Opportunity::first_seen`), kept by later writes of
    // the same route: the console marks a row new by it. Rows stored before have none.
    Migration {
        name: "first-seen time of each route",
        sql: r#"
ALTER TABLE opportunities ADD COLUMN first_seen INTEGER;
"#,
    },
    // Per market, the oldest Keepa update and how many listings are stale, for the health
    // view: a seek and a range count instead of a scan of every listing.
    Migration {
        name: "listings by market and Keepa update time",
        sql: r#"
CREATE INDEX listings_observed ON listings (market, observed_at) WHERE listed = 1;
"#,
    },
    // A row computed with no VAT, referral or storage table in force (`NO_TABLE`) has no
    // net figures: its net columns hold NULL, so no net filter matches it and a descending
    // net sort lists it last, in SQLite as in Elasticsearch (a missing field). SQLite
    // cannot drop NOT NULL in place: the table is rebuilt, ids and documents kept.
    Migration {
        name: "net figures may be unknown",
        sql: r#"
CREATE TABLE opportunities_rebuilt (
    id                      INTEGER PRIMARY KEY,
    asin                    TEXT NOT NULL,
    buy                     INTEGER NOT NULL,
    sell                    INTEGER NOT NULL,
    gross_margin_pct        REAL NOT NULL,
    net_margin_pct          REAL,
    net_profit              INTEGER,
    roi_pct                 REAL,
    expected_monthly_profit INTEGER,
    ranked                  INTEGER NOT NULL,
    updated_at              INTEGER NOT NULL,
    search                  TEXT NOT NULL,
    first_seen              INTEGER,
    UNIQUE (asin, buy, sell)
);
INSERT INTO opportunities_rebuilt (id, asin, buy, sell, gross_margin_pct, net_margin_pct,
    net_profit, roi_pct, expected_monthly_profit, ranked, updated_at, search, first_seen)
SELECT id, asin, buy, sell, gross_margin_pct, net_margin_pct, net_profit, roi_pct,
    expected_monthly_profit, ranked, updated_at, search, first_seen
FROM opportunities;
DROP TABLE opportunities;
ALTER TABLE opportunities_rebuilt RENAME TO opportunities;
CREATE INDEX opp_emp ON opportunities
    (ranked DESC, expected_monthly_profit DESC, roi_pct DESC, net_profit DESC, asin, buy, sell);
CREATE INDEX opp_gross ON opportunities (gross_margin_pct DESC, asin, buy, sell);
CREATE INDEX opp_net ON opportunities (net_margin_pct DESC, asin, buy, sell);
UPDATE opportunities
SET net_margin_pct = NULL, net_profit = NULL, roi_pct = NULL, expected_monthly_profit = NULL
WHERE id IN (SELECT id FROM opportunity_docs WHERE instr(body, '"NO_TABLE"') > 0);
"#,
    },
    // Nothing to change in the file: rows are rewritten in the binary form as they change,
    // and the JSON ones are still read. The version says that an arbdesk from before, which
    // reads JSON only, must not open the file (it would call the binary rows corrupt).
    Migration {
        name: "documents and snapshots in the binary form of binary.rs",
        sql: "UPDATE meta SET value = value WHERE 0;",
    },
    // What each process that runs a pipeline stage reported last (its status snapshot as
    // JSON), for processes that run none.
    Migration {
        name: "process reports",
        sql: r#"
CREATE TABLE process_reports (
    id         TEXT PRIMARY KEY,
    updated_at INTEGER NOT NULL,
    body       TEXT NOT NULL
) WITHOUT ROWID;
"#,
    },
];

/// The schema version this binary writes.
pub(super) fn latest_version() -> i64 {
    MIGRATIONS.len() as i64
}

/// The opportunity sort indexes, as the migrations last defined them: name and definition.
///
/// A bulk load ([`drop_sort_indexes`], then [`ensure_sort_indexes`]) builds them once from
/// sorted rows at the end instead of inserting every row into each at a random place. An
/// index missing at open (a bulk load that was killed) is built again then.
pub(super) const SORT_INDEXES: [(&str, &str); 3] = [
    (
        "opp_emp",
        "opportunities\n    (ranked DESC, expected_monthly_profit DESC, roi_pct DESC, net_profit DESC, asin, buy, sell)",
    ),
    (
        "opp_gross",
        "opportunities (gross_margin_pct DESC, asin, buy, sell)",
    ),
    (
        "opp_net",
        "opportunities (net_margin_pct DESC, asin, buy, sell)",
    ),
];

/// Whether the index `name` exists.
pub(super) fn has_index(conn: &Connection, name: &str) -> Res<bool> {
    conn.prepare_cached("SELECT count(*) FROM sqlite_schema WHERE type = 'index' AND name = ?1")
        .and_then(|mut st| st.query_row([name], |r| r.get::<_, i64>(0)))
        .map(|n| n > 0)
        .doing("looking up an index")
}

/// Drops the sort indexes, for a bulk load.
pub(super) fn drop_sort_indexes(conn: &Connection) -> Res<()> {
    for (name, _) in SORT_INDEXES {
        conn.execute_batch(&format!("DROP INDEX IF EXISTS {name}"))
            .doing("dropping a sort index for a bulk load")?;
    }
    Ok(())
}

/// The sort indexes that are missing, as (name, definition).
pub(super) fn missing_sort_indexes(conn: &Connection) -> Res<Vec<(&'static str, &'static str)>> {
    let mut missing = Vec::new();
    for (name, definition) in SORT_INDEXES {
        if !has_index(conn, name)? {
            missing.push((name, definition));
        }
    }
    Ok(missing)
}

/// Builds the sort indexes that are missing; returns their names.
pub(super) fn ensure_sort_indexes(conn: &Connection) -> Res<Vec<&'static str>> {
    let missing = missing_sort_indexes(conn)?;
    for (name, definition) in &missing {
        conn.execute_batch(&format!("CREATE INDEX {name} ON {definition}"))
            .doing("building a sort index")?;
    }
    Ok(missing.into_iter().map(|(name, _)| name).collect())
}

/// Pragmas of the one writing connection: WAL so readers never block it, `NORMAL` sync
/// (durable across a process crash; a power cut may lose the last commits, never corrupt).
/// Pages are 16 KiB (set before the file exists): listing rows carry about 2 KiB of
/// snapshot and history, which fill 4 KiB pages half-empty. Checkpoints normally run on
/// their own thread (`checkpointer.rs`); the writer's own autocheckpoint is a backstop.
pub(super) fn configure_writer(conn: &Connection, busy_ms: u64) -> Res<()> {
    conn.execute_batch(&format!("PRAGMA busy_timeout = {busy_ms}"))
        .doing("setting the busy timeout")?;
    refuse_foreign(conn)?;
    conn.execute_batch("PRAGMA page_size = 16384")
        .doing("setting the page size")?;
    // Processes opening a new store at once all switch it to WAL, which needs the file to
    // themselves for a moment; SQLite answers that switch "busy" at once rather than wait,
    // so it is tried again for as long as the busy timeout.
    let started = std::time::Instant::now();
    let mode: String = loop {
        match conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0)) {
            Err(e)
                if e.sqlite_error_code() == Some(rusqlite::ErrorCode::DatabaseBusy)
                    && started.elapsed().as_millis() < u128::from(busy_ms) =>
            {
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            other => break other.doing("switching to WAL mode")?,
        }
    };
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(Fail::Unavailable(format!(
            "the database stays in journal mode '{mode}' instead of WAL: put it on a local \
             file system"
        )));
    }
    conn.execute_batch(
        "PRAGMA synchronous = NORMAL;
         PRAGMA foreign_keys = ON;
         PRAGMA temp_store = MEMORY;
         PRAGMA cache_size = -65536;
         PRAGMA journal_size_limit = 67108864;
         PRAGMA wal_autocheckpoint = 8192;",
    )
    .doing("configuring the writer")
}

/// Address space a connection maps of the database file: SQLite's own limit (2 GiB less
/// 64 KiB); a larger file is read past it as usual.
const MMAP_BYTES: i64 = 0x7fff_0000;

/// Pragmas of a reading connection: it can never write by mistake. It maps the file
/// (`mmap_size`) rather than copy each page out of the kernel's cache: a scan of every
/// stored row (a `q` filter the store cannot answer) spent a third of its time in those
/// copies. The mapping shares the kernel's cache, so readers hold no copies of their own.
pub(super) fn configure_reader(conn: &Connection, busy_ms: u64) -> Res<()> {
    conn.execute_batch(&format!(
        "PRAGMA query_only = ON;
         PRAGMA busy_timeout = {busy_ms};
         PRAGMA temp_store = MEMORY;
         PRAGMA cache_size = -16384;
         PRAGMA mmap_size = {MMAP_BYTES};"
    ))
    .doing("configuring a reader")
}

/// The schema version of the open file.
pub(super) fn version(conn: &Connection) -> Res<i64> {
    conn.query_row("PRAGMA user_version", [], |r| r.get(0))
        .doing("reading the schema version")
}

/// Refuses a database of another program: tables, and no arbdesk schema version (every
/// migration sets one in the transaction that makes its tables). Checked before anything
/// is changed, the journal mode included.
fn refuse_foreign(conn: &Connection) -> Res<()> {
    // One read transaction: another process's first migration, committed between two
    // reads, would show its tables without its version.
    let tx = conn
        .unchecked_transaction()
        .doing("starting the schema check")?;
    if version(&tx)? != 0 {
        return Ok(());
    }
    let tables: Vec<String> = tx
        .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name LIMIT 4")
        .and_then(|mut st| st.query_map([], |r| r.get(0))?.collect())
        .doing("reading the tables of the database")?;
    if tables.is_empty() {
        return Ok(());
    }
    Err(Fail::Unavailable(format!(
        "the file holds tables of another program ({}) and no arbdesk schema; it was left \
         as it is: point the store at another file (--data-dir, [store] path)",
        tables.join(", ")
    )))
}

/// Brings the file up to the last of `steps`, one transaction per step.
pub(super) fn migrate(conn: &mut Connection, steps: &[Migration]) -> Res<()> {
    let latest = steps.len() as i64;
    let found = version(conn)?;
    check_version(found, latest)?;
    for (i, step) in steps.iter().enumerate() {
        let target = i as i64 + 1;
        if found >= target {
            continue;
        }
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .doing("starting a migration")?;
        // Another process may have migrated while we waited for the lock.
        let now = version(&tx)?;
        check_version(now, latest)?;
        if now >= target {
            continue;
        }
        tx.execute_batch(step.sql).map_err(|err| {
            Fail::Corrupt(format!(
                "schema migration {target} ({}) failed: {err}",
                step.name
            ))
        })?;
        tx.pragma_update(None, "user_version", target)
            .doing("recording the schema version")?;
        tx.commit().doing("committing a migration")?;
    }
    Ok(())
}

fn check_version(found: i64, latest: i64) -> Res<()> {
    if found > latest {
        // Not damage: nothing is to be restored or moved aside.
        return Err(Fail::Unavailable(format!(
            "schema version {found} is newer than this arbdesk understands (it knows up to \
             {latest}): a newer arbdesk wrote it; upgrade arbdesk, or point the store at \
             another file"
        )));
    }
    if found < 0 {
        return Err(Fail::Corrupt(format!(
            "schema version {found} is not an arbdesk schema"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
