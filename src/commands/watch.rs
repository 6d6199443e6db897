//! `arbdesk watch add|rm|ls`: the watchlist, straight in the store.

use anyhow::{Context, Result};

use crate::cli::WatchCommand;
use crate::config::Settings;
use crate::domain::Asin;
use crate::store::{WatchEdit, WatchSource, watch_change};

/// Who fetches what was just added: the processes fetching into this store, or that none
/// does yet.
async fn who_fetches(store: &dyn crate::store::Store) -> String {
    // A process killed on this host reports no more, but its last report stays fresh for
    // a while: it fetches nothing.
    let mut fetching = super::fetch_lock::fetching_processes(store).await;
    fetching.retain(|id| !super::fetch_lock::gone_from_this_host(id));
    match fetching.as_slice() {
        [] => "no process fetches for this store now: they are fetched once one runs \
               (`arbdesk` or `arbdesk --serve` on this data, with the Keepa key for a store \
               of imported or live prices), new ASINs first"
            .to_string(),
        [one] => format!(
            "the arbdesk process fetching for this store (host:pid {one}) fetches them next"
        ),
        many => format!(
            "the arbdesk processes fetching for this store (host:pid {}) fetch them next",
            many.join(", ")
        ),
    }
}

/// Runs a watch subcommand.
pub async fn watch(settings: &Settings, cmd: &WatchCommand) -> Result<()> {
    let store = match cmd {
        WatchCommand::Add { .. } => super::open_store(settings)?,
        WatchCommand::Rm { .. } | WatchCommand::Ls { .. } => {
            super::open_existing_store(settings).await?
        }
    };
    match cmd {
        WatchCommand::Add { asins } => {
            let asins = &Asin::distinct(asins);
            let added = store
                .watch_add(asins.clone(), WatchSource::User)
                .await
                .context("Adding to the watchlist failed")?;
            if !asins.is_empty() {
                let what = watch_change(WatchEdit::Add, &added, asins);
                if added.is_empty() {
                    outln!("{what}.");
                } else {
                    outln!("{what}; {}.", who_fetches(store.as_ref()).await);
                }
            }
        }
        WatchCommand::Rm { asins } => {
            let asins = &Asin::distinct(asins);
            let removed = store
                .watch_remove(asins.clone())
                .await
                .context("Removing from the watchlist failed")?;
            if !asins.is_empty() {
                let what = watch_change(WatchEdit::Remove, &removed, asins);
                if !removed.is_empty() {
                    // Whose: the removed products', not those that were not watched.
                    let whose = match (removed.len(), asins.len()) {
                        (1, 1) => "its data stays",
                        (1, _) => "the removed product's data stays",
                        _ => "their data stays",
                    };
                    outln!("{what}; {whose} in the store.");
                } else {
                    outln!("{what}.");
                }
            }
        }
        WatchCommand::Ls { source, pending } => {
            let all = store
                .watchlist()
                .await
                .context("Reading the watchlist failed")?;
            let tracked = &settings.markets;
            let listed = all.len();
            let list: Vec<_> = all
                .into_iter()
                .filter(|w| source.is_none_or(|s| w.source == s))
                .filter(|w| !*pending || w.pending(tracked))
                .collect();
            // Times are UTC, as every time arbdesk prints.
            outln!(
                "{:<10}  {:<9}  {:<20}  {}",
                "ASIN",
                "SOURCE",
                "ADDED (UTC)",
                "OLDEST FETCH (UTC)"
            );
            for w in &list {
                // A tracked market not fetched yet is the oldest fetch: never.
                let missing: Vec<&str> = w.not_fetched(tracked).iter().map(|m| m.code()).collect();
                let fetched = match w.oldest_fetch {
                    Some(_) if !missing.is_empty() => format!("never in {}", missing.join(", ")),
                    Some(t) => t.format("%Y-%m-%d %H:%M").to_string(),
                    None => "never".to_string(),
                };
                let source = w.source.name();
                outln!(
                    "{:<10}  {:<9}  {:<20}  {}",
                    w.asin.as_str(),
                    source,
                    w.added_at.format("%Y-%m-%d %H:%M"),
                    fetched
                );
            }
            let shown = crate::domain::text::count(list.len() as u64, "ASIN");
            if list.len() == listed {
                outln!("{shown} watched.");
            } else {
                outln!(
                    "{shown} shown, of {} watched.",
                    crate::domain::text::thousands(listed as u64)
                );
            }
        }
    }
    Ok(())
}
