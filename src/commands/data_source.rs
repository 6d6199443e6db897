//! Which source a store's prices came from: the built-in simulator (demo) or Keepa (live).
//!
//! A store filled by one is never fed by the other: demo rows would be served as live ones,
//! and the simulator's invented ASINs, left on the watchlist, would spend real tokens. The
//! first process that fetches into a store marks it (a named position the store keeps, as
//! an import's progress is kept); a later process fetching from the other source refuses to
//! start and says what to do. A store holding products with no mark (only imported into,
//! or filled by a version that did not mark stores) takes the mark of the first process that fetches
//! into it from Keepa; a demo process refuses it, since imported lines are Keepa's.
//!
//! A store that cannot be reached at start-up (an Elasticsearch cluster still coming up)
//! does not stop a process: it waits to claim the store before fetching (see
//! [`claim_when_reachable`]), and the rest of it runs meanwhile.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;

use super::fetch_lock::Take;
use crate::pipeline::{IngestGate, Source};
use crate::store::{Checkpoint, Store, StoreError};

/// The source whose prices `store` holds, if a process has fetched into it.
pub async fn of(store: &dyn Store) -> anyhow::Result<Option<Source>> {
    Source::held_by(store)
        .await
        .context("Reading which source filled the store failed")
}

/// What a demo process refused a store of Keepa's products can do instead.
const KEEPA_PRODUCTS_INSTEAD: &str = "Give the Keepa key (KEEPA_API_KEY or --keepa-key) to \
     refresh them from Keepa, look at them without fetching (--role api, e.g. `arbdesk --role \
     api --api-addr off` for the console), or use another data dir for demo data (--data-dir DIR)";

/// Marks `store` as fed by `source`, or refuses (a [`super::BadValue`]) when another
/// source filled it. `place` names the store for the message (its data dir); `db` is its
/// database file when it is local, whose import lock a demo process holds while it marks
/// a new store (an import takes that lock before it reads the mark).
pub async fn claim(
    store: &dyn Store,
    source: Source,
    place: &str,
    db: Option<&Path>,
) -> anyhow::Result<()> {
    match of(store).await? {
        Some(held) if held == source => Ok(()),
        Some(held) => Err(super::BadValue(format!(
            "{place} holds {} prices, and this process would fetch {} ones into it: the two \
             would be shown side by side. Use another data dir for {} data (--data-dir DIR, \
             or data_dir in the config file), or move this one aside to start afresh",
            held.word(),
            source.word(),
            source.word(),
        ))
        .into()),
        None => {
            // An import running now writes Keepa's product objects, unmarked: held until
            // the mark is written, so an import starting meanwhile waits and then finds it.
            let _import = match (source, db) {
                (Source::Demo, Some(db)) => match super::import::lock::hold_if_free(db)? {
                    Ok(lock) => lock,
                    Err(holder) => {
                        return Err(super::BadValue(format!(
                            "{holder} is importing Keepa's product lines into {place}, and \
                             with no Keepa key this process would fetch simulated prices for \
                             them, shown beside theirs and over them. \
                             {KEEPA_PRODUCTS_INSTEAD}"
                        ))
                        .into());
                    }
                },
                _ => None,
            };
            // Filled before stores kept the mark (or by `import` only): whose prices these
            // are cannot be told, so say what to check.
            let held = store.stats().await.map_or(0, |s| s.total_products);
            if held > 0 && source == Source::Demo {
                // Imported lines are Keepa's product objects (as `check_import` holds): the
                // simulator would price the same ASINs beside them, and over them.
                return Err(super::BadValue(format!(
                    "{place} holds {held} products and no record of their source (`import` \
                     put them there, or an older arbdesk did), and with no Keepa key this \
                     process would fetch simulated prices for them, shown beside theirs and \
                     over them. {KEEPA_PRODUCTS_INSTEAD}"
                ))
                .into());
            }
            let mark = Checkpoint {
                key: Source::MARK_KEY.to_string(),
                offset: source.mark(),
            };
            store
                .set_checkpoint(mark)
                .await
                .context("Marking the store's source failed")?;
            // Said once marked: a store that refuses the mark is retried, not marked.
            if held > 0 {
                tracing::warn!(
                    "{place} holds {held} products and no record of their source (an older \
                     arbdesk filled it, or `import` did); it is marked {} now. If they came \
                     from the simulator, move the store aside or use another data dir.",
                    source.word()
                );
            }
            Ok(())
        }
    }
}

/// The store named for messages: its file, or the Elasticsearch store.
pub fn place(settings: &crate::config::Settings) -> String {
    match settings.store.local_file(&settings.data_dir) {
        Some(file) => file.display().to_string(),
        None => "The Elasticsearch store".to_string(),
    }
}

