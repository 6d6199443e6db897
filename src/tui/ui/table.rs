//! The opportunities table: only the visible window of rows is built.

use ratatui::Frame;
use ratatui::layout::{Alignment, Constraint, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Table, TableState, Wrap};

use super::{age, block, fit, styled};
use crate::tui::action::Column;
use crate::tui::model::{self, MAX_ROWS, store_sort};
use crate::tui::state::{Focus, UiState};
use crate::tui::theme::Theme;

mod columns;

pub use columns::columns;
use columns::{fit_number, keeps_arrow_cell, numeric};

/// The widest a filter is echoed (title, empty-table message); the prompt shows all of it.
const FILTER_ECHO: usize = 40;

pub(super) fn render(f: &mut Frame<'_>, area: Rect, s: &UiState, theme: &Theme) {
    let focused = s.focus == Focus::Table && !s.detail_open;
    let feed = &s.feed;
    let mut title = vec![Span::raw(" Opportunities ")];
    let shown = s.view().len();
    let matching = s.matching.len();
    let n = |v: usize| super::thousands(v as u64);
    title.push(styled(
        // While the store answers a filter, the loaded rows give only a lower bound.
        if !s.filter_text.is_empty() && s.loading && matching == 0 {
            "… matching ".to_string()
        } else if !s.filter_text.is_empty() && s.loading {
            format!("{}+ matching ", n(matching))
        } else if !s.filter_text.is_empty() && matching > shown {
            format!("{} of {} matching ", n(shown), n(matching))
        } else if !s.filter_text.is_empty() {
            format!("{} matching ", n(matching))
        } else if feed.total as usize > shown {
            format!("{} of {} ", n(shown), super::thousands(feed.total))
        } else {
            format!("{} ", n(shown))
        },
        "muted",
        theme,
    ));

    // At the last row the limit lets through, say that the limit is why the table ends
    // (after the filter's echo, which the count reads with: "25 of 191 matching /kettle").
    let beyond = if !s.filter_text.is_empty() {
        (!s.loading).then(|| matching.saturating_sub(shown))
    } else {
        Some((feed.total as usize).saturating_sub(shown))
    };
    let visible = usize::from(area.height.saturating_sub(3)); // borders and the header
    let limited = crate::tui::action::ROW_LIMITS
        .get(s.limit)
        .is_some_and(Option::is_some);
    if !s.filter_text.is_empty() {
        // A long filter is shown by its start: the title keeps room for what follows.
        title.push(styled(
            format!("/{} ", super::fit(&s.filter_text, FILTER_ECHO)),
            "filter_active",
            theme,
        ));
    }
    // Of them, those that pass every gate (marked `+`; the rest, `!`, fail one): ranked
    // first in the default order, so a larger figure further down is not a mistake.
    let ranked = if s.filter_text.is_empty() {
        feed.ranked.map(|r| (r, feed.total))
    } else if !s.loading {
        let rows = &feed.rows;
        let r = s
            .matching
            .iter()
            .filter(|&&i| rows.get(i as usize).is_some_and(|r| r.ranked))
            .count();
        Some((r as u64, matching as u64))
    } else {
        None
    };
    match ranked {
        Some((r, of)) if r >= of && of > 0 => {
            title.push(styled("· all ranked ", "muted", theme));
        }
        Some((r, of)) if of > 0 => {
            title.push(styled(
                format!("· {} ranked ", super::thousands(r)),
                "muted",
                theme,
            ));
        }
        _ => {}
    }
    if let Some(more) = beyond.filter(|m| *m > 0 && limited && s.offset + visible >= shown) {
        title.push(styled(
            format!("· :limit all shows {} more ", n(more)),
            "muted",
            theme,
        ));
    }
    // A column the store cannot order by (or orders one way only: age) is sorted in
    // memory, over the rows loaded: with more in the store, said (shorter where the whole
    // note does not fit: cut, "sorted" alone would read as the opposite).
    let in_memory = store_sort(s.sort).is_none_or(|(_, forced)| forced.is_some());
    if in_memory && feed.total as usize > feed.rows.len() {
        let whole = format!("· sorted within the {} loaded ", n(feed.rows.len()));
        let text = whole_or_short(&title, area.width, whole, "· partly sorted ".to_string());
        title.push(styled(text, "muted", theme));
    }
    // "All" loads at most so many rows: said, or the count reads as a limit not applied.
    if !limited && s.filter_text.is_empty() && feed.total as usize > shown && shown >= MAX_ROWS {
        let whole = format!("· loads {} at most ", n(MAX_ROWS));
        let text = whole_or_short(&title, area.width, whole, format!("· max {} ", n(MAX_ROWS)));
        title.push(styled(text, "muted", theme));
    }
    // Narrow, the state alone: the keys' hints would push the rest off the title (the
    // footer and the help say them).
    let roomy = area.width >= 100;
    if !s.marked.is_empty() {
        let (n, shown) = (s.marked.len(), s.marked_shown());
        let text = match (shown == n, roomy) {
            (true, true) => format!("· {n} marked (e exports them) "),
            (true, false) => format!("· {n} marked "),
            (false, true) => format!("· {n} marked, {} hidden by the filters ", n - shown),
            (false, false) => format!("· {n} marked, {} hidden ", n - shown),
        };
        title.push(styled(text, "muted", theme));
    }
    if s.zoom {
        let text = if roomy {
            "· zoomed (z or Esc returns) "
        } else {
            "· zoomed "
        };
        title.push(styled(text, "muted", theme));
    }
    if s.offset > 0 {
        // Scrolled down: the rows above are not on screen, and the top row is not the best.
        title.push(styled(format!("· ↑{} above ", n(s.offset)), "muted", theme));
    }
    if s.dropped > 0 {
        title.push(styled(format!("· −{} left ", s.dropped), "muted", theme));
    }
    if s.loading {
        title.push(styled("· loading… ", "muted", theme));
    }
    if let Some(e) = &feed.error {
        title.push(styled(format!("store error: {e} "), "toast_err", theme));
    } else if !s.view().is_empty() && s.store_down() {
        // The rows were read before the store went down: nothing newer can come.
        title.push(styled(
            "· as last read, the store is down ",
            "toast_err",
            theme,
        ));
    }
    // The expected monthly profit sorts ranked rows (every gate passed) before the rest:
    // said, or a high EMP below a lower one reads as a wrong order.
    // (Only whole, where it fits.)
    let text = if s.descending {
        "· ranked rows first "
    } else {
        "· unranked rows first "
    };
    if s.sort == Column::Emp && !s.view().is_empty() && fits(&title, area.width, text, 4) {
        title.push(styled(text, "muted", theme));
    }
    // Without the sidebar on screen, the markets and the minimum margin that shape the rows
    // are said here (last: cut first when the title is too long).
    if super::layout(s).sidebar.is_none() {
        for (side, on) in [("buy", &s.buy), ("sell", &s.sell)] {
            if on.len() < s.session.markets.len() {
                let names: Vec<&str> = on.iter().map(|m| m.code()).collect();
                let names = if names.is_empty() {
                    "none".to_string()
                } else {
                    names.join(",")
                };
                title.push(styled(format!("· {side} {names} "), "muted", theme));
            }
        }
        title.push(styled(
            format!("· ≥{:.1} % {} ", s.min_margin, s.basis.id()),
            "muted",
            theme,
        ));
    }
    let b = block(Line::from(title), focused, theme);
    let inner = b.inner(area);
    f.render_widget(b, area);
    if inner.width == 0 || inner.height == 0 {
        return;
    }
    if s.view().is_empty() {
        let msg = empty_message(s);
        f.render_widget(
            Paragraph::new(msg)
                .style(theme.style("muted"))
                .alignment(Alignment::Center)
                .wrap(Wrap { trim: true }),
            inner,
        );
        return;
    }
    let cols = columns(inner.width, s.sort);
    let header = Row::new(
        std::iter::once(Cell::from("")).chain(cols.iter().map(|(c, _)| header_cell(*c, s, theme))),
    )
    .style(theme.style("header"));
    let h = usize::from(inner.height.saturating_sub(1));
    let start = s.offset.min(s.view().len());
    let end = (start + h).min(s.view().len());
    let rows = s.view()[start..end].iter().filter_map(|&i| {
        let r = feed.rows.get(i as usize)?;
        Some(row(r, &cols, s, theme))
    });
    let mut widths: Vec<Constraint> = vec![Constraint::Length(2)];
    widths.extend(cols.iter().map(|(_, w)| Constraint::Length(*w)));
    let table = Table::new(rows, widths)
        .header(header)
        .column_spacing(1)
        .row_highlight_style(theme.style("selection"));
    let mut ts = TableState::default().with_selected(s.selected.checked_sub(start));
    f.render_stateful_widget(table, inner, &mut ts);
    if s.session.hyperlinks {
        // Each ASIN links to its product page in the sell market, as `y` copies it.
        let asin_w = cols.first().map_or(0, |(_, w)| *w).min(10);
        for (i, &r) in s.view()[start..end].iter().enumerate() {
            let Some(r) = feed.rows.get(r as usize) else {
                continue;
            };
            let cell = Rect::new(inner.x + FIRST_COLUMN, inner.y + 1 + i as u16, asin_w, 1);
            super::detail::hyperlink(f.buffer_mut(), cell.intersection(inner), &r.sell_url());
        }
    }
}

