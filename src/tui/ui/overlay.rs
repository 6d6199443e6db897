//! Everything drawn over the dashboard: help, the which-key popup, the confirmation box
//! and toasts (the footer under them is `footer.rs`).

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Borders, Cell, Paragraph, Row, Table, TableState, Wrap};

use unicode_width::UnicodeWidthStr;

use super::{block, fit, styled};
use crate::tui::keymap::{Keymap, show_keys};
use crate::tui::state::{Overlay, UiState};
use crate::tui::theme::Theme;

/// One line of the help overlay.
#[derive(Clone, Debug, PartialEq)]
pub struct HelpEntry {
    /// Keys (`g h`), or `:id` for actions only reachable from the command line.
    pub keys: String,
    /// The command (`goto health`).
    pub run: String,
    /// Description.
    pub desc: String,
    /// Bound by the user's keymap.
    pub user: bool,
    /// Where it applies.
    pub context: &'static str,
}

pub(super) fn render(f: &mut Frame<'_>, area: Rect, s: &UiState, theme: &Theme, keymap: &Keymap) {
    // Toasts first: what waits for a key (help, a confirmation, the keys that may follow
    // a chord's first) is drawn over them.
    toasts(f, area, s, theme);
    match &s.overlay {
        Some(Overlay::Help { filter, selected }) => {
            help(f, area, s, theme, keymap, filter, *selected)
        }
        Some(Overlay::Confirm(c)) => {
            // Wrapped on a narrow screen: the `y/N` at its end must show.
            let w = (c.question.chars().count() as u16 + 4).min(area.width);
            let lines = super::wrap_words(&c.question, usize::from(w.saturating_sub(4)));
            let h = (lines.len() as u16 + 2).min(area.height);
            let r = centered(area, w, h);
            super::clear(f, r, theme);
            let b = block(" Confirm ", true, theme);
            let inner = b.inner(r);
            f.render_widget(b, r);
            let text: Vec<Line<'_>> = lines.into_iter().map(Line::from).collect();
            f.render_widget(Paragraph::new(text), inner);
        }
        _ => {}
    }
    if let Some(first) = s.pending_keys.first() {
        let options = keymap.continuations(s.context(), *first);
        if !options.is_empty() {
            let h = (options.len() as u16 + 2).min(area.height.saturating_sub(2));
            let w = 36.min(area.width);
            let r = Rect::new(
                area.right().saturating_sub(w),
                area.bottom().saturating_sub(h + 1),
                w,
                h,
            );
            super::clear(f, r, theme);
            let b = block(format!(" {} … ", first), true, theme);
            let inner = b.inner(r);
            f.render_widget(b, r);
            let lines: Vec<Line<'_>> = options
                .iter()
                .map(|b| {
                    Line::from(vec![
                        styled(show_keys(&b.keys[1..]), "key_hint", theme),
                        Span::raw(format!("  {}", b.desc)),
                    ])
                })
                .collect();
            f.render_widget(Paragraph::new(lines), inner);
        }
    }
}

fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width);
    let h = h.min(area.height);
    Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    )
}

