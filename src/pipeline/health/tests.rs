//! Health: each component's verdict from the status snapshot.

use super::*;
use crate::component::HealthStatus;
use crate::pipeline::StageStatus;

/// `h` is degraded, its detail starting with `start`.
fn degraded_saying(h: &ComponentHealth, start: &str) {
    assert_eq!(h.status, HealthStatus::Degraded, "{}", h.detail);
    assert!(h.detail.starts_with(start), "{}", h.detail);
}

/// The ECB's direction as written first, then a pound in euros (what the console
/// shows); an override written per pound is said once.
#[test]
fn the_rate_reads_as_written_and_per_pound() {
    let mut s = PipelineStatus {
        fx: Some(crate::pipeline::FxStatus {
            eur_per_gbp: 1.0 / 0.88,
            date: "2025-11-21".into(),
            source: "default".into(),
            stale: false,
            record: "default 2025-11-21: 1 EUR = 0.88 GBP".into(),
        }),
        ..PipelineStatus::default()
    };
    let h = fx_health(&s).unwrap();
    assert_eq!(
        h.detail,
        "1 EUR = 0.88 GBP (1 GBP = 1.1364 EUR), rate of 2025-11-21"
    );
    if let Some(fx) = s.fx.as_mut() {
        fx.eur_per_gbp = 1.15;
        fx.record = "config 2025-11-21: 1 GBP = 1.15 EUR".into();
    }
    assert_eq!(
        fx_health(&s).unwrap().detail,
        "1 GBP = 1.1500 EUR, rate of 2025-11-21"
    );
}

/// A stale rate degrades health only where something converts with it: a market in GBP.
#[test]
fn a_stale_rate_matters_only_with_a_market_in_gbp() {
    use crate::domain::Market;
    let stale = |markets: Vec<Market>| PipelineStatus {
        markets,
        fx: Some(crate::pipeline::FxStatus {
            eur_per_gbp: 1.0 / 0.88,
            date: "2025-11-21".into(),
            source: "default".into(),
            stale: true,
            record: "default 2025-11-21: 1 EUR = 0.88 GBP".into(),
        }),
        ..PipelineStatus::default()
    };
    let h = fx_health(&stale(vec![Market::UK, Market::DE])).unwrap();
    assert_eq!(h.status, HealthStatus::Degraded);
    assert!(h.detail.contains("GBP routes not ranked"), "{}", h.detail);
    let h = fx_health(&stale(vec![Market::DE, Market::FR])).unwrap();
    assert_eq!(h.status, HealthStatus::Ok);
    assert!(
        h.detail
            .ends_with("(stale, but unused: no market in GBP is tracked)")
    );
    // Markets not known (a process that reports none): as if GBP were tracked.
    let h = fx_health(&stale(Vec::new())).unwrap();
    assert_eq!(h.status, HealthStatus::Degraded);
}

/// Reports from processes that run only one half of the pipeline: the merged view says
/// which half no live process runs.
#[test]
fn a_stage_no_live_process_runs_is_degraded() {
    let peer = |id: &str, roles: &str| Peer {
        id: id.into(),
        roles: roles.into(),
        updated_at: Utc::now(),
        pipeline: ComponentHealth::ok("pipeline", "running"),
    };
    let mut s = PipelineStatus {
        running: true,
        started_at: Some(Utc::now() - chrono::Duration::minutes(10)),
        queue_depth: 4_000,
        peers: vec![peer("i:1", "ingest")],
        ..PipelineStatus::default()
    };
    degraded_saying(
        &pipeline_health(&s),
        "no process runs the process stage: fetched updates wait in the queue (4,000 waiting)",
    );
    s.peers = vec![peer("w:2", "process")];
    degraded_saying(&pipeline_health(&s), "no process runs ingest");
    s.peers = vec![peer("i:1", "ingest"), peer("w:2", "process")];
    assert_eq!(pipeline_health(&s).status, HealthStatus::Ok);
    s.peers = vec![peer("a:3", "ingest,process")];
    assert_eq!(pipeline_health(&s).status, HealthStatus::Ok);
}

