//! The SQLite store: the conformance story, plus what only a file on disk can show —
//! configuration, migrations and refused versions, reopening, readers during a write, a
//! vanished file and damaged rows. `crash` kills a writing process; `queries` checks the
//! query plans and running totals against brute force.

mod crash;
mod queries;
mod restore;
mod unwritable;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use arbdesk::component::HealthStatus;
use arbdesk::domain::{Asin, Listing, Market, Opportunity};
use arbdesk::keepa::decode_product;
use arbdesk::keepa::sim::{Catalog, Options, asin_from};
use arbdesk::store::sqlite::{SqliteOptions, SqliteStore};
use arbdesk::store::{Checkpoint, OpportunityFilter, Store, StoreConfig, StoreError, build};
use chrono::{DateTime, Utc};
use rusqlite::Connection;

use super::store_story::fixtures::{Figures, listed, opp, t};

const NOW_MS: i64 = 1_795_586_400_000;

pub fn now() -> DateTime<Utc> {
    DateTime::from_timestamp_millis(NOW_MS).unwrap()
}

/// Simulated listings of `n` products in every market, with 90 days of history.
fn sim_listings(first: u64, n: u64) -> Vec<Listing> {
    let cat = Catalog::new(7);
    let opts = Options::new().with_history(90).with_stats(90).with_buybox();
    let mut out = Vec::new();
    for i in first..first + n {
        let asin: Asin = asin_from(i).parse().unwrap();
        for m in Market::ALL {
            let raw = serde_json::to_string(&cat.product(&asin, m, NOW_MS, opts)).unwrap();
            out.push(decode_product(&raw).unwrap());
        }
    }
    out
}

pub fn integrity(path: &Path) -> String {
    let c = Connection::open(path).unwrap();
    c.query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap()
}

#[tokio::test]
async fn the_story_holds_for_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested/data/arbdesk.sqlite");
    let store = SqliteStore::open(&path).unwrap();
    super::store_story::story(Arc::new(store)).await;
    assert_eq!(integrity(&path), "ok");
}

#[tokio::test]
async fn build_opens_the_configured_file() {
    let dir = tempfile::tempdir().unwrap();
    let store = build(&StoreConfig::default(), dir.path()).unwrap();
    assert_eq!(store.health().await.status, HealthStatus::Ok);
    assert!(dir.path().join("arbdesk.sqlite").is_file());

    let cfg: StoreConfig =
        serde_json::from_str(r#"{"type":"sqlite","path":"sub/other.db","history_days":30}"#)
            .unwrap();
    assert_eq!(
        cfg,
        StoreConfig::Sqlite {
            path: Some(PathBuf::from("sub/other.db")),
            history_days: Some(30)
        }
    );
    build(&cfg, dir.path()).unwrap();
    assert!(
        dir.path().join("sub/other.db").is_file(),
        "relative to the data dir"
    );

    let abs = dir.path().join("abs.db");
    let cfg = StoreConfig::Sqlite {
        path: Some(abs.clone()),
        history_days: None,
    };
    build(&cfg, Path::new("/nonexistent-data-dir")).unwrap();
    assert!(abs.is_file());

    for bad in [
        r#"{"type":"mysql"}"#,
        r#"{"type":"sqlite","pth":"typo.db"}"#,
    ] {
        assert!(serde_json::from_str::<StoreConfig>(bad).is_err(), "{bad}");
    }
    let zero = StoreConfig::Sqlite {
        path: None,
        history_days: Some(0),
    };
    let err = build(&zero, dir.path()).err().unwrap();
    assert!(
        matches!(&err, StoreError::Invalid(m) if m.contains("history_days")),
        "{err}"
    );
}

#[tokio::test]
async fn reopening_finds_everything_and_history_is_compact() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("arbdesk.sqlite");
    let listings = sim_listings(0, 20);
    let asin = listings[0].asin;
    let written = {
        let store = SqliteStore::open(&path).unwrap();
        let cp = Checkpoint {
            key: "dump.jsonl:1234".into(),
            offset: 1234,
        };
        let products = store
            .upsert_listings(listings.clone(), now(), Some(cp))
            .await
            .unwrap();
        assert_eq!(products.len(), 20);
        store
            .replace_opportunities(vec![(asin, vec![route(asin)])])
            .await
            .unwrap();
        products
    };
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(
        store.product(asin).await.unwrap().as_ref(),
        Some(&written[0])
    );
    assert_eq!(
        store.checkpoint("dump.jsonl:1234".into()).await.unwrap(),
        Some(1234)
    );
    assert_eq!(
        store
            .opportunities(OpportunityFilter::default())
            .await
            .unwrap()
            .items,
        vec![Opportunity {
            first_seen: Some(route(asin).updated_at),
            ..route(asin)
        }]
    );
    // The decoded history comes back point for point.
    let want: Vec<_> = listings
        .iter()
        .filter(|l| l.asin == asin)
        .flat_map(|l| l.history.clone())
        .filter(|s| !s.points.is_empty())
        .collect();
    let mut got = store.history(asin).await.unwrap();
    let mut want_sorted = want.clone();
    want_sorted.sort_by_key(|s| (s.market, s.kind));
    got.sort_by_key(|s| (s.market, s.kind));
    assert_eq!(got, want_sorted);

    // Compact: a few bytes per point (a plain (i64, i64) pair would take 16).
    let points: usize = listings
        .iter()
        .flat_map(|l| &l.history)
        .map(|s| s.points.len())
        .sum();
    let c = Connection::open(&path).unwrap();
    let bytes: i64 = c
        .query_row("SELECT sum(length(history)) FROM listings", [], |r| {
            r.get(0)
        })
        .unwrap();
    let per_point = bytes as f64 / points as f64;
    assert!(
        per_point < 4.5,
        "{per_point:.2} bytes per point over {points} points"
    );
}

