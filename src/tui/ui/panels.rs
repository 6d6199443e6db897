//! Header, metric tiles, sidebar filters and the log view.

use ratatui::Frame;
use ratatui::layout::{Alignment, Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use super::{block, styled};
use crate::domain::text::{signed_thousands, thousands};
use crate::pipeline::Source;
use crate::tui::action::{LOG_LEVELS, ROW_LIMITS, limit_label};
use crate::tui::state::{Focus, UiState};
use crate::tui::theme::Theme;

/// The title bar. `health_shown`: a health panel or view is on screen, which shows the
/// components at fault itself.
pub(super) fn header(
    f: &mut Frame<'_>,
    area: Rect,
    s: &UiState,
    theme: &Theme,
    health_shown: bool,
) {
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
    // A store that cannot be reached shows on every screen, not only in the health panel:
    // nothing fetched meanwhile is stored.
    let store_down = s.store_down();
    if store_down {
        parts.push((0, Span::raw(" ")));
        parts.push((0, styled(" STORE DOWN · g h ", "bad", theme)));
    }
    // What the health panel would show at fault, where none is on screen (a small
    // terminal, another view): named, with where to look.
    // A store that is down and a Keepa client that stopped have badges of their own.
    let badged = store_down || s.status.keepa.stopped.is_some();
    if !health_shown
        && !badged
        && let Some((worst, names)) = super::health::faults(s)
    {
        let (word, style) = match worst {
            crate::component::HealthStatus::Down => ("down", "bad"),
            _ => ("degraded", "warn"),
        };
        parts.push((1, Span::raw(" ")));
        parts.push((
            1,
            styled(format!(" {} {word} · g h ", names.join(", ")), style, theme),
        ));
    }
    let codes: Vec<&str> = s.session.markets.iter().map(|m| m.code()).collect();
    parts.push((3, Span::raw(format!("  {}", codes.join(" ")))));
    let k = &s.status.keepa;
    // Requests stopped (a rejected key, no plan): a balance shown as usual would read as
    // fetching.
    if k.stopped.is_some() {
        parts.push((0, Span::raw(" ")));
        parts.push((0, styled(" KEEPA STOPPED · g h ", "bad", theme)));
    }
    parts.push((
        2,
        styled(
            // The balance now: Keepa tells it with each answer, and it refills by the
            // minute since (as a refresh's estimate counts it). Seen long ago, it says so.
            match k.tokens_at(s.now) {
                Some(t) => match k.tokens_seen_at.map(|at| (s.now - at).num_seconds()) {
                    Some(age) if age >= 120 => format!(
                        "  tokens ~{} (seen {} ago)",
                        signed_thousands(t),
                        crate::domain::text::span(age)
                    ),
                    _ => format!("  tokens {}", signed_thousands(t)),
                },
                None => "  tokens –".to_string(),
            },
            "muted",
            theme,
        ),
    ));
    if let Some(r) = k.refill_rate {
        parts.push((
            4,
            styled(format!(" +{}/min", signed_thousands(r)), "muted", theme),
        ));
    }
    // Requests waiting for tokens show on every screen: refreshes are slower meanwhile.
    if let Some(until) = k.waiting_until.filter(|u| *u > s.now) {
        let wait = crate::domain::text::span((until - s.now).num_seconds().max(1));
        parts.push((2, styled(format!(" · waiting {wait}"), "warn", theme)));
    }
    if let Some(since) = s.frozen {
        parts.push((1, Span::raw("  ")));
        parts.push((
            1,
            styled(
                format!(
                    " FROZEN {} · {} newer ",
                    frozen_for(s.now, since),
                    s.frozen_pending
                ),
                "badge_readonly",
                theme,
            ),
        ));
    }
    let [left, right] =
        Layout::horizontal([Constraint::Min(0), Constraint::Length(14)]).areas(area);
    // Rank by rank, best first, each whole group that still fits (rank 0 always): one
    // that does not fit leaves its room to a lower one that does.
    let mut ranks: Vec<u8> = parts.iter().map(|(r, _)| *r).collect();
    ranks.sort_unstable();
    ranks.dedup();
    let mut kept = Vec::new();
    let mut used = 0;
    for rank in ranks {
        let w: usize = parts
            .iter()
            .filter(|(r, _)| *r == rank)
            .map(|(_, sp)| sp.width())
            .sum();
        if rank == 0 || used + w <= usize::from(left.width) {
            kept.push(rank);
            used += w;
        }
    }
    parts.retain(|(r, _)| kept.contains(r));
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
    // Under a `/` filter, the rows it matches, as the table's title counts them (a lower
    // bound while the store answers it). Otherwise every row of the table's query (its
    // markets and minimum margin), loaded or not, as the store answered it.
    let filtered = !s.filter_text.is_empty();
    let best = if filtered {
        s.best_matching
    } else {
        s.feed.best_gross.or(s.best_margin)
    };
    let opportunities = match (filtered, s.loading) {
        (true, true) => format!("{}+", thousands(s.matching.len() as u64)),
        (true, false) => thousands(s.matching.len() as u64),
        (false, _) => thousands(s.feed.total),
    };
    let markets_with_data = st.products_per_market.values().filter(|n| **n > 0).count();
    let k = &s.status.keepa;
    let rate = s
        .status
        .stage(crate::pipeline::Stage::Enrich)
        .map_or(0.0, |x| x.rate_per_s);
    // Below 120 columns each tile is ~13 cells wide: short labels and values.
    let wide = area.width >= 120;
    let tile = usize::from(area.width / 6).saturating_sub(2);
    // The short label below 120 columns, and a shorter one where even that would be cut
    // (a title takes its label and a space either side).
    let pick = |long: &'static str, short: &'static str, tiny: &'static str| {
        if wide {
            long
        } else if short.chars().count() + 2 <= tile {
            short
        } else {
            tiny
        }
    };
    let items: [(&str, String); 6] = [
        (
            pick("Products", "Products", "ASINs"),
            thousands(st.total_products),
        ),
        (pick("Opportunities", "Opps", "Opps"), opportunities),
        (
            pick("Markets", "Markets", "Mkts"),
            format!("{markets_with_data}/{}", s.session.markets.len()),
        ),
        (
            // Gross, whatever the basis: the figure /stats reports as best_gross_margin_pct.
            // (Below 120 columns a tile's title has 11 cells, padding included.)
            pick("Best gross", "Top gross", "Best"),
            best.map_or_else(|| "–".into(), |b| format!("{b:.2} %")),
        ),
        (
            pick("Keepa tokens", "Tokens", "Tokens"),
            match (k.tokens_at(s.now), k.refill_rate) {
                _ if k.stopped.is_some() => "stopped".into(),
                (Some(t), Some(r))
                    if format!("{} (+{}/min)", signed_thousands(t), signed_thousands(r))
                        .chars()
                        .count()
                        <= tile =>
                {
                    format!("{} (+{}/min)", signed_thousands(t), signed_thousands(r))
                }
                (Some(t), _) => signed_thousands(t),
                _ => "–".into(),
            },
        ),
        (
            pick("Throughput", "Rate", "Rate"),
            // Keepa updates (one product in one market) enriched a second over the last
            // minute (since start in the first), saying so where the tile has room.
            {
                let young = s
                    .status
                    .started_at
                    .is_some_and(|t| s.now - t < chrono::Duration::seconds(60));
                let (span, short) = if young {
                    ("since start", "avg")
                } else {
                    ("1 min", "1m")
                };
                // The span is kept as long as anything of it fits: a rate since start
                // falls as the start-up burst ages, and must not read as the current one.
                [
                    format!("{rate:.1} updates/s, {span}"),
                    format!("{rate:.1}/s, {span}"),
                    format!("{rate:.1}/s {short}"),
                ]
                .into_iter()
                .find(|v| v.chars().count() <= tile)
                .unwrap_or_else(|| format!("{rate:.1}/s"))
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
        lines.push(Line::from(styled("Space changes", "muted", theme)));
        lines.push(Line::from(styled("+/- margin", "muted", theme)));
    }
    // On a short screen the list scrolls to keep the cursor in view (the market lists
    // come after their headings).
    let c = s.sidebar_cursor;
    let cursor_line = c + usize::from(c >= 2) + usize::from(c >= 2 + k);
    let scroll = if focused {
        (cursor_line + 1).saturating_sub(usize::from(inner.height))
    } else {
        0
    };
    f.render_widget(
        Paragraph::new(lines).scroll((u16::try_from(scroll).unwrap_or(u16::MAX), 0)),
        inner,
    );
}

/// A log line's level (index into `LOG_LEVELS`), if it names one.
fn log_line_level(line: &str) -> Option<usize> {
    const MARKS: [&str; 5] = [" ERROR ", " WARN ", " INFO ", " DEBUG ", " TRACE "];
    MARKS.iter().position(|m| line.contains(m))
}

/// How long the view has been frozen, as a clock: `02:14`, `1:02:14` past an hour.
fn frozen_for(now: chrono::DateTime<chrono::Utc>, since: chrono::DateTime<chrono::Utc>) -> String {
    let s = (now - since).num_seconds().max(0);
    match s {
        0..3600 => format!("{:02}:{:02}", s / 60, s % 60),
        _ => format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60),
    }
}

/// Whether a log line is at `level` (index into `LOG_LEVELS`) or more severe.
pub(crate) fn log_line_visible(line: &str, level: usize) -> bool {
    log_line_level(line).is_none_or(|i| i <= level)
}

/// The log lines at the level shown, and those of them the search keeps.
/// Whether the log view shows `line`: at its level and above, and holding its search.
pub fn log_line_shown(s: &UiState, line: &str) -> bool {
    log_line_visible(line, s.log_level)
        && (s.log_search.is_empty() || line.to_lowercase().contains(&s.log_search.to_lowercase()))
}

fn shown_logs(s: &UiState) -> (Vec<&String>, Vec<&String>) {
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
    (at_level, lines)
}

/// How many of `lines` (oldest first) fit whole in a pane `h` rows high and `w` wide, long
/// lines wrapping as the log view wraps them (at least one, cut if it alone is taller).
fn oldest_page(lines: &[&String], h: usize, w: usize) -> usize {
    let (mut rows, mut n) = (0, 0);
    for l in lines {
        let tall = super::wrap_words(l, w.saturating_sub(2)).len();
        if n > 0 && rows + tall > h {
            break;
        }
        rows += tall;
        n += 1;
    }
    n
}

/// The farthest the log view scrolls up: to where its oldest lines fill the pane, wrapped
/// as drawn (the view's pane: the screen less the header, the footer and the borders).
pub fn log_scroll_limit(s: &UiState) -> usize {
    let (_, lines) = shown_logs(s);
    let (h, w) = (
        usize::from(s.size.1.saturating_sub(4)),
        usize::from(s.size.0.saturating_sub(2)),
    );
    lines.len().saturating_sub(oldest_page(&lines, h, w))
}

pub(super) fn logs(f: &mut Frame<'_>, area: Rect, s: &UiState, theme: &Theme) {
    let search = s.log_search.to_lowercase();
    let (at_level, lines) = shown_logs(s);
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
        match s.log_scroll {
            0 => "following".to_string(),
            1 => "1 line up".to_string(),
            n => format!("{n} lines up"),
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
    // Never scrolled past the oldest page: the pane shows it whole.
    let end = lines
        .len()
        .saturating_sub(s.log_scroll.min(lines.len()))
        .max(oldest_page(&lines, h, w));
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
