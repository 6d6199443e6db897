//! The health panel and view: one row per component and market, and the Keepa token
//! balance of the last hour.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::Line;
use ratatui::widgets::{Cell, Paragraph, Row, Table};

use super::{age, block, fit, styled, wrap_words};
use crate::component::{ComponentHealth, HealthStatus};
use crate::domain::text::{signed_thousands, thousands};
use crate::pipeline::health::{
    Watched, fx_health, keepa_component, pipeline_health, queue_health, tables_health, token_health,
};
use crate::tui::action::View;
use crate::tui::state::UiState;
use crate::tui::theme::Theme;

/// One row of the health panel.
struct HealthRow {
    name: String,
    health: ComponentHealth,
    last: String,
    errors: String,
}

/// The health rows: all of them for the health view (`in_view`), else the dashboard
/// panel's summary (rows that are fine only where they say something the header does not).
/// The console's own row (always ok) only with `console`: it reads the layout, which the
/// panel's height with faults only is part of.
fn health_rows(s: &UiState, in_view: bool, console: bool) -> Vec<HealthRow> {
    let st = &s.status;
    let k = &st.keepa;
    let mut rows = vec![HealthRow {
        name: "keepa".into(),
        health: keepa_component(st, s.now),
        last: k
            .last_success
            .map_or_else(|| "never".into(), |t| age(s.now, t)),
        errors: k.errors.to_string(),
    }];
    // The token bucket and the tables have their own rows in the health view; the
    // dashboard's panel shows them only when at fault (the header shows the balance).
    if st.keepa_client {
        let watched = Watched {
            asins: s.feed.stats.watchlist,
            markets: st.markets.len(),
        };
        let health = token_health(k, st.refresh.as_ref(), watched, s.now);
        if in_view || health.status != HealthStatus::Ok {
            rows.push(HealthRow {
                name: "tokens".into(),
                health,
                last: k.tokens_seen_at.map_or_else(String::new, |t| age(s.now, t)),
                errors: k.rate_limited.to_string(),
            });
        }
    }
    rows.push(HealthRow {
        name: "queue".into(),
        health: queue_health(st),
        last: String::new(),
        errors: st.dead_letters.to_string(),
    });
    let mut store = s.store_health.clone().map_or_else(
        || ComponentHealth {
            status: HealthStatus::Degraded,
            kind: "store".into(),
            detail: "not probed yet".into(),
            latency_ms: None,
        },
        |h| crate::pipeline::health::store_component(h, st),
    );
    // "Last" is an age on every row; the probe's latency belongs with the detail.
    if let Some(ms) = store.latency_ms {
        store.detail = format!("{} · probe {ms:.1} ms", store.detail);
    }
    rows.push(HealthRow {
        name: "store".into(),
        health: store,
        last: String::new(),
        errors: "–".into(),
    });
    rows.push(api_row(s));
    if console && let Some((p50, p99)) = s.frames.summary() {
        rows.push(HealthRow {
            name: "console".into(),
            health: ComponentHealth::ok(
                "terminal",
                format!(
                    "{}×{} · frame time p50 {p50:.1} ms, p99 {p99:.1} ms of the last {} · \
                     {} drawn · {}",
                    s.size.0,
                    s.size.1,
                    s.frames
                        .drawn
                        .min(crate::tui::state::FrameTimes::KEPT as u64),
                    thousands(s.frames.drawn),
                    rows_in_view(s),
                ),
            ),
            last: String::new(),
            errors: "–".into(),
        });
    }
    let mut p = pipeline_health(st);
    let errors: u64 = st.stages.values().map(|x| x.errors).sum();
    let mut last = st.stages.values().filter_map(|x| x.last_at).max();
    // A console of `--role api`: what it can tell of the processes that fetch is when
    // they last wrote to the store.
    if !st.running
        && st.started_at.is_none()
        && let Some(t) = s.feed.stats.last_update
    {
        p.detail = format!(
            "{}; the store was last written {} ago",
            p.detail,
            crate::domain::text::span((s.now - t).num_seconds().max(0))
        );
        last = Some(t);
    }
    rows.push(HealthRow {
        name: "pipeline".into(),
        health: p,
        last: last.map_or_else(String::new, |t| age(s.now, t)),
        errors: errors.to_string(),
    });
    // A console beside the workers: a row per process whose report the pipeline row
    // merges, with its own verdict (every one in the health view, a faulty one in the
    // dashboard's panel too).
    for peer in &st.peers {
        let health = peer.pipeline.clone();
        if !in_view && health.status == HealthStatus::Ok {
            continue;
        }
        rows.push(HealthRow {
            // `host:pid`; its kind column says the stages it runs.
            name: peer.id.clone(),
            health: ComponentHealth {
                kind: peer.roles.clone(),
                ..health
            },
            last: age(s.now, peer.updated_at),
            errors: "–".into(),
        });
    }
    for job in &st.jobs {
        let result = job.last_run.as_ref().map(|r| r.result.clone());
        let status = match result.as_deref() {
            Some(r) if r.starts_with("error") => HealthStatus::Degraded,
            _ => HealthStatus::Ok,
        };
        let mut detail = match (&job.last_run, job.running) {
            (_, true) => "running".to_string(),
            (Some(r), false) => format!("{}: {}", r.result, r.detail),
            (None, false) => "not run yet".to_string(),
        };
        if let Some(next) = job.next_run {
            if next > s.now {
                let secs = (next - s.now).num_seconds();
                detail.push_str(&format!(" · next in {}", super::span(secs)));
            } else {
                detail.push_str(" · due");
            }
        }
        rows.push(HealthRow {
            name: format!("job {}", job.name),
            health: ComponentHealth {
                status,
                kind: "scheduler".into(),
                detail,
                latency_ms: None,
            },
            last: job
                .last_run
                .as_ref()
                .map_or_else(String::new, |r| age(s.now, r.finished_at)),
            errors: "–".into(),
        });
    }
    // Per market, how current Keepa's data is: every market in the health view, a stale
    // one in the dashboard's panel too.
    let hours = s.session.stale_after_hours;
    for f in &s.freshness {
        if !s.session.markets.contains(&f.market) {
            continue;
        }
        let status = if f.stale > 0 {
            HealthStatus::Degraded
        } else {
            HealthStatus::Ok
        };
        if status == HealthStatus::Ok && !in_view {
            continue;
        }
        let detail = match f.oldest {
            None if f.listed == 0 => "nothing listed yet".to_string(),
            None => format!(
                "{} listed · update times not recorded yet",
                thousands(f.listed)
            ),
            Some(t) => format!(
                "{} listed · oldest Keepa update {} ago · {} stale (older than {hours}h)",
                thousands(f.listed),
                super::span((s.now - t).num_seconds().max(0)),
                thousands(f.stale)
            ),
        };
        rows.push(HealthRow {
            name: format!("market {}", f.market.code()),
            health: ComponentHealth {
                status,
                kind: "keepa data".into(),
                detail,
                latency_ms: None,
            },
            last: f.oldest.map_or_else(String::new, |t| age(s.now, t)),
            errors: "–".into(),
        });
    }
    if let Some(fx) = fx_health(st) {
        rows.push(HealthRow {
            name: "fx".into(),
            health: fx,
            last: String::new(),
            errors: "–".into(),
        });
    }
    if let Some(tables) = tables_health(st).filter(|t| in_view || t.status != HealthStatus::Ok) {
        rows.push(HealthRow {
            name: "tables".into(),
            health: tables,
            last: String::new(),
            errors: "–".into(),
        });
    }
    rows
}

