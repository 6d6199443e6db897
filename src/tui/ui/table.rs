//! The opportunities table: only the visible window of rows is built.

use ratatui::Frame;
use ratatui::layout::{Alignment, Constraint, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Table, TableState, Wrap};

use super::{age, block, fit, styled};
use crate::tui::action::Column;
use crate::tui::model;
use crate::tui::state::{Focus, UiState};
use crate::tui::theme::Theme;

/// Columns in the order they are dropped last-to-first when the table is narrow. The route
/// (buy and sell market) comes right after the ASIN: without it two rows of one product
/// cannot be told apart. Then what a buying decision rests on, as the conventions rank it
/// for narrow terminals: net profit, ROI and expected monthly profit; then the title, so a
/// table beside the detail pane still names its products.
const PRIORITY: [Column; 13] = [
    Column::Asin,
    Column::Buy,
    Column::Sell,
    Column::Profit,
    Column::Roi,
    Column::Emp,
    Column::Title,
    Column::Margin,
    Column::Net,
    Column::Age,
    Column::SellPrice,
    Column::BuyPrice,
    Column::Gross,
];

/// The widest a filter is echoed (title, empty-table message); the prompt shows all of it.
const FILTER_ECHO: usize = 40;

/// Width of a column (the title's is its minimum), including room for a change arrow.
fn width(c: Column) -> u16 {
    match c {
        Column::Asin => 10,
        Column::Title => 10,
        Column::Buy | Column::Sell => 4,
        Column::BuyPrice => 10,
        // Its label and the change arrow's cell.
        Column::SellPrice => 11,
        Column::Gross | Column::Profit => 9,
        Column::Margin => 9,
        Column::Net | Column::Roi => 8,
        Column::Emp => 10,
        Column::Age => 4,
    }
}

/// A number cell in at most `room` cells: as it is when it fits, else with fewer decimals,
/// then in thousands or millions (`-1.6k`), keeping its sign, currency and `≈`; `#`s when
/// nothing fits. A right-aligned cell that is too wide loses its left end, which turned a
/// loss into a profit.
fn fit_number(text: &str, room: usize) -> std::borrow::Cow<'_, str> {
    if text.chars().count() <= room {
        return text.into();
    }
    let digits = text.trim_start_matches(['≈', '-', '+', '€', '£']);
    let prefix = &text[..text.len() - digits.len()];
    let Ok(v) = digits.parse::<f64>() else {
        return "#".repeat(room).into();
    };
    let candidates = [
        format!("{v:.1}"),
        format!("{v:.0}"),
        format!("{:.1}k", v / 1e3),
        format!("{:.0}k", v / 1e3),
        format!("{:.1}M", v / 1e6),
        format!("{:.0}M", v / 1e6),
    ];
    candidates
        .into_iter()
        .map(|c| format!("{prefix}{c}"))
        .find(|c| c.chars().count() <= room)
        .map_or_else(|| "#".repeat(room).into(), Into::into)
}

fn numeric(c: Column) -> bool {
    !matches!(c, Column::Asin | Column::Title | Column::Buy | Column::Sell)
}

/// Whether a column's cells keep their last cell free for the change arrow: the figures
/// do, the age does not (it never changes by a refresh).
fn keeps_arrow_cell(c: Column) -> bool {
    numeric(c) && c != Column::Age
}

/// The columns that fit in `avail` cells, in table order, with their widths. The column
/// the table is sorted by comes right after the ASIN, whatever its priority, with room for
/// its arrow: the order on screen is always visible.
pub fn columns(avail: u16, sort: Column) -> Vec<(Column, u16)> {
    let width = |c: Column| {
        let arrow = header_width(c, true).saturating_sub(width(c));
        width(c) + if c == sort { arrow } else { 0 }
    };
    let mut used: u16 = 3; // gutter (mark, then state) + its spacing
    let mut chosen = Vec::new();
    // The sorted column comes in right after the ASIN, then everything in priority order
    // (the sorted column's own place is then taken already).
    let order = PRIORITY[..1]
        .iter()
        .chain(std::iter::once(&sort))
        .chain(&PRIORITY[1..])
        .copied()
        .enumerate();
    // The title, at its place in priority, keeps room to recognise the product by before
    // the columns after it take any. Sorted by title, it comes in early at its narrowest
    // and widens at that place, so the money columns before it keep theirs.
    const TITLE_ROOM: u16 = 24;
    let mut title_w = width(Column::Title);
    for (i, c) in order {
        let at_sort_slot = i == 1;
        if c == Column::Title && chosen.contains(&c) && !at_sort_slot {
            let wider = (avail - used + title_w).min(TITLE_ROOM).max(title_w);
            used += wider - title_w;
            title_w = wider;
            continue;
        }
        let need = width(c) + 1;
        if chosen.contains(&c) || used + need > avail {
            continue;
        }
        if c == Column::Title && !at_sort_slot {
            title_w = (avail - used - 1).min(TITLE_ROOM).max(title_w);
            used += title_w + 1;
        } else {
            used += need;
        }
        chosen.push(c);
    }
    let spare = avail.saturating_sub(used);
    Column::ALL
        .iter()
        .filter(|c| chosen.contains(c))
        .map(|c| match c {
            Column::Title => (*c, title_w + spare),
            _ => (*c, width(*c)),
        })
        .collect()
}

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

