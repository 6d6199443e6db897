//! The products view: every stored product by ASIN, its price per tracked market, how
//! old Keepa's data is and whether (and why) it is watched.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};
use unicode_width::UnicodeWidthStr;

use super::{age, block, fit, styled, thousands};
use crate::economics::tables::market_index;
use crate::store::WatchSource;
use crate::tui::state::{MarketCell, ProductLine, UiState};
use crate::tui::theme::Theme;

/// A market's cell as text, with its role.
fn market_cell(c: MarketCell) -> (String, &'static str) {
    match c {
        MarketCell::Price(m) => (m.to_string(), ""),
        MarketCell::OutOfStock => ("out".into(), "muted"),
        MarketCell::NotListed => ("·".into(), "muted"),
        MarketCell::NotFetched => ("…".into(), "muted"),
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
    let search = p.search.trim();
    let mut t = match p.page.query {
        None => " Products · …".to_string(),
        Some(_) if search.is_empty() => format!(" Products · {} stored", thousands(p.page.total)),
        Some(_) => format!(" Products · {} matching /{search}", thousands(p.page.total)),
    };
    if p.page.total > 0 {
        t.push_str(&format!(
            " · {}/{}",
            thousands(p.selected as u64 + 1),
            thousands(p.page.total)
        ));
    }
    if let Some(w) = &p.watched {
        t.push_str(&format!(" · {} watched", thousands(w.source.len() as u64)));
        if w.never_fetched > 0 {
            t.push_str(&format!(
                " ({} not fetched yet)",
                thousands(w.never_fetched as u64)
            ));
        }
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
    if inner.height == 0 || inner.width == 0 {
        f.render_widget(b, area);
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
                "No stored product has '{}' in its title, brand or ASIN. {}",
                p.search.trim(),
                if s.overlay.is_some() {
                    "Backspace edits the search; Esc puts back the one before."
                } else {
                    "Esc clears the search."
                }
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
        f.render_widget(b, area);
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
                .map(|m| market_cell(l.markets[market_index(*m)]))
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
    const AGE: usize = 5;
    const WATCHED: usize = 7;
    /// The title's narrowest (a few words: narrower, a row names no product) and widest
    /// (past this, room goes to nothing).
    const TITLE: (usize, usize) = (16, 64);
    let width = usize::from(inner.width);
    // Short of room, the watch column goes first, then Keepa's age, then markets from
    // the last: no cell is ever cut inside a price.
    let (mut show_watched, mut show_age, mut markets_shown) = (true, true, markets.len());
    let fixed = |watched: bool, age: bool, shown: usize| {
        ASIN + 1
            + mw[..shown].iter().map(|w| w + 1).sum::<usize>()
            + if age { AGE + 1 } else { 0 }
            + if watched { WATCHED + 1 } else { 0 }
    };
    while fixed(show_watched, show_age, markets_shown) + TITLE.0 > width {
        if show_watched {
            show_watched = false;
        } else if show_age {
            show_age = false;
        } else if markets_shown > 1 {
            markets_shown -= 1;
        } else {
            break;
        }
    }
    let title_w = width
        .saturating_sub(fixed(show_watched, show_age, markets_shown))
        .clamp(TITLE.0, TITLE.1);
    // Columns left out (markets, Keepa's age, why watched) are named under the view.
    let hidden: Vec<&str> = markets[markets_shown..]
        .iter()
        .map(|m| m.code())
        .chain((!show_age).then_some("Keepa"))
        .chain((!show_watched).then_some("Watched"))
        .collect();
    // Said whole or shorter, never cut mid-word by the border.
    let room = usize::from(area.width).saturating_sub(2);
    let note = match hidden.len() {
        0 => None,
        n => [
            format!(
                " {} not shown: a wider terminal shows {} ",
                hidden.join(" "),
                if n == 1 { "it" } else { "them" }
            ),
            format!(" {} not shown ", hidden.join(" ")),
            format!(" {} hidden ", hidden.len()),
        ]
        .into_iter()
        .find(|t| t.width() <= room),
    };
    let b = match note {
        None => b,
        Some(note) => b.title_bottom(note),
    };
    f.render_widget(b, area);

    let line = |asin: &str, title: &str, mkts: Vec<Span<'static>>, age: &str, watched: &str| {
        let title = fit(title, title_w);
        // Padded to its width in columns (a wide character takes two).
        let pad = " ".repeat(title_w.saturating_sub(title.width()));
        let mut spans = vec![
            Span::raw(format!("{:<ASIN$} ", fit(asin, ASIN))),
            Span::raw(format!("{title}{pad}")),
        ];
        spans.extend(mkts.into_iter().take(markets_shown));
        if show_age {
            spans.push(Span::raw(format!(" {:>AGE$}", fit(age, AGE))));
        }
        if show_watched {
            spans.push(Span::raw(format!(" {:<WATCHED$}", fit(watched, WATCHED))));
        }
        spans
    };
    let head_mkts = markets
        .iter()
        .zip(&mw)
        .map(|(m, w)| Span::raw(format!(" {:>w$}", m.code())))
        .collect();
    let mut out: Vec<Line<'_>> = vec![
        Line::from(line("ASIN", "Title", head_mkts, "Keepa", "Watched"))
            .style(theme.style("header")),
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
