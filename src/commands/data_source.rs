//! Which source a store's prices came from: the built-in simulator (demo) or Keepa (live).
//!
//! A store filled by one is never fed by the other: demo rows would be served as live ones,
//! and the simulator's invented ASINs, left on the watchlist, would spend real tokens. The
//! first process that fetches into a store marks it (a named position the store keeps, as
//! an import's progress is kept); a later process fetching from the other source refuses to
//! start and says what to do. Stores filled before the mark existed take the mark of the
//! first process that fetches into them.

use crate::pipeline::Source;
use crate::store::{Checkpoint, Store};

/// The store's key for the mark.
pub const KEY: &str = "arbdesk:data-source";

fn code(source: Source) -> u64 {
    match source {
        Source::Demo => 1,
        Source::Live => 2,
    }
}

fn word(source: Source) -> &'static str {
    match source {
        Source::Demo => "demo (simulated)",
        Source::Live => "live (Keepa)",
    }
}

/// The source whose prices `store` holds, if a process has fetched into it.
pub async fn of(store: &dyn Store) -> anyhow::Result<Option<Source>> {
    let mark = store
        .checkpoint(KEY.to_string())
        .await
        .map_err(|e| anyhow::anyhow!("Reading which source filled the store failed: {e}"))?;
    Ok(match mark {
        Some(1) => Some(Source::Demo),
        Some(2) => Some(Source::Live),
        _ => None,
    })
}

/// Marks `store` as fed by `source`, or refuses (a [`super::BadValue`]) when another
/// source filled it. `place` names the store for the message (its data dir).
pub async fn claim(store: &dyn Store, source: Source, place: &str) -> anyhow::Result<()> {
    match of(store).await? {
        Some(held) if held == source => Ok(()),
        Some(held) => Err(super::BadValue(format!(
            "{place} holds {} prices, and this process would fetch {} ones into it: the two \
             would be shown side by side. Use another data dir for {} data (--data-dir DIR, \
             or data_dir in the config file), or move this one aside to start afresh",
            word(held),
            word(source),
            word(source),
        ))
        .into()),
        None => {
            // Filled before stores kept the mark (or by `import` only): whose prices these
            // are cannot be told, so say what to check.
            let held = store.stats().await.map_or(0, |s| s.total_products);
            if held > 0 {
                tracing::warn!(
                    "{place} holds {held} products and no record of their source (an older \
                     arbdesk filled it, or `import` did); it is marked {} now. If they came \
                     from the other source, move the store aside or use another data dir.",
                    word(source)
                );
            }
            let mark = Checkpoint {
                key: KEY.to_string(),
                offset: code(source),
            };
            store
                .set_checkpoint(mark)
                .await
                .map_err(|e| anyhow::anyhow!("Marking the store's source failed: {e}"))?;
            Ok(())
        }
    }
}