/// The components at fault, by name, and the worst status among them: what the header
/// says where no health panel is on screen.
pub(super) fn faults(s: &UiState) -> Option<(HealthStatus, Vec<String>)> {
    let rows: Vec<HealthRow> = health_rows(s, false, false)
        .into_iter()
        .filter(|r| r.health.status != HealthStatus::Ok)
        // Not probed yet: known within a second of the start.
        .filter(|r| !(r.name == "store" && s.store_health.is_none()))
        .collect();
    let worst = if rows.iter().any(|r| r.health.status == HealthStatus::Down) {
        HealthStatus::Down
    } else {
        HealthStatus::Degraded
    };
    (!rows.is_empty()).then(|| (worst, rows.into_iter().map(|r| r.name).collect()))
}

/// The table's rows: how many it holds (the row limit's share of what matches) and, on the
/// opportunities view, how many of them are on screen.
fn rows_in_view(s: &UiState) -> String {
    let rows = s.view().len();
    let mut held = format!("{} rows in the table", thousands(rows as u64));
    if s.matching.len() > rows {
        held.push_str(&format!(
            " (of {} matching)",
            thousands(s.matching.len() as u64)
        ));
    }
    if s.view_kind == View::Opportunities {
        let on_screen = super::table_rows(s).min(rows.saturating_sub(s.offset));
        format!("{} on screen of {held}", thousands(on_screen as u64))
    } else {
        held
    }
}

