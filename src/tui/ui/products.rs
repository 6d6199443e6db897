//! The products view: every stored product by ASIN, its price per tracked market, how
//! old Keepa's data is and whether (and why) it is watched.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};
use unicode_width::UnicodeWidthStr;

use super::{age, block, fit, styled, thousands};
use crate::domain::Market;
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

/// The product's price gap across `markets`, in euros: from the cheapest market to the
/// dearest (`DE→IT 63 %`, the dearer price over the cheaper, as a gross margin is), when two
/// have a price (a price in pounds needs the rate in use).
fn gap(l: &ProductLine, markets: &[Market], eur_per_gbp: Option<f64>) -> Option<String> {
    let priced: Vec<(Market, i64)> = markets
        .iter()
        .filter_map(|m| match l.markets[market_index(*m)] {
            MarketCell::Price(p) => super::detail::eur(p, eur_per_gbp).map(|e| (*m, e.minor)),
            _ => None,
        })
        .filter(|(_, minor)| *minor > 0)
        .collect();
    let (lo, lo_p) = *priced.iter().min_by_key(|(_, p)| *p)?;
    let (hi, hi_p) = *priced.iter().max_by_key(|(_, p)| *p)?;
    (lo != hi).then(|| {
        let pct = (hi_p - lo_p) as f64 * 100.0 / lo_p as f64;
        format!("{}→{} {pct:.0} %", lo.code(), hi.code())
    })
}

/// Where a watched product came from, in a word.
pub(super) fn source_word(s: Option<WatchSource>) -> &'static str {
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
    let eur_per_gbp = s.status.fx.as_ref().map(|fx| fx.eur_per_gbp);
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
    // `DE→IT 163 %`.
    const GAP: usize = 12;
    /// The title's narrowest (a few words: narrower, a row names no product) and widest
    /// (past this, room goes to nothing).
    const TITLE: (usize, usize) = (16, 64);
    let width = usize::from(inner.width);
    // Short of room, the gap goes first, then the watch column, then Keepa's age, then
    // markets from the last: no cell is ever cut inside a price.
    let (mut show_watched, mut show_gap, mut show_age, mut markets_shown) =
        (true, true, true, markets.len());
    let fixed = |watched: bool, gap: bool, age: bool, shown: usize| {
        ASIN + 1
            + mw[..shown].iter().map(|w| w + 1).sum::<usize>()
            + if gap { GAP + 1 } else { 0 }
            + if age { AGE + 1 } else { 0 }
            + if watched { WATCHED + 1 } else { 0 }
    };
    while fixed(show_watched, show_gap, show_age, markets_shown) + TITLE.0 > width {
        if show_gap {
            show_gap = false;
        } else if show_watched {
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
        .saturating_sub(fixed(show_watched, show_gap, show_age, markets_shown))
        .clamp(TITLE.0, TITLE.1);
    // Columns left out (markets, the gap, Keepa's age, why watched) are named under the
    // view. (The gap runs over every tracked market, shown or not.)
    let hidden: Vec<&str> = markets[markets_shown..]
        .iter()
        .map(|m| m.code())
        .chain((!show_gap).then_some("Gap"))
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

    let line =
        |asin: &str, title: &str, mkts: Vec<Span<'static>>, gap: &str, age: &str, watched: &str| {
            let title = fit(title, title_w);
            // Padded to its width in columns (a wide character takes two).
            let pad = " ".repeat(title_w.saturating_sub(title.width()));
            let mut spans = vec![
                Span::raw(format!("{:<ASIN$} ", fit(asin, ASIN))),
                Span::raw(format!("{title}{pad}")),
            ];
            spans.extend(mkts.into_iter().take(markets_shown));
            if show_gap {
                spans.push(Span::raw(format!(" {:>GAP$}", fit(gap, GAP))));
            }
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
        Line::from(line("ASIN", "Title", head_mkts, "Gap", "Keepa", "Watched"))
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
        let gap = gap(l, markets, eur_per_gbp).unwrap_or_else(|| "–".to_string());
        let mut row = Line::from(line(
            &l.asin.to_string(),
            &l.title,
            mkts,
            &gap,
            &age,
            watched,
        ));
        if at == p.selected {
            row = row.style(theme.style("selection"));
        }
        out.push(row);
    }
    f.render_widget(Paragraph::new(out), inner);
}

#[cfg(test)]
mod tests {
    use super::gap;
    use crate::domain::{Market, Money};
    use crate::tui::state::{MarketCell, ProductLine};

    /// From the cheapest market to the dearest in euros; pounds only at a known rate.
    #[test]
    fn the_gap_runs_from_the_cheapest_market_to_the_dearest_in_euros() {
        let line = ProductLine {
            asin: "B000000001".parse().unwrap(),
            title: "Kettle".into(),
            markets: [
                MarketCell::Price(Money::new(9_000, Market::UK.currency())),
                MarketCell::Price(Money::eur(10_000)),
                MarketCell::Price(Money::eur(15_000)),
                MarketCell::OutOfStock,
                MarketCell::NotListed,
            ],
            updated: None,
        };
        let all = Market::ALL;
        // £90 at 1.20 is €108: DE stays the cheapest.
        assert_eq!(gap(&line, &all, Some(1.2)).as_deref(), Some("DE→FR 50 %"));
        // At 1.00 the pound price is the cheapest.
        assert_eq!(gap(&line, &all, Some(1.0)).as_deref(), Some("UK→FR 67 %"));
        // No rate: the pound price is left out.
        assert_eq!(gap(&line, &all, None).as_deref(), Some("DE→FR 50 %"));
        // One priced market among those tracked: no gap.
        assert_eq!(gap(&line, &[Market::DE, Market::IT], Some(1.2)), None);
    }
}