/// A process that runs no stage, where processes ran the pipeline and none reports any
/// more: down, saying since when, not "not running in this process" as if none ever ran.
#[test]
fn a_pipeline_whose_processes_stopped_reporting_is_down() {
    let mut s = PipelineStatus::default();
    assert_eq!(pipeline_health(&s).status, HealthStatus::Ok);
    let at = Utc::now() - chrono::Duration::minutes(3);
    s.shown_from.stopped_reporting = Some(("worker:42".into(), at));
    let h = pipeline_health(&s);
    assert_eq!(h.status, HealthStatus::Down);
    assert!(
        h.detail.starts_with(
            "no process runs the pipeline: the last report, from worker:42, is 3m old"
        ),
        "{}",
        h.detail
    );
}

/// While the reports cannot be read (the store does not answer), what has aged out of
/// them is unknown, not stopped: no advice to start a stage that may be running.
#[test]
fn reports_that_cannot_be_read_leave_the_pipeline_unknown() {
    let since = DateTime::parse_from_rfc3339("2026-12-06T10:11:12Z")
        .unwrap()
        .with_timezone(&Utc);
    let mut s = PipelineStatus::default();
    s.shown_from.unread_since = Some(since);
    let h = pipeline_health(&s);
    assert_eq!(h.status, HealthStatus::Degraded);
    assert!(
        h.detail
            .starts_with("unknown: the other processes' reports cannot be read since 10:11:12 UTC"),
        "{}",
        h.detail
    );
    // Some reports still fresh from the last read: shown as such, without the advice.
    s.running = true;
    s.started_at = Some(Utc::now() - chrono::Duration::minutes(10));
    s.queue_depth = 4_000;
    s.peers = vec![Peer {
        id: "i:1".into(),
        roles: "ingest".into(),
        updated_at: Utc::now(),
        pipeline: ComponentHealth::ok("pipeline", "running"),
    }];
    let h = pipeline_health(&s);
    assert!(!h.detail.contains("no process runs"), "{}", h.detail);
    assert_eq!(h.status, HealthStatus::Degraded, "what runs now is unknown");
    assert!(
        h.detail
            .ends_with("(as last read: the reports cannot be read since 10:11:12 UTC, the store does not answer)"),
        "{}",
        h.detail
    );
    // The queue as last read is said as such too.
    s.queue = Some(ComponentHealth::ok("kafka", "consumer lag 0"));
    s.shown_from.queue = Some("w:2".into());
    let q = queue_health(&s);
    assert_eq!(q.status, HealthStatus::Degraded, "{q:?}");
    assert!(q.detail.ends_with("the store does not answer)"), "{q:?}");
}

#[test]
fn keepa_rules() {
    let now = Utc::now();
    let mut k = ClientStatus::default();
    assert_eq!(keepa_health(&k, Source::Demo, now).status, HealthStatus::Ok);
    k.errors = 2;
    k.last_error = Some("/product: HTTP 502".into());
    let h = keepa_health(&k, Source::Live, now);
    assert_eq!(
        (h.status, h.kind.as_str()),
        (HealthStatus::Degraded, "keepa")
    );
    assert!(h.detail.contains("HTTP 502"));
    k.last_success = Some(now - chrono::Duration::minutes(1));
    assert_eq!(keepa_health(&k, Source::Live, now).status, HealthStatus::Ok);
    // Failing since the success: a blip is ok, a minute of nothing but failures is not.
    k.failing_since = Some(now - chrono::Duration::seconds(20));
    assert_eq!(keepa_health(&k, Source::Live, now).status, HealthStatus::Ok);
    k.failing_since = Some(now - chrono::Duration::seconds(90));
    let h = keepa_health(&k, Source::Live, now);
    assert_eq!(h.status, HealthStatus::Degraded);
    assert!(h.detail.contains("failing for 1m"), "{}", h.detail);
    k.failing_since = None;
    // Many of the last minutes' attempts failing, retries getting through: degraded.
    k.recent_attempts = 44;
    k.recent_errors = 33;
    let h = keepa_health(&k, Source::Live, now);
    assert_eq!(h.status, HealthStatus::Degraded);
    assert!(
        h.detail.starts_with(
            "33 of the last 5 minutes' 44 attempts failed (last error: /product: HTTP 502)"
        ),
        "{}",
        h.detail
    );
    assert!(
        h.detail.ends_with("retries get the data through, late"),
        "{}",
        h.detail
    );
    // Every one failing: nothing got through, and it does not say otherwise.
    k.recent_attempts = 33;
    let h = keepa_health(&k, Source::Live, now);
    assert!(h.detail.ends_with("none got through"), "{}", h.detail);
    k.recent_attempts = 1_000;
    assert_eq!(
        keepa_health(&k, Source::Live, now).status,
        HealthStatus::Ok,
        "3 % of attempts"
    );
    k.recent_attempts = 4;
    k.recent_errors = 4;
    assert_eq!(
        keepa_health(&k, Source::Live, now).status,
        HealthStatus::Ok,
        "a blip"
    );
    k.recent_attempts = 0;
    k.recent_errors = 0;
    k.last_success = Some(now - chrono::Duration::minutes(30));
    assert_eq!(
        keepa_health(&k, Source::Live, now).status,
        HealthStatus::Degraded
    );
    k.stopped = Some("invalid API key".into());
    assert_eq!(
        keepa_health(&k, Source::Live, now).status,
        HealthStatus::Down
    );
}