/// Where the first column (the ASIN) starts in a row: after the 2-cell gutter (mark and
/// state) and its spacing.
const FIRST_COLUMN: u16 = 3;

/// What a click hits in the opportunities table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TableHit {
    /// A column's header.
    Header(Column),
    /// The row at this index of the view.
    Row(usize),
}

/// What the cell at (`x`, `y`) is in the table drawn in `area` for `s`, laid out as
/// [`draw`] lays it out: a border, the header line, the rows from `s.offset`; the gutter,
/// then the columns, one cell apart.
pub fn hit(s: &UiState, area: Rect, x: u16, y: u16) -> Option<TableHit> {
    let inner = ratatui::widgets::Block::bordered().inner(area);
    if !inner.contains(ratatui::layout::Position::new(x, y)) || s.view().is_empty() {
        return None;
    }
    if y > inner.y {
        let i = s.offset + usize::from(y - inner.y - 1);
        return (i < s.view().len()).then_some(TableHit::Row(i));
    }
    // Each column is followed by one cell of spacing.
    let mut left = inner.x + FIRST_COLUMN;
    for (c, w) in columns(inner.width, s.sort) {
        if x >= left && x < left + w {
            return Some(TableHit::Header(c));
        }
        left += w + 1;
    }
    None
}

/// Whether `text` fits after `title` on a border `width` wide, leaving `room` cells.
fn fits(title: &[Span<'_>], width: u16, text: &str, room: usize) -> bool {
    let used: usize = title.iter().map(Span::width).sum();
    used + unicode_width::UnicodeWidthStr::width(text) + room <= usize::from(width)
}

/// `whole` when it fits after `title` on a border `width` wide, else `short`: a note cut
/// at the border can read as its opposite ("sorted").
fn whole_or_short(title: &[Span<'_>], width: u16, whole: String, short: String) -> String {
    if fits(title, width, &whole, 2) {
        whole
    } else {
        short
    }
}

/// A column's header. A figure's label ends where its figures do, and the cell after them,
/// kept on the rows for the change arrow, holds the sort arrow (`EMP €▼`): sorting widens
/// nothing. The age's label ends at its edge, the sort arrow right before it; a text column's
/// label starts where its text does, the sort arrow after it.
fn header_cell<'a>(c: Column, s: &UiState, theme: &Theme) -> Cell<'a> {
    let sorted = c == s.sort;
    let arrow = || {
        let glyph = if s.descending { "▼" } else { "▲" };
        styled(glyph, "sort_indicator", theme)
    };
    let label = Span::raw(c.label());
    let line = if keeps_arrow_cell(c) {
        let last = if sorted { arrow() } else { Span::raw(" ") };
        Line::from(vec![label, last]).alignment(Alignment::Right)
    } else if numeric(c) {
        // Against its label (`▲Age`): with a space between, it read as the arrow of the
        // column to its left.
        let mut spans = if sorted { vec![arrow()] } else { Vec::new() };
        spans.push(label);
        Line::from(spans).alignment(Alignment::Right)
    } else {
        let mut spans = vec![label];
        if sorted {
            spans.extend([Span::raw(" "), arrow()]);
        }
        Line::from(spans)
    };
    Cell::from(line)
}

fn empty_message(s: &UiState) -> String {
    if let Some(e) = &s.feed.error {
        return format!("The store did not answer: {e}");
    }
    // Nothing to show yet, or an answer to the query in force is still on its way: no
    // advice about margins or filters until it has come.
    if s.feed.at.is_none() || s.loading {
        return "Loading…".into();
    }
    if s.feed.stats.total_products == 0 {
        // Say why nothing comes when Keepa is the reason, rather than "fetching".
        let k = &s.status.keepa;
        if let Some(why) = &k.stopped {
            return format!(
                "No products yet: Keepa requests are stopped: {why}. g h shows the health."
            );
        }
        // Nothing to fetch, and nothing that would find some: say what to do (first:
        // Keepa answering would not change it).
        let discovers = s.status.refresh.as_ref().is_some_and(|p| p.discovery);
        if s.feed.stats.watchlist == 0 && s.status.refresh.is_some() && !discovers {
            return "No products yet: the watchlist is empty and discovery is off. Add ASINs \
                    or product links with a (or arbdesk watch add), or name best-seller lists \
                    in [discovery] categories."
                .into();
        }
        if k.last_success.is_none() && k.errors > 0 {
            return format!(
                "No products yet: Keepa has not answered ({}); the client keeps retrying. g h shows the health.",
                k.last_error.as_deref().unwrap_or("no answer")
            );
        }
        return format!(
            "No products yet: the pipeline is fetching the watchlist ({} ASINs).",
            s.feed.stats.watchlist
        );
    }
    // One market to buy and sell in: no route can be, whatever the margin.
    if let ([b], [t]) = (s.buy.as_slice(), s.sell.as_slice())
        && b == t
    {
        return format!(
            "No route buys and sells in {b} alone: a route sells in another market than it \
             buys in. Add one with :sell (or :markets), or in the sidebar (Tab)."
        );
    }
    // Lowering the margin is advice only while it is above zero (`:min 0` would raise
    // a negative one).
    let lower = s.min_margin > 0.0;
    if s.filter_text.is_empty() {
        format!(
            "No opportunities at ≥{:.1} % {}.{}",
            s.min_margin,
            s.basis.id(),
            if lower {
                " Lower it with - or :min 0."
            } else {
                ""
            }
        )
    } else {
        // `title=` and `brand=` compare the whole text: a word of it is `title~word`, or
        // the word alone.
        let whole = s.filter_text.split_whitespace().find_map(|t| {
            let (field, word) = t.trim_start_matches('!').split_once('=')?;
            let field = field.to_ascii_lowercase();
            (matches!(field.as_str(), "title" | "brand") && !word.is_empty()).then(|| {
                format!(" ({field}= is the whole {field}: {field}~{word} finds a word in it)")
            })
        });
        // A product's routes, opened from the products view.
        if s.products.return_filter.is_some() {
            // The sidebar's markets narrow the routes first: say so before the basis.
            let all = s.session.markets.len();
            let codes = |ms: &[crate::domain::Market]| {
                ms.iter().map(|m| m.code()).collect::<Vec<_>>().join(" ")
            };
            let why = if s.buy.len() < all || s.sell.len() < all {
                format!(
                    " buying in {} and selling in {} ({}); :markets takes every market",
                    codes(&s.buy),
                    codes(&s.sell),
                    super::fit(&s.filter_text, FILTER_ECHO),
                )
            } else if s.basis == crate::tui::action::Basis::Net {
                format!(
                    " (/{}); :basis gross shows the routes with a gross margin only",
                    super::fit(&s.filter_text, FILTER_ECHO),
                )
            } else {
                format!(" (/{})", super::fit(&s.filter_text, FILTER_ECHO))
            };
            return format!(
                "No routes of this product at ≥{:.1} % {}{why}. Esc goes back to the products.",
                s.min_margin,
                s.basis.id(),
            );
        }
        // `ranked` left out rows that match the rest: say which gates they fail (a route
        // without customs, a stale rate), not only that nothing is there.
        let gates = match &s.unranked {
            Some((n, gates)) if *n > 0 => {
                let named: Vec<String> = gates
                    .iter()
                    .map(|(name, c)| format!("{name} {}", super::thousands(*c as u64)))
                    .collect();
                format!(
                    ": {} {} without `ranked`, none passing every gate (failed: {})",
                    super::thousands(*n as u64),
                    if *n == 1 { "row matches" } else { "rows match" },
                    named.join(", ")
                )
            }
            _ => String::new(),
        };
        format!(
            "No opportunities at ≥{:.1} % {} matching /{}{}{gates}. Esc clears the filter{}",
            s.min_margin,
            s.basis.id(),
            super::fit(&s.filter_text, FILTER_ECHO),
            whole.unwrap_or_default(),
            if lower {
                "; - or :min 0 lowers the margin."
            } else {
                "."
            }
        )
    }
}

fn row<'a>(r: &'a model::Row, cols: &[(Column, u16)], s: &UiState, theme: &Theme) -> Row<'a> {
    let delta = s.deltas.get(&r.key);
    // The gutter's two cells: `*` when marked, then unranked `!` (a failed gate; warnings
    // alone, such as NO_BUYBOX, mark nothing) or new `+` (a new route that fails a gate is
    // no news). Glyphs, not colour alone, so a marked row still says it is not ranked.
    let mark = if s.marked.contains(&r.key) {
        styled("*", "key_hint", theme)
    } else {
        Span::raw(" ")
    };
    let state = if !r.ranked {
        styled("!", "flag", theme)
    } else if delta.is_some_and(|d| d.new) {
        styled("+", "delta_good", theme)
    } else {
        Span::raw(" ")
    };
    let mut cells = vec![Cell::from(Line::from(vec![mark, state]))];
    for (c, w) in cols {
        let text: std::borrow::Cow<'a, str> = match c {
            Column::Age => age(s.now, r.fig.updated_at).into(),
            Column::Title => fit(r.cell(*c), usize::from(*w)),
            // One cell stays free for the change arrow.
            c if numeric(*c) => fit_number(r.cell(*c), usize::from(*w).saturating_sub(1)),
            _ => r.cell(*c).into(),
        };
        let style = cell_style(*c, r, theme);
        let mut spans = vec![Span::styled(text, style)];
        if let Some(ch) = delta.and_then(|d| d.cells.iter().find(|(dc, _)| dc == c)) {
            spans.push(styled(
                if ch.1.up { "↑" } else { "↓" },
                if ch.1.good { "delta_good" } else { "delta_bad" },
                theme,
            ));
        } else if keeps_arrow_cell(*c) {
            spans.push(Span::raw(" "));
        }
        let line = Line::from(spans);
        cells.push(Cell::from(if numeric(*c) {
            line.alignment(Alignment::Right)
        } else {
            line
        }));
    }
    let row = Row::new(cells);
    if r.flags
        .split(' ')
        .any(|f| f == crate::economics::gates::flag::STALE)
    {
        row.style(theme.style("stale"))
    } else {
        row
    }
}

fn cell_style(c: Column, r: &model::Row, theme: &Theme) -> Style {
    let money = |minor: i64| {
        theme.style(if minor < 0 {
            "profit_negative"
        } else if r.ranked {
            "profit_high"
        } else {
            "profit_low"
        })
    };
    match c {
        Column::Profit | Column::Net => money(r.fig.net.minor),
        Column::Roi => money(r.fig.net.minor),
        Column::Gross | Column::Margin => money(r.fig.gross.minor),
        _ => Style::default(),
    }
}
