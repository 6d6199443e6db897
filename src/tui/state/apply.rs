//! The reducer: what each action does to the state (its cursor motions and the filters
//! sidebar are in `motion.rs`).

use super::{
    Action, Column, Context, CopyTarget, Effect, FOCUS_ORDER, Focus, LOG_LEVELS, MarginChange,
    Motion, Overlay, PromptKind, ROW_LIMITS, Side, SortBy, UiState, View, limit_label,
};
use crate::domain::Market;

impl UiState {
    /// Runs an action, then keeps the selected row in view of the table as the action left
    /// the layout (opening the detail, say, takes rows from the table).
    pub fn apply(&mut self, action: Action) -> Vec<Effect> {
        let effects = self.act(action);
        let page = super::super::ui::table_rows(self).max(1);
        if page != self.page {
            if page < self.page {
                self.scroll_before.get_or_insert((self.offset, self.page));
            } else if let Some((offset, before)) = self.scroll_before
                && page >= before
            {
                // The rows are back: so is the scroll, if the selected row shows there.
                self.scroll_before = None;
                if (offset..offset + page).contains(&self.selected) {
                    self.offset = offset;
                }
            }
            self.page = page;
            self.clamp();
        }
        effects
    }

    /// What `action` does.
    fn act(&mut self, action: Action) -> Vec<Effect> {
        self.dirty = true;
        if self.session.read_only && action.changes_stored_data() {
            self.toast_error(
                "read-only: the watchlist and jobs cannot be changed or started here (started \
                 with --read-only)"
                    .to_string(),
            );
            return Vec::new();
        }
        let action = match self.view_kind {
            View::Products => match self.act_on_product(action) {
                Ok(effects) => return effects,
                Err(other) => other,
            },
            _ => action,
        };
        // The table's own actions, given as commands in another view, would change the
        // hidden table unseen.
        if self.view_kind != View::Opportunities
            && let Some(what) = match action {
                Action::Mark => Some("mark"),
                Action::Zoom => Some("zoom"),
                Action::Sort(_) => Some("sort"),
                Action::Open => Some("open"),
                _ => None,
            }
        {
            self.toast_error(format!(
                "{what} works on the opportunities table: g o goes there"
            ));
            return Vec::new();
        }
        match action {
            Action::None => Vec::new(),
            Action::Help => {
                self.overlay = Some(Overlay::Help {
                    filter: String::new(),
                    selected: 0,
                });
                Vec::new()
            }
            Action::Command(prefill) => {
                self.open_prompt(PromptKind::Command, prefill);
                Vec::new()
            }
            Action::Filter(None) if self.view_kind == View::Logs => {
                self.open_prompt(PromptKind::LogSearch, self.log_search.clone());
                Vec::new()
            }
            Action::Filter(Some(text)) if self.view_kind == View::Logs => {
                self.search_log(text);
                Vec::new()
            }
            Action::Filter(None) => {
                // From the filters sidebar, the table is what gets filtered: it takes the
                // focus, so typed letters go to the filter and not to the sidebar's keys.
                if self.focus == Focus::Sidebar {
                    self.focus = Focus::Table;
                }
                self.open_prompt(PromptKind::Filter, self.filter_text.clone());
                Vec::new()
            }
            Action::Filter(Some(text)) => self.set_filter(text),
            Action::Back => self.back(),
            Action::Goto(v) => self.goto(v),
            Action::Freeze => self.toggle_freeze(),
            Action::Theme(name) => vec![Effect::Theme(name)],
            // The panels are the dashboard's: a view of one panel (products, health, logs)
            // keeps the operator where they are.
            Action::Focus(_) if self.view_kind != View::Opportunities => Vec::new(),
            Action::Focus(next) => self.focus_next(next),
            Action::MinMargin(change) => self.set_min_margin(change),
            Action::Basis(b) => {
                self.basis = b;
                self.requery()
            }
            Action::Limit(n) => self.set_limit(n),
            Action::Markets(side, list) => self.set_markets(side, list),
            Action::Suspend => vec![Effect::Suspend],
            Action::Redraw => vec![Effect::Redraw],
            Action::Quit => self.quit_or_back(),
            Action::Move(m) => {
                self.move_by(m);
                Vec::new()
            }
            Action::Open => {
                self.detail_scroll = 0;
                if self.selected_row().is_some() {
                    if crate::tui::ui::shows_detail_beside(self.size) {
                        self.focus = Focus::Detail;
                    } else {
                        self.detail_open = true;
                    }
                }
                Vec::new()
            }
            Action::Mark => {
                if let Some(k) = self.selected_row().map(|r| r.key) {
                    if !self.marked.remove(&k) {
                        self.marked.insert(k);
                    }
                    self.move_table(Motion::By(1));
                }
                Vec::new()
            }
            Action::Zoom => {
                self.zoom = !self.zoom;
                self.on_resize(self.size.0, self.size.1);
                Vec::new()
            }
            Action::Sort(by) => self.sort_by(by),
            Action::Copy(CopyTarget::Breakdown) => self.copy_breakdown(),
            // Right after an export, `y` copies where it went.
            Action::Copy(CopyTarget::Link) if self.toast_copy().is_some() => {
                vec![Effect::Copy {
                    text: self.toast_copy().unwrap_or_default().to_string(),
                    what: "export path",
                }]
            }
            // The row targets (`Breakdown` is answered above; it only shares their arms).
            Action::Copy(target) => self.copy_rows(target),
            Action::Export(f) => vec![Effect::Export(f)],
            // The whole watchlist can be thousands of tokens: asked first, with its cost,
            // as a removal is.
            Action::RefreshAll => self.ask_refresh_all(),
            Action::Discover => vec![Effect::Discover],
            Action::SetRefresh(secs) => vec![Effect::SetRefresh(secs)],
            Action::RefreshAsins(asins) => vec![Effect::Refresh(asins)],
            Action::Refresh => match self.acted_on("refreshed", "refresh") {
                Some(asins) => vec![Effect::Refresh(asins)],
                None => Vec::new(),
            },
            Action::WatchAdd(asins) if asins.is_empty() => self.offer_to_watch(),
            Action::WatchAdd(asins) => vec![Effect::WatchAdd(asins)],
            // Named on the command line: asked as named.
            Action::WatchRemove(asins) if !asins.is_empty() => self.confirm_removal(asins, false),
            Action::WatchRemove(_) => self.ask_remove_acted_on(),
            // The item under the sidebar's cursor: from elsewhere (`:toggle` typed over the
            // table), the operator does not see which one.
            Action::Toggle if self.context() != Context::Sidebar => {
                self.toast_error(
                    "toggle works on the sidebar's item under its cursor: Tab focuses the sidebar",
                );
                Vec::new()
            }
            Action::Toggle => self.toggle_sidebar(),
            Action::FaultsOnly => self.toggle_faults_only(),
            Action::LogLevel(i) => self.set_log_level(i),
        }
    }
}