#[test]
fn tables_rules() {
    let mut s = PipelineStatus::default();
    assert_eq!(tables_health(&s), None);
    s.tables = Some(crate::pipeline::TablesStatus {
        date: "2026-12-03".into(),
        vat: Some("2025-01-01".into()),
        referral: Some("2025-02-01".into()),
        fba: None,
        storage: Some("2025-03-01".into()),
    });
    let h = tables_health(&s).unwrap_or_else(|| ComponentHealth::down("x", "none"));
    assert_eq!(h.status, HealthStatus::Ok);
    assert_eq!(
        h.detail,
        "in force on 2026-12-03: VAT of 2025-01-01, referral fees of 2025-02-01, no FBA fee table (Keepa's fee only), storage of 2025-03-01"
    );
    if let Some(t) = s.tables.as_mut() {
        t.vat = None;
    }
    let h = tables_health(&s).unwrap_or_else(|| ComponentHealth::ok("x", "none"));
    assert_eq!(h.status, HealthStatus::Degraded);
    assert!(
        h.detail.starts_with("no VAT table in force"),
        "{}",
        h.detail
    );
}

#[test]
fn pipeline_rules() {
    let mut s = PipelineStatus::default();
    assert_eq!(pipeline_health(&s).status, HealthStatus::Ok);
    s.started_at = Some(Utc::now());
    assert_eq!(pipeline_health(&s).status, HealthStatus::Down);
    s.running = true;
    let stage = StageStatus {
        processed: 100,
        errors: 3,
        ..StageStatus::default()
    };
    s.stages.insert("enrich".into(), stage);
    assert_eq!(pipeline_health(&s).status, HealthStatus::Ok);
    if let Some(st) = s.stages.get_mut("enrich") {
        st.errors = 30;
    }
    let h = pipeline_health(&s);
    assert_eq!(h.status, HealthStatus::Degraded);
    assert!(
        h.detail.starts_with("enrich: 30 of 130 items failed"),
        "{}",
        h.detail
    );
    // Errors long past, items handled since (an outage at start-up, over): ok again.
    if let Some(st) = s.stages.get_mut("enrich") {
        st.last_error_at = Some(Utc::now() - chrono::Duration::minutes(11));
    }
    assert_eq!(pipeline_health(&s).status, HealthStatus::Ok);
    if let Some(st) = s.stages.get_mut("enrich") {
        st.last_error_at = Some(Utc::now() - chrono::Duration::minutes(2));
    }
    assert_eq!(pipeline_health(&s).status, HealthStatus::Degraded);
    // A stage stopped for good says so first, whatever its counters.
    s.stages.insert(
        "ingest".into(),
        StageStatus {
            stopped: Some("another process holds the lease".into()),
            ..StageStatus::default()
        },
    );
    let h = pipeline_health(&s);
    assert_eq!(h.status, HealthStatus::Degraded);
    assert_eq!(h.detail, "ingest stopped: another process holds the lease");
}

