//! The registry: every action the console knows, with its arguments, where it applies,
//! its line in help and whether it changes stored data.

use super::Context;

/// One entry of the registry.
#[derive(Debug)]
pub struct ActionSpec {
    /// What `:` and `run =` use.
    pub id: &'static str,
    /// Completion hints for the first argument.
    pub args: &'static [&'static str],
    /// Where the action is meaningful.
    pub contexts: &'static [Context],
    /// One line for help.
    pub desc: &'static str,
    /// Changes stored data (the watchlist).
    pub dangerous: bool,
}

const G: &[Context] = &[Context::Global];
const T: &[Context] = &[Context::Table];
/// Where a product is selected: the table, its detail and the products view.
const TDP: &[Context] = &[Context::Table, Context::Detail, Context::Products];
/// The table and the products view.
const TP: &[Context] = &[Context::Table, Context::Products];
const TDSLP: &[Context] = &[
    Context::Table,
    Context::Detail,
    Context::Sidebar,
    Context::Logs,
    Context::Products,
];
/// Where `move` scrolls or moves something: the filter's contexts and the health view.
const MOVES: &[Context] = &[
    Context::Table,
    Context::Detail,
    Context::Sidebar,
    Context::Logs,
    Context::Health,
    Context::Products,
];

/// Every action the console knows.
pub const REGISTRY: &[ActionSpec] = &[
    spec("help", &[], G, "Show every action and its keys"),
    spec("command", &[], G, "Open the command line"),
    spec(
        "back",
        &[],
        G,
        "Back, or clear the prompt, the filter, then the marks",
    ),
    spec(
        "goto",
        &["opportunities", "products", "health", "logs"],
        G,
        "Go to a view (`:opportunities`, `:products`, `:health` and `:logs` alone too)",
    ),
    spec("freeze", &[], G, "Freeze or unfreeze the display"),
    spec(
        "theme",
        &[
            "next",
            "auto",
            "dark",
            "light",
            "mono",
            "ansi16",
            "high-contrast",
        ],
        G,
        "Switch the theme (auto: what suits this terminal, as --theme auto)",
    ),
    spec(
        "focus",
        &["next", "prev"],
        G,
        "Move the focus between panels",
    ),
    spec(
        "min-margin",
        &["+1", "-1", "10", "=-5"],
        G,
        "Change (+1, -1) or set (10, =-5) the minimum margin (%); `:min` for short",
    ),
    spec(
        "basis",
        &["gross", "net"],
        G,
        "Filter the minimum margin on gross or net",
    ),
    spec(
        "limit",
        &["25", "50", "100", "250", "all"],
        G,
        "Rows to show",
    ),
    spec(
        "markets",
        &["uk,de,fr,it,es"],
        G,
        "Buy and sell only in these markets",
    ),
    spec("buy", &["uk,de,fr,it,es"], G, "Buy only in these markets"),
    spec("sell", &["uk,de,fr,it,es"], G, "Sell only in these markets"),
    spec(
        "quit",
        &[],
        G,
        "Quit (the key backs out of a view first; `:quit` and `:q` quit from any view)",
    ),
    spec(
        "suspend",
        &[],
        G,
        "Suspend to the shell, the pipeline and the API with it (fg resumes)",
    ),
    spec(
        "redraw",
        &[],
        G,
        "Paint the whole screen afresh (after another program wrote over it)",
    ),
    spec(
        "set",
        &["refresh"],
        G,
        "Show or set the refresh interval for this run (`:set refresh 20m`; 90s, 2h, 1d)",
    ),
    spec(
        "filter",
        &[],
        TDSLP,
        "Filter by title, ASIN or field (in the log view: search the log; in the products view: search titles, brands and ASINs)",
    ),
    spec(
        "move",
        &["+1", "-1", "+page", "-page", "top", "bottom"],
        MOVES,
        "Move the selection (in the detail drawer and the health view: scroll it)",
    ),
    spec(
        "open",
        &[],
        TP,
        "Open the detail of the selected row (in the products view: the product's routes)",
    ),
    spec(
        "mark",
        &[],
        T,
        "Mark or unmark the selected row and move down (export and copy take the marked ones)",
    ),
    spec("zoom", &[], T, "Table full screen"),
    spec(
        "sort",
        &SORT_ARGS,
        T,
        "Sort by a column (the sorted one again reverses it; asc or desc after it sets the order), the next column, or reverse the order",
    ),
    spec(
        "copy",
        &["link", "buy-link", "asin", "row", "breakdown"],
        TDP,
        "Copy to the clipboard (the marked rows when rows are marked)",
    ),
    spec("export", &["csv", "json"], T, "Export the filtered rows"),
    spec(
        "refresh",
        &["selected", "all"],
        TDP,
        "Refresh the selected product now (the marked ones, if any), the whole watchlist (all) or the ASINs named",
    ),
    ActionSpec {
        id: "discover",
        args: &[],
        contexts: G,
        desc: "Run discovery now: add the best sellers of the configured categories to the watchlist",
        dangerous: true,
    },
    ActionSpec {
        id: "watch",
        args: &["add", "remove"],
        contexts: TP,
        desc: "Add ASINs (or Amazon product links) to or remove the selected one (the marked ones, if any) from the watchlist",
        dangerous: true,
    },
    spec(
        "toggle",
        &[],
        &[Context::Sidebar],
        "Toggle the item under the cursor",
    ),
    spec(
        "faults-only",
        &[],
        &[Context::Health],
        "Show only components with faults",
    ),
    spec(
        "log-level",
        &["error", "warn", "info", "debug", "trace"],
        &[Context::Logs],
        "Show log lines at this level and above",
    ),
    spec("none", &[], G, "Nothing (unbinds a key in a keymap)"),
];

/// What `:sort` takes: the columns, then `next` and `reverse`.
pub(super) const SORT_ARGS: [&str; 15] = [
    "profit",
    "roi",
    "margin",
    "gross",
    "net",
    "emp",
    "asin",
    "age",
    "title",
    "buy",
    "sell",
    "buy-price",
    "sell-price",
    "next",
    "reverse",
];

const fn spec(
    id: &'static str,
    args: &'static [&'static str],
    contexts: &'static [Context],
    desc: &'static str,
) -> ActionSpec {
    ActionSpec {
        id,
        args,
        contexts,
        desc,
        dangerous: false,
    }
}

/// The registry entry for `id`.
pub fn spec_of(id: &str) -> Option<&'static ActionSpec> {
    REGISTRY.iter().find(|s| s.id == id)
}