/// The larger arms of [`UiState::act`], so that it reads as a dispatch table.
impl UiState {
    /// Shows view `v`.
    fn goto(&mut self, v: View) -> Vec<Effect> {
        // Leaving a product's routes for another view ends them: the filter
        // before them is back.
        let mut restored = Vec::new();
        if v != View::Opportunities
            && let Some(before) = self.products.return_filter.take()
        {
            restored = self.set_filter(before);
        }
        self.view_kind = v;
        self.detail_open = false;
        if v == View::Opportunities {
            // Going to the opportunities means their table, wherever the focus was.
            self.focus = Focus::Table;
        }
        if v == View::Health {
            // From the top: a scroll left from an earlier visit (on another size)
            // would hide the rows above it.
            self.health_scroll = 0;
        }
        if v == View::Logs {
            self.log_scroll = 0;
            return vec![Effect::LoadLogs];
        }
        if v == View::Products {
            // What was stored since the last visit shows at once.
            self.products.stale = true;
            self.clamp_products();
            restored.push(Effect::LoadWatchlist);
        }
        restored
    }

    /// Freezes the table, or makes it live again with what arrived meanwhile.
    fn toggle_freeze(&mut self) -> Vec<Effect> {
        match self.frozen.take() {
            Some(_) => {
                self.frozen_pending = 0;
                if let Some(f) = self.pending.take() {
                    self.swap_in(f);
                }
                self.toast_info("Live again");
            }
            None => {
                // Frozen again: "Live again" no longer holds.
                self.toasts.retain(|t| t.text != "Live again");
                self.frozen = Some(self.now);
            }
        }
        Vec::new()
    }

