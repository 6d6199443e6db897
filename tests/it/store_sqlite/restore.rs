//! A backup restored over the database file (or the file deleted) while a store has it
//! open: the next store opened at the path reads the file that is there, not the running
//! store's WAL, which SQLite leaves beside it.
#![cfg(unix)]

use std::path::Path;

use arbdesk::component::HealthStatus;
use arbdesk::domain::Asin;
use arbdesk::store::sqlite::SqliteStore;
use arbdesk::store::{Store, WatchSource};

use super::{integrity, unavailable, watching_store};

/// A backup made elsewhere: a store whose watchlist is `asin` alone, closed (one file).
async fn backup(dir: &Path, asin: Asin) -> std::path::PathBuf {
    let path = dir.join("backup.sqlite");
    let store = SqliteStore::open(&path).unwrap();
    store
        .watch_add(vec![asin], WatchSource::User)
        .await
        .unwrap();
    drop(store);
    for suffix in ["-wal", "-shm"] {
        assert!(
            !Path::new(&format!("{}{suffix}", path.display())).exists(),
            "a closed store is one file"
        );
    }
    path
}

async fn watched(store: &SqliteStore) -> Vec<String> {
    let list = store.watchlist().await.unwrap();
    list.into_iter().map(|w| w.asin.to_string()).collect()
}

/// Restored, then the running store stopped (as the health message asks): the store
/// opened next is the backup, whole.
#[tokio::test]
async fn a_backup_restored_under_a_running_store_is_what_opens_next() {
    let dir = tempfile::tempdir().unwrap();
    let (store, path) = watching_store(dir.path()).await;
    for suffix in ["-wal", "-shm"] {
        assert!(Path::new(&format!("{}{suffix}", path.display())).exists());
    }
    let saved: Asin = "B0BACKEDUP".parse().unwrap();
    let backup = backup(dir.path(), saved).await;
    std::fs::rename(&backup, &path).unwrap();
    // Stopped without noticing first: it lets go of its files as it closes.
    drop(store);
    let opened = SqliteStore::open(&path).unwrap();
    assert_eq!(watched(&opened).await, ["B0BACKEDUP"]);
    drop(opened);
    assert_eq!(integrity(&path), "ok");
}

/// Restored while it runs: once the running store has noticed, a store opened beside it
/// reads the backup, and the running one stays refused (and lets go of nothing else)
/// until it stops.
#[tokio::test]
async fn a_store_opened_beside_one_whose_file_was_replaced_reads_the_new_file() {
    let dir = tempfile::tempdir().unwrap();
    let (store, path) = watching_store(dir.path()).await;
    let saved: Asin = "B0BACKEDUP".parse().unwrap();
    let backup = backup(dir.path(), saved).await;
    std::fs::rename(&backup, &path).unwrap();
    let h = store.health().await;
    assert_eq!(h.status, HealthStatus::Down, "{h:?}");
    assert!(h.detail.contains("replaced"), "{}", h.detail);
    let beside = SqliteStore::open(&path).unwrap();
    assert_eq!(watched(&beside).await, ["B0BACKEDUP"]);
    let more: Asin = "B0WRITTEN2".parse().unwrap();
    beside
        .watch_add(vec![more], WatchSource::User)
        .await
        .unwrap();
    unavailable(
        store.watch_add(vec![more], WatchSource::User).await,
        "replaced",
    );
    // The running store stops: the new store's files stay.
    drop(store);
    assert_eq!(watched(&beside).await, ["B0BACKEDUP", "B0WRITTEN2"]);
    drop(beside);
    let reopened = SqliteStore::open(&path).unwrap();
    assert_eq!(watched(&reopened).await, ["B0BACKEDUP", "B0WRITTEN2"]);
    drop(reopened);
    assert_eq!(integrity(&path), "ok");
}

/// Deleted under a running store, then the running one stopped: the next store at the path
/// starts empty, rather than from the pages left in the old WAL.
#[tokio::test]
async fn a_store_deleted_under_a_running_one_starts_afresh() {
    let dir = tempfile::tempdir().unwrap();
    let (store, path) = watching_store(dir.path()).await;
    std::fs::remove_file(&path).unwrap();
    unavailable(store.watchlist().await, "gone");
    drop(store);
    let fresh = SqliteStore::open(&path).unwrap();
    assert_eq!(watched(&fresh).await, Vec::<String>::new());
    drop(fresh);
    assert_eq!(integrity(&path), "ok");
}
