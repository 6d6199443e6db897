//! Refresh and discovery on command: what is asked, refused, and reported back.

use super::*;

fn asin(s: &str) -> Asin {
    s.parse().unwrap()
}

#[tokio::test(start_paused = true)]
async fn a_repeat_within_the_window_is_not_sent_whoever_asked() {
    let (tx, mut rx) = mpsc::channel(8);
    let console = Commands::from(tx);
    let api = console.clone();
    let (a, b) = (asin("B0D1XD1ZV3"), asin("B0D1XD1ZV4"));
    assert_eq!(
        console.refresh(vec![a, a]).unwrap(),
        Refresh::Queued {
            sent: vec![a],
            repeats: vec![]
        }
    );
    assert!(matches!(rx.try_recv(), Ok(Command::Refresh { asins, .. }) if asins == [a]));
    tokio::time::advance(Duration::from_secs(10)).await;
    // The other holder sees the first one's refresh.
    assert_eq!(
        api.refresh(vec![a]).unwrap(),
        Refresh::Repeat {
            repeats: vec![a],
            ago: Duration::from_secs(10)
        }
    );
    assert_eq!(
        api.refresh(vec![b, a]).unwrap(),
        Refresh::Queued {
            sent: vec![b],
            repeats: vec![a]
        }
    );
    assert!(matches!(rx.try_recv(), Ok(Command::Refresh { asins, .. }) if asins == [b]));
    // Past the window, sent again.
    tokio::time::advance(REFRESH_AGAIN_AFTER).await;
    assert!(matches!(
        api.refresh(vec![a]).unwrap(),
        Refresh::Queued { .. }
    ));
    assert!(rx.try_recv().is_ok());
}

/// A refresh that failed is forgotten: asking again at once sends it again.
#[tokio::test(start_paused = true)]
async fn a_failed_refresh_is_no_repeat() {
    let (tx, mut rx) = mpsc::channel(8);
    let c = Commands::from(tx);
    let (a, b) = (asin("B0D1XD1ZV3"), asin("B0D1XD1ZV4"));
    assert!(matches!(
        c.refresh(vec![a, b]).unwrap(),
        Refresh::Queued { .. }
    ));
    assert!(rx.try_recv().is_ok());
    // The ingest stage could not fetch `a`.
    c.ledger().forget(&[a]);
    assert_eq!(
        c.refresh(vec![a, b]).unwrap(),
        Refresh::Queued {
            sent: vec![a],
            repeats: vec![b]
        }
    );
}

/// A refresh of the whole watchlist names the products refreshed on command moments
/// ago: the ingest stage skips them, so what it costs leaves them out.
#[tokio::test(start_paused = true)]
async fn the_whole_watchlist_leaves_out_products_just_refreshed() {
    let (tx, _rx) = mpsc::channel(8);
    let c = Commands::from(tx);
    let just = asin("B0D1XD1ZV3");
    assert!(matches!(
        c.refresh(vec![just]).unwrap(),
        Refresh::Queued { .. }
    ));
    assert_eq!(
        c.refresh_all().unwrap(),
        Refresh::Queued {
            sent: vec![],
            repeats: vec![just]
        }
    );
}

#[tokio::test(start_paused = true)]
async fn the_whole_watchlist_covers_each_product() {
    let (tx, mut rx) = mpsc::channel(8);
    let c = Commands::from(tx);
    assert!(matches!(c.refresh_all().unwrap(), Refresh::Queued { .. }));
    assert!(matches!(rx.try_recv(), Ok(Command::RefreshAll { .. })));
    tokio::time::advance(Duration::from_secs(5)).await;
    assert_eq!(
        c.refresh_all().unwrap(),
        Refresh::Repeat {
            repeats: vec![],
            ago: Duration::from_secs(5)
        }
    );
    // Once the ingest stage has read the watchlist, its products are repeats; a
    // product that is not watched is not, and is sent.
    let (watched, other) = (asin("B0D1XD1ZV3"), asin("B0D1XD1ZV4"));
    c.ledger()
        .covered(&[watched], Instant::now() - Duration::from_secs(5));
    assert!(matches!(
        c.refresh(vec![watched]).unwrap(),
        Refresh::Repeat { .. }
    ));
    assert!(rx.try_recv().is_err(), "nothing sent for repeats");
    assert_eq!(
        c.refresh(vec![watched, other]).unwrap(),
        Refresh::Queued {
            sent: vec![other],
            repeats: vec![watched]
        }
    );
    assert!(matches!(rx.try_recv(), Ok(Command::Refresh { asins, .. }) if asins == [other]));
}

#[test]
fn a_discovery_asked_again_before_it_is_settled_joins_the_one_queued() {
    let (tx, mut rx) = mpsc::channel(8);
    let c = Commands::from(tx);
    let t0 = Utc::now();
    assert_eq!(c.discover(t0).unwrap(), None);
    let later = t0 + chrono::TimeDelta::seconds(3);
    assert_eq!(c.discover(later).unwrap(), Some(t0), "joins it");
    assert!(matches!(rx.try_recv(), Ok(Command::Discover)));
    assert!(rx.try_recv().is_err(), "sent once");
    // Taken by the ingest stage, not yet run: still joins it.
    assert_eq!(c.discover(later).unwrap(), Some(t0), "taken, joins it");
    assert!(rx.try_recv().is_err(), "still sent once");
    // Run or dropped by the stage (a run just finished, or no categories): a request
    // is sent again, and the next joins that one.
    c.ledger().discovery_settled();
    assert_eq!(c.discover(later).unwrap(), None);
    assert!(matches!(rx.try_recv(), Ok(Command::Discover)));
    assert_eq!(c.discover(later).unwrap(), Some(later), "waiting again");
    // One never settled is queued again after a while.
    let (tx, _rx) = mpsc::channel(8);
    let c = Commands::from(tx);
    c.discover(t0).unwrap();
    let long_after = t0 + DISCOVERY_JOINS_FOR;
    assert_eq!(c.discover(long_after).unwrap(), None);
}

#[test]
fn a_repeat_says_how_long_ago() {
    assert_eq!(Refresh::ago(Duration::from_millis(1_500)), "moments ago");
    assert_eq!(Refresh::ago(Duration::from_secs(12)), "12s ago");
}

#[tokio::test]
async fn a_full_queue_records_nothing() {
    let (tx, _rx) = mpsc::channel(1);
    let c = Commands::from(tx);
    c.try_send(Command::Discover).unwrap();
    let a = asin("B0D1XD1ZV3");
    let full = c.refresh(vec![a]).unwrap_err();
    assert!(not_taken(&full).contains("try again in a moment"));
    assert!(c.refresh_all().is_err());
    assert!(c.sent().asins.is_empty() && c.sent().all.is_none());
}

#[tokio::test]
async fn a_stopped_stage_is_said_to_be_stopped_not_busy() {
    let (tx, rx) = mpsc::channel(4);
    drop(rx);
    let c = Commands::from(tx);
    let stopped = c.refresh_all().unwrap_err();
    assert!(not_taken(&stopped).starts_with("fetching has stopped in this process"));
}