fn help(
    f: &mut Frame<'_>,
    area: Rect,
    s: &UiState,
    theme: &Theme,
    keymap: &Keymap,
    filter: &str,
    selected: usize,
) {
    let entries = super::help_entries(s, keymap, filter);
    let r = centered(
        area,
        area.width.saturating_sub(4).min(120),
        area.height.saturating_sub(2),
    );
    super::clear(f, r, theme);
    let title = if filter.is_empty() {
        let long = format!(
            " Help · {} · type to filter, Enter runs, Esc or ? closes ",
            s.context().name()
        );
        // Whole or short, never cut mid-word by the border.
        if long.width() + 2 <= usize::from(r.width) {
            long
        } else {
            format!(" Help · {} ", s.context().name())
        }
    } else {
        format!(" Help · /{filter} ")
    };
    let b = block(title, true, theme);
    let inner = b.inner(r);
    // Where the selection is when the list does not fit (the header takes a line).
    let b = if entries.len() > usize::from(inner.height.saturating_sub(1)) {
        b.title_bottom(
            Line::from(styled(
                format!(
                    " {}/{} · ↑↓ PgUp PgDn Home End ",
                    selected + 1,
                    entries.len()
                ),
                "muted",
                theme,
            ))
            .right_aligned(),
        )
    } else {
        b
    };
    f.render_widget(b, r);
    if entries.is_empty() {
        f.render_widget(
            Paragraph::new(format!("No action matches '{filter}'."))
                .style(theme.style("muted"))
                .wrap(Wrap { trim: true }),
            inner,
        );
        return;
    }
    // A column of space before the right border, as the left one has the key column's.
    let inner = Rect {
        width: inner.width.saturating_sub(1),
        ..inner
    };
    // Key, command and context columns as wide as their longest entry (within limits);
    // what a description does not fit on one line it continues on the next.
    let widest = |w: &dyn Fn(&HelpEntry) -> usize, lo: usize, hi: usize| {
        let w = entries.iter().map(w).max().unwrap_or(lo).clamp(lo, hi);
        u16::try_from(w).unwrap_or(u16::MAX)
    };
    let keys_hi = usize::from(inner.width / 4).clamp(12, super::HELP_KEYS_MAX);
    let keys_w = widest(&|e| e.keys.width() + if e.user { 2 } else { 0 }, 4, keys_hi);
    let mut run_w = widest(&|e| e.run.width(), 7, 32);
    let mut where_w = widest(&|e| e.context.width(), 5, 12);
    // Short of room the Where column goes first, then the command column narrows: cells
    // are cut with `…` to the widths drawn, never mid-word by the table.
    const DESC_MIN: u16 = 20;
    if keys_w + run_w + where_w + 3 + DESC_MIN > inner.width {
        where_w = 0;
    }
    if keys_w + run_w + where_w + 3 + DESC_MIN > inner.width {
        run_w = inner.width.saturating_sub(keys_w + 3 + DESC_MIN).max(7);
    }
    let desc_w = inner
        .width
        .saturating_sub(keys_w + run_w + where_w + 3)
        .max(DESC_MIN);
    // A row taller than the list would not be drawn at all: its description is cut.
    let max_h = usize::from(inner.height.saturating_sub(1).max(1));
    let here = s.context().name();
    let rows = entries.iter().map(|e| {
        let keys = if e.user {
            format!("{} *", e.keys)
        } else {
            e.keys.clone()
        };
        let mut wrapped = super::wrap_words(&e.desc, usize::from(desc_w));
        if wrapped.len() > max_h {
            wrapped.truncate(max_h);
            if let Some(last) = wrapped.last_mut() {
                let room = usize::from(desc_w).saturating_sub(1);
                *last = format!("{}…", fit(last, room).trim_end_matches('…'));
            }
        }
        let desc: Vec<Line<'_>> = wrapped
            .into_iter()
            .map(|l| Line::from(Span::styled(l, theme.style("muted"))))
            .collect();
        let height = u16::try_from(desc.len()).unwrap_or(1).max(1);
        Row::new(vec![
            Cell::from(styled(
                fit(&keys, usize::from(keys_w)).into_owned(),
                "key_hint",
                theme,
            )),
            Cell::from(fit(&e.run, usize::from(run_w)).into_owned()),
            Cell::from(desc),
            // Said where it is not here (the title names here): a `table` beside a
            // description wrapped over two lines read as part of it.
            Cell::from(if where_w > 0 && e.context != here {
                e.context
            } else {
                ""
            }),
        ])
        .height(height)
    });
    let t = Table::new(
        rows,
        [
            Constraint::Length(keys_w),
            Constraint::Length(run_w),
            Constraint::Min(DESC_MIN),
            Constraint::Length(where_w),
        ],
    )
    .header(
        Row::new([
            "Keys",
            "Command",
            "What it does",
            if where_w > 0 { "Where" } else { "" },
        ])
        .style(theme.style("header")),
    )
    .column_spacing(1)
    .row_highlight_style(theme.style("selection"));
    let mut ts = TableState::default().with_selected(Some(selected));
    f.render_stateful_widget(t, inner, &mut ts);
}

