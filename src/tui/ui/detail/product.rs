//! The products view's detail: the selected product whole, beside the table on a wide
//! terminal. Its prices in every market (the best route's two marked), every route stored
//! for it with its figures as the opportunities table shows them, its 90-day price chart
//! and its Amazon pages.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::Line;
use ratatui::widgets::{Cell, Paragraph, Row, Table, Wrap};

use super::super::products::source_word;
use super::super::{block, fit, styled};
use super::{CHART_MIN_HEIGHT, chart, render_links, render_prices, unlisted};
use crate::domain::text::sanitize;
use crate::domain::{Opportunity, Product};
use crate::tui::action::Column;
use crate::tui::model::{ProductDetail, Row as TableRow};
use crate::tui::state::UiState;
use crate::tui::theme::Theme;

/// Routes listed before the rest are counted (`Enter` lists them all in the table).
const ROUTES_SHOWN: usize = 8;

/// The route table's columns: the opportunities table's cells, by name.
const ROUTE_COLUMNS: [(&str, Column); 5] = [
    ("Gross %", Column::Margin),
    ("Net €", Column::Profit),
    ("Net %", Column::Net),
    ("ROI %", Column::Roi),
    ("EMP €", Column::Emp),
];

pub(in crate::tui::ui) fn render(f: &mut Frame<'_>, area: Rect, s: &UiState, theme: &Theme) {
    let b = block(" Product ", false, theme);
    let inner = b.inner(area);
    f.render_widget(b, area);
    if inner.width == 0 || inner.height == 0 {
        return;
    }
    let say = |f: &mut Frame<'_>, text: String, role: &str| {
        f.render_widget(
            Paragraph::new(text)
                .style(theme.style(role))
                .wrap(Wrap { trim: true }),
            inner,
        );
    };
    let Some(line) = s.products.selected_line() else {
        return;
    };
    let asin = line.asin;
    let Some(d) = s.product_detail() else {
        return say(f, format!("Loading {asin}…"), "muted");
    };
    let Some(p) = &d.product else {
        return match &d.error {
            Some(e) => say(f, format!("Could not load {asin}: {e}"), "toast_err"),
            None => say(f, format!("{asin} is no longer stored."), "muted"),
        };
    };
    let routes = d.routes.as_deref().unwrap_or_default();
    let best = routes.first();
    let route = best.map(|o| (o.buy_market, o.sell_market));
    let markets = (p.markets.len() + unlisted(p, &s.session.markets).count()) as u16;
    let shown = routes.len().min(ROUTES_SHOWN);
    let more = u16::from(routes.len() > shown);
    // Head, prices, routes (with their header and a line for the rest), then the chart
    // where there is history and room, then the pages; whatever is left widens the chart.
    let mut rest = inner.height;
    let take = |want: u16, rest: &mut u16| {
        let got = want.min(*rest);
        *rest -= got;
        got
    };
    let head_h = take(2 + u16::from(d.error.is_some()), &mut rest);
    let prices_h = take(markets + 1, &mut rest);
    let routes_h = take(1 + (shown as u16).max(1) + more, &mut rest);
    let history = d.history.iter().any(|h| !h.points.is_empty());
    let mut chart_h = if history && rest >= CHART_MIN_HEIGHT {
        take(CHART_MIN_HEIGHT, &mut rest)
    } else {
        0
    };
    // A page a market that lists it (the others have none to link).
    let listed = p.markets.len() as u16;
    let links_h = if rest > listed {
        take(listed + 1, &mut rest)
    } else {
        0
    };
    if chart_h > 0 {
        chart_h += rest;
    }
    let [head, prices, routes_area, chart_area, links] = Layout::vertical([
        Constraint::Length(head_h),
        Constraint::Length(prices_h),
        Constraint::Length(routes_h),
        Constraint::Length(chart_h),
        Constraint::Length(links_h),
    ])
    .areas(inner);
    render_head(f, head, p, d, s, theme);
    let eur_per_gbp = s
        .status
        .fx
        .as_ref()
        .map(|fx| fx.eur_per_gbp)
        .or_else(|| best.and_then(|o| o.breakdown.fx_eur_per_gbp));
    render_prices(f, prices, p, eur_per_gbp, route, &s.session.markets, theme);
    render_routes(f, routes_area, d.routes.as_deref(), theme);
    if chart_area.height > 0 {
        chart::render(f, chart_area, &d.history, eur_per_gbp, route, s, theme);
    }
    if links.height > 0 {
        render_links(f, links, p, s.session.hyperlinks, theme);
    }
}