/// Refuses (a [`super::BadValue`]) to import into a store of demo prices: imported lines
/// are Keepa's product objects, and would be shown beside the simulator's, as simulated.
/// A store only ever imported into, or fed by Keepa, takes them.
pub async fn check_import(store: &dyn Store, place: &str) -> anyhow::Result<()> {
    if of(store).await? == Some(Source::Demo) {
        return Err(super::BadValue(format!(
            "{place} holds {} prices, and the imported lines are Keepa product objects: they \
             would be shown beside the simulator's, as simulated ones. Import into another \
             data dir (--data-dir DIR, or data_dir in the config file), or move this one \
             aside to start afresh",
            Source::Demo.word()
        ))
        .into());
    }
    Ok(())
}

/// Whether `e` says only that the store could not be reached (retry later), rather than
/// what it holds.
pub fn unreachable(e: &anyhow::Error) -> bool {
    matches!(
        e.downcast_ref::<StoreError>(),
        Some(StoreError::Unavailable(_))
    )
}

/// How often a process waiting for its store tries again.
const RETRY: Duration = Duration::from_secs(5);

/// Claims `store` for `source` once it answers: what ingest waits for when the store was
/// unreachable at start-up. Tries every 5 s (logging the wait once, then every minute)
/// until the claim is made (`Ok`) and, given `lease`, the lease on fetching taken, or either
/// is refused; a refusal is logged, sent on `refused` so the
/// process can stop with it, and returned as the reason ingest does not run. Ingest drops
/// the wait when the process stops.
pub fn claim_when_reachable(
    store: std::sync::Arc<dyn Store>,
    source: Source,
    place: String,
    db: Option<PathBuf>,
    lease: Option<super::fetch_lock::LeaseClaim>,
    refused: tokio::sync::oneshot::Sender<anyhow::Error>,
) -> IngestGate {
    const FOR_STORE: &str = "waiting for the store before fetching: the store's health says \
                             why it cannot be used";
    let for_lease = |left: Option<u64>| {
        format!(
            "waiting before fetching for the lease on fetching that a killed process left to \
             lapse{} (the log names the process); the rest runs",
            left.map_or_else(
                || " (a minute at most)".to_string(),
                |s| format!(", in {s} s")
            )
        )
    };
    let initial = match &lease {
        Some(l) if l.lapsing() => for_lease(None),
        _ => FOR_STORE.to_string(),
    };
    let (say, waiting_for) = tokio::sync::watch::channel(initial);
    let open = Box::pin(async move {
        let mut tries = 0u32;
        let mut claimed = false;
        // What the last try waited for: the store, or a killed process's lease.
        let mut lapsing = false;
        loop {
            tokio::time::sleep(RETRY).await;
            let outcome = match claimed {
                true => Ok(()),
                false => claim(store.as_ref(), source, &place, db.as_deref()).await,
            };
            // The lease on fetching, when the store could not be read for it at start-up:
            // another process may have taken it meanwhile.
            let outcome = match (outcome, &lease) {
                (Ok(()), Some(lease)) => {
                    claimed = true;
                    match lease.take().await {
                        Ok(Take::Taken) => Ok(()),
                        Ok(Take::StoreUnavailable(why)) => {
                            Err(anyhow::Error::new(StoreError::Unavailable(format!(
                                "the lease on fetching cannot be read or written yet: {why}"
                            ))))
                        }
                        Ok(Take::Lapsing(left)) => {
                            lapsing = true;
                            say.send_replace(for_lease(Some(left)));
                            Err(anyhow::Error::new(StoreError::Unavailable(format!(
                                "a killed process's lease on fetching lapses in {left} s"
                            ))))
                        }
                        Err(e) => Err(e),
                    }
                }
                (outcome, _) => outcome,
            };
            match outcome {
                Ok(()) => {
                    if lapsing {
                        tracing::info!(
                            "The killed process's lease on fetching lapsed; fetching starts."
                        );
                    } else {
                        tracing::info!("The store answers; fetching starts.");
                    }
                    return Ok(());
                }
                Err(e) if unreachable(&e) => {
                    if !lapsing {
                        say.send_replace(FOR_STORE.to_string());
                    }
                    tries += 1;
                    if tries.is_multiple_of(12) {
                        tracing::warn!(
                            "Still waiting for the store before fetching ({} s): {e:#}.",
                            u64::from(tries) * RETRY.as_secs()
                        );
                    }
                }
                Err(e) => {
                    let why = format!("{e:#}");
                    tracing::error!("Not fetching: {why}.");
                    let _ = refused.send(e);
                    return Err(why);
                }
            }
        }
    });
    IngestGate { open, waiting_for }
}
