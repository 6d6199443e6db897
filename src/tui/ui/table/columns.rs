//! Which columns the table shows at a width, how wide each is, and how a number is cut to
//! fit its cell.

use crate::tui::action::Column;

/// Columns in the order they are dropped last-to-first when the table is narrow. The route
/// (buy and sell market) comes right after the ASIN: without it two rows of one product
/// cannot be told apart. Then what a buying decision rests on, as the conventions rank it
/// for narrow terminals: net profit, ROI and expected monthly profit; then the title, so a
/// table beside the detail pane still names its products; then the net margin, the figure
/// the minimum margin is set on, before the gross one.
const PRIORITY: [Column; 13] = [
    Column::Asin,
    Column::Buy,
    Column::Sell,
    Column::Profit,
    Column::Roi,
    Column::Emp,
    Column::Title,
    Column::Net,
    Column::Margin,
    Column::Age,
    Column::SellPrice,
    Column::BuyPrice,
    Column::Gross,
];

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
pub(super) fn fit_number(text: &str, room: usize) -> std::borrow::Cow<'_, str> {
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

pub(super) fn numeric(c: Column) -> bool {
    !matches!(c, Column::Asin | Column::Title | Column::Buy | Column::Sell)
}

/// Whether a column's cells keep their last cell free for the change arrow: the figures
/// do, the age does not (it never changes by a refresh).
pub(super) fn keeps_arrow_cell(c: Column) -> bool {
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
