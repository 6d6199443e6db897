//! Refreshes asked for from the console (`r`, `:refresh …`): what is sent to the ingest
//! stage, what the toast says it costs, and the repeats answered without spending tokens.

use super::{Command, ConsoleDeps, UiState, Utc};
use crate::domain::Asin;
use crate::domain::text::{count, list, span, thousands};

/// How long a refresh asked for here is not asked for again ([`crate::pipeline::REFRESH_AGAIN_AFTER`]).
fn again() -> chrono::Duration {
    chrono::Duration::from_std(crate::pipeline::REFRESH_AGAIN_AFTER).unwrap_or_default()
}

/// Refreshes `asins`, except those asked for within [`again`] (the ingest stage skips them
/// too): the toast says so rather than quote their tokens.
pub(super) fn refresh(state: &mut UiState, deps: &ConsoleDeps, asins: Vec<Asin>) {
    let (now, again) = (Utc::now(), again());
    state.refreshes_asked.retain(|_, t| now - *t < again);
    let (recent, asins): (Vec<_>, Vec<_>) = asins
        .into_iter()
        .partition(|a| state.refreshes_asked.contains_key(a));
    if asins.is_empty() {
        state.toast(
            format!(
                "{} refreshed moments ago: not fetched again within {} (no tokens spent)",
                names_of(&recent),
                span(again.num_seconds())
            ),
            false,
        );
        return;
    }
    let mut names = names_of(&asins);
    if !recent.is_empty() {
        names.push_str(&format!(
            " ({} refreshed moments ago left out)",
            count(recent.len() as u64, "product")
        ));
    }
    let n = asins.len();
    let command = Command::Refresh {
        asins: asins.clone(),
        asked: tokio::time::Instant::now(),
    };
    if queue_refresh(state, deps, command, names, n) {
        state
            .refresh_pending
            .extend(asins.iter().map(|a| (*a, now)));
        state
            .refreshes_asked
            .extend(asins.into_iter().map(|a| (a, now)));
    }
}

/// Refreshes the whole watchlist, unless this console asked for that within [`again`].
pub(super) fn refresh_all(state: &mut UiState, deps: &ConsoleDeps) {
    let (now, again) = (Utc::now(), again());
    if let Some(t) = state.refresh_all_asked.filter(|t| now - *t < again) {
        state.toast(
            format!(
                "The whole watchlist was refreshed {} ago: not fetched again within {} (no tokens spent)",
                span((now - t).num_seconds()),
                span(again.num_seconds())
            ),
            false,
        );
        return;
    }
    let n = state.feed.stats.watchlist;
    let names = format!("the whole watchlist ({})", count(n, "ASIN"));
    let command = Command::RefreshAll {
        asked: tokio::time::Instant::now(),
    };
    if queue_refresh(state, deps, command, names, n as usize) {
        state.refresh_all_asked = Some(now);
    }
}

/// The ASINs themselves while they are few, else how many.
fn names_of(asins: &[Asin]) -> String {
    match asins.len() {
        1..=3 => list(asins),
        n => format!("{} ASINs", thousands(n as u64)),
    }
}

/// Sends a refresh to the ingest stage; the toast names what (`names`, `n` products) and
/// what it costs. Whether it was queued.
fn queue_refresh(
    state: &mut UiState,
    deps: &ConsoleDeps,
    cmd: Command,
    names: String,
    n: usize,
) -> bool {
    let Some(c) = &deps.commands else {
        state.toast(
            "This process does not ingest (--role); nothing to refresh",
            true,
        );
        return false;
    };
    let markets = state.session.markets.len();
    let estimate = crate::pipeline::health::refresh_estimate(
        &state.status.keepa,
        state.status.refresh.as_ref(),
        n,
        markets,
        Utc::now(),
    );
    match c.try_send(cmd) {
        Ok(()) => {
            state.toast(
                format!(
                    "Refresh queued for {names} in {}: {estimate}",
                    count(markets as u64, "market")
                ),
                false,
            );
            true
        }
        Err(e) => {
            state.toast(format!("Could not queue the refresh: {e}"), true);
            false
        }
    }
}