/// The cells a column's header takes, sorted (with its arrow) or not.
fn header_width(c: Column, sorted: bool) -> u16 {
    let label = c.label().chars().count() as u16;
    if keeps_arrow_cell(c) {
        label + 1
    } else if numeric(c) {
        label + u16::from(sorted)
    } else {
        label + if sorted { 2 } else { 0 }
    }
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
        format!(
            "No opportunities at ≥{:.1} % {} matching /{}{}. Esc clears the filter{}",
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_narrow_table_keeps_the_route_and_the_sorted_column() {
        // 60 columns less the table's borders, sorted by expected monthly profit.
        let cols: Vec<Column> = columns(58, Column::Emp).into_iter().map(|c| c.0).collect();
        for c in [Column::Asin, Column::Buy, Column::Sell, Column::Emp] {
            assert!(cols.contains(&c), "{c:?} missing from {cols:?}");
        }
    }

    /// Sorted by title, the title comes in at its narrowest and the money columns that
    /// rank before it keep their place; the title still takes what is left at the end.
    #[test]
    fn sorting_by_title_does_not_push_out_profit_or_roi() {
        for avail in [58, 77, 100] {
            let by_title = columns(avail, Column::Title);
            let cols: Vec<Column> = by_title.iter().map(|c| c.0).collect();
            for c in [
                Column::Asin,
                Column::Buy,
                Column::Sell,
                Column::Profit,
                Column::Roi,
            ] {
                assert!(cols.contains(&c), "{c:?} missing from {cols:?} at {avail}");
            }
            let total = |v: &[(Column, u16)]| v.iter().map(|c| c.1 + 1).sum::<u16>() + 3;
            // The title takes what the other columns leave: the row is filled exactly.
            assert_eq!(total(&by_title), avail, "{by_title:?} at {avail}");
        }
        // With room for everything the two orders show the same columns.
        let wide: Vec<Column> = columns(160, Column::Title).iter().map(|c| c.0).collect();
        assert!(wide.contains(&Column::Emp), "{wide:?}");
    }

    /// Every header fits its column unsorted, and a figure's sorted header too: sorting
    /// one by a figure moves no other column off the screen.
    #[test]
    fn headers_fit_their_columns() {
        for c in Column::ALL {
            assert!(header_width(c, false) <= width(c), "{c:?}");
            if keeps_arrow_cell(c) {
                assert!(header_width(c, true) <= width(c), "{c:?} sorted");
            }
        }
    }

    /// Sorted by a price, the table beside a 160-column detail (77 cells) or alone at 80
    /// columns (78) still names its products, however shortly.
    #[test]
    fn a_price_sort_keeps_a_short_title() {
        for (avail, sort) in [(77, Column::SellPrice), (78, Column::BuyPrice)] {
            let cols: Vec<Column> = columns(avail, sort).into_iter().map(|c| c.0).collect();
            for c in [
                Column::Title,
                Column::Profit,
                Column::Roi,
                Column::Emp,
                sort,
            ] {
                assert!(cols.contains(&c), "{c:?} missing from {cols:?} at {avail}");
            }
        }
    }

    /// Beside the detail pane of a 160-column terminal (77 cells inside the table's
    /// borders), the table still names its products.
    #[test]
    fn a_table_beside_the_detail_keeps_the_title() {
        let cols: Vec<Column> = columns(77, Column::Margin)
            .into_iter()
            .map(|c| c.0)
            .collect();
        for c in [
            Column::Title,
            Column::Profit,
            Column::Roi,
            Column::Emp,
            Column::Margin,
        ] {
            assert!(cols.contains(&c), "{c:?} missing from {cols:?}");
        }
    }

    /// A number too wide for its cell is shortened, never cut: its sign, currency and `≈`
    /// stay (a cut left end made a loss read as a profit).
    #[test]
    fn numbers_too_wide_are_shortened_with_their_sign() {
        assert_eq!(fit_number("-68.28", 9), "-68.28");
        assert_eq!(fit_number("-1634.96", 7), "-1635.0");
        assert_eq!(fit_number("≈-1634.96", 7), "≈-1635");
        assert_eq!(fit_number("≈-16342.96", 7), "≈-16343");
        assert_eq!(fit_number("≈-16342.96", 6), "≈-16k");
        assert_eq!(fit_number("€164.90", 6), "€164.9");
        assert_eq!(fit_number("-12345678.00", 6), "-12.3M");
        assert_eq!(fit_number("-12345678.00", 3), "###");
        assert_eq!(fit_number("n/a", 2), "##");
        // An approximate monthly loss in four figures keeps its cents beside the change
        // arrow's cell, as exact rows do.
        let room = usize::from(width(Column::Emp)) - 1;
        assert_eq!(fit_number("≈-1659.46", room), "≈-1659.46");
    }
}