pub fn route(asin: Asin) -> Opportunity {
    opp(
        asin,
        Market::IT,
        Market::DE,
        "Simulated",
        Figures(20.0, 8.0, 400, 12.0, 4_000, true, 60),
    )
}

#[tokio::test]
async fn a_newer_schema_and_a_non_database_are_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("arbdesk.sqlite");
    drop(SqliteStore::open(&path).unwrap());
    let c = Connection::open(&path).unwrap();
    let version: i64 = c
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, 7, "a fresh file is at the latest schema");
    c.pragma_update(None, "user_version", 42).unwrap();
    drop(c);
    // Not damage: the message sends nobody to a backup.
    let err = SqliteStore::open(&path).unwrap_err();
    assert!(
        matches!(&err, StoreError::Unavailable(m)
            if m.contains("schema version 42 is newer") && m.contains("upgrade arbdesk")
                && m.contains(&*path.to_string_lossy()) && !m.contains("backup")),
        "{err}"
    );

    // Another program's database is left as it was: not migrated, not switched to WAL.
    let other = dir.path().join("customers.db");
    let c = Connection::open(&other).unwrap();
    c.execute_batch("CREATE TABLE customers (id INTEGER, name TEXT)")
        .unwrap();
    drop(c);
    let err = SqliteStore::open(&other).unwrap_err();
    assert!(
        matches!(&err, StoreError::Unavailable(m)
            if m.contains("tables of another program (customers)") && m.contains("customers.db")),
        "{err}"
    );
    let c = Connection::open(&other).unwrap();
    let mode: String = c
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "delete");
    let tables: i64 = c
        .query_row("SELECT count(*) FROM sqlite_schema", [], |r| r.get(0))
        .unwrap();
    assert_eq!(tables, 1);
    drop(c);

    let junk = dir.path().join("junk.sqlite");
    std::fs::write(&junk, vec![0x5a; 8192]).unwrap();
    let err = SqliteStore::open(&junk).unwrap_err();
    assert!(
        matches!(&err, StoreError::Corrupt(m) if m.contains("junk.sqlite")),
        "{err}"
    );
}