    /// Moves the focus to the next (or previous) panel shown.
    fn focus_next(&mut self, next: bool) -> Vec<Effect> {
        let i = FOCUS_ORDER
            .iter()
            .position(|f| *f == self.focus)
            .unwrap_or(1);
        let n = FOCUS_ORDER.len();
        // Panels this terminal does not show are skipped.
        let mut at = i;
        for _ in 0..n {
            at = if next { (at + 1) % n } else { (at + n - 1) % n };
            if crate::tui::ui::focusable(self, FOCUS_ORDER[at]) {
                break;
            }
        }
        self.focus = FOCUS_ORDER[at];
        self.view_kind = View::Opportunities;
        self.on_resize(self.size.0, self.size.1);
        Vec::new()
    }

    /// Sets the minimum margin, within the range a typed value keeps to.
    fn set_min_margin(&mut self, change: MarginChange) -> Vec<Effect> {
        let v = match change {
            MarginChange::By(d) => self.min_margin + d,
            MarginChange::To(v) => v,
        };
        // Steps stop at the range a typed value must keep to (and a restart reads).
        let max = crate::tui::action::MAX_MIN_MARGIN;
        if v.abs() > max {
            self.toast_info(format!("The minimum margin goes from -{max} % to {max} %"));
        }
        self.min_margin = (v.clamp(-max, max) * 10.0).round() / 10.0;
        if self.view_kind != View::Opportunities {
            self.toast_info(format!(
                "Opportunities: minimum margin {} % {}",
                self.min_margin,
                self.basis.id()
            ));
        }
        self.requery()
    }

    /// Sets the row limit, the nearest offered one at or above `n`.
    fn set_limit(&mut self, n: Option<usize>) -> Vec<Effect> {
        self.limit = ROW_LIMITS.iter().position(|l| *l == n).unwrap_or_else(|| {
            // Any other number: the nearest offered limit at or above it, said so.
            let at = ROW_LIMITS
                .iter()
                .position(|l| l.is_none_or(|l| Some(l) >= n))
                .unwrap_or(ROW_LIMITS.len() - 1);
            let offered: Vec<String> = ROW_LIMITS.map(limit_label).to_vec();
            self.toast_info(format!(
                "Rows {}: the row limits are {}",
                limit_label(ROW_LIMITS[at]),
                offered.join(", ")
            ));
            at
        });
        self.rebuild_view();
        self.requery()
    }

    /// Buys or sells (or both) in the tracked markets of `list`.
    fn set_markets(&mut self, side: Side, list: Vec<Market>) -> Vec<Effect> {
        let list = self.tracked_of(&list);
        if list.is_empty() {
            self.toast_error("None of those markets is tracked");
            return Vec::new();
        }
        // Said, since the sidebar that shows it is not on every screen.
        let codes: Vec<&str> = list.iter().map(|m| m.code()).collect();
        let sides = match side {
            Side::Buy => "Buying in",
            Side::Sell => "Selling in",
            Side::Both => "Buying and selling in",
        };
        let all = if list.len() == self.session.markets.len() {
            " (all tracked)"
        } else {
            ""
        };
        self.toast_info(format!("{sides} {}{all}", codes.join(" ")));
        if matches!(side, Side::Buy | Side::Both) {
            self.buy = list.clone();
        }
        if matches!(side, Side::Sell | Side::Both) {
            self.sell = list;
        }
        self.requery()
    }

