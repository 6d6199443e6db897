//! Refreshes asked for from the console (`r`, `:refresh …`): what is sent to the ingest
//! stage, what the toast says it costs, and the repeats answered without spending tokens
//! (the ledger is shared with the API: see [`crate::pipeline::Commands`]).

use tokio::sync::mpsc::error::TrySendError;

use super::{ConsoleDeps, UiState, Utc};
use crate::domain::Asin;
use crate::domain::text::{count, list, span, span_exact, thousands};
use crate::pipeline::{Command, Commands, DiscoveryAsked, REFRESH_AGAIN_AFTER, Refresh, not_taken};

/// The window of [`REFRESH_AGAIN_AFTER`], as the toasts say it.
fn window() -> String {
    span(REFRESH_AGAIN_AFTER.as_secs() as i64)
}

/// Refreshes `asins`, except those asked for moments ago (the ingest stage skips them
/// too): the toast says so rather than quote their tokens.
pub(super) fn refresh(state: &mut UiState, deps: &ConsoleDeps, asins: Vec<Asin>) {
    let Some(commands) = ingesting(state, deps) else {
        return;
    };
    match commands.refresh(asins) {
        Ok(Refresh::Repeat { repeats, ago }) => state.toast_info(format!(
            "A refresh of {} was asked for {}: not sent again within {} (no tokens spent)",
            names_of(&repeats),
            Refresh::ago(ago),
            window()
        )),
        Ok(Refresh::Queued { sent, repeats }) => {
            let names = match left_out(&repeats) {
                None => names_of(&sent),
                Some(left) => format!("{} ({left})", names_of(&sent)),
            };
            queued(state, names, sent.len());
            let now = Utc::now();
            state
                .refresh_pending
                .extend(sent.into_iter().map(|a| (a, now)));
        }
        Err(e) => not_queued(state, &e),
    }
}

/// Refreshes the whole watchlist, unless it was asked for moments ago.
pub(super) fn refresh_all(state: &mut UiState, deps: &ConsoleDeps) {
    let Some(commands) = ingesting(state, deps) else {
        return;
    };
    match commands.refresh_all() {
        Ok(Refresh::Repeat { ago, .. }) => state.toast_info(format!(
                "A refresh of the whole watchlist was asked for {}: not sent again within {} (no tokens spent)",
                Refresh::ago(ago),
                window()
            )),
        Ok(Refresh::Queued { repeats, .. }) => {
            let n = state.feed.stats.watchlist.saturating_sub(repeats.len() as u64);
            let asins = count(n, "ASIN");
            let names = match left_out(&repeats) {
                None => format!("the whole watchlist ({asins})"),
                Some(left) => format!("the whole watchlist ({asins}; {left})"),
            };
            queued(state, names, n as usize);
        }
        Err(e) => not_queued(state, &e),
    }
}

/// Runs discovery now, unless a run in progress or one just finished answers for it (as
/// `POST /jobs/discovery` does).
pub(super) fn discover(state: &mut UiState, deps: &ConsoleDeps) {
    let Some(commands) = ingesting(state, deps) else {
        return;
    };
    let now = Utc::now();
    match commands.ask_discovery(&state.status, now) {
        Ok(DiscoveryAsked::NoLists) => state.toast_error(format!(
            "Discovery not queued: {}",
            crate::pipeline::NO_DISCOVERY
        )),
        Ok(DiscoveryAsked::InHand(run)) => {
            state.toast_info(format!("Discovery not queued: {}", run.detail(now)));
        }
        Ok(DiscoveryAsked::Queued) => state.toast_info(
            "Discovery queued: the best-seller lists of [discovery] categories, 50 Keepa tokens \
             each; its run shows in the health view (g h)",
        ),
        Ok(DiscoveryAsked::Joined(at)) => state.toast_info(format!(
            "Discovery was queued at {} UTC and has not started yet: not queued again",
            at.format("%H:%M:%S")
        )),
        Err(e) => state.toast_error(format!("Could not queue discovery: {}", not_taken(&e))),
    }
}

/// Says the refresh interval (`None`) or sets it for this run: the ingest stage takes it
/// at its next step, and the health view's plan follows.
pub(super) fn set_interval(state: &mut UiState, deps: &ConsoleDeps, secs: Option<u64>) {
    let now = state.status.refresh.map(|p| span_exact(p.interval_secs));
    // The setting a start reads it from: demo data has its own.
    let key = if state.status.source == crate::pipeline::Source::Demo {
        "pipeline.demo_refresh_interval_secs"
    } else {
        "pipeline.refresh_interval_secs"
    };
    let Some(secs) = secs else {
        match now {
            Some(now) => state.toast_info(format!(
                "Refresh interval {now}: each watched product is fetched once in {now}, as the \
                 token budget allows; :set refresh 20m changes it for this run"
            )),
            None => state.toast_info(
                "This process does not fetch (its --role has no ingest): its refresh interval \
                 is the fetching process's pipeline.refresh_interval_secs",
            ),
        }
        return;
    };
    let Some(commands) = ingesting(state, deps) else {
        return;
    };
    let interval = std::time::Duration::from_secs(secs);
    match commands.try_send(Command::SetRefresh { interval }) {
        Ok(()) => state.toast_info(format!(
            "Refresh interval {}{} from now, for this run ({key} sets it at the next start)",
            span_exact(secs),
            now.map(|n| format!(" (was {n})")).unwrap_or_default()
        )),
        Err(e) => state.toast_error(format!(
            "Could not set the refresh interval: {}",
            not_taken(&e)
        )),
    }
}

/// The toast for a refresh the ingest stage did not take.
fn not_queued(state: &mut UiState, e: &TrySendError<Command>) {
    state.toast_error(format!("Could not queue the refresh: {}", not_taken(e)));
}

/// The command channel, or a toast saying this process has none.
fn ingesting<'a>(state: &mut UiState, deps: &'a ConsoleDeps) -> Option<&'a Commands> {
    if deps.commands.is_none() {
        state.toast_error(
            "This console does not fetch (its --role has no ingest): ask the process that does \
             (r or :discover in its console, or POST /actions/refresh or /jobs/discovery on its \
             API)",
        );
    }
    deps.commands.as_ref()
}

/// What a refresh leaves out as asked for moments ago (the ingest stage skips them).
fn left_out(repeats: &[Asin]) -> Option<String> {
    match repeats.len() {
        0 => None,
        n => Some(format!(
            "{} asked for moments ago left out",
            count(n as u64, "product")
        )),
    }
}

/// The ASINs themselves while they are few, else how many.
fn names_of(asins: &[Asin]) -> String {
    match asins.len() {
        1..=3 => list(asins),
        n => format!("{} ASINs", thousands(n as u64)),
    }
}

/// The toast of a refresh sent for `names` (`n` products): what it costs.
fn queued(state: &mut UiState, names: String, n: usize) {
    let markets = state.session.markets.len();
    let estimate = crate::pipeline::health::refresh_estimate(
        &state.status.keepa,
        state.status.refresh.as_ref(),
        n,
        markets,
        Utc::now(),
    );
    state.toast_info(format!(
        "Refresh queued for {names} in {}: {estimate}",
        count(markets as u64, "market")
    ));
}