#[tokio::test]
async fn readers_are_not_blocked_by_a_write_in_progress() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("arbdesk.sqlite");
    let options = SqliteOptions {
        busy_timeout: Duration::from_millis(200),
        ..SqliteOptions::default()
    };
    let store = SqliteStore::open_with(&path, options).unwrap();
    let listings = sim_listings(100, 3);
    let asin = listings[0].asin;
    store.upsert_listings(listings, now(), None).await.unwrap();
    store
        .replace_opportunities(vec![(asin, vec![route(asin)])])
        .await
        .unwrap();

    // Another writer takes the lock and changes everything, without committing yet.
    let other = Connection::open(&path).unwrap();
    other.execute_batch("BEGIN IMMEDIATE").unwrap();
    other
        .execute_batch("DELETE FROM opportunities; DELETE FROM listings; DELETE FROM products;")
        .unwrap();

    // A reader that had to wait for the lock would fail with "busy" after the 200 ms timeout.
    let page = store
        .opportunities(OpportunityFilter::default())
        .await
        .unwrap();
    assert_eq!(page.total, 1, "readers see the last committed state");
    assert!(store.product(asin).await.unwrap().is_some());
    assert_eq!(store.stats().await.unwrap().total_products, 3);

    // Our own writer is refused with a clear error, and health says so.
    let err = store
        .watch_add(vec![asin], arbdesk::store::WatchSource::User)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::Unavailable(m) if m.contains("locked") || m.contains("busy")),
        "{err}"
    );
    let h = store.health().await;
    assert_eq!(h.status, HealthStatus::Degraded, "{h:?}");
    assert!(h.detail.contains("a write failed"), "{}", h.detail);

    other.execute_batch("COMMIT").unwrap();
    assert_eq!(
        store
            .opportunities(OpportunityFilter::default())
            .await
            .unwrap()
            .total,
        0
    );
    store
        .watch_add(vec![asin], arbdesk::store::WatchSource::User)
        .await
        .unwrap();
    // The writes go through again, and the failure is still reported for a while: a full
    // disk that lets small writes through must not flicker back to ok with each of them.
    let h = store.health().await;
    assert_eq!(h.status, HealthStatus::Degraded, "{h:?}");
    assert!(h.detail.contains("a write failed 0s ago"), "{}", h.detail);
}

#[cfg(unix)]
#[tokio::test]
async fn a_vanished_file_is_reported_down() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("arbdesk.sqlite");
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(store.health().await.status, HealthStatus::Ok);
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    let h = store.health().await;
    assert_eq!(h.status, HealthStatus::Down, "{h:?}");
    assert!(
        h.detail.contains("gone") && h.detail.contains("arbdesk.sqlite"),
        "{}",
        h.detail
    );
}

/// A write that failed as unavailable, naming `what`.
fn unavailable<T: std::fmt::Debug>(r: Result<T, StoreError>, what: &str) {
    match r {
        Err(StoreError::Unavailable(m)) => assert!(m.contains(what), "{m}"),
        other => panic!("expected Unavailable naming {what:?}, got {other:?}"),
    }
}

/// A store in `dir` that has taken a write (B0KEPTONE1 on the watchlist), and its file.
async fn watching_store(dir: &Path) -> (SqliteStore, PathBuf) {
    let path = dir.join("arbdesk.sqlite");
    let store = SqliteStore::open(&path).unwrap();
    let asin: Asin = "B0KEPTONE1".parse().unwrap();
    let added = store
        .watch_add(vec![asin], arbdesk::store::WatchSource::User)
        .await;
    assert_eq!(added, Ok(vec![asin]));
    (store, path)
}

#[cfg(unix)]
#[tokio::test]
async fn a_file_deleted_or_replaced_under_a_running_store_takes_no_writes() {
    use arbdesk::store::WatchSource;
    let dir = tempfile::tempdir().unwrap();
    let (store, path) = watching_store(dir.path()).await;
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    // Written into the deleted file, it would vanish with it.
    let other: Asin = "B0LOSTONE1".parse().unwrap();
    unavailable(
        store.watch_add(vec![other], WatchSource::User).await,
        "gone",
    );
    unavailable(store.watchlist().await, "gone");
    // Another process starts a new store at the path: this one is not that store.
    let newer = SqliteStore::open(&path).unwrap();
    unavailable(
        store.watch_add(vec![other], WatchSource::User).await,
        "replaced",
    );
    unavailable(store.watchlist().await, "replaced");
    let h = store.health().await;
    assert_eq!(h.status, HealthStatus::Down, "{h:?}");
    assert!(h.detail.contains("replaced"), "{}", h.detail);
    assert_eq!(newer.health().await.status, HealthStatus::Ok);
    assert_eq!(newer.watchlist().await.unwrap().len(), 0);
}

