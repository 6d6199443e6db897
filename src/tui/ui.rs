//! Rendering: a pure function of the state, the theme and the keymap.
//!
//! Nothing here does I/O, takes a lock, sorts, filters or reads the clock ("now" comes from
//! the state's last tick), so a frame is deterministic and snapshot tests see exactly what
//! an operator sees. One exception, by design: the detail drawer records how its P&L
//! wrapped (`UiState::detail_page`, `detail_scroll_max`, two `Cell`s), since only drawing
//! knows it and the scroll keys must stop where the text ends; what is drawn never reads
//! them back. Every area is computed with saturating arithmetic and empty areas are
//! skipped, so any terminal size, down to 1×1, draws without a panic.

mod detail;
mod footer;
mod health;
mod overlay;
mod panels;
mod products;

pub use crate::domain::text::thousands;
mod table;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Borders, Paragraph};

use super::action::{Action, ActionSpec, Context, REGISTRY, View};
use super::keymap::{Keymap, show_keys};
use super::state::{Focus, UiState};
use super::theme::Theme;

pub use detail::pnl_text;
pub use overlay::HelpEntry;
pub use table::{TableHit, hit as table_hit};

/// Below this the console only says that the terminal is too small.
pub const MIN_SIZE: (u16, u16) = (60, 15);

/// Where each part of the dashboard goes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Areas {
    /// Title bar.
    pub header: Rect,
    /// Metric tiles.
    pub tiles: Option<Rect>,
    /// Filters.
    pub sidebar: Option<Rect>,
    /// Opportunities.
    pub table: Option<Rect>,
    /// Selected product.
    pub detail: Option<Rect>,
    /// Components.
    pub health: Option<Rect>,
    /// Key hints, prompt.
    pub footer: Rect,
}

/// Whether the detail pane is on screen without opening it: beside the table on wide
/// screens, under it on tall ones.
pub fn shows_detail_beside((w, h): (u16, u16)) -> bool {
    w >= 160 || (w >= 80 && h >= 36)
}

/// The width of the products view's detail, beside its table, where the terminal has
/// room for both: the table keeps its every column with a title of a few words.
pub fn product_detail_width(w: u16) -> Option<u16> {
    (w >= 150).then(|| (w - 100).min(80))
}

/// The products view's table and, where it fits, the selected product's detail beside it,
/// in a screen of `area`.
pub fn products_areas(area: Rect) -> (Rect, Option<Rect>) {
    let body = Rect::new(0, 1, area.width, area.height.saturating_sub(2));
    match product_detail_width(area.width) {
        Some(w) => {
            let [table, detail] =
                Layout::horizontal([Constraint::Min(0), Constraint::Length(w)]).areas(body);
            (table, Some(detail))
        }
        None => (body, None),
    }
}

/// Body rows (between the title bar and the footer) from which the health panel shows.
const HEALTH_MIN_BODY: u16 = 38;

/// Whether `focus` is a panel on screen for `s` (the sidebar opens when it takes focus on
/// narrow screens): what `Tab` cycles through.
pub fn focusable(s: &UiState, focus: Focus) -> bool {
    match focus {
        Focus::Sidebar | Focus::Table => true,
        Focus::Detail => !s.zoom && shows_detail_beside(s.size),
        Focus::Health => !s.zoom && s.size.1.saturating_sub(2) >= HEALTH_MIN_BODY,
    }
}

/// The dashboard layout for the state's terminal size.
pub fn layout(s: &UiState) -> Areas {
    let area = Rect::new(0, 0, s.size.0, s.size.1);
    dashboard(area, s)
}

