//! The detail pane: the selected product across markets, its P&L and its price history.

use ratatui::Frame;
use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Table, Wrap};

use super::{block, fit, styled};
use crate::domain::text::{sanitize, signed_thousands};
use crate::domain::{Currency, Flag, Market, Money, OpportunityKey, Product};
use crate::tui::model::Detail;
use crate::tui::state::{Focus, UiState};
use crate::tui::theme::Theme;

mod chart;
mod pnl;
pub(super) mod product;

pub use pnl::pnl_text;
use pnl::{pnl_lines, render_pnl};

/// P&L lines shown before the chart gets room (the rest scroll if space is short).
const PNL_FIRST_LINES: u16 = 8;

/// Rows the chart needs to say anything (axes, legend, a few lines of plot).
const CHART_MIN_HEIGHT: u16 = 8;

pub(super) fn render(f: &mut Frame<'_>, area: Rect, s: &UiState, theme: &Theme) {
    let focused = s.focus == Focus::Detail || s.detail_open;
    let b = block(" Detail ", focused, theme);
    let inner = b.inner(area);
    f.render_widget(b, area);
    if inner.width == 0 || inner.height == 0 {
        return;
    }
    let Some(row) = s.selected_row() else {
        let text = if s.feed.at.is_none() || s.loading {
            ""
        } else if s.view().is_empty() {
            "No row to show: the table is empty."
        } else {
            "Select a row to see its product."
        };
        f.render_widget(Paragraph::new(text).style(theme.style("muted")), inner);
        return;
    };
    let detail = s.detail.as_ref().filter(|d| d.key == row.key);
    let Some(d) = detail else {
        f.render_widget(
            Paragraph::new(format!("Loading {}…", row.key.asin)).style(theme.style("muted")),
            inner,
        );
        return;
    };
    if let Some(e) = &d.error {
        f.render_widget(
            Paragraph::new(format!("Could not load {}: {e}", row.key.asin))
                .style(theme.style("toast_err"))
                .wrap(Wrap { trim: true }),
            inner,
        );
        return;
    }
    let eur_per_gbp = s.status.fx.as_ref().map(|fx| fx.eur_per_gbp).or_else(|| {
        d.opportunity
            .as_ref()
            .and_then(|o| o.breakdown.fx_eur_per_gbp)
    });
    // Listed markets, and the watched ones where the product is not listed or not fetched
    // yet (a row each).
    let markets = d.product.as_ref().map_or(0, |p| {
        (p.markets.len() + unlisted(p, &s.session.markets).count()) as u16
    });
    let (pnl, summary) = pnl_lines(d, inner.width, theme);
    let pnl_len = u16::try_from(pnl.len()).unwrap_or(u16::MAX);
    let h = inner.height;
    let head_h = 4.min(h);
    let mut rest = h - head_h;
    // The P&L's summary line (gross, net, ROI) and its scroll line come before the price
    // grid on a short screen: the figures are what the detail is opened for.
    let summary_h = pnl_len
        .min(u16::try_from(summary).unwrap_or(1) + 1)
        .min(rest);
    let prices_h = (markets + 1).min(rest - summary_h);
    rest -= prices_h;
    // The P&L gets its first lines, then the chart (if there is history) its minimum, then
    // the P&L the rest of its lines (it scrolls), then the links; whatever is left widens
    // the chart. Focused, the detail is open to read the P&L: it gets all its lines first,
    // the chart what is left.
    let first_lines = if focused { u16::MAX } else { PNL_FIRST_LINES };
    let mut pnl_first = pnl_len.min(first_lines).min(rest);
    rest -= pnl_first;
    let history = d.history.iter().any(|h| !h.points.is_empty());
    // Focused, a chart that lacks a few lines takes them from the P&L (which then
    // scrolls) rather than leave them blank, as long as the P&L keeps its first lines.
    if focused && history && rest > 0 && rest < CHART_MIN_HEIGHT {
        let short = CHART_MIN_HEIGHT - rest;
        if pnl_first >= short + PNL_FIRST_LINES {
            pnl_first -= short;
            rest += short;
        }
    }
    let mut chart_h = if history && rest >= CHART_MIN_HEIGHT {
        CHART_MIN_HEIGHT
    } else {
        0
    };
    rest -= chart_h;
    let pnl_h = pnl_first + (pnl_len - pnl_first).min(rest);
    rest -= pnl_h - pnl_first;
    let links_h = if rest > markets { markets + 1 } else { 0 };
    rest -= links_h;
    if chart_h > 0 {
        chart_h += rest;
    }
    let [head, prices, pnl_area, chart, links] = Layout::vertical([
        Constraint::Length(head_h),
        Constraint::Length(prices_h),
        Constraint::Length(pnl_h),
        Constraint::Length(chart_h),
        Constraint::Length(links_h),
    ])
    .areas(inner);
    render_head(f, head, d, row.key, s, theme);
    let route = Some((row.key.buy, row.key.sell));
    if let Some(p) = &d.product {
        render_prices(f, prices, p, eur_per_gbp, route, &s.session.markets, theme);
    }
    // The drawer takes the scroll keys; beside the table j/k move the selection and the
    // page keys scroll the P&L once the detail has the focus.
    let scroll_hint = if s.detail_open {
        "j/k scroll"
    } else if s.focus == Focus::Detail {
        "PgDn/PgUp scroll"
    } else {
        "Enter, then PgDn/PgUp"
    };
    render_pnl(f, pnl_area, (pnl, summary), s, scroll_hint, theme);
    if chart.height > 0 {
        chart::render(f, chart, &d.history, eur_per_gbp, route, s, theme);
    }
    if let Some(p) = d.product.as_ref().filter(|_| links.height > 0) {
        render_links(f, links, p, s.session.hyperlinks, theme);
    }
}