/// The REST API: where it listens, requests a minute and its server errors (5xx answers,
/// the latest with its route and age). Degraded for five minutes after a server error.
fn api_row(s: &UiState) -> HealthRow {
    let Some(addr) = &s.session.api_addr else {
        return HealthRow {
            name: "api".into(),
            health: ComponentHealth::ok("off", "not serving (--api-addr off)"),
            last: String::new(),
            errors: "–".into(),
        };
    };
    let a = &s.api.now;
    let mut detail = format!(
        "http://{addr} · {}",
        crate::domain::text::count(a.requests, "request")
    );
    if let Some(rate) = s.api.per_minute() {
        detail.push_str(&format!(", {} a minute", thousands(rate.round() as u64)));
    }
    let mut status = HealthStatus::Ok;
    match a.last_server_error {
        Some(e) => {
            let ago = (s.now - e.at).num_seconds();
            detail.push_str(&format!(
                " · last server error: {} on {}, {} ago",
                e.status,
                e.route,
                super::span(ago)
            ));
            if ago < 300 {
                status = HealthStatus::Degraded;
            }
        }
        None => detail.push_str(" · no server errors"),
    }
    HealthRow {
        name: "api".into(),
        health: ComponentHealth {
            status,
            kind: "http".into(),
            detail,
            latency_ms: None,
        },
        last: String::new(),
        errors: a.server_errors.to_string(),
    }
}

/// The health rows of the view or the panel, as `x` (faults only) leaves them.
fn shown_rows(s: &UiState, in_view: bool) -> Vec<HealthRow> {
    let mut rows = health_rows(s, in_view, true);
    if s.faults_only {
        rows.retain(|r| r.health.status != HealthStatus::Ok);
    }
    rows
}

/// The dashboard panel's height out of `most` rows: with faults only (`x`), no more than
/// its faults take (a line each, under the column header), so the table gets the rest.
pub(super) fn panel_height(s: &UiState, most: u16) -> u16 {
    if !s.faults_only {
        return most;
    }
    let faults = health_rows(s, false, false)
        .iter()
        .filter(|r| r.health.status != HealthStatus::Ok)
        .count();
    // Borders and the header, or borders and "No faults.".
    let lines = if faults == 0 { 3 } else { faults + 3 };
    u16::try_from(lines).unwrap_or(most).min(most)
}

/// The health rows as drawn in an area: worst first, with their heights and how far the
/// view can scroll.
struct Plan {
    rows: Vec<HealthRow>,
    /// Whether the Kind and Errors columns fit (below 110 columns the detail takes them).
    wide: bool,
    detail_w: usize,
    heights: Vec<usize>,
    room: usize,
    /// The last first row that still fills the area: scrolling stops there.
    last_start: usize,
}