fn dashboard(area: Rect, s: &UiState) -> Areas {
    let [header, body, footer] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(0),
        Constraint::Length(1),
    ])
    .areas(area);
    let mut a = Areas {
        header,
        footer,
        ..Areas::default()
    };
    // With the detail under the table and in focus, the detail takes the health panel's
    // rows and most of the table's: the P&L is what the operator opened it for.
    let stacked = area.width < 160 && shows_detail_beside((area.width, area.height));
    let reading = stacked && s.focus == Focus::Detail && !s.zoom;
    let (tiles_h, health_h) = (
        if body.height >= 18 && !s.zoom { 3 } else { 0 },
        if body.height >= HEALTH_MIN_BODY && !s.zoom && !reading {
            health::panel_height(s, 9)
        } else {
            0
        },
    );
    let [tiles, rest] =
        Layout::vertical([Constraint::Length(tiles_h), Constraint::Min(0)]).areas(body);
    if tiles_h > 0 {
        a.tiles = Some(tiles);
    }
    let show_sidebar = !s.zoom && (area.width >= 120 || s.focus == Focus::Sidebar);
    let [side, main] = Layout::horizontal([
        Constraint::Length(if show_sidebar { 24 } else { 0 }),
        Constraint::Min(0),
    ])
    .areas(rest);
    if show_sidebar {
        a.sidebar = Some(side);
    }
    let [main, health] =
        Layout::vertical([Constraint::Min(0), Constraint::Length(health_h)]).areas(main);
    if health_h > 0 {
        a.health = Some(health);
    }
    if s.zoom {
        a.table = Some(main);
    } else if area.width >= 160 {
        let [t, d] = Layout::horizontal([Constraint::Percentage(58), Constraint::Percentage(42)])
            .areas(main);
        a.table = Some(t);
        a.detail = Some(d);
    } else if stacked {
        let table_pct = if reading { 30 } else { 50 };
        let [t, d] = Layout::vertical([
            Constraint::Percentage(table_pct),
            Constraint::Percentage(100 - table_pct),
        ])
        .areas(main);
        a.table = Some(t);
        a.detail = Some(d);
    } else if s.detail_open || s.focus == Focus::Detail {
        // Also when the detail had the focus beside or under the table and the terminal
        // shrank: the operator was reading it.
        a.detail = Some(main);
    } else {
        a.table = Some(main);
    }
    a
}