/// Title, ASIN and brand, then the route's two Amazon pages (OSC 8 links where the
/// terminal takes them): where to buy and where to sell, always on screen, each with the
/// age of Keepa's data for that market where it fits (in the warning colour when the row
/// failed the STALE gate).
fn render_head(
    f: &mut Frame<'_>,
    area: Rect,
    d: &Detail,
    key: OpportunityKey,
    s: &UiState,
    theme: &Theme,
) {
    let hyperlinks = s.session.hyperlinks;
    let asin = key.asin.as_str();
    let p = d.product.as_ref();
    let title = p
        .and_then(|p| p.title.as_deref())
        .map(sanitize)
        .unwrap_or_else(|| "(no title)".into());
    let brand = p
        .and_then(|p| p.brand.as_deref())
        .map(sanitize)
        .unwrap_or_else(|| "–".into());
    let w = usize::from(area.width);
    let links = [("buy ", key.buy), ("sell", key.sell)].map(|(side, m)| {
        let url = m.product_url(&key.asin);
        (format!("{side} {} ", m.code()), url)
    });
    // Demand where it is sold, as the `/` filter's `sold` and `drops30` read it (the rank
    // is in the price grid), when the line has room for it.
    // Both figures where they fit, else the units sold alone.
    let snap = p.and_then(|p| p.markets.get(&key.sell));
    let sold = snap
        .and_then(|s| s.monthly_sold)
        .map(|n| format!("{} sold/mo", signed_thousands(n)));
    let drops = snap
        .and_then(|s| s.rank_drops30)
        .map(|n| format!("{} drops/30d", signed_thousands(n)));
    let code = key.sell.code();
    let brand_room = w.saturating_sub(asin.len() + 3);
    let fits = |t: &String| brand.chars().count() + t.chars().count() <= brand_room;
    let demand = [
        match (&sold, &drops) {
            (Some(s), Some(d)) => Some(format!(" · {code} {s}, {d}")),
            (None, Some(d)) => Some(format!(" · {code} {d}")),
            _ => None,
        },
        sold.as_ref().map(|s| format!(" · {code} {s}")),
    ]
    .into_iter()
    .flatten()
    .find(fits);
    let mut second = vec![
        Span::raw(format!("{asin} · ")),
        styled(fit(&brand, brand_room).into_owned(), "muted", theme),
    ];
    if let Some(demand) = demand {
        second.push(styled(demand, "muted", theme));
    }
    let mut lines = vec![
        Line::from(styled(fit(&title, w).into_owned(), "title", theme)),
        Line::from(second),
    ];
    let stale = d
        .opportunity
        .as_ref()
        .is_some_and(|o| o.flags.contains(Flag::Stale));
    let mut shown_urls = Vec::with_capacity(2);
    let seens: Vec<Option<String>> = [key.buy, key.sell]
        .iter()
        .map(|m| {
            p.and_then(|p| p.markets.get(m))
                .map(|snap| format!(" · Keepa {} ago", super::age(s.now, snap.observed_at)))
        })
        .collect();
    let width_of = |seen: &Option<String>| seen.as_ref().map_or(0, |t| t.chars().count());
    // Where a whole URL and its age do not fit, both URLs are shown without their scheme,
    // so the two lines read alike (the link and `y` keep it whole).
    let bare = links
        .iter()
        .zip(&seens)
        .any(|((label, url), seen)| url.len() + width_of(seen) > w.saturating_sub(label.len()));
    for ((label, url), seen) in links.iter().zip(seens) {
        let room = w.saturating_sub(label.len());
        let seen_w = width_of(&seen);
        let shown = if bare {
            url.trim_start_matches("https://")
        } else {
            url.as_str()
        };
        let mut spans = vec![
            styled(label.clone(), "muted", theme),
            Span::raw(fit(shown, room).into_owned()),
        ];
        if let Some(seen) = seen.filter(|_| shown.len() + seen_w <= room) {
            spans.push(styled(seen, if stale { "flag" } else { "muted" }, theme));
        }
        lines.push(Line::from(spans));
        shown_urls.push((label.len() as u16, shown.len() as u16, url.clone()));
    }
    f.render_widget(Paragraph::new(lines), area);
    if hyperlinks {
        link_rows(f.buffer_mut(), area, 2, &shown_urls);
    }
}

