//! The sort and filters saved in `ui-state.toml` as command lines, and restored from them
//! at the next start.

use super::{Action, Market, Overlay, PromptKind, ROW_LIMITS, UiState, limit_label};

impl UiState {
    /// The sort and filters as command lines, for `ui-state.toml`: running them again
    /// restores them ([`UiState::restore`]).
    pub fn saved_commands(&self) -> Vec<String> {
        let dir = if self.descending { "desc" } else { "asc" };
        let mut out = vec![format!("sort {} {dir}", self.sort.id())];
        // `=`: a signed value alone is a step.
        out.push(format!("min-margin ={}", self.min_margin));
        out.push(format!("basis {}", self.basis.id()));
        out.push(format!(
            "limit {}",
            limit_label(ROW_LIMITS.get(self.limit).copied().flatten())
        ));
        let codes = |ms: &[Market]| {
            ms.iter()
                .map(|m| m.code().to_lowercase())
                .collect::<Vec<_>>()
                .join(",")
        };
        out.push(format!("buy {}", codes(&self.buy)));
        out.push(format!("sell {}", codes(&self.sell)));
        // A filter still being typed may be half a term (`roi>`, saved as the word `roi`).
        let filter = match &self.overlay {
            Some(Overlay::Prompt(p)) if p.kind == PromptKind::Filter => &p.opened_with,
            _ => &self.filter_text,
        };
        if !filter.is_empty() {
            out.push(format!("filter {filter}"));
        }
        out
    }

    /// The tracked markets among `list`, in the tracked order.
    pub(super) fn tracked_of(&self, list: &[Market]) -> Vec<Market> {
        self.session
            .markets
            .iter()
            .copied()
            .filter(|m| list.contains(m))
            .collect()
    }

    /// Whether the markets of `side` are `list` (as tracked markets) already.
    fn markets_already(&self, side: super::super::action::Side, list: &[Market]) -> bool {
        use super::super::action::Side;
        let tracked = self.tracked_of(list);
        match side {
            Side::Buy => self.buy == tracked,
            Side::Sell => self.sell == tracked,
            Side::Both => self.buy == tracked && self.sell == tracked,
        }
    }

    /// Runs saved command lines; only sort and filter commands are taken. Returns what
    /// was refused, one message per line, for a warning.
    pub fn restore(&mut self, commands: &[String]) -> Vec<String> {
        let mut refused = Vec::new();
        for line in commands {
            match super::super::action::parse(line) {
                // Markets as they are already (all tracked, at start) change nothing, and
                // are not said: a toast at every start would be noise.
                Ok(Action::Markets(side, list)) if self.markets_already(side, &list) => {}
                Ok(
                    a @ (Action::Sort(_)
                    | Action::MinMargin(_)
                    | Action::Basis(_)
                    | Action::Limit(_)
                    | Action::Markets(..)
                    | Action::Filter(_)),
                ) => {
                    self.apply(a);
                }
                Ok(_) => refused.push(format!("'{line}' is not a sort or filter command")),
                Err(e) => refused.push(e.to_string()),
            }
        }
        refused
    }
}