/// Splits `text` into lines of at most `width` characters, at spaces where it can.
pub(super) fn wrap_words(text: &str, width: usize) -> Vec<String> {
    let width = width.max(8);
    let mut out: Vec<String> = Vec::new();
    let mut line = String::new();
    // A unit or a closing part stays with the number before it: `15 %)`, `1 month(s)`.
    let mut words: Vec<String> = Vec::new();
    for word in text.split(' ') {
        let unit = word.trim_end_matches([',', ';', '.', ')']);
        let sticks = word.starts_with(['%', '€', '£', ')'])
            || word.starts_with("month")
            || matches!(unit, "ms" | "s" | "min");
        match words.last_mut() {
            Some(prev) if sticks && prev.ends_with(|c: char| c.is_ascii_digit()) => {
                prev.push(' ');
                prev.push_str(word);
            }
            _ => words.push(word.to_string()),
        }
    }
    for word in &words {
        let word = word.as_str();
        let (len, add) = (line.chars().count(), word.chars().count());
        if len > 0 && len + 1 + add > width {
            out.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
        // A word longer than a line is cut where the line ends.
        while line.chars().count() > width {
            let cut = line
                .char_indices()
                .nth(width)
                .map_or(line.len(), |(i, _)| i);
            let tail = line.split_off(cut);
            out.push(std::mem::replace(&mut line, tail));
        }
    }
    out.push(line);
    out
}

/// Table rows that fit (without borders and the header row).
pub fn table_rows(s: &UiState) -> usize {
    match s.view_kind {
        View::Opportunities => layout(s)
            .table
            .map_or(1, |t| usize::from(t.height.saturating_sub(3))),
        _ => usize::from(s.size.1.saturating_sub(4)),
    }
}

/// Whether a terminal of `(width, height)` is below [`MIN_SIZE`]: then the console only
/// says so, and keys other than Ctrl-C and Ctrl-Z do nothing.
pub fn too_small((w, h): (u16, u16)) -> bool {
    w < MIN_SIZE.0 || h < MIN_SIZE.1
}

/// Draws a frame.
pub fn render(f: &mut Frame<'_>, s: &UiState, theme: &Theme, keymap: &Keymap) {
    let area = f.area();
    if too_small((area.width, area.height)) {
        let text = format!(
            "terminal too small: {}×{} (min {}×{}); keys wait until it is larger, Ctrl-C quits",
            area.width, area.height, MIN_SIZE.0, MIN_SIZE.1
        );
        f.render_widget(
            Paragraph::new(text).wrap(ratatui::widgets::Wrap { trim: true }),
            area,
        );
        return;
    }
    f.render_widget(Block::default().style(theme.style("screen")), area);
    let a = dashboard(area, s);
    let health_shown = a.health.is_some() || s.view_kind == View::Health;
    panels::header(f, a.header, s, theme, health_shown);
    match s.view_kind {
        View::Opportunities => {
            if let Some(r) = a.tiles {
                panels::tiles(f, r, s, theme);
            }
            if let Some(r) = a.sidebar {
                panels::sidebar(f, r, s, theme);
            }
            if let Some(r) = a.table {
                table::render(f, r, s, theme);
            }
            if let Some(r) = a.detail {
                detail::render(f, r, s, theme);
            }
            if let Some(r) = a.health {
                health::health(f, r, s, theme, s.focus == Focus::Health);
            }
        }
        View::Health => {
            // The token balance of the last hour above the components, where there is room.
            // (From 30 rows: below, the components need every row.)
            let (spark, body) = health::view_areas(s, area);
            if let Some(spark) = spark {
                health::token_sparkline(f, spark, s, theme);
            }
            health::health(f, body, s, theme, true);
        }
        View::Logs => {
            let body = Rect::new(0, 1, area.width, area.height.saturating_sub(2));
            panels::logs(f, body, s, theme);
        }
        View::Products => {
            let (table, detail) = products_areas(area);
            products::render(f, table, s, theme);
            if let Some(d) = detail {
                detail::product::render(f, d, s, theme);
            }
        }
    }
    footer::footer(f, a.footer, s, theme, keymap);
    overlay::render(f, area, s, theme, keymap);
}

/// Clears `area` for something drawn over the screen, to the theme's screen colours (the
/// terminal's own unless the theme paints the screen, as high-contrast does).
fn clear(f: &mut Frame<'_>, area: Rect, theme: &Theme) {
    f.render_widget(ratatui::widgets::Clear, area);
    f.render_widget(Block::default().style(theme.style("screen")), area);
}

/// A bordered block with the focus style when focused.
fn block<'a>(title: impl Into<Line<'a>>, focused: bool, theme: &Theme) -> Block<'a> {
    Block::default()
        .borders(Borders::ALL)
        .border_type(if focused {
            BorderType::Thick
        } else {
            BorderType::Plain
        })
        .border_style(theme.style(if focused { "border_focus" } else { "border" }))
        .title(title)
        .title_style(theme.style("title"))
}

/// The help's legend: row markers, then the `/` filter's language (its fields are
/// [`crate::filter::FIELDS`]).
const LEGEND: [(&str, &str); 7] = [
    (
        "* (row)",
        "marked row (Space marks and unmarks; e exports and y copies only the marked \
         rows); its ! or + stays beside it",
    ),
    (
        "+ (row)",
        "new: a ranked route that appeared since the last refresh",
    ),
    (
        "! (row)",
        "not ranked: a gate failed (PROFIT, ROI, …); the detail says which and why",
    ),
    (
        "≈ (net)",
        "approximate: a UK↔EU route without customs in the config, its net leaves out \
         duty, broker and import VAT (ROUTE_DISABLED)",
    ),
    (
        "/word",
        "filter: a word or \"phrase\" matches the ASIN or title; all terms must hold",
    ),
    (
        "/roi>=25",
        "filter: field, operator, value without spaces; operators = != > >= < <= ~",
    ),
    (
        "/!flags~stale",
        "filter: ! negates a term; ~ is a regular expression in any case",
    ),
];

