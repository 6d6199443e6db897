//! The detail's P&L: the breakdown lines laid out for the pane (scrolled when short of
//! room) and as plain text for `copy breakdown`.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::super::{styled, wrap_words};
use crate::domain::text::{sanitize, signed_thousands};
use crate::domain::{Flag, Money};
use crate::tui::model::Detail;
use crate::tui::state::UiState;
use crate::tui::theme::Theme;

/// The P&L of a loaded detail as plain text (`copy breakdown`): the route and title, the
/// two Amazon pages, then the lines the detail shows, laid out 72 columns wide (it reads in
/// a mail or a chat as it does here).
pub fn pnl_text(d: &Detail) -> String {
    let k = d.key;
    let title = d
        .opportunity
        .as_ref()
        .and_then(|o| o.title.as_deref())
        .map(sanitize)
        .unwrap_or_default();
    let mut out = format!("{} {} → {}  {title}", k.asin, k.buy, k.sell)
        .trim_end()
        .to_string();
    for (side, m) in [("buy ", k.buy), ("sell", k.sell)] {
        out.push_str(&format!("\n{side} {} {}", m.code(), m.product_url(&k.asin)));
    }
    // Wide enough that a label is one line when pasted (a pane's wrapping would break
    // sentences in the middle), with the amounts right after the longest label rather
    // than at the end of a line that wide.
    for line in pnl_lines_in(d, 160, true, &Theme::builtin("mono")).0 {
        let text: String = line.spans.iter().map(|s| s.content.as_ref()).collect();
        out.push('\n');
        out.push_str(text.trim_end());
    }
    out.push('\n');
    out
}

/// The P&L as lines for a pane `width` wide: the headline, the breakdown (labels wrapped,
/// the amount on a label's last line), the prices that matter to a buyer, then the FX rate,
/// the gate verdict and the flags.
/// The P&L's lines, and how many of them are its summary (gross, net and ROI: one line, or
/// two where one does not fit).
pub(super) fn pnl_lines<'a>(d: &Detail, width: u16, theme: &Theme) -> (Vec<Line<'a>>, usize) {
    pnl_lines_in(d, width, false, theme)
}

