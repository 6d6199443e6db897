//! A process killed with SIGKILL in the middle of an import: afterwards the data and the
//! import checkpoint agree, because both are committed in one transaction.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use arbdesk::domain::{Asin, Listing, Market};
use arbdesk::keepa::sim::asin_from;
use arbdesk::store::sqlite::SqliteStore;
use arbdesk::store::{Checkpoint, Store};

use super::{integrity, now};
use crate::it::store_story::fixtures::listed;

/// Batches the crash child writes: 10 products each, checkpoint = batches done × 1000.
fn crash_batch(i: u64) -> Vec<Listing> {
    (0..10)
        .map(|k| {
            let asin: Asin = asin_from(i * 100 + k).parse().unwrap();
            listed(asin, Market::FR, "Crash test", "Acme", &[], 999, 1, vec![])
        })
        .collect()
}

/// Not a test on its own: the child process of `a_killed_import_keeps_data_and_checkpoint_in_step`.
#[tokio::test]
#[ignore = "run as a child process by a_killed_import_keeps_data_and_checkpoint_in_step"]
async fn crash_child() {
    let Ok(path) = std::env::var("ARBDESK_CRASH_DB") else {
        return;
    };
    let store = SqliteStore::open(Path::new(&path)).unwrap();
    for i in 0.. {
        let cp = Checkpoint {
            key: "crash".into(),
            offset: (i + 1) * 1000,
        };
        store
            .upsert_listings(crash_batch(i), now(), Some(cp))
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn a_killed_import_keeps_data_and_checkpoint_in_step() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("arbdesk.sqlite");
    let store = SqliteStore::open(&path).unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "it::store_sqlite::crash::crash_child",
            "--ignored",
            "--nocapture",
        ])
        .env("ARBDESK_CRASH_DB", &path)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let done = store.checkpoint("crash".into()).await.unwrap().unwrap_or(0);
        if done >= 5_000 {
            break;
        }
        assert!(Instant::now() < deadline, "the child made no progress");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    child.kill().unwrap(); // SIGKILL on Unix: no destructor, no rollback, no commit.
    child.wait().unwrap();

    let store = SqliteStore::open(&path).unwrap();
    let done = store.checkpoint("crash".into()).await.unwrap().unwrap() / 1000;
    assert!(done >= 5);
    for i in 0..=done {
        for l in crash_batch(i) {
            let there = store.product(l.asin).await.unwrap().is_some();
            assert_eq!(
                there,
                i < done,
                "batch {i} of {done} committed: product {}",
                l.asin
            );
        }
    }
    assert_eq!(integrity(&path), "ok");
}