/// The products view's legend: its cells and its search.
const PRODUCTS_LEGEND: [(&str, &str); 7] = [
    (
        "€12.99 (market)",
        "the price now: the Buy Box, else the lower of Amazon's and the lowest New offer",
    ),
    ("out (market)", "listed there, with no offer now"),
    ("· (market)", "not listed there"),
    ("… (market)", "not fetched there yet"),
    (
        "Keepa",
        "how old Keepa's oldest data of the product is (its stalest market: no price on the line is older; a route's detail gives each side's)",
    ),
    (
        "Watched",
        "why the pipeline refreshes it: you (added by hand), found (discovery), import; – not watched",
    ),
    (
        "/word",
        "search: words the title, brand or ASIN hold, all of them, in any case (no fields)",
    ),
];

/// The widest the help's keys column gets (a quarter of the overlay, at most this).
pub(crate) const HELP_KEYS_MAX: usize = 22;

/// Whether `a` does nothing where the keys go now: Tab in a view of one panel (the panels
/// are the dashboard's), scrolling the dashboard's health panel (a summary; the health
/// view scrolls), watching a watched product or unwatching an unwatched one.
fn idle_here(s: &UiState, ctx: Context, a: &Action) -> bool {
    let dashboard = s.view_kind == View::Opportunities;
    // In the products view `a` and `d` act on the selected product: one of them has
    // nothing to do (the watchlist not yet read: as if watched, the list's usual case).
    let watched = || s.selected_product_watched().unwrap_or(true);
    match a {
        Action::Focus(_) => !dashboard,
        Action::Move(_) => ctx == Context::Health && dashboard,
        Action::WatchAdd(asins) => ctx == Context::Products && asins.is_empty() && watched(),
        Action::WatchRemove(asins) => ctx == Context::Products && asins.is_empty() && !watched(),
        _ => false,
    }
}

/// Whether help and the hint bar offer `a` in context `ctx`: not what this console may not
/// do (change the watchlist read-only, refresh where nothing fetches), nor what does
/// nothing here.
pub(super) fn offered(s: &UiState, ctx: Context, a: &Action) -> bool {
    let forbidden =
        (s.session.read_only && a.changes_stored_data()) || (!s.session.fetches && a.fetches());
    !forbidden && !idle_here(s, ctx, a)
}

/// Whether this console may run the command `spec` at all: what help lists and `:` Tab
/// completes (the same rules as [`offered`], by the registry's `dangerous` and ids).
pub fn command_allowed(s: &UiState, spec: &ActionSpec) -> bool {
    let forbidden = (s.session.read_only && spec.dangerous)
        || (!s.session.fetches && matches!(spec.id, "refresh" | "discover"));
    spec.id != "none" && !forbidden
}

/// Help entries for the current context: every binding valid here, then every action as
/// a command with its arguments (`:theme next|dark|…`), keyed or not, so `?` then a word
/// finds how to type it too.
pub fn help_entries(s: &UiState, keymap: &Keymap, filter: &str) -> Vec<HelpEntry> {
    let ctx = s.context();
    let mut out: Vec<HelpEntry> = Vec::new();
    for c in [ctx, Context::Global] {
        for b in keymap.bindings(c) {
            if out.iter().any(|e| e.keys == show_keys(&b.keys)) || !offered(s, ctx, &b.action) {
                continue;
            }
            out.push(HelpEntry {
                keys: show_keys(&b.keys),
                run: b.run.clone(),
                desc: b.desc.clone(),
                user: b.user,
                context: c.name(),
            });
        }
    }
    for spec in REGISTRY {
        // `:focus` does what Tab does, so it is idle where Tab is.
        let idle = spec.id == "focus" && idle_here(s, ctx, &Action::Focus(true));
        if !command_allowed(s, spec) || idle {
            continue;
        }
        // The arguments beside the id while they fit the keys column; a longer list goes
        // into the description, which wraps, so none is cut off.
        let args = spec.args.join("|");
        let (keys, desc) = match args.as_str() {
            "" => (format!(":{}", spec.id), spec.desc.to_string()),
            a if spec.id.len() + a.len() + 2 <= HELP_KEYS_MAX => {
                (format!(":{} {a}", spec.id), spec.desc.to_string())
            }
            _ => (
                format!(":{} …", spec.id),
                format!("{}: {}", spec.desc, spec.args.join(", ")),
            ),
        };
        out.push(HelpEntry {
            keys,
            run: spec.id.to_string(),
            desc,
            user: false,
            context: "command",
        });
    }
    // What the screen shows without a key: the row markers and the filter's language.
    let fields = format!(
        "filter fields: {}; a route is written it>de",
        crate::filter::FIELDS
    );
    let numbers = crate::filter::NUMBER_FIELDS.to_string();
    let legend: Vec<(&str, String)> = if ctx == Context::Products {
        PRODUCTS_LEGEND
            .iter()
            .map(|&(k, d)| (k, d.to_string()))
            .collect()
    } else {
        LEGEND
            .iter()
            .map(|&(k, d)| (k, d.to_string()))
            .chain([("/src=uk,de", fields), ("/profit>5 roi>=25", numbers)])
            .collect()
    };
    for (keys, desc) in legend {
        out.push(HelpEntry {
            keys: keys.to_string(),
            run: String::new(),
            desc,
            user: false,
            context: "legend",
        });
    }
    let f = filter.to_lowercase();
    out.retain(|e| {
        f.is_empty()
            || e.run.contains(&f)
            || e.desc.to_lowercase().contains(&f)
            || e.keys.to_lowercase().contains(&f)
    });
    out
}