    /// Quits from the table; goes back from anything below it.
    fn quit_or_back(&mut self) -> Vec<Effect> {
        // The detail is below the table, whether a drawer or the focused pane beside
        // it, and the zoomed table is the table's own view.
        if self.view_kind != View::Opportunities
            || self.detail_open
            || self.zoom
            || self.focus == Focus::Detail
            || self.products.return_filter.is_some()
        {
            return self.apply(Action::Back);
        }
        self.quit = true;
        Vec::new()
    }

    /// Sorts the table as `by` says.
    fn sort_by(&mut self, by: SortBy) -> Vec<Effect> {
        match by {
            SortBy::Column(c, dir) => {
                self.descending = match dir {
                    Some(d) => d,
                    None if c == self.sort => !self.descending,
                    None => c.descending_by_default(),
                };
                self.sort = c;
            }
            SortBy::Next => {
                let i = Column::ALL
                    .iter()
                    .position(|c| *c == self.sort)
                    .unwrap_or(0);
                self.sort = Column::ALL[(i + 1) % Column::ALL.len()];
                self.descending = self.sort.descending_by_default();
            }
            SortBy::Reverse => self.descending = !self.descending,
        }
        self.pin_to_top();
        self.requery()
    }

    /// Asks before refreshing the whole watchlist, with what it costs.
    fn ask_refresh_all(&mut self) -> Vec<Effect> {
        let asins = usize::try_from(self.feed.stats.watchlist).unwrap_or(usize::MAX);
        let markets = self.status.markets.len();
        let estimate = crate::pipeline::health::refresh_estimate(
            &self.status.keepa,
            self.status.refresh.as_ref(),
            asins,
            markets,
            self.now,
        );
        self.overlay = Some(Overlay::Confirm(super::Confirm {
            question: format!(
                "Refresh the whole watchlist, {} in {}: {estimate}? y/N",
                crate::domain::text::count(asins as u64, "ASIN"),
                crate::domain::text::count(markets as u64, "market"),
            ),
            action: Effect::RefreshAll,
            declined: "Cancelled: nothing refreshed, no tokens spent".into(),
            from_rows: false,
        }));
        Vec::new()
    }

    /// Asks before taking the marked rows' (or the selected row's) products off the watchlist.
    fn ask_remove_acted_on(&mut self) -> Vec<Effect> {
        let Some(asins) = self.acted_on("removed", "remove") else {
            return Vec::new();
        };
        // What a read of the last 30 s does not hold is not asked about; the read
        // that follows the question narrows it again.
        let asins = self.drop_unwatched(asins);
        if asins.is_empty() {
            return Vec::new();
        }
        let mut effects = self.confirm_removal(asins, true);
        effects.push(Effect::LoadWatchlist);
        effects
    }

    /// Shows only the faulty components in the health view and panel, or every one.
    fn toggle_faults_only(&mut self) -> Vec<Effect> {
        self.faults_only = !self.faults_only;
        // Said where the health view is not on screen to show it.
        if self.view_kind != View::Health {
            let what = if self.faults_only {
                "faults only"
            } else {
                "every component"
            };
            self.toast_info(format!("The health view (g h) and panel now show {what}"));
        }
        Vec::new()
    }

    /// Shows log lines at level `i` and above.
    fn set_log_level(&mut self, i: usize) -> Vec<Effect> {
        self.log_level = i.min(LOG_LEVELS.len() - 1);
        if self.view_kind != View::Logs {
            let level = LOG_LEVELS[self.log_level];
            self.toast_info(format!("The log view (g l) now shows {level} and above"));
        }
        Vec::new()
    }

