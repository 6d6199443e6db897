//! The products view: every stored product by ASIN, its price per tracked market, how
//! old Keepa's data is and whether (and why) it is watched.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};
use unicode_width::UnicodeWidthStr;

use super::{age, block, fit, styled, thousands};
use crate::store::WatchSource;
use crate::tui::state::{MarketCell, ProductLine, UiState, market_pos};
use crate::tui::theme::Theme;

/// A market's cell as text, with its role.
fn market_cell(c: MarketCell) -> (String, &'static str) {
    match c {
        MarketCell::Price(m) => (m.to_string(), ""),
        MarketCell::OutOfStock => ("out".into(), "muted"),
        MarketCell::NotListed => ("·".into(), "muted"),
    }
}

/// Where a watched product came from, in a word.
fn source_word(s: Option<WatchSource>) -> &'static str {
    match s {
        Some(WatchSource::User) => "you",
        Some(WatchSource::Discovery) => "found",
        Some(WatchSource::Import) => "import",
        None => "–",
    }
}

/// The view's title: counts and the search, and which price the markets show where it fits
/// in `width`.
fn title(s: &UiState, width: usize) -> String {
    let p = &s.products;
    let mut t = format!(
        " Products · {} stored",
        match p.page.query {
            Some(_) => thousands(p.page.total),
            None => "…".to_string(),
        }
    );
    if let Some(w) = &p.watched {
        t.push_str(&format!(" · {} watched", thousands(w.source.len() as u64)));
        if w.never_fetched > 0 {
            t.push_str(&format!(
                " ({} not fetched yet)",
                thousands(w.never_fetched as u64)
            ));
        }
    }
    if !p.search.trim().is_empty() {
        t.push_str(&format!(" · /{}", p.search.trim()));
    }
    const NOTE: &str = " · price now: Buy Box, else lowest offer";
    if t.width() + NOTE.width() + 3 <= width {
        t.push_str(NOTE);
    }
    t.push(' ');
    t
}

pub(super) fn render(f: &mut Frame<'_>, area: Rect, s: &UiState, theme: &Theme) {
    let b = block(title(s, usize::from(area.width)), true, theme);
    let inner = b.inner(area);
    f.render_widget(b, area);
    if inner.height == 0 || inner.width == 0 {
        return;
    }
    let p = &s.products;
    let why = match (&p.page.query, &p.page.error) {
        (None, _) => Some(("Reading the products…".to_string(), "muted")),
        (_, Some(e)) => Some((
            format!("The store did not answer: {e}. Trying again every 5 s."),
            "toast_err",
        )),
        _ if p.page.total == 0 && !p.search.trim().is_empty() => Some((
            format!(
                "No stored product has '{}' in its title, brand or ASIN. Esc clears the search.",
                p.search.trim()
            ),
            "muted",
        )),
        _ if p.page.total == 0 => Some((
            "No products stored yet: add ASINs with `a` (or `arbdesk watch add`), or \
             `arbdesk import` a file of Keepa products."
                .to_string(),
            "muted",
        )),
        _ => None,
    };
    if let Some((text, role)) = why {
        f.render_widget(
            Paragraph::new(text)
                .style(theme.style(role))
                .wrap(Wrap { trim: true }),
            inner,
        );
        return;
    }

    let rows = usize::from(inner.height.saturating_sub(1));
    let visible: Vec<Option<&ProductLine>> = (p.offset..p.offset + rows)
        .take_while(|i| (*i as u64) < p.page.total)
        .map(|i| p.line(i))
        .collect();
    let markets = &s.session.markets;
    let cells: Vec<Vec<(String, &str)>> = visible
        .iter()
        .map(|l| match l {
            Some(l) => markets
                .iter()
                .map(|m| market_cell(l.markets[market_pos(*m)]))
                .collect(),
            None => Vec::new(),
        })
        .collect();
    // Each market as wide as its widest price on screen.
    let mw: Vec<usize> = (0..markets.len())
        .map(|i| {
            cells
                .iter()
                .filter_map(|c| c.get(i).map(|(t, _)| t.width()))
                .max()
                .unwrap_or(0)
                .max(5)
        })
        .collect();
    const ASIN: usize = 10;
    const AGE: usize = 4;
    const WATCHED: usize = 7;
    let width = usize::from(inner.width);
    let fixed = ASIN + mw.iter().map(|w| w + 1).sum::<usize>() + 1 + AGE + 1 + WATCHED + 1;
    let title_w = width.saturating_sub(fixed).max(10);

    let line = |asin: &str, title: &str, mkts: Vec<Span<'static>>, age: &str, watched: &str| {
        let mut spans = vec![
            Span::raw(format!("{:<ASIN$} ", fit(asin, ASIN))),
            Span::raw(format!("{:<title_w$}", fit(title, title_w))),
        ];
        spans.extend(mkts);
        spans.push(Span::raw(format!(" {:>AGE$}", fit(age, AGE))));
        spans.push(Span::raw(format!(" {:<WATCHED$}", fit(watched, WATCHED))));
        spans
    };
    let head_mkts = markets
        .iter()
        .zip(&mw)
        .map(|(m, w)| Span::raw(format!(" {:>w$}", m.code())))
        .collect();
    let mut out: Vec<Line<'_>> = vec![
        Line::from(line("ASIN", "Title", head_mkts, "Age", "Watched")).style(theme.style("header")),
    ];
    for (n, (l, c)) in visible.iter().zip(cells).enumerate() {
        let at = p.offset + n;
        let Some(l) = l else {
            out.push(Line::from(styled("…", "muted", theme)));
            continue;
        };
        let mkts = c
            .into_iter()
            .zip(&mw)
            .map(|((text, role), w)| styled(format!(" {text:>w$}"), role, theme))
            .collect();
        let watched = source_word(
            p.watched
                .as_ref()
                .and_then(|w| w.source.get(&l.asin).copied()),
        );
        let age = l.updated.map_or_else(|| "–".to_string(), |u| age(s.now, u));
        let mut row = Line::from(line(&l.asin.to_string(), &l.title, mkts, &age, watched));
        if at == p.selected {
            row = row.style(theme.style("selection"));
        }
        out.push(row);
    }
    f.render_widget(Paragraph::new(out), inner);
}
