//! Header, metric tiles, sidebar filters, the health panel and the log view.

use ratatui::Frame;
use ratatui::layout::{Alignment, Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Table, Wrap};

use super::{age, block, fit, styled, wrap_words};
use crate::component::{ComponentHealth, HealthStatus};
use crate::domain::text::{signed_thousands, thousands};
use crate::pipeline::Source;
use crate::pipeline::health::{fx_health, keepa_component, pipeline_health, queue_health};
use crate::tui::action::{LOG_LEVELS, ROW_LIMITS, View, limit_label};
use crate::tui::state::{Focus, UiState};
use crate::tui::theme::Theme;

pub(super) fn header(f: &mut Frame<'_>, area: Rect, s: &UiState, theme: &Theme) {
    // Segments with their rank (0 = kept longest). What does not fit is dropped whole,
    // lowest rank first, so no number is ever cut short.
    let mut parts: Vec<(u8, Span<'_>)> = vec![
        (0, styled(" arbdesk ", "title", theme)),
        (0, Span::raw(" ")),
        (
            0,
            match s.session.source {
                Source::Live => styled(" LIVE ", "badge_live", theme),
                Source::Demo => styled(" DEMO ", "badge_demo", theme),
            },
        ),
    ];
    if s.session.read_only {
        parts.push((0, Span::raw(" ")));
        parts.push((0, styled(" READ-ONLY ", "badge_demo", theme)));
    }
    let codes: Vec<&str> = s.session.markets.iter().map(|m| m.code()).collect();
    parts.push((3, Span::raw(format!("  {}", codes.join(" ")))));
    let k = &s.status.keepa;
    parts.push((
        2,
        styled(
            match k.tokens_left {
                Some(t) => format!("  tokens {}", signed_thousands(t)),
                None => "  tokens –".to_string(),
            },
            "muted",
            theme,
        ),
    ));
    if let Some(r) = k.refill_rate {
        parts.push((4, styled(format!(" +{r}/min"), "muted", theme)));
    }
    if let Some(since) = s.frozen {
        parts.push((1, Span::raw("  ")));
        parts.push((
            1,
            styled(
                format!(
                    " FROZEN {} · {} newer ",
                    age(s.now, since),
                    s.frozen_pending
                ),
                "badge_readonly",
                theme,
            ),
        ));
    }
    let [left, right] =
        Layout::horizontal([Constraint::Min(0), Constraint::Length(14)]).areas(area);
    let width = |parts: &[(u8, Span<'_>)]| parts.iter().map(|(_, sp)| sp.width()).sum::<usize>();
    while width(&parts) > usize::from(left.width) {
        let Some(worst) = parts.iter().map(|(r, _)| *r).max().filter(|r| *r > 0) else {
            break;
        };
        parts.retain(|(r, _)| *r != worst);
    }
    let spans: Vec<Span<'_>> = parts.into_iter().map(|(_, sp)| sp).collect();
    f.render_widget(Paragraph::new(Line::from(spans)), left);
    f.render_widget(
        Paragraph::new(s.now.format("%H:%M:%S UTC ").to_string())
            .alignment(Alignment::Right)
            .style(theme.style("muted")),
        right,
    );
}

pub(super) fn tiles(f: &mut Frame<'_>, area: Rect, s: &UiState, theme: &Theme) {
    let st = &s.feed.stats;
    // Over the loaded rows when all are loaded; otherwise the loaded ones are only the top
    // of the current sort, and the store's best is the honest figure.
    let best = if s.feed.total <= s.feed.rows.len() as u64 {
        s.best_margin
    } else {
        st.best_gross_margin_pct.or(s.best_margin)
    };
    let markets_with_data = st.products_per_market.values().filter(|n| **n > 0).count();
    let k = &s.status.keepa;
    let rate = s.status.stages.get("enrich").map_or(0.0, |x| x.rate_per_s);
    // Below 120 columns each tile is ~13 cells wide: short labels and values.
    let wide = area.width >= 120;
    let pick = |long: &'static str, short: &'static str| if wide { long } else { short };
    let tile = usize::from(area.width / 6).saturating_sub(2);
    let items: [(&str, String); 6] = [
        (pick("Products", "Products"), thousands(st.total_products)),
        (pick("Opportunities", "Opps"), thousands(s.feed.total)),
        (
            pick("Markets", "Markets"),
            format!("{markets_with_data}/{}", s.session.markets.len()),
        ),
        (
            // Gross, whatever the basis: the figure /stats reports as best_gross_margin_pct.
            "Best gross",
            best.map_or_else(|| "–".into(), |b| format!("{b:.1} %")),
        ),
        (
            pick("Keepa tokens", "Tokens"),
            match (k.tokens_left, k.refill_rate) {
                (Some(t), Some(r))
                    if format!("{} (+{r}/min)", signed_thousands(t))
                        .chars()
                        .count()
                        <= tile =>
                {
                    format!("{} (+{r}/min)", signed_thousands(t))
                }
                (Some(t), _) => signed_thousands(t),
                _ => "–".into(),
            },
        ),
        (
            pick("Throughput", "Rate"),
            // Keepa updates (one product in one market) enriched a second over the last
            // minute (since start in the first), saying so where the tile has room.
            {
                let long = format!("{rate:.1} updates/s, 1 min");
                if long.chars().count() <= tile {
                    long
                } else if wide {
                    format!("{rate:.1} updates/s")
                } else {
                    format!("{rate:.1}/s")
                }
            },
        ),
    ];
    let cols = Layout::horizontal([Constraint::Ratio(1, 6); 6]).split(area);
    for ((label, value), r) in items.iter().zip(cols.iter()) {
        let b = block(styled(format!(" {label} "), "muted", theme), false, theme);
        let inner = b.inner(*r);
        f.render_widget(b, *r);
        f.render_widget(
            Paragraph::new(Span::styled(value.clone(), theme.style("title")))
                .alignment(Alignment::Center),
            inner,
        );
    }
}

pub(super) fn sidebar(f: &mut Frame<'_>, area: Rect, s: &UiState, theme: &Theme) {
    let focused = s.focus == Focus::Sidebar;
    let b = block(" Filters ", focused, theme);
    let inner = b.inner(area);
    f.render_widget(b, area);
    let cursor = |i: usize| focused && s.sidebar_cursor == i;
    let line = |i: usize, text: String| -> Line<'static> {
        if cursor(i) {
            Line::from(Span::styled(text, theme.style("selection")))
        } else {
            Line::from(text)
        }
    };
    let mut lines = vec![
        line(0, format!("Min margin {:>6.1} %", s.min_margin)),
        line(1, format!("Basis      {:>8}", s.basis.id())),
        Line::from(styled("Buy in", "muted", theme)),
    ];
    let k = s.session.markets.len();
    for (j, m) in s.session.markets.iter().enumerate() {
        let on = if s.buy.contains(m) { "[x]" } else { "[ ]" };
        lines.push(line(2 + j, format!(" {on} {}", m.code())));
    }
    lines.push(Line::from(styled("Sell in", "muted", theme)));
    for (j, m) in s.session.markets.iter().enumerate() {
        let on = if s.sell.contains(m) { "[x]" } else { "[ ]" };
        lines.push(line(2 + k + j, format!(" {on} {}", m.code())));
    }
    let limit = limit_label(ROW_LIMITS.get(s.limit).copied().flatten());
    lines.push(line(2 + 2 * k, format!("Rows       {limit:>8}")));
    if focused {
        // Two short lines: the sidebar is ~20 columns wide.
        lines.push(Line::from(styled("Space toggles", "muted", theme)));
        lines.push(Line::from(styled("+/- margin", "muted", theme)));
    }
    f.render_widget(Paragraph::new(lines), inner);
}

/// One row of the health panel.
struct HealthRow {
    name: String,
    health: ComponentHealth,
    last: String,
    errors: String,
}

fn health_rows(s: &UiState) -> Vec<HealthRow> {
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
    rows.push(HealthRow {
        name: "queue".into(),
        health: queue_health(st),
        last: String::new(),
        errors: st.dead_letters.to_string(),
    });
    let mut store = s.store_health.clone().unwrap_or_else(|| ComponentHealth {
        status: HealthStatus::Degraded,
        kind: "store".into(),
        detail: "not probed yet".into(),
        latency_ms: None,
    });
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
    rows.push(HealthRow {
        name: "api".into(),
        health: match &s.session.api_addr {
            Some(a) => {
                ComponentHealth::ok("http", format!("http://{a} · {} requests", s.api_requests))
            }
            None => ComponentHealth::ok("off", "not serving (--api-addr off)"),
        },
        last: String::new(),
        errors: "–".into(),
    });
    if let Some((median, slowest)) = s.frames.summary() {
        rows.push(HealthRow {
            name: "console".into(),
            health: ComponentHealth::ok(
                "terminal",
                format!(
                    "{}×{} · frame {median:.1} ms median, {slowest:.1} ms max of the last {} · \
                     {} drawn",
                    s.size.0,
                    s.size.1,
                    s.frames
                        .drawn
                        .min(crate::tui::state::FrameTimes::KEPT as u64),
                    s.frames.drawn
                ),
            ),
            last: String::new(),
            errors: "–".into(),
        });
    }
    let p = pipeline_health(st);
    let errors: u64 = st.stages.values().map(|x| x.errors).sum();
    rows.push(HealthRow {
        name: "pipeline".into(),
        health: p,
        last: st
            .stages
            .values()
            .filter_map(|x| x.last_at)
            .max()
            .map_or_else(String::new, |t| age(s.now, t)),
        errors: errors.to_string(),
    });
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
        if status == HealthStatus::Ok && s.view_kind != View::Health {
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
    rows
}

pub(super) fn health(f: &mut Frame<'_>, area: Rect, s: &UiState, theme: &Theme, focused: bool) {
    let mut rows = health_rows(s);
    if s.faults_only {
        rows.retain(|r| r.health.status != HealthStatus::Ok);
    }
    // Faults first (down, then degraded: `HealthStatus` orders by severity), so a short
    // panel never hides one below its edge.
    rows.sort_by_key(|r| std::cmp::Reverse(r.health.status));
    // Rows that fit below the header from the scroll position on (the health view
    // scrolls; the dashboard's panel shows its top, worst first).
    let wrap = s.view_kind == View::Health;
    let detail_w = usize::from(area.width.saturating_sub(2 + 14 + 8 + 15 + 8 + 6 + 5)).max(10);
    let height = |r: &HealthRow| -> usize {
        if wrap {
            wrap_words(&crate::domain::text::sanitize(&r.health.detail), detail_w)
                .len()
                .max(1)
        } else {
            1
        }
    };
    let room = usize::from(area.height.saturating_sub(3));
    let fits_from = |start: usize| {
        let mut used = 0;
        rows[start..]
            .iter()
            .take_while(|r| {
                used += height(r);
                used <= room
            })
            .count()
    };
    // The last start that still fills the panel: scrolling stops there.
    let last_start = (0..rows.len())
        .rev()
        .take_while(|&i| i + fits_from(i) == rows.len())
        .last()
        .unwrap_or(0);
    let start = if wrap {
        s.health_scroll.min(last_start)
    } else {
        0
    };
    let shown = fits_from(start)
        .max(1)
        .min(rows.len().saturating_sub(start));
    let below = rows.len().saturating_sub(start + shown);
    let mut title = String::from(" Health ");
    if s.faults_only {
        title.push_str("· faults only (x) ");
    }
    if start > 0 {
        title.push_str(&format!("· ↑{start} above "));
    }
    if below > 0 {
        let how = if wrap { "j/k scroll" } else { "g h shows all" };
        title.push_str(&format!("· ↓{below} more ({how}) "));
    }
    let rows: Vec<HealthRow> = rows.into_iter().skip(start).collect();
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
    let header = Row::new(["Component", "Status", "Kind", "Last", "Errors", "Detail"])
        .style(theme.style("header"));
    // The detail takes what the other columns leave: wrapped in the health view, cut with
    // an ellipsis in the dashboard's panel.
    let body = rows.into_iter().map(|r| {
        let detail = crate::domain::text::sanitize(&r.health.detail);
        let detail: Vec<Line<'_>> = if wrap {
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
        Row::new(vec![
            Cell::from(r.name),
            Cell::from(styled(label, role, theme)),
            Cell::from(crate::domain::text::sanitize(&r.health.kind)),
            Cell::from(r.last),
            Cell::from(r.errors),
            Cell::from(detail),
        ])
        .height(height)
    });
    let table = Table::new(
        body,
        [
            Constraint::Length(14),
            Constraint::Length(8),
            Constraint::Length(15),
            Constraint::Length(8),
            Constraint::Length(6),
            Constraint::Min(10),
        ],
    )
    .header(header)
    .column_spacing(1);
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
        .map_or_else(String::new, |r| format!(" · +{r}/min"));
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
    // Drawn over the low-to-high range, but never less than a twentieth of the high: a
    // balance that fell from 3,000 to 0 fills the height, one that moved between 177,800
    // and 178,000 stays nearly flat (from zero, either would be a row of full blocks).
    let base = (hi - (hi - lo).max(hi / 20)).max(0);
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

/// A log line's level (index into `LOG_LEVELS`), if it names one.
fn log_line_level(line: &str) -> Option<usize> {
    const MARKS: [&str; 5] = [" ERROR ", " WARN ", " INFO ", " DEBUG ", " TRACE "];
    MARKS.iter().position(|m| line.contains(m))
}

/// Whether a log line is at `level` (index into `LOG_LEVELS`) or more severe.
pub(crate) fn log_line_visible(line: &str, level: usize) -> bool {
    log_line_level(line).is_none_or(|i| i <= level)
}

pub(super) fn logs(f: &mut Frame<'_>, area: Rect, s: &UiState, theme: &Theme) {
    let search = s.log_search.to_lowercase();
    let at_level: Vec<&String> = s
        .logs
        .iter()
        .filter(|l| log_line_visible(l, s.log_level))
        .collect();
    let lines: Vec<&String> = at_level
        .iter()
        .copied()
        .filter(|l| search.is_empty() || l.to_lowercase().contains(&search))
        .collect();
    let level = LOG_LEVELS.get(s.log_level).copied().unwrap_or("info");
    // A level the file does not record adds nothing: say so, and how to record it.
    let recorded = LOG_LEVELS.get(s.log_recorded).copied().unwrap_or("info");
    let unrecorded = if s.log_level > s.log_recorded {
        format!(" (file: {recorded}+; --log {level} for more)")
    } else {
        String::new()
    };
    let title = format!(
        " Log · {level} and above{unrecorded}{} · {} ",
        if search.is_empty() {
            String::new()
        } else {
            format!(
                " · /{} · {} of {}",
                s.log_search,
                lines.len(),
                at_level.len()
            )
        },
        if s.log_scroll == 0 {
            "following".to_string()
        } else {
            format!("{} lines up", s.log_scroll)
        }
    );
    let b = block(title, true, theme);
    let inner = b.inner(area);
    f.render_widget(b, area);
    if lines.is_empty() {
        let hidden = s.logs.len() - at_level.len();
        let why = if s.logs.is_empty() {
            "No log lines yet.".to_string()
        } else if !search.is_empty() && !at_level.is_empty() {
            format!(
                "No log line at {level} and above contains '{}'. Esc clears the search.",
                s.log_search
            )
        } else {
            // Only the levels that have lines to show.
            let has_lines = |i: usize| s.logs.iter().any(|l| log_line_level(l) == Some(i));
            let keys: Vec<String> = (s.log_level + 1..=s.log_recorded)
                .filter(|&i| has_lines(i))
                .filter_map(|i| Some(format!("{} for {}", i + 1, LOG_LEVELS.get(i)?)))
                .collect();
            format!(
                "No log lines at {level} and above; {hidden} line{} below that level{}.",
                if hidden == 1 { " is" } else { "s are" },
                if keys.is_empty() {
                    String::new()
                } else {
                    format!(" (press {})", keys.join(", "))
                }
            )
        };
        f.render_widget(
            Paragraph::new(why)
                .style(theme.style("muted"))
                .wrap(Wrap { trim: true }),
            inner,
        );
        return;
    }
    // Long lines wrap (continuation rows indented); the newest line sits at the bottom
    // and the rows above fill from older lines back.
    let (h, w) = (usize::from(inner.height), usize::from(inner.width));
    let end = lines.len().saturating_sub(s.log_scroll.min(lines.len()));
    let mut rows: Vec<Line<'_>> = Vec::with_capacity(h);
    for l in lines[..end].iter().rev() {
        if rows.len() >= h {
            break;
        }
        let role = match log_line_level(l) {
            Some(0) => "toast_err",
            Some(1) => "flag",
            _ => "",
        };
        let wrapped = super::wrap_words(l, w.saturating_sub(2));
        for (i, part) in wrapped.into_iter().enumerate().rev() {
            let text = if i == 0 { part } else { format!("  {part}") };
            rows.push(if role.is_empty() {
                Line::from(text)
            } else {
                Line::from(styled(text, role, theme))
            });
        }
    }
    // The oldest line may not fit whole: its first rows go.
    rows.truncate(h);
    rows.reverse();
    let text = rows;
    f.render_widget(Paragraph::new(text), inner);
}