    /// Back: one step out of whatever is open, in the order the conventions give (a log
    /// search, another view, the drawer, zoom, the detail's focus, the filter, the marks).
    fn back(&mut self) -> Vec<Effect> {
        // In the log view a search is cleared before the view is left, as the
        // empty search result says.
        let routes_of_a_product = self.view_kind == View::Opportunities
            && !self.detail_open
            && !self.zoom
            && self.focus != Focus::Detail;
        if routes_of_a_product && let Some(effects) = self.return_to_products() {
            return effects;
        }
        if self.view_kind == View::Logs && !self.log_search.is_empty() {
            self.search_log(String::new());
        } else if self.view_kind == View::Products && !self.products.search.is_empty() {
            self.search_products(String::new());
        } else if self.view_kind != View::Opportunities {
            self.view_kind = View::Opportunities;
        } else if self.detail_open {
            self.detail_open = false;
            self.detail_scroll = 0;
        } else if self.zoom {
            self.zoom = false;
        } else if self.focus != Focus::Table {
            // Leaving the detail: its preview beside the table starts at the top.
            self.detail_scroll = 0;
            self.focus = Focus::Table;
        } else if !self.filter_text.is_empty() {
            return self.set_filter(String::new());
        } else if !self.marked.is_empty() {
            let n = self.marked.len();
            self.marked.clear();
            let s = if n == 1 { "" } else { "s" };
            self.toast_info(format!("{n} mark{s} cleared"));
        }
        Vec::new()
    }

    /// `copy breakdown`: the selected row's P&L as text, once the detail has loaded it.
    fn copy_breakdown(&mut self) -> Vec<Effect> {
        let Some(row) = self.selected_row() else {
            self.toast_error("Nothing selected to copy");
            return Vec::new();
        };
        let key = row.key;
        match &self.detail {
            Some(d) if d.key == key && d.opportunity.is_some() => vec![Effect::Copy {
                text: crate::tui::ui::pnl_text(d),
                what: "P&L",
            }],
            _ if !self.detail_visible() => {
                self.toast_error(
                    "The P&L loads with the detail: Enter opens it, then copy breakdown",
                );
                Vec::new()
            }
            _ => {
                self.toast_error("The P&L is still loading; try again in a moment");
                Vec::new()
            }
        }
    }

    /// Copies the marked rows that are shown (each once for ASINs and links, with a header
    /// line for rows), or else the selected row, as `target` says.
    fn copy_rows(&mut self, target: CopyTarget) -> Vec<Effect> {
        let one = |row: &crate::tui::model::Row| match target {
            CopyTarget::Link => row.sell_url(),
            CopyTarget::BuyLink => row.buy_url(),
            CopyTarget::Asin => row.key.asin.to_string(),
            CopyTarget::Row | CopyTarget::Breakdown => row.tsv(),
        };
        // With rows marked (Space), every marked row that is shown, one a line, in
        // the table's order; otherwise, and always in the detail (it shows one
        // product), the selected row.
        if !self.marked.is_empty() && self.context() != Context::Detail {
            let mut lines: Vec<String> = self.marked_rows().map(one).collect();
            if !lines.is_empty() {
                if matches!(
                    target,
                    CopyTarget::Link | CopyTarget::BuyLink | CopyTarget::Asin
                ) {
                    // Two routes of one product are one ASIN (and one sell link
                    // when they sell in one market): each once, in order.
                    let mut seen = std::collections::HashSet::new();
                    lines.retain(|l| seen.insert(l.clone()));
                }
                let what = match target {
                    CopyTarget::Link => "sell links of the marked rows",
                    CopyTarget::BuyLink => "buy links of the marked rows",
                    CopyTarget::Asin => "ASINs of the marked rows",
                    CopyTarget::Row | CopyTarget::Breakdown => {
                        // Several rows are a table: named columns, as an export's.
                        lines.insert(0, crate::tui::model::Row::TSV_HEADER.to_string());
                        "marked rows, with a header line"
                    }
                };
                return vec![Effect::Copy {
                    text: lines.join("\n"),
                    what,
                }];
            }
            // As an export does: the marks are what was meant, not the selection.
            self.toast_marks_hidden("copied");
            return Vec::new();
        }
        let Some(row) = self.selected_row() else {
            self.toast_error("Nothing selected to copy");
            return Vec::new();
        };
        let what = match target {
            CopyTarget::Link => "sell link",
            CopyTarget::BuyLink => "buy link",
            CopyTarget::Asin => "ASIN",
            CopyTarget::Row | CopyTarget::Breakdown => "row",
        };
        vec![Effect::Copy {
            text: one(row),
            what,
        }]
    }
}