impl Plan {
    fn of(s: &UiState, area: Rect) -> Plan {
        let mut rows = shown_rows(s, s.view_kind == View::Health);
        // Faults first (down, then degraded: `HealthStatus` orders by severity), so a short
        // panel never hides one below its edge.
        rows.sort_by_key(|r| std::cmp::Reverse(r.health.status));
        // The health view wraps each detail; the dashboard's panel cuts it.
        let wrap = s.view_kind == View::Health;
        let wide = area.width >= 110;
        // The fixed columns and a space after each.
        let fixed: u16 = fixed_widths(wide).iter().map(|w| w + 1).sum();
        let detail_w = usize::from(area.width.saturating_sub(2 + fixed)).max(10);
        let heights: Vec<usize> = rows
            .iter()
            .map(|r| {
                if wrap {
                    wrap_words(&crate::domain::text::sanitize(&r.health.detail), detail_w)
                        .len()
                        .max(1)
                } else {
                    1
                }
            })
            .collect();
        let mut plan = Plan {
            rows,
            wide,
            detail_w,
            heights,
            room: usize::from(area.height.saturating_sub(3)),
            last_start: 0,
        };
        plan.last_start = (0..plan.rows.len())
            .rev()
            .take_while(|&i| i + plan.fits_from(i) == plan.rows.len())
            .last()
            .unwrap_or(0);
        plan
    }

    /// How many rows fit below the header from row `start` on.
    fn fits_from(&self, start: usize) -> usize {
        let mut used = 0;
        self.heights[start.min(self.heights.len())..]
            .iter()
            .take_while(|h| {
                used += **h;
                used <= self.room
            })
            .count()
    }
}

/// The widths of the columns before the detail: Component, Status, Kind, Last, Errors;
/// without Kind and Errors below 110 columns.
fn fixed_widths(wide: bool) -> &'static [u16] {
    if wide {
        &[14, 8, 15, 8, 6]
    } else {
        &[14, 8, 8]
    }
}

/// Where the health view draws the token sparkline (from 30 rows, when there is a
/// balance to show) and the components.
pub(super) fn view_areas(s: &UiState, area: Rect) -> (Option<Rect>, Rect) {
    let body = Rect::new(0, 1, area.width, area.height.saturating_sub(2));
    if body.height >= 30 && s.tokens.since().is_some() {
        let [spark, rest] =
            ratatui::layout::Layout::vertical([Constraint::Length(5), Constraint::Min(0)])
                .areas(body);
        (Some(spark), rest)
    } else {
        (None, body)
    }
}

/// The furthest the health view scrolls at the terminal's size: the reducer stops there,
/// so the first key back moves it.
pub fn scroll_limit(s: &UiState) -> usize {
    let area = Rect::new(0, 0, s.size.0, s.size.1);
    Plan::of(s, view_areas(s, area).1).last_start
}