/// Title, then ASIN, brand and why it is watched; and a line saying what could not be
/// read, when part of it could not.
fn render_head(
    f: &mut Frame<'_>,
    area: Rect,
    p: &Product,
    d: &ProductDetail,
    s: &UiState,
    theme: &Theme,
) {
    let w = usize::from(area.width);
    let title = p
        .title
        .as_deref()
        .map(sanitize)
        .unwrap_or_else(|| "(no title)".into());
    let brand = p
        .brand
        .as_deref()
        .map(sanitize)
        .unwrap_or_else(|| "no brand".into());
    // In the table's words.
    let watched = s
        .products
        .watched
        .as_ref()
        .map(|w| match w.source.get(&p.asin) {
            Some(source) => format!("watched ({})", source_word(Some(*source))),
            None => "not watched".to_string(),
        });
    let second = [Some(p.asin.to_string()), Some(brand), watched]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" · ");
    let mut lines = vec![
        Line::from(styled(fit(&title, w).into_owned(), "title", theme)),
        Line::from(styled(fit(&second, w).into_owned(), "muted", theme)),
    ];
    if let Some(e) = &d.error {
        let text = format!("Partly read: {e}");
        lines.push(Line::from(styled(
            fit(&text, w).into_owned(),
            "toast_err",
            theme,
        )));
    }
    f.render_widget(Paragraph::new(lines), area);
}

/// The product's routes as the opportunities table has them, the best first; a route
/// that fails a gate says which.
fn render_routes(f: &mut Frame<'_>, area: Rect, routes: Option<&[Opportunity]>, theme: &Theme) {
    if area.height == 0 {
        return;
    }
    let (text, role) = match routes {
        Some(routes) if !routes.is_empty() => return render_route_table(f, area, routes, theme),
        Some(_) => ("None: no positive gross gap between markets.", "muted"),
        None => ("Not read: the store did not answer.", "toast_err"),
    };
    let lines = vec![
        Line::from(styled("Routes", "header", theme)),
        Line::from(styled(
            fit(text, usize::from(area.width)).into_owned(),
            role,
            theme,
        )),
    ];
    f.render_widget(Paragraph::new(lines), area);
}

/// The routes of [`render_routes`], as a table with the opportunities table's cells.
fn render_route_table(f: &mut Frame<'_>, area: Rect, routes: &[Opportunity], theme: &Theme) {
    let room = usize::from(area.height.saturating_sub(1));
    let shown = routes.len().min(ROUTES_SHOWN).min(room);
    // The last line says how many are not listed, when some are not.
    let shown = if shown < routes.len() && shown == room {
        shown.saturating_sub(1)
    } else {
        shown
    };
    let rows: Vec<([String; 7], &str)> = routes[..shown]
        .iter()
        .map(|o| {
            let row = TableRow::from_opportunity(o);
            let gbp = o.buy_market.converts_gbp(o.sell_market);
            let note = if o.ranked {
                String::new()
            } else {
                let failed: Vec<&str> = o.flags.failed_gates(gbp).names().collect();
                format!("! {}", failed.join(" "))
            };
            let mut cells: [String; 7] = Default::default();
            cells[0] = format!("{}→{}", o.buy_market.code(), o.sell_market.code());
            for (i, (_, c)) in ROUTE_COLUMNS.iter().enumerate() {
                cells[i + 1] = row.cell(*c).to_string();
            }
            cells[6] = note;
            let role = if !o.has_net() || o.net_profit.minor < 0 {
                "profit_negative"
            } else if o.ranked {
                "profit_high"
            } else {
                "profit_low"
            };
            (cells, role)
        })
        .collect();
    let header: [String; 7] = std::array::from_fn(|i| match i {
        0 => format!("Routes {}", routes.len()),
        6 => String::new(),
        i => ROUTE_COLUMNS[i - 1].0.to_string(),
    });
    let mut widths: [u16; 7] = std::array::from_fn(|i| {
        rows.iter()
            .map(|(cells, _)| cells[i].chars().count())
            .chain([header[i].chars().count()])
            .max()
            .map_or(0, |w| u16::try_from(w).unwrap_or(u16::MAX))
    });
    let used: u16 = widths[..6].iter().sum::<u16>() + 6;
    widths[6] = area.width.saturating_sub(used);
    let right = |text: &str, w: u16| format!("{text:>w$}", w = usize::from(w));
    let lines: Vec<Row<'_>> = rows
        .into_iter()
        .map(|(cells, role)| {
            let [route, figures @ .., note] = cells;
            let mut out = vec![Cell::from(route)];
            out.extend(
                figures
                    .iter()
                    .zip(&widths[1..6])
                    .map(|(t, w)| Cell::from(styled(right(t, *w), role, theme))),
            );
            out.push(Cell::from(styled(
                fit(&note, usize::from(widths[6])).into_owned(),
                "warn",
                theme,
            )));
            Row::new(out)
        })
        .collect();
    let header = Row::new(
        header
            .iter()
            .enumerate()
            .map(|(i, h)| match i {
                0 | 6 => Cell::from(h.clone()),
                i => Cell::from(right(h, widths[i])),
            })
            .collect::<Vec<_>>(),
    )
    .style(theme.style("header"));
    let t = Table::new(lines, widths.map(Constraint::Length))
        .header(header)
        .column_spacing(1);
    let [table, more] =
        Layout::vertical([Constraint::Length(1 + shown as u16), Constraint::Min(0)]).areas(area);
    f.render_widget(t, table);
    if shown < routes.len() && more.height > 0 {
        let left = routes.len() - shown;
        let text = format!("… {left} more: Enter lists them (the table's filters apply)");
        let text = fit(&text, usize::from(more.width)).into_owned();
        f.render_widget(Paragraph::new(styled(text, "muted", theme)), more);
    }
}