#[tokio::test]
async fn a_damaged_file_is_down_and_takes_no_writes() {
    use arbdesk::store::{ProductFilter, WatchSource};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("arbdesk.sqlite");
    {
        let store = SqliteStore::open(&path).unwrap();
        store
            .upsert_listings(sim_listings(0, 60), now(), None)
            .await
            .unwrap();
    }
    // Every page after the first (the schema's) overwritten with noise.
    let mut bytes = std::fs::read(&path).unwrap();
    assert!(bytes.len() > 10 * 16_384, "{}", bytes.len());
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    for b in &mut bytes[16_384..] {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *b = x as u8;
    }
    std::fs::write(&path, &bytes).unwrap();

    let store = SqliteStore::open(&path).unwrap();
    match store.products(ProductFilter::default()).await {
        Err(StoreError::Corrupt(m)) => assert!(m.contains("malformed"), "{m}"),
        other => panic!("expected the damage reported, got {other:?}"),
    }
    // From then on the store is down, and a write is refused (held by the pipeline) rather
    // than given up on or written into a damaged file.
    let h = store.health().await;
    assert_eq!(h.status, HealthStatus::Down, "{h:?}");
    assert!(
        h.detail.contains("damaged") && h.detail.contains("restore a backup"),
        "{}",
        h.detail
    );
    let asin: Asin = "B0KEPTONE1".parse().unwrap();
    unavailable(
        store.watch_add(vec![asin], WatchSource::User).await,
        "damaged",
    );
}

#[tokio::test]
async fn a_file_overwritten_in_place_is_down_and_takes_no_writes() {
    use arbdesk::store::WatchSource;
    use std::io::{Seek, Write};
    let dir = tempfile::tempdir().unwrap();
    let (store, path) = watching_store(dir.path()).await;
    let asin: Asin = "B0KEPTONE1".parse().unwrap();
    let mut f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    f.seek(std::io::SeekFrom::Start(0)).unwrap();
    f.write_all(&[0xA5; 4096]).unwrap();
    drop(f);
    unavailable(
        store.watch_add(vec![asin], WatchSource::User).await,
        "header",
    );
    let h = store.health().await;
    assert_eq!(h.status, HealthStatus::Down, "{h:?}");
    assert!(h.detail.contains("damaged"), "{}", h.detail);
}

fn dbg<T: std::fmt::Debug>(r: Result<T, StoreError>) -> Result<String, StoreError> {
    r.map(|v| format!("{v:?}"))
}

#[tokio::test]
async fn damaged_rows_are_errors_not_panics() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("arbdesk.sqlite");
    let store = SqliteStore::open(&path).unwrap();
    let asin: Asin = "B0DAMAGED1".parse().unwrap();
    let fresh = listed(asin, Market::DE, "Kettle", "Acme", &[], 1999, 10, vec![]);
    store
        .upsert_listings(vec![fresh.clone()], t(20), None)
        .await
        .unwrap();
    store
        .replace_opportunities(vec![(asin, vec![route(asin)])])
        .await
        .unwrap();
    let c = Connection::open(&path).unwrap();
    c.execute_batch(
        "UPDATE listings SET snapshot = '{\"market\": 7';
         UPDATE listings SET history = x'01';
         UPDATE opportunity_docs SET body = 'null';
         UPDATE watchlist SET source = 'x';
         INSERT INTO watchlist (asin, source, added_at, fetched) VALUES ('not an asin', 'user', 0, 0);",
    )
    .unwrap();

    let corrupt = |r: Result<String, StoreError>, what: &str| match r {
        Err(StoreError::Corrupt(m)) => assert!(m.contains(what), "{m}"),
        other => panic!("expected Corrupt naming {what}, got {other:?}"),
    };
    corrupt(dbg(store.product(asin).await), "listing B0DAMAGED1:DE");
    corrupt(dbg(store.history(asin).await), "history of B0DAMAGED1");
    corrupt(
        dbg(store.opportunities(OpportunityFilter::default()).await),
        "opportunity row",
    );
    corrupt(dbg(store.watchlist().await), "watchlist entry");
    // A binary document cut short, text that is no JSON document, and one that is gone.
    c.execute_batch("UPDATE opportunity_docs SET body = x'01'")
        .unwrap();
    corrupt(
        dbg(store.opportunities(OpportunityFilter::default()).await),
        "stored document ends early",
    );
    c.execute_batch("UPDATE opportunity_docs SET body = 42")
        .unwrap();
    corrupt(
        dbg(store.opportunities(OpportunityFilter::default()).await),
        "stored JSON does not decode",
    );
    c.execute_batch("DELETE FROM opportunity_docs").unwrap();
    corrupt(
        dbg(store.opportunities(OpportunityFilter::default()).await),
        "its document is missing",
    );
    assert_eq!(store.health().await.status, HealthStatus::Ok);

    // Writing the listing again heals its row; the damaged history is replaced.
    let mut again = fresh.clone();
    again.history = vec![super::store_story::fixtures::series(
        Market::DE,
        arbdesk::domain::SeriesKind::BuyBox,
        &[(5, Some(1999))],
    )];
    store
        .upsert_listings(vec![again], t(30), None)
        .await
        .unwrap();
    assert_eq!(
        store.product(asin).await.unwrap().unwrap().title.as_deref(),
        Some("Kettle")
    );
    assert_eq!(store.history(asin).await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_checkpoint_beyond_i64_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("a.sqlite")).unwrap();
    let cp = Checkpoint {
        key: "huge".into(),
        offset: u64::MAX,
    };
    let err = store
        .upsert_listings(vec![], now(), Some(cp))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::Invalid(m) if m.contains("huge")),
        "{err}"
    );
}