pub(super) fn health(f: &mut Frame<'_>, area: Rect, s: &UiState, theme: &Theme, focused: bool) {
    let plan = Plan::of(s, area);
    let wrap = s.view_kind == View::Health;
    let start = if wrap {
        s.health_scroll.min(plan.last_start)
    } else {
        0
    };
    let rows = &plan.rows;
    let shown = plan
        .fits_from(start)
        .max(1)
        .min(rows.len().saturating_sub(start));
    let below = rows.len().saturating_sub(start + shown);
    let (wide, detail_w) = (plan.wide, plan.detail_w);
    let mut title = String::from(" Health ");
    if s.faults_only {
        title.push_str("· faults only (x) ");
    }
    if start > 0 {
        title.push_str(&format!("· ↑{start} above "));
    }
    if wrap && below > 0 {
        title.push_str(&format!("· ↓{below} more (j/k scroll) "));
    }
    // The panel is a summary: what the health view adds to it counts as not shown.
    let hidden = if wrap {
        0
    } else {
        shown_rows(s, true).len().saturating_sub(shown)
    };
    if hidden > 0 {
        title.push_str(&format!("· {hidden} more (g h shows all) "));
    }
    let rows: Vec<HealthRow> = plan.rows.into_iter().skip(start).collect();
    let b = block(title, focused, theme);
    let inner = b.inner(area);
    f.render_widget(b, area);
    if rows.is_empty() {
        f.render_widget(
            Paragraph::new("No faults.").style(theme.style("muted")),
            inner,
        );
        return;
    }
    // Below 110 columns the Kind and Errors columns give their room to the detail.
    let keep = |cells: Vec<Cell<'static>>| -> Vec<Cell<'static>> {
        if wide {
            cells
        } else {
            cells
                .into_iter()
                .enumerate()
                .filter(|(i, _)| *i != 2 && *i != 4)
                .map(|(_, c)| c)
                .collect()
        }
    };
    let header = Row::new(keep(
        ["Component", "Status", "Kind", "Last", "Errors", "Detail"]
            .map(Cell::from)
            .to_vec(),
    ))
    .style(theme.style("header"));
    // The detail takes what the other columns leave: wrapped in the health view, cut with
    // an ellipsis in the dashboard's panel.
    let body = rows.into_iter().map(|r| {
        let detail = crate::domain::text::sanitize(&r.health.detail);
        let detail: Vec<Line<'static>> = if wrap {
            wrap_words(&detail, detail_w)
                .into_iter()
                .map(Line::from)
                .collect()
        } else {
            vec![Line::from(fit(&detail, detail_w).into_owned())]
        };
        let height = u16::try_from(detail.len()).unwrap_or(1).max(1);
        let (label, role) = match r.health.status {
            HealthStatus::Ok => ("ok", "health_ok"),
            HealthStatus::Degraded => ("degraded", "health_degraded"),
            HealthStatus::Down => ("DOWN", "health_down"),
        };
        Row::new(keep(vec![
            Cell::from(r.name),
            Cell::from(styled(label, role, theme)),
            Cell::from(crate::domain::text::sanitize(&r.health.kind)),
            Cell::from(r.last),
            Cell::from(r.errors),
            Cell::from(detail),
        ]))
        .height(height)
    });
    let widths: Vec<Constraint> = fixed_widths(wide)
        .iter()
        .map(|&w| Constraint::Length(w))
        .chain([Constraint::Min(10)])
        .collect();
    let table = Table::new(body, widths).header(header).column_spacing(1);
    f.render_widget(table, inner);
}

/// The Keepa token balance over the last hour, one bar a minute, newest on the right.
pub(super) fn token_sparkline(f: &mut Frame<'_>, area: Rect, s: &UiState, theme: &Theme) {
    let values = s.tokens.per_minute();
    let (Some(&now), Some(&lo), Some(&hi)) =
        (values.last(), values.iter().min(), values.iter().max())
    else {
        return;
    };
    let span = match s.tokens.since() {
        Some(t) if values.len() < crate::tui::state::TokenTrail::MINUTES => {
            format!("since {}", t.format("%H:%M"))
        }
        _ => "last hour".to_string(),
    };
    let refill = s
        .status
        .keepa
        .refill_rate
        .map_or_else(String::new, |r| format!(" · +{}/min", signed_thousands(r)));
    let title = format!(
        " Tokens · {span} · now {} · low {} · high {}{refill} ",
        signed_thousands(now),
        signed_thousands(lo),
        signed_thousands(hi)
    );
    let b = block(title, false, theme);
    let inner = b.inner(area);
    f.render_widget(b, area);
    // The newest minutes that fit, right-aligned: the right edge is now.
    let w = usize::from(inner.width);
    let shown = &values[values.len().saturating_sub(w)..];
    // Drawn from a quarter of the range below the low (at least a twentieth of the high,
    // never below zero): a balance that fell from 3,000 to 0 fills the height down to an
    // empty bar at zero, one that moved between 177,800 and 178,000 stays nearly flat, and
    // a low above zero keeps a bar, so "now" at the low never reads as no data.
    let base = (lo - ((hi - lo) / 4).max(hi / 20)).max(0);
    let data: Vec<u64> = shown.iter().map(|v| (v - base + 1) as u64).collect();
    let pad = (w - shown.len()) as u16;
    let r = Rect {
        x: inner.x + pad,
        width: inner.width - pad,
        ..inner
    };
    f.render_widget(
        ratatui::widgets::Sparkline::default()
            .data(&data)
            .max((hi - base + 1) as u64)
            .style(theme.style("accent")),
        r,
    );
}
