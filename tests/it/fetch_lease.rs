//! The lease on fetching into a shared store when the store does not answer at start-up:
//! fetching waits until the lease is taken, and a process that finds another's lease
//! once the store answers is refused, as it would have been at start-up; one left by a
//! process killed on this host is waited out.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use arbdesk::commands::data_source::claim_when_reachable;
use arbdesk::commands::fetch_lock;
use arbdesk::pipeline::Source;
use arbdesk::store::sqlite::SqliteStore;
use arbdesk::store::{Checkpoint, Store};

use super::api::fixture::Double;

const LEASE_KEY: &str = "arbdesk:ingest-lease";

fn store_down() -> (tempfile::TempDir, Arc<dyn Store>, Arc<Double>) {
    let dir = tempfile::tempdir().unwrap();
    let inner: Arc<dyn Store> =
        Arc::new(SqliteStore::open(&dir.path().join("arbdesk.sqlite")).unwrap());
    let double = Arc::new(Double::new(inner.clone(), Duration::ZERO));
    double.down.store(true, Ordering::SeqCst);
    (dir, inner, double)
}

/// What a fetching process waits on: the store claimed and the lease taken, within 30 s
/// of the store answering; the refusal, if any, as the process would get it.
async fn gate(
    double: Arc<Double>,
    claim: fetch_lock::LeaseClaim,
) -> (
    Result<(), String>,
    tokio::sync::oneshot::Receiver<anyhow::Error>,
    String,
) {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let gate = claim_when_reachable(
        double,
        Source::Demo,
        "the test store".into(),
        None,
        Some(claim),
        tx,
    );
    // What the pipeline's health says while the gate waits.
    let waiting_for = gate.waiting_for.borrow().clone();
    let outcome = tokio::time::timeout(Duration::from_secs(30), gate.open)
        .await
        .expect("the gate answers once the store does");
    (outcome, rx, waiting_for)
}

#[tokio::test]
async fn a_lease_taken_by_another_while_the_store_was_down_refuses_fetching() {
    let (_dir, inner, double) = store_down();
    let lease = fetch_lock::lease(double.clone(), "the test store")
        .await
        .unwrap();
    let claim = lease
        .pending()
        .expect("the store did not answer: not taken yet");
    // Meanwhile another process took it (it lapses a minute from now).
    let now = u64::try_from(chrono::Utc::now().timestamp()).unwrap();
    inner
        .set_checkpoint(Checkpoint {
            key: LEASE_KEY.into(),
            offset: ((now + 60) << 24) | 7,
        })
        .await
        .unwrap();
    double.down.store(false, Ordering::SeqCst);
    let (outcome, rx, _) = gate(double.clone(), claim).await;
    let why = outcome.unwrap_err();
    assert!(why.contains("Another arbdesk process is fetching"), "{why}");
    let refused = rx.await.unwrap();
    assert!(
        refused
            .downcast_ref::<arbdesk::commands::BadValue>()
            .is_some(),
        "exit 2: {refused:#}"
    );
    // The other's lease stands.
    let held = inner.checkpoint(LEASE_KEY.into()).await.unwrap().unwrap();
    assert_eq!(held & 0xFF_FFFF, 7);
}

#[tokio::test]
async fn a_lease_nobody_holds_is_taken_before_fetching_starts() {
    let (_dir, inner, double) = store_down();
    let lease = fetch_lock::lease(double.clone(), "the test store")
        .await
        .unwrap();
    let claim = lease.pending().expect("not taken yet");
    double.down.store(false, Ordering::SeqCst);
    gate(double.clone(), claim).await.0.unwrap();
    let held = inner.checkpoint(LEASE_KEY.into()).await.unwrap().unwrap();
    let lapses = held >> 24;
    let now = u64::try_from(chrono::Utc::now().timestamp()).unwrap();
    assert!(lapses > now, "a live lease: {held:#x}");
    lease.release().await;
    assert_eq!(inner.checkpoint(LEASE_KEY.into()).await.unwrap(), Some(0));
}

/// Two processes that took the lease at the same moment: at its next renewal the one whose
/// write was overwritten finds the other's lease, leaves it, and is told to stop fetching.
#[tokio::test(start_paused = true)]
async fn the_process_that_lost_a_simultaneous_take_is_told_to_stop() {
    let (_dir, inner, double) = store_down();
    double.down.store(false, Ordering::SeqCst);
    let mut lease = fetch_lock::lease(double.clone(), "the test store")
        .await
        .unwrap();
    assert!(lease.pending().is_none(), "taken at once");
    let lost = lease.lost().expect("the renewal's verdict");
    // The other process's write lands just after this one's.
    let now = u64::try_from(chrono::Utc::now().timestamp()).unwrap();
    let theirs = ((now + 60) << 24) | 7;
    inner
        .set_checkpoint(Checkpoint {
            key: LEASE_KEY.into(),
            offset: theirs,
        })
        .await
        .unwrap();
    let why = tokio::time::timeout(Duration::from_secs(60), lost)
        .await
        .expect("told at the next renewal")
        .unwrap();
    assert!(
        why.downcast_ref::<arbdesk::commands::BadValue>().is_some(),
        "exit 2: {why:#}"
    );
    assert!(format!("{why:#}").contains("stops fetching"), "{why:#}");
    // The other's lease stands, also after this one gives its own back.
    lease.release().await;
    assert_eq!(
        inner.checkpoint(LEASE_KEY.into()).await.unwrap(),
        Some(theirs)
    );
}

/// A lease left by a process killed on this host (its report names a pid that is gone) is
/// waited out, then taken: nothing runs that a refusal would protect.
#[tokio::test]
async fn a_lease_left_by_a_process_killed_on_this_host_is_waited_out() {
    let (_dir, inner, double) = store_down();
    double.down.store(false, Ordering::SeqCst);
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let dead = child.id();
    child.wait().unwrap();
    let own = arbdesk::pipeline::peers::process_id();
    let host = own.rsplit_once(':').unwrap().0;
    let status = arbdesk::pipeline::PipelineStatus {
        keepa_client: true,
        running: true,
        ..Default::default()
    };
    inner
        .report_process(arbdesk::store::ProcessReport {
            id: format!("{host}:{dead}"),
            updated_at: chrono::Utc::now(),
            body: serde_json::to_string(&status).unwrap(),
        })
        .await
        .unwrap();
    // Its lease lapses two seconds from now.
    let now = u64::try_from(chrono::Utc::now().timestamp()).unwrap();
    inner
        .set_checkpoint(Checkpoint {
            key: LEASE_KEY.into(),
            offset: ((now + 2) << 24) | 7,
        })
        .await
        .unwrap();
    // The process starts at once (its API with it); fetching waits for the lease.
    let lease = fetch_lock::lease(double.clone(), "the test store")
        .await
        .unwrap();
    let claim = lease.pending().expect("not taken while it lapses");
    let (outcome, _refused, waiting_for) = gate(double.clone(), claim).await;
    assert_eq!(outcome, Ok(()), "taken once the lease lapsed");
    assert!(
        waiting_for.contains("for the lease on fetching that a killed process left to lapse"),
        "the health says what ingest waits for, not the store: {waiting_for}"
    );
    let held = inner.checkpoint(LEASE_KEY.into()).await.unwrap().unwrap();
    assert_ne!(held & 0xFF_FFFF, 7, "this process's lease now");
    lease.release().await;
}
