//! Toasts (short messages in the corner, each also logged whole) and the marked rows that
//! export and copy take.

use chrono::{DateTime, Duration, Utc};

use super::UiState;

/// How long a toast stays.
pub(super) const TOAST_TTL: Duration = Duration::seconds(6);
/// Toasts kept at once.
pub(super) const TOASTS: usize = 4;

/// A short message in the corner.
#[derive(Clone, Debug, PartialEq)]
pub struct Toast {
    /// Text.
    pub text: String,
    /// Shown as an error.
    pub error: bool,
    /// When it goes away.
    pub until: DateTime<Utc>,
    /// New-opportunity alert (a newer alert replaces it, counting the routes of both).
    pub alert: bool,
    /// The routes a new-opportunity alert announces.
    pub alerted: Vec<Alerted>,
    /// What `y` copies while this toast shows (an export's path), instead of a sell link.
    pub copy: Option<String>,
}

/// A route a new-opportunity alert announces.
#[derive(Clone, Debug, PartialEq)]
pub struct Alerted {
    /// The route.
    pub key: crate::domain::OpportunityKey,
    /// Its gross margin, in percent.
    pub gross_pct: f64,
    /// Its net profit.
    pub net: crate::domain::Money,
}

impl UiState {
    /// Adds a toast saying what happened.
    pub fn toast_info(&mut self, text: impl Into<String>) {
        self.toast(text, false);
    }

    /// Adds a toast saying what went wrong (or was refused).
    pub fn toast_error(&mut self, text: impl Into<String>) {
        self.toast(text, true);
    }

    /// Adds a toast, an error one if `error`.
    pub fn toast(&mut self, text: impl Into<String>, error: bool) {
        let text = text.into();
        // Whole in the log: a toast fades, and a narrow one is cut.
        if error {
            tracing::warn!(target: "arbdesk::console", "{text}");
        } else {
            tracing::info!(target: "arbdesk::console", "{text}");
        }
        self.push_toast(text, error, false);
    }

    pub(super) fn push_toast(&mut self, text: String, error: bool, alert: bool) {
        if alert {
            self.toasts.retain(|t| !t.alert);
        } else {
            // A toast of the same kind (its first word: `Theme …`, `Copied …`) replaces the
            // older one: pressing T five times leaves one theme toast, not five.
            let this = first_word(&text).to_owned();
            self.toasts
                .retain(|t| t.alert || first_word(&t.text) != this);
        }
        self.toasts.push_back(Toast {
            text,
            error,
            until: self.now + TOAST_TTL,
            alert,
            alerted: Vec::new(),
            copy: None,
        });
        while self.toasts.len() > TOASTS {
            self.toasts.pop_front();
        }
        self.dirty = true;
    }

    /// Announces new ranked routes. While an earlier alert still shows, the new toast
    /// counts its routes too: answers a fraction of a second apart (the store writes a
    /// refresh in batches) make one announcement, not one that hides the other.
    pub(super) fn toast_alerts(&mut self, mut routes: Vec<Alerted>) {
        if let Some(live) = self.toasts.iter().find(|t| t.alert && t.until > self.now) {
            for a in &live.alerted {
                if !routes.iter().any(|r| r.key == a.key) {
                    routes.push(a.clone());
                }
            }
        }
        let text = match routes.as_slice() {
            [] => return,
            [one] => format!(
                "New: {} {}→{} {:.2} % gross · net €{}",
                one.key.asin,
                one.key.buy.code(),
                one.key.sell.code(),
                one.gross_pct,
                one.net.decimal_string()
            ),
            many => format!(
                "{} new ranked opportunities ≥ {:.0} % gross (best {:.2} %)",
                many.len(),
                self.session.alert_margin_pct,
                many.iter().map(|r| r.gross_pct).fold(f64::MIN, f64::max)
            ),
        };
        self.push_toast(text, false, true);
        if let Some(t) = self.toasts.back_mut() {
            t.alerted = routes;
        }
    }

    /// Says where an export went; while the toast shows, `y` copies the path.
    pub fn toast_exported(&mut self, text: String, path: String) {
        // The log keeps what happened; the key is for the toast on screen only.
        tracing::info!(target: "arbdesk::console", "{text}");
        self.push_toast(format!("{text} · y copies the path"), false, false);
        if let Some(t) = self.toasts.back_mut() {
            t.copy = Some(path);
        }
    }

    /// What `y` copies instead of a sell link: the path of an export whose toast shows.
    pub fn toast_copy(&self) -> Option<&str> {
        self.toasts
            .iter()
            .rev()
            .filter(|t| t.until > self.now)
            .find_map(|t| t.copy.as_deref())
    }

    /// Says that nothing was `done` (exported, copied) because every marked row is hidden
    /// by the filters, and how to see them again.
    pub fn toast_marks_hidden(&mut self, done: &str) {
        let n = self.marked.len();
        let rows = if n == 1 { "row is" } else { "rows are" };
        self.toast_error(format!(
            "Nothing {done}: the {n} marked {rows} hidden by the filters; Esc clears the / \
                 filter, and then the marks"
        ));
    }

    /// The products an action on "the selected row" takes: with rows marked (outside the
    /// detail, which shows one product), the marked rows' products, each once, those shown,
    /// as copy and export take the marks; otherwise the selected row's. `None`, with a
    /// toast saying why, when there is none (`done`: `refreshed`; `verb`: `refresh`).
    pub(super) fn acted_on(&mut self, done: &str, verb: &str) -> Option<Vec<crate::domain::Asin>> {
        if let Some(asins) = self.marked_asins() {
            if asins.is_empty() {
                self.toast_marks_hidden(done);
                return None;
            }
            return Some(asins);
        }
        match self.selected_row() {
            Some(r) => Some(vec![r.key.asin]),
            None => {
                self.toast_error(format!("Nothing selected to {verb}"));
                None
            }
        }
    }

    /// The products of the marked rows that pass the filters, each once, in the table's
    /// order; `None` when no row is marked or the detail has the focus (the marks are then
    /// not what a key acts on).
    pub(super) fn marked_asins(&self) -> Option<Vec<crate::domain::Asin>> {
        if self.marked.is_empty() || self.context() == super::Context::Detail {
            return None;
        }
        let mut asins: Vec<crate::domain::Asin> = Vec::new();
        for r in self.marked_rows() {
            if !asins.contains(&r.key.asin) {
                asins.push(r.key.asin);
            }
        }
        Some(asins)
    }

    /// The marked rows that pass the filters, in the table's order (the others are
    /// hidden: export, copy and refresh leave them out).
    pub fn marked_rows(&self) -> impl Iterator<Item = &crate::tui::model::Row> {
        self.matching
            .iter()
            .filter_map(|&i| self.feed.rows.get(i as usize))
            .filter(|r| self.marked.contains(&r.key))
    }

    /// How many marked rows pass the filters.
    pub fn marked_shown(&self) -> usize {
        if self.marked.is_empty() {
            return 0;
        }
        self.marked_rows().count()
    }
}

/// A toast's kind: its first word.
fn first_word(text: &str) -> &str {
    text.split_whitespace().next().unwrap_or("")
}
