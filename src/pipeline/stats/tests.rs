//! The log's periodic summary, failure streaks and rates.

use super::*;

/// The periodic summary says what each stage did since the last one, in pipeline
/// order, with Keepa's requests and tokens.
#[test]
fn the_summary_counts_what_happened_since_the_last_one() {
    let stage = |processed, errors| StageStatus {
        processed,
        errors,
        ..StageStatus::default()
    };
    let mut before = PipelineStatus {
        keepa_client: true,
        processing: true,
        ..PipelineStatus::default()
    };
    before.stages.insert("store".into(), stage(1_000, 0));
    before.stages.insert("ingest".into(), stage(200, 1));
    before.keepa.requests = 10;
    before.keepa.tokens_consumed = 1_000;
    let mut now = before.clone();
    now.stages.insert("store".into(), stage(13_500, 2));
    now.stages.insert("ingest".into(), stage(2_900, 1));
    now.stages.insert("detect".into(), stage(2_700, 0));
    now.keepa.requests = 37;
    now.keepa.tokens_consumed = 3_700;
    now.keepa.tokens_left = Some(173_800);
    now.queue_depth = 4;
    assert_eq!(
        summary(&before, &now, 10),
        "Past 10 min: ingest 2,700, store 12,500, detect 2,700 items (2 failed); Keepa 27 \
             requests, 2,700 tokens used, 173,800 left; queue 4 waiting"
    );
    // Failed attempts, an overdrawn balance and stopped traffic are said.
    let mut worse = now.clone();
    worse.keepa.errors = 57;
    worse.keepa.tokens_left = Some(-120);
    worse.keepa.stopped = Some("Keepa rejected the API key".into());
    assert!(
        summary(&before, &worse, 10).contains(
            "Keepa 27 requests (57 failed attempts), 2,700 tokens used, -120 left, stopped: \
                 Keepa rejected the API key;"
        ),
        "{}",
        summary(&before, &worse, 10)
    );
    let quiet = PipelineStatus {
        processing: true,
        ..PipelineStatus::default()
    };
    assert_eq!(
        summary(&quiet, &quiet, 10),
        "Past 10 min: no items yet; queue 0 waiting"
    );
}

/// Failures count as "failing now" until the stage handles an item again.
#[test]
fn failures_in_a_row_count_until_an_item_is_handled() {
    let mut stats = Stats::new(Source::Demo, Vec::new(), false, true);
    let failing = |stats: &mut Stats| stats.stage_snapshot()["store"].failing;
    stats.record(Stage::Store, 100_000, 0, None);
    assert_eq!(failing(&mut stats), 0);
    for _ in 0..3 {
        stats.record(Stage::Store, 0, 1, Some("the database file is gone".into()));
    }
    assert_eq!(failing(&mut stats), 3);
    stats.record(Stage::Store, 10, 2, Some("two refused".into()));
    assert_eq!(
        failing(&mut stats),
        2,
        "a batch with items handled starts anew"
    );
    stats.record(Stage::Store, 500, 0, None);
    assert_eq!(failing(&mut stats), 0);
}

/// Failed reads of the queue are failures in a row, which the pipeline's health shows
/// while they last, but no item's: once reading works again, the stage's share of failed
/// items is its items' alone (an outage of the broker, over, leaves no "81 of 81 items
/// failed" behind).
#[test]
fn failed_reads_are_attempts_not_items() {
    let stats = Stats::new(Source::Demo, Vec::new(), false, true);
    let health = |stats: &Stats| {
        let mut s = stats.tx.borrow().clone();
        s.stages = stats.stage_snapshot();
        crate::pipeline::health::pipeline_health(&s)
    };
    stats.record(Stage::Enrich, 40, 0, None);
    for _ in 0..81 {
        stats.attempt_failed(Stage::Enrich, "reading the queue: broker down".into());
    }
    let snap = stats.stage_snapshot();
    assert_eq!((snap["enrich"].errors, snap["enrich"].failing), (0, 81));
    let h = health(&stats);
    assert_eq!(h.status, crate::component::HealthStatus::Degraded);
    assert!(
        h.detail.contains("the last 81 attempts failed"),
        "{}",
        h.detail
    );
    stats.recovered(Stage::Enrich);
    assert_eq!(
        health(&stats).status,
        crate::component::HealthStatus::Ok,
        "{}",
        health(&stats).detail
    );
}

/// The first batch is counted before the first snapshot samples the stage: its items
/// are in the rate, not lost in the baseline.
#[test]
fn the_first_batch_counts_in_the_rate() {
    let mut stats = Stats::new(Source::Demo, Vec::new(), false, true);
    stats.started -= Duration::from_secs(10);
    stats.record(Stage::Enrich, 400, 0, None);
    let rate = stats.stage_snapshot()["enrich"].rate_per_s;
    assert!(rate > 0.0 && rate <= 40.0, "{rate}");
    // A stage whose first batch comes long after start: over the last minute.
    stats.started -= Duration::from_secs(600);
    stats.record(Stage::Alerts, 120, 0, None);
    let rate = stats.stage_snapshot()["alerts"].rate_per_s;
    assert!(rate > 0.0 && rate <= 2.0, "{rate}");
    // Later snapshots keep that batch in the window until it is a minute old.
    let rate = stats.stage_snapshot()["alerts"].rate_per_s;
    assert!(rate > 0.0, "{rate}");
}