/// The POSIX locks this process holds on `path` (Linux's `/proc/locks`).
#[cfg(target_os = "linux")]
fn locks_held_on(path: &Path) -> Vec<String> {
    use std::os::unix::fs::MetadataExt;
    let ino = std::fs::metadata(path).unwrap().ino();
    let pid = std::process::id().to_string();
    std::fs::read_to_string("/proc/locks")
        .unwrap()
        .lines()
        .filter(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            f.get(4) == Some(&pid.as_str())
                && f.get(5).is_some_and(|d| d.ends_with(&format!(":{ino}")))
        })
        .map(str::to_string)
        .collect()
}

/// A running store keeps SQLite's locks on its file through every read, write and health
/// probe. Another process's SQLite (`sqlite3`, a backup script) that finds the file
/// unlocked when it closes takes the store for gone, checkpoints and deletes the WAL the
/// store still writes to (sqlite.org/howtocorrupt.html §2.2); a file check that opened
/// and closed the file dropped every lock this process held on it.
#[cfg(target_os = "linux")]
#[tokio::test]
async fn the_store_keeps_its_locks_through_file_checks() {
    use arbdesk::store::WatchSource;
    let dir = tempfile::tempdir().unwrap();
    let (store, path) = watching_store(dir.path()).await;
    assert!(!locks_held_on(&path).is_empty(), "locked once open");
    assert_eq!(store.health().await.status, HealthStatus::Ok);
    assert!(!locks_held_on(&path).is_empty(), "after a health probe");
    let later: Asin = "B0AFTERONE".parse().unwrap();
    assert_eq!(
        store.watch_add(vec![later], WatchSource::User).await,
        Ok(vec![later])
    );
    assert!(!locks_held_on(&path).is_empty(), "after a write");
    assert_eq!(store.watchlist().await.map(|w| w.len()), Ok(2));
    assert_eq!(store.health().await.status, HealthStatus::Ok);
    assert!(!locks_held_on(&path).is_empty(), "after a read and a probe");
}

/// Several commands starting on a new data directory at once (`watch add` twice, a
/// `--serve` and an `import`) all open the store: the one that creates and switches it to
/// WAL holds the file for a moment, and the others wait for it instead of failing.
#[test]
fn stores_opened_at_once_on_a_new_file_all_open() {
    for _ in 0..10 {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("arbdesk.sqlite");
        let start = Arc::new(std::sync::Barrier::new(4));
        let opened: Vec<_> = (0..4)
            .map(|_| {
                let (path, start) = (path.clone(), start.clone());
                std::thread::spawn(move || {
                    start.wait();
                    SqliteStore::open(&path).map(drop)
                })
            })
            .collect();
        for t in opened {
            let r = t.join().unwrap();
            assert!(r.is_ok(), "{r:?}");
        }
    }
}
