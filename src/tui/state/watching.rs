//! The watchlist from the table's rows: what `a` offers and `d` asks about, narrowed by a
//! recent read of the watchlist, and narrowed again when a read comes while they wait.

use super::{Action, Confirm, Effect, Overlay, PromptKind, UiState};

impl UiState {
    /// The watchlist as read in the last 30 s: what `a` and `d` on rows go by (the
    /// products view reads it every 30 s; the other views after the console's own changes
    /// and when `d` asks).
    pub(super) fn fresh_watchlist(&self) -> Option<&super::products::Watched> {
        self.products
            .watched
            .as_ref()
            .filter(|w| self.now - w.read_at <= chrono::TimeDelta::seconds(30))
    }

    /// `asins` split into those the watchlist as read in the last 30 s holds and those it
    /// does not; `None` without such a read.
    fn split_by_watchlist(
        &self,
        asins: &[crate::domain::Asin],
    ) -> Option<(Vec<crate::domain::Asin>, Vec<crate::domain::Asin>)> {
        let w = self.fresh_watchlist()?;
        Some(asins.iter().partition(|a| w.source.contains_key(a)))
    }

    /// `a` on rows: the command line offers the marked rows' products (else the selected
    /// row's), without those a read of the watchlist in the last 30 s holds.
    pub(super) fn offer_to_watch(&mut self) -> Vec<Effect> {
        let mut asins = match self.marked_asins() {
            Some(asins) if asins.is_empty() => {
                self.toast_marks_hidden("offered");
                return Vec::new();
            }
            Some(asins) => asins,
            None => self
                .selected_row()
                .map(|r| r.key.asin)
                .into_iter()
                .collect(),
        };
        // Without a recent read, one is made as the line opens, and narrows it when it
        // comes (`recheck_offer`).
        let effects = match self.split_by_watchlist(&asins) {
            Some((watched, new)) => {
                if new.is_empty() && !watched.is_empty() {
                    self.toast_watched_already(&watched);
                    return Vec::new();
                }
                asins = new;
                Vec::new()
            }
            None => vec![Effect::LoadWatchlist],
        };
        self.open_prompt(PromptKind::Command, watch_add_line(&asins));
        effects
    }

    pub(super) fn toast_watched_already(&mut self, watched: &[crate::domain::Asin]) {
        let they = crate::domain::text::subject(watched, 3, "is", "are");
        self.toast_info(format!("{they} on the watchlist already"));
    }

    /// A watchlist read came while the command line offers ASINs to watch, as `a` opened
    /// it and untouched since: the offer keeps only those the watchlist does not hold, and
    /// goes (saying so) when it holds them all.
    pub(super) fn recheck_offer(&mut self) {
        let Some(Overlay::Prompt(p)) = &self.overlay else {
            return;
        };
        if p.kind != PromptKind::Command || p.input != p.opened_with {
            return;
        }
        let Some(Ok(Action::WatchAdd(asins))) = p
            .input
            .starts_with("watch add ")
            .then(|| super::super::action::parse(&p.input))
        else {
            return;
        };
        let Some((watched, new)) = self.split_by_watchlist(&asins) else {
            return;
        };
        if watched.is_empty() {
            return;
        }
        if new.is_empty() {
            self.overlay = None;
            self.toast_watched_already(&watched);
        } else {
            self.open_prompt(PromptKind::Command, watch_add_line(&new));
        }
        self.dirty = true;
    }

    /// A watchlist read came while `d` asks about rows: the question keeps only the
    /// products it holds, and goes when it holds none of them.
    pub(super) fn recheck_removal(&mut self) {
        let Some(Overlay::Confirm(Confirm {
            action: Effect::WatchRemove(asins),
            from_rows: true,
            ..
        })) = &self.overlay
        else {
            return;
        };
        let asins = asins.clone();
        let kept = self.drop_unwatched(asins.clone());
        if kept.is_empty() {
            self.overlay = None;
        } else if kept.len() < asins.len() {
            self.confirm_removal(kept, true);
        }
        self.dirty = true;
    }

    /// `asins` without those a recent read of the watchlist (30 s at most) does not hold:
    /// asking to remove what is not watched (a row of a product just removed) would only
    /// end in "not on the watchlist". Says which it leaves out.
    pub(super) fn drop_unwatched(
        &mut self,
        asins: Vec<crate::domain::Asin>,
    ) -> Vec<crate::domain::Asin> {
        let Some((watched, not)) = self.split_by_watchlist(&asins) else {
            return asins;
        };
        // Each left out is named, whether the question goes on about others or not.
        if !not.is_empty() {
            let they = crate::domain::text::subject(&not, 3, "is", "are");
            let it = if not.len() == 1 { "it" } else { "them" };
            self.toast_info(format!("{they} not on the watchlist (a adds {it})"));
        }
        watched
    }

    /// Asks before `asins` leave the watchlist; `from_rows` when they are the rows' (see
    /// [`Confirm::from_rows`]).
    pub(super) fn confirm_removal(
        &mut self,
        asins: Vec<crate::domain::Asin>,
        from_rows: bool,
    ) -> Vec<Effect> {
        let names = crate::domain::text::list_first(&asins, 3);
        self.overlay = Some(Overlay::Confirm(Confirm {
            question: format!(
                "Remove {names} from the watchlist (no more refreshes; rows stay)? y/N"
            ),
            action: Effect::WatchRemove(asins),
            declined: "Cancelled: nothing removed from the watchlist".into(),
            from_rows,
        }));
        Vec::new()
    }
}

/// The command line that offers `asins` to watch (`watch add ` with none).
pub(super) fn watch_add_line(asins: &[crate::domain::Asin]) -> String {
    let words: Vec<String> = asins.iter().map(ToString::to_string).collect();
    format!("watch add {}", words.join(" "))
}
