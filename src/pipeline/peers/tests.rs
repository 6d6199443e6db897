//! Reading and merging the reports of the other processes, and a clean stop's report.

use super::*;
use crate::pipeline::status::{JobStatus, StageStatus};

fn stage(processed: u64, rate: f64, last_error: Option<&str>, at: i64) -> StageStatus {
    StageStatus {
        processed,
        errors: u64::from(last_error.is_some()),
        rate_per_s: rate,
        last_error: last_error.map(str::to_string),
        last_error_at: last_error.and(DateTime::from_timestamp(at, 0)),
        last_at: DateTime::from_timestamp(at, 0),
        stopped: None,
        failing: 0,
    }
}

fn reported(id: &str, at: i64, s: &PipelineStatus) -> ProcessReport {
    report(id, s, DateTime::from_timestamp(at, 0).unwrap()).unwrap()
}

#[test]
fn a_process_without_stages_shows_the_workers_summed_and_the_ingest_processs_keepa() {
    let mut ingest = PipelineStatus {
        running: true,
        keepa_client: true,
        started_at: DateTime::from_timestamp(1_000, 0),
        queue_depth: 40,
        ..Default::default()
    };
    ingest
        .stages
        .insert("ingest".into(), stage(500, 8.0, None, 1_090));
    ingest.keepa.tokens_left = Some(1_234);
    ingest.jobs.push(JobStatus {
        name: "discovery".into(),
        running: true,
        last_run: None,
        next_run: DateTime::from_timestamp(5_000, 0),
    });
    let worker = |enriched: u64, rate: f64, error: Option<&str>, at: i64| {
        let mut w = PipelineStatus {
            running: true,
            processing: true,
            started_at: DateTime::from_timestamp(900, 0),
            queue_depth: 55,
            dead_letters: 1,
            ..Default::default()
        };
        w.stages
            .insert("enrich".into(), stage(enriched, rate, error, at));
        w
    };
    let idle_api = PipelineStatus::default();
    let reports = vec![
        reported("ingest-1:1", 1_100, &ingest),
        reported("worker-1:1", 1_101, &worker(200, 3.0, None, 1_095)),
        reported(
            "worker-2:1",
            1_102,
            &worker(100, 2.5, Some("bad line"), 1_096),
        ),
        reported("api-1:1", 1_102, &idle_api),
        reported("me:1", 1_102, &worker(1, 1.0, None, 1_000)),
        ProcessReport {
            id: "odd:1".into(),
            updated_at: DateTime::from_timestamp(1_100, 0).unwrap(),
            body: "not json".into(),
        },
    ];
    let (peers, unreadable) = read(reports, "me:1");
    // Read a few seconds after the last report.
    let read_at = DateTime::from_timestamp(1_105, 0).unwrap();
    assert_eq!(unreadable.len(), 1, "{unreadable:?}");
    assert!(unreadable[0].contains("odd:1"), "{unreadable:?}");
    let ids: Vec<&str> = peers.iter().map(|(p, _)| p.id.as_str()).collect();
    assert_eq!(ids, ["ingest-1:1", "worker-1:1", "worker-2:1"]);

    let mut s = PipelineStatus::default();
    merge(&mut s, &peers, read_at);
    assert!(s.running && s.processing && s.keepa_client);
    assert_eq!(s.started_at, DateTime::from_timestamp(900, 0));
    let enrich = &s.stages["enrich"];
    assert_eq!((enrich.processed, enrich.errors), (300, 1));
    assert!((enrich.rate_per_s - 5.5).abs() < 1e-9);
    assert_eq!(enrich.last_error.as_deref(), Some("bad line"));
    assert_eq!(s.stages["ingest"].processed, 500);
    assert_eq!(s.keepa.tokens_left, Some(1_234));
    assert_eq!((s.queue_depth, s.dead_letters), (55, 2));
    assert!(s.jobs[0].running);
    assert_eq!(s.jobs[0].next_run, DateTime::from_timestamp(5_000, 0));
    // Keepa is the ingest process's; no report carried the queue's health.
    assert_eq!(
        s.shown_from,
        ShownFrom {
            keepa: Some("ingest-1:1".into()),
            queue: None,
            unread_since: None,
            stopped_reporting: None,
        }
    );
    let shown: Vec<(&str, &str)> = s
        .peers
        .iter()
        .map(|p| (p.id.as_str(), p.roles.as_str()))
        .collect();
    assert_eq!(
        shown,
        [
            ("worker-2:1", "process"),
            ("worker-1:1", "process"),
            ("ingest-1:1", "ingest")
        ]
    );

    let h = crate::pipeline::health::pipeline_health(&s);
    assert_eq!(h.status, crate::component::HealthStatus::Ok, "{h:?}");
    assert!(h.detail.contains("as reported by 3 processes"), "{h:?}");

    // One worker stalled among busy ones: the sums hide it, its own verdict does not.
    let mut stalled = worker(100, 0.0, None, 1_096);
    stalled.started_at = Some(Utc::now() - TimeDelta::minutes(5));
    let reports = vec![
        reported("worker-1:1", 1_101, &worker(200, 3.0, None, 1_095)),
        reported("worker-3:1", 1_102, &stalled),
    ];
    let (peers, _) = read(reports, "me:1");
    let mut s = PipelineStatus::default();
    merge(&mut s, &peers, read_at);
    let h = crate::pipeline::health::pipeline_health(&s);
    assert_eq!(h.status, crate::component::HealthStatus::Degraded, "{h:?}");
    assert!(h.detail.starts_with("worker-3:1: stalled"), "{h:?}");

    // The queue as the latest processing worker sees it, named by health.
    let with_queue = |at: i64, detail: &str| {
        let mut w = worker(10, 1.0, None, at);
        w.queue = Some(crate::component::ComponentHealth::ok("kafka", detail));
        w
    };
    let mut ingest_with_queue = ingest.clone();
    ingest_with_queue.queue = Some(crate::component::ComponentHealth::ok("kafka", "ingest"));
    let reports = vec![
        reported("ingest-1:1", 1_103, &ingest_with_queue),
        reported("worker-1:1", 1_101, &with_queue(1_095, "older")),
        reported("worker-2:1", 1_102, &with_queue(1_096, "newer")),
    ];
    let (peers, _) = read(reports, "me:1");
    let mut s = PipelineStatus::default();
    merge(&mut s, &peers, read_at);
    assert_eq!(s.shown_from.queue.as_deref(), Some("worker-2:1"));
    let q = crate::pipeline::health::queue_health(&s);
    // The queue as the newest processing report has it; the counts are everyone's.
    assert!(
        q.detail
            .starts_with("newer (as worker-2:1 reports it); depth"),
        "{q:?}"
    );
    assert!(q.detail.ends_with("dead letters in all"), "{q:?}");

    // The worst verdict wins: an ingest holding updates for a group no worker is in,
    // beside workers that see nothing wrong.
    ingest_with_queue.queue = Some(crate::component::ComponentHealth::degraded(
        "kafka",
        "raw updates held until the group workers-typo is under max_lag 10000",
    ));
    let reports = vec![
        reported("ingest-1:1", 1_103, &ingest_with_queue),
        reported("worker-2:1", 1_102, &with_queue(1_096, "newer")),
    ];
    let (peers, _) = read(reports, "me:1");
    let mut s = PipelineStatus::default();
    merge(&mut s, &peers, read_at);
    assert_eq!(s.shown_from.queue.as_deref(), Some("ingest-1:1"));
    let q = crate::pipeline::health::queue_health(&s);
    assert_eq!(q.status, crate::component::HealthStatus::Degraded, "{q:?}");
    assert!(q.detail.contains("workers-typo"), "{q:?}");

    // Processes on different topics or groups: degraded, naming which uses which.
    let on = |route: &str, s: &PipelineStatus| {
        let mut s = s.clone();
        s.queue = Some(crate::component::ComponentHealth::ok(
            "kafka",
            "consumer lag 0",
        ));
        s.queue_route = Some(route.to_string());
        s
    };
    let reports = vec![
        reported(
            "ingest-1:1",
            1_103,
            &on("topic staging.raw.keepa_updates, group arbdesk", &ingest),
        ),
        reported(
            "worker-2:1",
            1_102,
            &on(
                "topic raw.keepa_updates, group arbdesk",
                &with_queue(1_096, "x"),
            ),
        ),
    ];
    let (peers, _) = read(reports, "me:1");
    let mut s = PipelineStatus::default();
    merge(&mut s, &peers, read_at);
    let q = crate::pipeline::health::queue_health(&s);
    assert_eq!(q.status, crate::component::HealthStatus::Degraded, "{q:?}");
    assert!(
        q.detail.starts_with(
            "the processes do not share one queue (give each the same [queue] topic_prefix \
             and group): ingest-1:1 (ingest) on topic staging.raw.keepa_updates, group \
             arbdesk; worker-2:1 (process) on topic raw.keepa_updates, group arbdesk; depth"
        ),
        "{q:?}"
    );

    // With no report, the process's own status stands.
    let mut alone = PipelineStatus::default();
    merge(&mut alone, &[], read_at);
    assert_eq!(alone, PipelineStatus::default());
}

/// A process stopped cleanly leaves a report that says it stopped: the others show it
/// gone at their next read, not once its last running report has aged out.
#[tokio::test]
async fn a_clean_stop_reports_the_process_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> =
        Arc::new(crate::store::sqlite::SqliteStore::open(&dir.path().join("s.sqlite")).unwrap());
    let (_tx, status) = watch::channel(PipelineStatus {
        running: true,
        processing: true,
        ..PipelineStatus::default()
    });
    let (view, _) = watch::channel(Reports::default());
    let cancel = CancellationToken::new();
    let task = tokio::spawn(run(store.clone(), status, true, view, cancel.clone()));
    let since = Utc::now() - FRESH_FOR;
    let running = |reports: &[ProcessReport]| {
        let (peers, unreadable) = read(reports.to_vec(), "another process");
        assert!(unreadable.is_empty(), "{unreadable:?}");
        peers.len()
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while running(&store.process_reports(since).await.unwrap()) == 0 {
        assert!(tokio::time::Instant::now() < deadline, "no report");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    cancel.cancel();
    task.await.unwrap();
    let reports = store.process_reports(since).await.unwrap();
    assert_eq!(reports.len(), 1, "one report, this process's");
    assert_eq!(running(&reports), 0, "it says the process stopped");
}
