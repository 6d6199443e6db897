//! The detail's 90-day price chart: the Lowest New line of each market in EUR, its
//! title the legend.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Axis, Chart, Dataset, GraphType, Paragraph};

use super::super::styled;
use super::eur;
use crate::domain::{Market, Money, PriceSeries, SeriesKind};
use crate::tui::state::UiState;
use crate::tui::theme::Theme;

/// Days of history in the chart.
const CHART_DAYS: i64 = 90;

/// Colour per market for the chart lines: five of the palette's colours (the text colour
/// the fifth), so that no two share one in a theme with colours.
fn market_role(m: Market) -> &'static str {
    match m {
        Market::UK => "accent",
        Market::DE => "good",
        Market::FR => "warn",
        Market::IT => "bad",
        Market::ES => "fg",
    }
}

/// Points `(days before now, EUR)` of a step series, with a point before each step so the
/// line keeps its level until the change.
fn points(series: &PriceSeries, eur_per_gbp: Option<f64>, s: &UiState) -> Vec<(f64, f64)> {
    let mut out: Vec<(f64, f64)> = Vec::new();
    let from = s.now - chrono::Duration::days(CHART_DAYS);
    let mut last: Option<f64> = None;
    for p in &series.points {
        let at = p.at.max(from);
        let x = (at - s.now).num_minutes() as f64 / 1440.0;
        let y = p
            .value
            .and_then(|v| eur(Money::new(v, series.market.currency()), eur_per_gbp))
            .map(|m| m.minor as f64 / 100.0);
        if p.at < from {
            last = y;
            continue;
        }
        if let Some(prev) = last {
            out.push((x, prev));
        }
        if let Some(y) = y {
            out.push((x, y));
        }
        last = y;
    }
    if let Some(y) = last {
        if out.is_empty() {
            out.push((-(CHART_DAYS as f64), y));
        }
        out.push((0.0, y));
    }
    out
}

pub(super) fn render(
    f: &mut Frame<'_>,
    area: Rect,
    history: &[PriceSeries],
    eur_per_gbp: Option<f64>,
    route: Option<(Market, Market)>,
    s: &UiState,
    theme: &Theme,
) {
    let (buy, sell) = route.map_or((None, None), |(b, s)| (Some(b), Some(s)));
    let mut series: Vec<(Market, Vec<(f64, f64)>)> = Vec::new();
    for m in Market::ALL {
        let pick = |k: SeriesKind| {
            history
                .iter()
                .find(|h| h.market == m && h.kind == k && !h.points.is_empty())
        };
        if let Some(h) = pick(SeriesKind::New).or_else(|| pick(SeriesKind::Amazon)) {
            let pts = points(h, eur_per_gbp, s);
            if !pts.is_empty() {
                series.push((m, pts));
            }
        }
    }
    // The markets off the route share one glyph, so only colour tells them apart: where
    // the theme gives two of them one colour (mono, NO_COLOR), they are left out, and the
    // title says so, rather than drawn as lines no one can name. (With no route, the first
    // market's line stays.)
    let on_route = |m: Market| Some(m) == buy || Some(m) == sell;
    let others: Vec<Market> = series
        .iter()
        .map(|(m, _)| *m)
        .filter(|m| !on_route(*m))
        .collect();
    let kept = if route.is_none() {
        others.first().copied()
    } else {
        None
    };
    let fg = |m: &Market| theme.style(market_role(*m)).fg;
    let alike = others
        .iter()
        .enumerate()
        .any(|(i, a)| others[i + 1..].iter().any(|b| fg(a) == fg(b)));
    if alike {
        series.retain(|(m, _)| on_route(*m) || Some(*m) == kept);
    }
    if series.is_empty() {
        f.render_widget(
            Paragraph::new("No price history yet.").style(theme.style("muted")),
            area,
        );
        return;
    }
    let (lo, hi) = series
        .iter()
        .flat_map(|(_, p)| p.iter().map(|(_, y)| *y))
        .fold((f64::MAX, f64::MIN), |(lo, hi), y| (lo.min(y), hi.max(y)));
    let pad = ((hi - lo) * 0.1).max(0.5);
    let (lo, hi) = ((lo - pad).max(0.0), hi + pad);
    // The route's two lines are drawn in glyphs of their own, so they stay apart where
    // colours do not (a mono theme, two markets in one colour): buy `•`, sell `▄`, the
    // other markets in thin braille lines.
    let look = |m: Market| -> (Marker, &str) {
        if Some(m) == buy {
            (Marker::Dot, "•")
        } else if Some(m) == sell {
            (Marker::Bar, "▄")
        } else {
            (Marker::Braille, "⠒")
        }
    };
    let datasets = series
        .iter()
        .map(|(m, pts)| {
            Dataset::default()
                .name(m.code())
                .marker(look(*m).0)
                .graph_type(GraphType::Line)
                .style(theme.style(market_role(*m)))
                .data(pts)
        })
        .collect();
    // The legend is the title: each market in its line's colour, the route's two named
    // (a legend box inside the plot would cover the lines it explains).
    // Shorter words where the full legend does not fit, so that none is cut mid-word.
    let legend = |head: &'static str, hidden: String| {
        let mut title = vec![styled(head, "muted", theme)];
        for (m, _) in &series {
            let role = if Some(*m) == buy {
                " buy"
            } else if Some(*m) == sell {
                " sell"
            } else {
                ""
            };
            title.push(styled(
                format!("{} {}{role} ", look(*m).1, m.code()),
                market_role(*m),
                theme,
            ));
        }
        if alike {
            title.push(styled(hidden, "muted", theme));
        }
        title
    };
    let n = others.len() - usize::from(kept.is_some());
    let fits =
        |t: &Vec<Span<'_>>| t.iter().map(Span::width).sum::<usize>() <= usize::from(area.width);
    let mut title = legend(
        " Lowest New €, 90d: ",
        format!("· {n} others hidden (no colour) "),
    );
    for (head, hidden) in [
        (" Lowest New €, 90d: ", format!("· {n} hidden ")),
        (" 90d: ", format!("· {n} hidden ")),
        (" 90d: ", String::new()),
    ] {
        if fits(&title) {
            break;
        }
        title = legend(head, hidden);
    }
    let chart = Chart::new(datasets)
        .block(ratatui::widgets::Block::default().title(Line::from(title)))
        .x_axis(
            Axis::default()
                .bounds([-(CHART_DAYS as f64), 0.0])
                .labels(["-90d", "-45d", "now"])
                .style(theme.style("muted")),
        )
        .y_axis(
            Axis::default()
                .bounds([lo, hi])
                .labels([format!("{lo:.0}"), format!("{hi:.0}")])
                .style(theme.style("muted")),
        )
        .legend_position(None)
        .style(theme.style("screen"));
    f.render_widget(chart, area);
}