fn toasts(f: &mut Frame<'_>, area: Rect, s: &UiState, theme: &Theme) {
    // Help covers the screen, and a prompt's message sits where toasts go: what the
    // operator is reading or typing matters more; toasts wait under them.
    if matches!(s.overlay, Some(Overlay::Help { .. } | Overlay::Prompt(_))) {
        return;
    }
    // Inside the frame: above the bottom border and the footer, clear of the right border,
    // newest lowest. A long toast wraps (a path or a fix is the part that matters), up to
    // `TOAST_LINES` lines.
    const TOAST_LINES: usize = 3;
    let text_w = usize::from(area.width.saturating_sub(6)).min(100);
    if text_w < 8 || area.height < 6 {
        return;
    }
    // The detail drawer fills the body (a small screen, the detail opened): the newest
    // toast goes over the tiles on one line, so the P&L being read stays in view.
    let areas = super::layout(s);
    if let (true, Some(tiles), Some(newest)) = (
        s.detail_open && !super::shows_detail_beside(s.size),
        areas.tiles,
        s.toasts.back(),
    ) && tiles.height >= 3
    {
        // One line boxed; a longer one takes the three rows, between side borders only.
        let text = crate::domain::text::sanitize(&newest.text);
        let w = usize::from(tiles.width).saturating_sub(4);
        let mut lines = super::wrap_words(&text, w);
        let borders = if lines.len() == 1 {
            Borders::ALL
        } else {
            if lines.len() > 3 {
                lines.truncate(3);
                if let Some(last) = lines.last_mut() {
                    *last = format!("{}…", fit(last, w.saturating_sub(1)).trim_end_matches('…'));
                }
            }
            Borders::LEFT | Borders::RIGHT
        };
        let r = Rect::new(tiles.x, tiles.y, tiles.width, 3);
        draw_toast(f, r, lines, newest.error, borders, theme);
        return;
    }
    // Newest lowest, above the footer; but when the selected row would be under them,
    // they stack from the top of the table down instead, clear of it.
    // At most a third of the screen, so a burst (a few products fetched at once) leaves
    // the table readable; the newest always shows.
    let most = (area.height / 3).min(area.height.saturating_sub(4));
    let mut boxes: Vec<(Vec<String>, bool)> = Vec::new();
    let mut height = 0u16;
    for t in s.toasts.iter().rev() {
        let text = crate::domain::text::sanitize(&t.text);
        let mut lines = super::wrap_words(&text, text_w);
        if lines.len() > TOAST_LINES {
            lines.truncate(TOAST_LINES);
            if let Some(last) = lines.last_mut() {
                *last = format!("{}…", fit(last, text_w - 1).trim_end_matches('…'));
            }
        }
        let h = lines.len() as u16 + 2;
        if height + h > area.height.saturating_sub(4) || (!boxes.is_empty() && height + h > most) {
            break;
        }
        height += h;
        boxes.push((lines, t.error));
    }
    let bottom = area.bottom().saturating_sub(3);
    let selected_y = areas
        .table
        .filter(|_| s.view_kind == crate::tui::action::View::Opportunities)
        .map(|t| t.y + 2 + s.selected.saturating_sub(s.offset) as u16);
    let from_top = selected_y.is_some_and(|y| y + height > bottom && y <= bottom);
    let mut y = if from_top {
        area.y + 1
    } else {
        (bottom + 1).saturating_sub(height)
    };
    // Drawn top to bottom: from the top the newest first, at the bottom the newest last.
    if !from_top {
        boxes.reverse();
    }
    for (lines, error) in boxes {
        let h = lines.len() as u16 + 2;
        let inner_w = lines.iter().map(|l| l.width()).max().unwrap_or(0);
        let w = inner_w as u16 + 4;
        let r = Rect::new(area.right().saturating_sub(w + 1), y, w, h);
        y += h;
        draw_toast(f, r, lines, error, Borders::ALL, theme);
    }
}

/// One toast in `r`: a rounded box around a solid badge, so it reads apart from the panel
/// it covers in any theme, and in a plain-text capture too.
fn draw_toast(
    f: &mut Frame<'_>,
    r: Rect,
    lines: Vec<String>,
    error: bool,
    borders: Borders,
    theme: &Theme,
) {
    super::clear(f, r, theme);
    let style = theme.style(if error { "toast_err" } else { "toast_ok" });
    let frame = Block::default()
        .borders(borders)
        .border_type(BorderType::Rounded)
        .border_style(style);
    let inside = frame.inner(r);
    f.render_widget(frame, r);
    let inner_w = usize::from(inside.width.saturating_sub(2));
    let body: Vec<Line<'_>> = lines
        .into_iter()
        .map(|l| {
            let pad = inner_w.saturating_sub(l.width());
            Line::from(format!(" {l}{} ", " ".repeat(pad)))
        })
        .collect();
    f.render_widget(
        Paragraph::new(body).style(style.add_modifier(Modifier::REVERSED)),
        inside,
    );
}