/// [`pnl_lines`], the breakdown's amounts at the pane's right edge or, `tight`, right after
/// its longest label.
fn pnl_lines_in<'a>(d: &Detail, width: u16, tight: bool, theme: &Theme) -> (Vec<Line<'a>>, usize) {
    let Some(o) = &d.opportunity else {
        let none = Line::from(styled(
            "No P&L: the opportunity is no longer listed.",
            "muted",
            theme,
        ));
        return (vec![none], 1);
    };
    // A UK↔EU route without customs: its net is approximate, as the table's ≈ says.
    let approx = if o.flags.contains(Flag::RouteDisabled) {
        "≈"
    } else {
        ""
    };
    let gross = vec![
        styled("Gross ", "header", theme),
        // A markup over the buy price, not a margin on revenue as the net one is: said.
        Span::raw(format!(
            "{} ({:.2} % of buy)",
            o.gross_margin, o.gross_margin_pct
        )),
    ];
    let net = if let Some(why) = o.net_unknown() {
        vec![
            styled("Net ", "header", theme),
            styled(format!("unknown: {why}"), "warn", theme),
        ]
    } else {
        vec![
            styled("Net ", "header", theme),
            Span::styled(
                format!(
                    "{approx}{} ({approx}{:.2} %) · ROI {approx}{:.2} %",
                    o.net_profit, o.net_margin_pct, o.roi_pct
                ),
                // As the row's figures in the table: a route that fails a gate is not green.
                theme.style(if o.net_profit.minor < 0 {
                    "profit_negative"
                } else if o.ranked {
                    "profit_high"
                } else {
                    "profit_low"
                }),
            ),
        ]
    };
    // One line where it fits, else gross and net on lines of their own (never cut).
    let width_of = |spans: &[Span<'_>]| spans.iter().map(Span::width).sum::<usize>();
    let mut lines = if width_of(&gross) + 3 + width_of(&net) <= usize::from(width) {
        let mut one = gross;
        one.push(Span::raw("   "));
        one.extend(net);
        vec![Line::from(one)]
    } else {
        vec![Line::from(gross), Line::from(net)]
    };
    // Why the row is not ranked, and its warnings: pinned with the summary, so the answer
    // to "why is this row amber?" needs no scrolling.
    let gbp = o.buy_market.converts_gbp(o.sell_market);
    let mut verdict = Vec::new();
    if !o.ranked {
        let failed: Vec<String> = o
            .flags
            .failed_gates(gbp)
            .iter()
            .map(|g| match (g, identity_why(d, o)) {
                (Flag::Identity, Some(why)) => format!("IDENTITY ({why})"),
                (g, _) => g.name().to_string(),
            })
            .collect();
        verdict.push(styled(
            format!("Not ranked: failed {}", failed.join(", ")),
            "warn",
            theme,
        ));
    }
    let warnings = o.flags.warnings(gbp);
    if !warnings.is_empty() {
        if !verdict.is_empty() {
            verdict.push(Span::raw(" · "));
        }
        verdict.push(styled(
            format!("warnings: {}", warnings.join(", ")),
            "muted",
            theme,
        ));
    }
    if o.flags.contains(Flag::RouteDisabled) {
        if !verdict.is_empty() {
            verdict.push(Span::raw(" · "));
        }
        verdict.push(styled(
            "≈: UK↔EU without customs in the config: the net leaves out duty, broker and \
             import VAT (give this [[route]] a customs entry)",
            "muted",
            theme,
        ));
    }
    if !verdict.is_empty() {
        let text: String = verdict.iter().map(|s| s.content.as_ref()).collect();
        if text.chars().count() <= usize::from(width) {
            lines.push(Line::from(verdict));
        } else {
            for part in wrap_words(&text, usize::from(width)) {
                lines.push(Line::from(styled(part, "warn", theme)));
            }
        }
    }
    let summary = lines.len();
    let mut label_width = usize::from(width.saturating_sub(14));
    if tight {
        let longest = o
            .breakdown
            .lines
            .iter()
            .map(|l| sanitize(&l.label).chars().count());
        label_width = label_width.min(longest.max().unwrap_or(0));
    }
    if let Some(why) = &o.breakdown.unexplained {
        for part in wrap_words(&sanitize(why), usize::from(width)) {
            lines.push(Line::from(styled(part, "warn", theme)));
        }
    }
    for l in &o.breakdown.lines {
        let label = wrap_words(&sanitize(&l.label), label_width);
        let last = label.len() - 1;
        for (i, part) in label.into_iter().enumerate() {
            let amount = if i == last {
                l.amount.to_string()
            } else {
                String::new()
            };
            lines.push(Line::from(vec![
                Span::raw(format!("  {part:<label_width$}")),
                Span::raw(format!("{amount:>11}")),
            ]));
        }
    }
    // Derived from the same net, so as approximate as it is.
    let price = |m: Option<Money>| m.map_or_else(|| "none".to_string(), |m| format!("{approx}{m}"));
    let targets = format!(
        "Expected {approx}{}/month{} · max buy {} · target sell {} · break-even {}",
        o.expected_monthly_profit,
        demand_words(d, o),
        price(o.max_buy_price),
        price(o.target_sell_price),
        price(o.break_even_sell_price),
    );
    for part in wrap_words(&targets, usize::from(width)) {
        lines.push(Line::from(Span::raw(part)));
    }
    let mut tables = Vec::new();
    if let (Some(rate), Some(date)) = (o.breakdown.fx_eur_per_gbp, &o.breakdown.fx_date) {
        tables.push(format!("FX 1 GBP = {rate:.4} EUR ({date})"));
    }
    for part in wrap_words(&tables.join(" · "), usize::from(width)) {
        if !part.is_empty() {
            lines.push(Line::from(styled(part, "muted", theme)));
        }
    }
    (lines, summary)
}

/// What expected monthly profit rests on (economics.md §4.1): the units a month it counts,
/// `q = sales × (1 − Amazon's Buy Box share) / (FBA rivals + 1)`, and whether the monthly
/// cap (`max_units_per_month`) bound it instead.
fn demand_words(d: &Detail, o: &crate::domain::Opportunity) -> String {
    let Some(t) = d
        .product
        .as_ref()
        .and_then(|p| p.markets.get(&o.sell_market))
    else {
        return String::new();
    };
    let demand = crate::economics::Demand::of(t);
    let q = rust_decimal::prelude::ToPrimitive::to_f64(&crate::economics::monthly_units(t))
        .unwrap_or(0.0);
    let sales = match (demand.sales, demand.from_rank_drops) {
        (0, _) => "no sales data".to_string(),
        (n, true) => format!("{} rank drops/30d", signed_thousands(n)),
        (n, false) => format!("{} sold/mo", signed_thousands(n)),
    };
    let facts = format!(
        "{sales}, Amazon {:.0} % of the Buy Box, {} FBA rival{}",
        demand.amazon_share_pct,
        demand.rivals,
        if demand.rivals == 1 { "" } else { "s" }
    );
    // E = π · min(cap, q), from the unrounded π: the units it counts are E / π, and the
    // profit a unit it counts is said to a hundredth of a cent where the rounded net alone
    // would not multiply out to E (€1.00 × 20 shown beside an E of €20.04): to four places
    // it multiplies back to E (20 × €57.3895 is €1,147.79; to three, 20 × €57.389 was not).
    let (e, p) = (o.expected_monthly_profit.minor, o.net_profit.minor);
    let counted = (p > 0).then(|| e as f64 / p as f64);
    let (units, capped) = match counted {
        Some(u) if u + 0.05 < q => (u.round(), true),
        _ => (q, false),
    };
    let each = match (units > 0.0).then(|| e as f64 / units) {
        Some(x) if (p as f64 * units - e as f64).abs() >= 0.5 => {
            let sign = if x < 0.0 { "-" } else { "" };
            format!(" × {sign}€{:.4} (the net before rounding)", x.abs() / 100.0)
        }
        Some(_) => format!(" × {}", o.net_profit),
        None => String::new(),
    };
    if capped {
        format!(" ({units:.0} units{each}, the monthly cap; demand {q:.1}: {facts})")
    } else {
        format!(" ({q:.1} units{each}: {facts})")
    }
}

/// What makes the two sides different items (`IDENTITY`), from the product's snapshots:
/// no EAN in common, or another pack quantity.
fn identity_why(d: &Detail, o: &crate::domain::Opportunity) -> Option<String> {
    let p = d.product.as_ref()?;
    let (s, t) = (
        p.markets.get(&o.buy_market)?,
        p.markets.get(&o.sell_market)?,
    );
    if s.package_quantity != t.package_quantity {
        let q = |v: Option<i64>| v.map_or_else(|| "unknown".to_string(), |n| n.to_string());
        return Some(format!(
            "pack of {} in {}, {} in {}",
            q(s.package_quantity),
            o.buy_market,
            q(t.package_quantity),
            o.sell_market
        ));
    }
    if !s.eans.iter().any(|e| t.eans.contains(e)) {
        return Some(if s.eans.is_empty() || t.eans.is_empty() {
            "no EAN to compare on one side".to_string()
        } else {
            format!(
                "no EAN in common between {} and {}",
                o.buy_market, o.sell_market
            )
        });
    }
    None
}

/// Renders the P&L `lines` into `area`. Too long for it, they are scrolled by the state's
/// `detail_scroll` and the last line says what is below and how to see it; the largest
/// useful scroll is reported back so the keys stop where the text does.
pub(super) fn render_pnl(
    f: &mut Frame<'_>,
    area: Rect,
    (mut lines, summary): (Vec<Line<'_>>, usize),
    s: &UiState,
    hint: &str,
    theme: &Theme,
) {
    let mut h = usize::from(area.height);
    if h == 0 {
        return;
    }
    // The summary (gross, net, ROI) stays while the rest scrolls under it.
    // With room for nothing more than the summary and the scroll line, it is pinned only
    // at the top: scrolled, that one line shows the breakdown.
    let room = h > summary + 1 || (h > summary && s.detail_scroll == 0);
    let pinned: Vec<Line<'_>> = if lines.len() > h && room {
        lines.drain(..summary).collect()
    } else {
        Vec::new()
    };
    h -= pinned.len();
    let mut max_top = 0;
    // A page is the lines shown above the status line.
    s.detail_page
        .set(u16::try_from(h.saturating_sub(1).max(1)).unwrap_or(u16::MAX));
    if lines.len() > h {
        max_top = lines.len() - (h - 1).max(1);
        let top = usize::from(s.detail_scroll).min(max_top);
        let below = lines.len().saturating_sub(top + h - 1);
        let mut shown: Vec<Line<'_>> = lines.into_iter().skip(top).take(h - 1).collect();
        let lines_word = |n: usize| if n == 1 { "line" } else { "lines" };
        let status = match (top, below) {
            (_, 0) => format!("end · ↑ {top} {} above · {hint}", lines_word(top)),
            (0, _) => format!("↓ {below} more {} · {hint}", lines_word(below)),
            _ => format!(
                "↑ {top} above · ↓ {below} more {} · {hint}",
                lines_word(below)
            ),
        };
        shown.push(Line::from(styled(status, "muted", theme)));
        lines = shown;
    }
    s.detail_scroll_max
        .set(u16::try_from(max_top).unwrap_or(u16::MAX));
    if !pinned.is_empty() {
        lines.splice(0..0, pinned);
    }
    f.render_widget(Paragraph::new(lines), area);
}
