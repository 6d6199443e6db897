//! Cursor motions (the table, the detail, the logs, the health view, the sidebar) and the
//! filters sidebar's toggles: what `move` and `toggle` do to the state.

use super::{Basis, Context, Effect, Market, Motion, PromptKind, ROW_LIMITS, UiState};

impl UiState {
    /// Moves in whatever has the keys: the sidebar, the logs, the health view, the detail
    /// or the table.
    pub(super) fn move_by(&mut self, m: Motion) {
        match self.context() {
            Context::Sidebar => self.move_sidebar(m),
            Context::Logs => self.move_logs(m),
            Context::Products => self.move_products(m),
            Context::Health => {
                let page = self.page.max(1);
                self.health_scroll = match m {
                    Motion::By(d) => self.health_scroll.saturating_add_signed(d as isize),
                    Motion::Pages(p) => self
                        .health_scroll
                        .saturating_add_signed(p as isize * page as isize),
                    Motion::Top => 0,
                    Motion::Bottom => usize::MAX,
                }
                // Past the last page a key back would seem to do nothing.
                .min(super::super::ui::health_scroll_limit(self));
            }
            // The drawer covers the table: keys scroll it. Beside the table, rows
            // move the selection and the detail follows; pages, top and bottom
            // scroll the P&L.
            Context::Detail
                if self.detail_open
                    || matches!(m, Motion::Pages(_) | Motion::Top | Motion::Bottom) =>
            {
                self.move_detail(m)
            }
            _ => self.move_table(m),
        }
    }

    pub(super) fn move_table(&mut self, m: Motion) {
        let n = self.view().len();
        if n == 0 {
            return;
        }
        let page = self.page.max(1) as i64;
        let cur = self.selected as i64;
        let target = match m {
            Motion::By(d) => cur + d,
            Motion::Pages(p) => cur + p * page,
            Motion::Top => 0,
            Motion::Bottom => n as i64 - 1,
        };
        self.selected = target.clamp(0, n as i64 - 1) as usize;
        self.pinned_top = false;
        self.detail_scroll = 0;
        self.clamp();
    }

    /// Scrolls the detail drawer, within its P&L's length as last drawn.
    fn move_detail(&mut self, m: Motion) {
        let lines = i64::from(self.detail_scroll_max.get());
        let page = i64::from(self.detail_page.get().max(1));
        let cur = i64::from(self.detail_scroll);
        let to = match m {
            Motion::By(d) => cur + d,
            Motion::Pages(p) => cur + p * page,
            Motion::Top => 0,
            Motion::Bottom => lines,
        };
        self.detail_scroll = to.clamp(0, lines) as u16;
    }

    fn move_logs(&mut self, m: Motion) {
        // The log view's own height (`page` is the table's).
        let page = super::super::ui::table_rows(self).max(1);
        // Up to where the oldest lines shown fill the pane, not past it into an empty one.
        let top = super::super::ui::log_scroll_limit(self);
        self.log_scroll = match m {
            Motion::By(d) if d < 0 => (self.log_scroll + d.unsigned_abs() as usize).min(top),
            Motion::By(d) => self.log_scroll.saturating_sub(d as usize),
            Motion::Pages(p) if p < 0 => (self.log_scroll + page).min(top),
            Motion::Pages(_) => self.log_scroll.saturating_sub(page),
            Motion::Top => top,
            Motion::Bottom => 0,
        };
    }

    /// Sidebar items: 0 min margin, 1 basis, 2.. buy markets, then sell markets, then rows.
    pub fn sidebar_items(&self) -> usize {
        3 + 2 * self.session.markets.len()
    }

    fn move_sidebar(&mut self, m: Motion) {
        let n = self.sidebar_items() as i64;
        let cur = self.sidebar_cursor as i64;
        let t = match m {
            Motion::By(d) => cur + d,
            Motion::Pages(p) => cur + p * 5,
            Motion::Top => 0,
            Motion::Bottom => n - 1,
        };
        self.sidebar_cursor = t.clamp(0, n - 1) as usize;
    }

    pub(super) fn toggle_sidebar(&mut self) -> Vec<Effect> {
        let k = self.session.markets.len();
        let c = self.sidebar_cursor;
        // False when `m` is the last market of the list: a side keeps one.
        let flip = |list: &mut Vec<Market>, m: Market, all: &[Market]| {
            if let Some(i) = list.iter().position(|x| *x == m) {
                if list.len() == 1 {
                    return false;
                }
                list.remove(i);
            } else {
                list.push(m);
                list.sort_by_key(|x| all.iter().position(|a| a == x));
            }
            true
        };
        let kept = |s: &mut UiState, m: Market, side: &str| {
            s.toast_info(format!(
                "{m} is the last market to {side} in: check another one first"
            ));
            Vec::new()
        };
        match c {
            0 => {
                self.open_prompt(
                    PromptKind::Command,
                    // `=`: a signed number alone is a step (`-5` lowers by 5).
                    format!("min-margin ={}", self.min_margin),
                );
                Vec::new()
            }
            1 => {
                self.basis = match self.basis {
                    Basis::Gross => Basis::Net,
                    Basis::Net => Basis::Gross,
                };
                self.requery()
            }
            c if c < 2 + k => {
                let m = self.session.markets[c - 2];
                let all = self.session.markets.clone();
                if !flip(&mut self.buy, m, &all) {
                    return kept(self, m, "buy");
                }
                self.requery()
            }
            c if c < 2 + 2 * k => {
                let m = self.session.markets[c - 2 - k];
                let all = self.session.markets.clone();
                if !flip(&mut self.sell, m, &all) {
                    return kept(self, m, "sell");
                }
                self.requery()
            }
            _ => {
                self.limit = (self.limit + 1) % ROW_LIMITS.len();
                self.rebuild_view();
                self.requery()
            }
        }
    }
}

impl UiState {
    /// Takes the log file's tail read again. Scrolled up, the view stays on the lines it
    /// shows: the lines added below them (those it shows) add to how far up it is, since
    /// that is counted from the newest line.
    pub fn on_logs(&mut self, lines: Vec<String>) {
        if self.log_scroll > 0
            && let Some(last) = self.logs.last()
            && let Some(at) = lines.iter().rposition(|l| l == last)
        {
            let added = lines[at + 1..]
                .iter()
                .filter(|l| super::super::ui::log_line_shown(self, l))
                .count();
            self.log_scroll += added;
        }
        self.logs = lines;
        self.dirty = true;
    }
}