/// The watched markets where `p` is not listed, and whether Keepa said so (else the market
/// is not fetched yet).
fn unlisted<'a>(
    p: &'a Product,
    watched: &'a [Market],
) -> impl Iterator<Item = (Market, bool)> + 'a {
    watched
        .iter()
        .copied()
        .filter(|m| !p.markets.contains_key(m))
        // A store that cannot tell says "not listed".
        .map(|m| (m, !p.not_fetched(m)))
}

pub(super) fn eur(m: Money, eur_per_gbp: Option<f64>) -> Option<Money> {
    match m.currency {
        Currency::EUR => Some(m),
        Currency::GBP => eur_per_gbp.map(|r| Money::eur((m.minor as f64 * r).round() as i64)),
    }
}

fn money_cell(m: Option<Money>) -> String {
    m.map_or_else(|| "–".into(), |m| m.to_string())
}

/// The product's prices per market, a route's two marked; a market the console watches
/// where the product is not listed says so rather than being left out.
fn render_prices(
    f: &mut Frame<'_>,
    area: Rect,
    p: &Product,
    eur_per_gbp: Option<f64>,
    route: Option<(Market, Market)>,
    watched: &[Market],
    theme: &Theme,
) {
    if area.height == 0 {
        return;
    }
    let (buy, sell) = route.map_or((None, None), |(b, s)| (Some(b), Some(s)));
    const HEADER: [&str; 7] = ["Mkt", "New", "New €", "Buy Box", "Amazon", "Rank", ""];
    // Cells as text first: the columns are as wide as what they hold, so the last one
    // (the route's side, "out", "not listed") keeps its room in a narrow detail.
    let listed = p.markets.iter().map(|(m, snap)| {
        let role = if Some(*m) == buy {
            "delta_bad"
        } else if Some(*m) == sell {
            "delta_good"
        } else {
            ""
        };
        let tag = if Some(*m) == buy {
            "buy"
        } else if Some(*m) == sell {
            "sell"
        } else {
            ""
        };
        let stock = if snap.in_stock() { "" } else { "out" };
        let note = [tag, stock]
            .into_iter()
            .filter(|t| !t.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        let cells = [
            m.code().to_string(),
            money_cell(snap.new),
            money_cell(snap.new.and_then(|n| eur(n, eur_per_gbp))),
            money_cell(snap.buy_box),
            money_cell(snap.amazon),
            snap.sales_rank
                .map_or_else(|| "–".into(), |r| r.to_string()),
            note,
        ];
        (cells, role, "")
    });
    let unlisted = unlisted(p, watched).map(|(m, said)| {
        let mut cells: [String; 7] = std::array::from_fn(|_| "–".to_string());
        cells[0] = m.code().to_string();
        cells[6] = if said {
            "not listed"
        } else {
            "not fetched yet"
        }
        .to_string();
        (cells, "", "muted")
    });
    let mut rows: Vec<([String; 7], &str, &str)> = listed.chain(unlisted).collect();
    // Short of room, the route's two markets stay and the others go from the end; with
    // room for no more than the route's rows, the column header goes first (each row
    // still says which side it is).
    let route_rows = rows.iter().filter(|r| !r.1.is_empty()).count();
    let header = usize::from(area.height) > route_rows;
    let room = usize::from(area.height) - usize::from(header);
    let mut i = rows.len();
    let mut left_out = Vec::new();
    while rows.len() > room && i > 0 {
        i -= 1;
        if rows[i].1.is_empty() {
            left_out.push(rows.remove(i).0[0].clone());
        }
    }
    // The header says which markets are left out (the opened detail has room for them).
    left_out.reverse();
    let mut header_cells = HEADER.map(str::to_string);
    if !left_out.is_empty() {
        header_cells[6] = format!("{} not shown", left_out.join(" "));
    }
    let widths: [u16; 7] = std::array::from_fn(|i| {
        let widest = rows
            .iter()
            .map(|(cells, _, _)| cells[i].chars().count())
            .chain([header_cells[i].chars().count()])
            .max()
            .unwrap_or(0);
        u16::try_from(widest).unwrap_or(u16::MAX)
    });
    // Two cells between columns where they fit, one where they do not.
    let used: u16 = widths.iter().sum();
    let spacing = if used + 2 * 6 <= area.width { 2 } else { 1 };
    let mut t = Table::new(
        rows.into_iter().map(|([code, rest @ ..], role, style)| {
            let mut cells = vec![Cell::from(styled(code, role, theme))];
            cells.extend(rest.into_iter().map(Cell::from));
            Row::new(cells).style(theme.style(style))
        }),
        widths.map(Constraint::Length),
    )
    .column_spacing(spacing);
    if header {
        t = t.header(Row::new(header_cells).style(theme.style("header")));
    }
    f.render_widget(t, area);
}

fn render_links(f: &mut Frame<'_>, area: Rect, p: &Product, hyperlinks: bool, theme: &Theme) {
    let mut lines = vec![Line::from(styled("Amazon", "header", theme))];
    let mut urls = Vec::new();
    for m in p.markets.keys() {
        let url = m.product_url(&p.asin);
        lines.push(Line::from(format!("{} {url}", m.code())));
        urls.push((3u16, url.chars().count() as u16, url));
    }
    f.render_widget(Paragraph::new(lines), area);
    if hyperlinks {
        link_rows(f.buffer_mut(), area, 1, &urls);
    }
}

/// Makes `urls` OSC 8 links where they were drawn: one a row from row `first` of `area`,
/// each `(skip, width, url)` the `width` cells after `skip` (the text shown may be the URL
/// without its scheme), cut at the area's edge.
fn link_rows(buf: &mut Buffer, area: Rect, first: u16, urls: &[(u16, u16, String)]) {
    for (i, (skip, width, url)) in urls.iter().enumerate() {
        let y = area.y + first + i as u16;
        if y >= area.bottom() {
            break;
        }
        let x = area.x + skip;
        let w = (*width).min(area.right().saturating_sub(x));
        hyperlink(buf, Rect::new(x, y, w, 1), url);
    }
}

/// Wraps the cells of `area` in an OSC 8 link to `url`, two cells per sequence: each
/// symbol holds its escape codes plus two visible characters, its width forced to those two
/// (ratatui would count the escape codes' text, and skip that many cells after it), and the
/// second cell is skipped.
pub(super) fn hyperlink(buf: &mut Buffer, area: Rect, url: &str) {
    use ratatui::buffer::CellDiffOption;
    use std::num::NonZeroU16;
    let mut x = area.x;
    while x < area.right() {
        let first = buf.cell((x, area.y)).map(|c| c.symbol().to_string());
        let second = if x + 1 < area.right() {
            buf.cell((x + 1, area.y)).map(|c| c.symbol().to_string())
        } else {
            None
        };
        let text = format!(
            "{}{}",
            first.unwrap_or_default(),
            second.clone().unwrap_or_default()
        );
        let shown = if second.is_some() {
            NonZeroU16::MIN.saturating_add(1)
        } else {
            NonZeroU16::MIN
        };
        if let Some(c) = buf.cell_mut((x, area.y)) {
            c.set_symbol(&format!("\x1b]8;;{url}\x1b\\{text}\x1b]8;;\x1b\\"))
                .set_diff_option(CellDiffOption::ForcedWidth(shown));
        }
        if second.is_some()
            && let Some(c) = buf.cell_mut((x + 1, area.y))
        {
            c.set_diff_option(CellDiffOption::Skip);
        }
        x += 2;
    }
}

#[cfg(test)]
mod tests {
    use super::hyperlink;
    use ratatui::buffer::Buffer;
    use ratatui::layout::Rect;

    /// Every pair of a link's cells is written once, at its place: the terminal gets each
    /// character of the text, whatever the escape codes' own length.
    #[test]
    fn a_link_writes_every_cell_of_its_text() {
        let area = Rect::new(0, 0, 9, 1);
        let prev = Buffer::empty(area);
        let mut next = Buffer::with_lines(["buy  ES h"]);
        hyperlink(&mut next, area, "https://www.amazon.es/dp/B00C1DQP2O");
        let xs: Vec<u16> = prev.diff(&next).iter().map(|(x, _, _)| *x).collect();
        assert_eq!(xs, [0, 2, 4, 6, 8]);
    }
}