/// `Span` helper: text in a role's style.
fn styled<'a>(text: impl Into<std::borrow::Cow<'a, str>>, role: &str, theme: &Theme) -> Span<'a> {
    Span::styled(text, theme.style(role))
}

pub(super) use crate::domain::text::fit;

/// Formats a duration since `then` compactly: `12s`, `5m`, `3h`, `2d`.
pub fn age(now: chrono::DateTime<chrono::Utc>, then: chrono::DateTime<chrono::Utc>) -> String {
    let s = (now - then).num_seconds().max(0);
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m", s / 60),
        3600..86_400 => format!("{}h", s / 3600),
        _ => format!("{}d", s / 86_400),
    }
}

pub use crate::domain::text::span;
pub use health::scroll_limit as health_scroll_limit;
pub use panels::{log_line_shown, log_scroll_limit};

#[cfg(test)]
mod tests {
    use super::{fit, wrap_words};

    #[test]
    fn labels_wrap_at_spaces_and_long_words_are_cut() {
        assert_eq!(
            wrap_words("Profit π: 20.25 % of net revenue; ROI 38.4 %", 20),
            vec!["Profit π: 20.25 % of", "net revenue; ROI", "38.4 %"]
        );
        assert_eq!(wrap_words("short", 20), vec!["short"]);
        assert_eq!(
            wrap_words("abcdefghijklmnopqrstuvwxyz", 10),
            vec!["abcdefghij", "klmnopqrst", "uvwxyz"]
        );
        assert_eq!(wrap_words("", 10), vec![""]);
        // A unit is not left alone at the start of a line.
        assert_eq!(
            wrap_words("Referral fee on 109.49 gross (default, 15 %)", 41),
            vec!["Referral fee on 109.49 gross (default,", "15 %)"]
        );
        assert_eq!(
            wrap_words("Storage 36.00/m³·month × 0.0696 m³ × 1 month(s)", 44),
            vec!["Storage 36.00/m³·month × 0.0696 m³ ×", "1 month(s)"]
        );
        assert_eq!(
            wrap_words("store ok · probe 0.4 ms", 20),
            vec!["store ok · probe", "0.4 ms"]
        );
    }

    #[test]
    fn fit_cuts_to_terminal_columns_with_an_ellipsis() {
        assert_eq!(fit("Kettle", 6), "Kettle");
        assert_eq!(fit("Kettle 1.7L", 6), "Kettl…");
        // Wide characters take two columns; one that would cross the edge is left out.
        assert_eq!(fit("東京タワー", 6), "東京…");
        assert_eq!(fit("東京タワー", 5), "東京…");
        assert_eq!(fit("abc", 1), "…");
        assert_eq!(fit("abc", 0), "");
    }
}