/// A process that processes, with messages waiting and none taken for a minute, is
/// stalled; a young one, a busy one, an idle one and one that only fetches are not.
#[test]
fn a_stalled_consumer_is_degraded() {
    let stage = |rate: f64| StageStatus {
        processed: 2_000,
        rate_per_s: rate,
        ..StageStatus::default()
    };
    let mut s = PipelineStatus {
        running: true,
        processing: true,
        started_at: Some(Utc::now() - chrono::Duration::minutes(10)),
        queue_depth: 10_000,
        ..PipelineStatus::default()
    };
    s.stages.insert("enrich".into(), stage(0.0));
    degraded_saying(&pipeline_health(&s), "stalled: 10,000 message(s) waiting");
    // Never processed anything at all (no partition from the start): stalled too.
    s.stages.clear();
    assert_eq!(pipeline_health(&s).status, HealthStatus::Degraded);
    s.stages.insert("enrich".into(), stage(3.5));
    assert_eq!(
        pipeline_health(&s).status,
        HealthStatus::Ok,
        "taking messages"
    );
    s.stages.insert("enrich".into(), stage(0.0));
    s.queue_depth = 0;
    assert_eq!(pipeline_health(&s).status, HealthStatus::Ok, "idle");
    s.queue_depth = 10_000;
    s.started_at = Some(Utc::now() - chrono::Duration::seconds(20));
    assert_eq!(pipeline_health(&s).status, HealthStatus::Ok, "just started");
    s.started_at = Some(Utc::now() - chrono::Duration::minutes(10));
    s.processing = false;
    assert_eq!(pipeline_health(&s).status, HealthStatus::Ok, "fetches only");
}

#[test]
fn queue_rules() {
    let mut s = PipelineStatus::default();
    assert_eq!(queue_health(&s).status, HealthStatus::Ok);
    s.running = true;
    assert_eq!(queue_health(&s).status, HealthStatus::Degraded);
    s.queue = Some(ComponentHealth::ok("memory", "bounded channels"));
    s.queue_depth = 7;
    let h = queue_health(&s);
    assert_eq!(h.detail, "bounded channels; depth 7, 0 dead letters");
}

/// A stage that fails now is unhealthy however much it handled before: a store that went
/// away after 100,000 writes, retried three times, is a fault, not 0.003 % of errors.
#[test]
fn the_store_is_degraded_while_the_pipelines_writes_fail_though_it_answers() {
    let judged = |failing: u64, probe: ComponentHealth| {
        let mut s = PipelineStatus {
            running: true,
            ..PipelineStatus::default()
        };
        let stage = StageStatus {
            processed: 500,
            errors: failing,
            failing,
            last_error: Some("writing listings: database or disk is full".into()),
            ..StageStatus::default()
        };
        s.stages.insert("store".into(), stage);
        store_component(probe, &s)
    };
    let ok = || ComponentHealth::ok("sqlite", "/data/arbdesk.sqlite");
    assert_eq!(judged(2, ok()).status, HealthStatus::Ok, "a blip");
    degraded_saying(
        &judged(3, ok()),
        "/data/arbdesk.sqlite: the pipeline's last 3 writes failed, last: writing listings: \
         database or disk is full",
    );
    // What the probe found itself stands.
    let down = judged(5, ComponentHealth::down("sqlite", "the file is gone"));
    assert_eq!(
        (down.status, down.detail.as_str()),
        (HealthStatus::Down, "the file is gone")
    );
    // A process without the process stage has no writes of its own to judge.
    assert_eq!(
        store_component(ok(), &PipelineStatus::default()).status,
        HealthStatus::Ok
    );
}

#[test]
fn a_stage_failing_now_is_degraded_whatever_it_handled_before() {
    let judged = |failing: u64| {
        let mut s = PipelineStatus {
            running: true,
            ..PipelineStatus::default()
        };
        let stage = StageStatus {
            processed: 100_000,
            errors: failing,
            failing,
            last_error: Some("the database file is gone".into()),
            ..StageStatus::default()
        };
        s.stages.insert("store".into(), stage);
        pipeline_health(&s)
    };
    assert_eq!(
        judged(2).status,
        HealthStatus::Ok,
        "two failures are a blip"
    );
    let h = judged(3);
    assert_eq!(h.status, HealthStatus::Degraded);
    assert!(
        h.detail.starts_with("store: the last 3 attempts failed")
            && h.detail.contains("file is gone"),
        "{}",
        h.detail
    );
}
