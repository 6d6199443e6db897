//! `arbdesk import FILE`: Keepa product objects, one JSON object per line, into the store.
//!
//! Lines are read in batches; each batch is decoded on every core, its listings written in
//! one store transaction, run through detection, its opportunities written, and then a
//! checkpoint (the byte offset after its last line) is stored. Reading, writing and detection
//! of consecutive batches overlap (see [`import`]). Killed at any point, the checkpoint names
//! a point before which everything is written, so running the same command again resumes
//! there; re-importing is harmless because every write is idempotent. A bad line is
//! reported with its number and skipped; the rest is imported, and the command exits with
//! code 3 (0: every line imported; 1: nothing could be). A large import runs as the
//! store's bulk load ([`Store::bulk_load`]), which the store finishes even after a failure.
//!
//! It writes as the pipeline's process stage does (listings, then detection with
//! [`crate::pipeline::detect_all`], then opportunities), without the queue, the alerts and
//! the retries: a command that ends reports a failed write and is run again. Its threads and
//! tasks are its own and end with it.

use std::io::IsTerminal;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};

use super::Partial;
use crate::cli::ImportArgs;
use crate::config::Settings;
use crate::domain::text::{count, thousands};
use crate::domain::{Asin, Product};
use crate::store::{BulkLoad, Checkpoint, Store, WatchSource};
use batches::read_batches;
use input::Input;
use tally::{Rejects, Tally};

mod batches;
mod input;
pub(super) mod lock;
mod tally;

/// Bad lines shown on standard error as they come (`--rejects` has every one).
const SHOWN_ERRORS: usize = 20;

/// Runs `arbdesk import`.
///
/// Three stages overlap: a reader thread decodes batch N+2 while the store writes the
/// listings of batch N+1 and detection runs over batch N; then N's opportunities and its
/// checkpoint are written. The checkpoint of N is written after N+1's listings, which is
/// harmless: a run resumed after N writes N+1 again, and every write is idempotent.
pub async fn import(settings: &Settings, args: &ImportArgs) -> Result<()> {
    // The input first: a file that cannot be read leaves no new store behind.
    let input = Input::open(&args.file)?;
    if let Some(path) = &args.rejects {
        super::check_output_file(settings, path, "--rejects")?;
    }
    let store = super::open_store(settings)?;
    let name = input.name.clone();
    // One import into a local store at a time: another waits here, then reads the
    // checkpoint this one leaves (see `lock`). Taken before the store's source is read: a
    // demo process marks a new store while it holds this lock, so the two cannot both
    // find it unmarked.
    let _lock = match settings.store.local_file(&settings.data_dir) {
        Some(db) => lock::take(&db, &name).await?,
        None => None,
    };
    super::data_source::check_import(&*store, &super::data_source::place(settings)).await?;
    let detect = super::detector(settings);
    // The rate the live pipeline last fetched, as its own rows use.
    crate::pipeline::restore_fx(&*store, &*detect).await;
    // A regular file is resumable: its checkpoint is keyed by its path, size and
    // modification time, so a file edited in place (a bad line fixed, same length) is
    // imported again rather than taken for the one already read; its first 64 KiB are
    // compared too (`same_head`).
    let key = input
        .size
        .map(|size| format!("import:{name}:{size}:{}", input.modified_ns));
    let size = input.size.unwrap_or(0);
    let mut start = match &key {
        Some(key) if !args.restart => store
            .checkpoint(key.clone())
            .await
            .context("Reading the import checkpoint failed")?
            .unwrap_or(0),
        _ => 0,
    };
    if let Some(key) = &key
        && !same_head(&*store, key, &input.head).await?
        && start > 0
    {
        noteln!(
            "{name} starts with other lines than when it was last imported, though its size \
             and modification time are the same: it is imported from the start; lines \
             imported before are written again, not duplicated."
        );
        start = 0;
    }
    if let Some(key) = &key
        && size > 0
        && start >= size
    {
        return already_imported(&*store, key, start, &name, args).await;
    }
    if let Some(key) = &key {
        say_if_changed(&*store, key, &name, start, args.restart).await?;
    }
    let (reader, line_no) = input.skip_to(start)?;
    // Ctrl-C stops at once, as a kill would (every batch is written whole or not at all),
    // and says how to go on.
    let resume = if key.is_some() {
        "run the same command again to resume after the last batch written"
    } else {
        "input from a stream cannot be resumed: import it again from the start"
    };
    // SIGTERM (a service manager, `kill`) the same, with its own exit status.
    tokio::spawn(async move {
        let code = interrupted().await;
        noteln!("\nInterrupted: {resume}.");
        std::process::exit(code);
    });
    if start > 0 {
        noteln!("Resuming {name} after line {line_no} (byte {start} of {size}).");
    }

    let progress = !args.quiet && std::io::stderr().is_terminal();
    let stored_rows = store
        .stats()
        .await
        .context("Reading the store's totals failed")?
        .opportunities;
    let bulk = match key {
        Some(_) => bulk_worthwhile(size.saturating_sub(start), stored_rows),
        // A stream of unknown length: a bulk load into an empty store only.
        None => stored_rows == 0,
    };
    // Opened before the bulk load begins: a rejects file that cannot be created stops the
    // run with the store as it was.
    let mut tally = Tally {
        rejects: args
            .rejects
            .as_deref()
            .map(|path| Rejects::open(path, &args.file, (start > 0).then_some(line_no)))
            .transpose()?,
        ..Tally::default()
    };
    if bulk {
        store
            .bulk_load(BulkLoad::Begin)
            .await
            .context("Starting a bulk load failed")?;
    }
    let began = Instant::now();
    // What an interrupted run read before `start` still counts for the file: its bad lines
    // and the lines it imported (all of them, when it had no bad line).
    if let Some(key) = key.as_ref().filter(|_| start > 0) {
        let before = |what| store.checkpoint(before_key(key, what, start));
        tally.bad_before = before(OUTCOME_BAD).await?.unwrap_or(0);
        tally.bad = tally.bad_before;
        tally.imported_before = match tally.bad_before {
            0 => line_no,
            _ => before(OUTCOME_IMPORTED).await?.unwrap_or(0),
        };
    }
    let mut last_report = Instant::now();
    let (tx, mut rx) = tokio::sync::mpsc::channel(2);
    let batch = args.batch.max(1);
    let reading = {
        let name = name.clone();
        tokio::task::spawn_blocking(move || {
            read_batches(reader, batch, line_no, start, name, tx);
        })
    };
    // Batch N: its listings are stored, its detection is next.
    let mut stored: Option<Stored> = None;
    // How far the file has been read, for the progress line.
    let mut read_to = start;
    let loaded: Result<()> = async {
        loop {
            let next = rx
                .recv()
                .await
                .transpose()?
                .filter(|d| !d.listings.is_empty() || !d.bad.is_empty());
            let now = crate::domain::now();
            let mut next_asins = Vec::new();
            let mut next_offset = 0;
            let mut next_counts = (0, 0);
            let write_next = match next {
                Some(d) => {
                    tally.add(&d)?;
                    next_counts = (tally.bad, tally.imported_before + tally.imported);
                    if args.watch {
                        next_asins = d.listings.iter().map(|l| l.asin).collect();
                    }
                    next_offset = d.offset;
                    read_to = d.offset;
                    Some(d.listings)
                }
                None => None,
            };
            let done = write_next.is_none();
            let t0 = Instant::now();
            let (finished, products) = tokio::join!(
                async {
                    match stored.take() {
                        Some(Stored {
                            products,
                            asins,
                            offset,
                            counts,
                        }) => {
                            let sets =
                                crate::pipeline::detect_all(detect.clone(), products, now).await?;
                            let checkpoint = key.as_ref().map(|key| Checkpoint {
                                key: key.clone(),
                                offset,
                            });
                            let watch = args.watch.then_some(asins);
                            finish_batch(&store, sets, watch, checkpoint, counts).await
                        }
                        None => Ok(()),
                    }
                },
                async {
                    match write_next {
                        Some(listings) => Some(store.upsert_listings(listings, now, None).await),
                        None => None,
                    }
                }
            );
            finished?;
            tracing::debug!(
                ms = t0.elapsed().as_millis() as u64,
                "Wrote an import batch."
            );
            if let Some(products) = products {
                let products = products.context("Writing to the store failed")?;
                stored = Some(Stored {
                    products,
                    asins: next_asins,
                    offset: next_offset,
                    counts: next_counts,
                });
            }
            if progress && last_report.elapsed().as_millis() > 300 {
                tally.show_progress(read_to, size, began);
                last_report = Instant::now();
            }
            if done {
                break;
            }
        }
        Ok(())
    }
    .await;
    if bulk {
        if progress {
            note!("\rbuilding the sort indexes…{:40}", "");
        }
        // Built even after a failed batch: everything committed so far is sorted at once.
        let built = store
            .bulk_load(BulkLoad::End)
            .await
            .context("Building the sort indexes after the import failed");
        loaded?;
        built?;
    } else {
        loaded?;
    }
    drop(rx);
    reading.await?;
    if progress {
        noteln!();
    }
    tally.report(&*store, key.as_deref(), &name, began).await
}

/// A batch whose listings are stored, waiting for its detection.
struct Stored {
    /// The products its listings made.
    products: Vec<Product>,
    /// Its ASINs, to watch (with `--watch`).
    asins: Vec<Asin>,
    /// The byte offset after its last line.
    offset: u64,
    /// The bad and imported lines of the file up to its end.
    counts: (u64, u64),
}

/// Says why a file imported before is read from its start again: it changed since (its
/// size or modification time), which keys its checkpoint. Then records this version as the
/// last one seen of the file, under a checkpoint named by the file alone.
async fn say_if_changed(
    store: &dyn Store,
    key: &str,
    name: &str,
    start: u64,
    restart: bool,
) -> Result<()> {
    let last = format!("import:{name}:last");
    let this = fingerprint(key);
    let before = replace_checkpoint(store, last, this).await?;
    if start == 0 && !restart && before.is_some_and(|b| b != this) {
        noteln!(
            "{name} has changed since it was last imported (its size or modification time): \
             it is imported from the start; lines imported before are written again, not \
             duplicated."
        );
    }
    Ok(())
}

/// Records `value` under `key` (written only when it differs) and returns what was there.
async fn replace_checkpoint(store: &dyn Store, key: String, value: u64) -> Result<Option<u64>> {
    let before = store
        .checkpoint(key.clone())
        .await
        .context("Reading the import checkpoint failed")?;
    if before != Some(value) {
        store
            .set_checkpoint(Checkpoint { key, offset: value })
            .await
            .context("Writing the import checkpoint failed")?;
    }
    Ok(before)
}

/// A file version's checkpoint key as a number.
fn fingerprint(key: &str) -> u64 {
    digest(key.as_bytes())
}

/// FNV-1a of `bytes`, 63 bits (stores keep checkpoints signed).
fn digest(bytes: &[u8]) -> u64 {
    let hash = bytes.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    hash & (i64::MAX as u64)
}

/// Whether the file version `key` starts with `head` as it did when a run last read it
/// (or no run recorded it: a store written before this check), recording `head` for it.
/// A file rewritten with other lines of the same length and its time set back (`touch -r`)
/// keeps its size and modification time, and its checkpoint would skip lines it never read.
async fn same_head(store: &dyn Store, key: &str, head: &[u8]) -> Result<bool> {
    let this = digest(head);
    let before = replace_checkpoint(store, format!("{key}:head"), this).await?;
    Ok(before.is_none_or(|b| b == this))
}

/// Checkpoint suffixes under which a run records how many lines it imported and skipped.
const OUTCOME_IMPORTED: &str = "imported";
const OUTCOME_BAD: &str = "bad";

/// A file whose checkpoint is at its end: nothing to do, but its last run's verdict stands
/// (a file of nothing but bad lines still fails, so a retrying script does not pass).
async fn already_imported(
    store: &dyn Store,
    key: &str,
    end: u64,
    name: &str,
    args: &ImportArgs,
) -> Result<()> {
    let watch = args.watch;
    // The run's outcome, or (a run killed after its last batch, before it recorded its
    // outcome) the counts kept beside its last checkpoint, there once a line was bad.
    let outcome = |what: &'static str| async move {
        match store.checkpoint(format!("{key}:{what}")).await? {
            Some(n) => Ok::<_, crate::store::StoreError>(Some(n)),
            None => store.checkpoint(before_key(key, what, end)).await,
        }
    };
    let (imported, bad) = (
        outcome(OUTCOME_IMPORTED).await?,
        outcome(OUTCOME_BAD).await?,
    );
    let again = if watch {
        "run with --restart to import it again (and watch its ASINs)"
    } else {
        "run with --restart to import it again"
    };
    let done = format!("{name} was imported completely before and has not changed since");
    match (imported, bad.unwrap_or(0)) {
        (Some(0), bad) if bad > 0 => anyhow::bail!(
            "no line of {name} could be imported: the last run found {} and the file has \
             not changed since; fix {} and {again}",
            if bad == 1 {
                "its one line bad".to_string()
            } else {
                format!("all {} bad", thousands(bad))
            },
            if bad == 1 { "it" } else { "them" }
        ),
        (_, bad) if bad > 0 => {
            // The lines are not read again, so no rejects file is written.
            let rejects = match &args.rejects {
                Some(path) => format!(
                    " ({} is not written: the lines were not read again)",
                    path.display()
                ),
                None => String::new(),
            };
            return Err(Partial(format!(
                "{done}; nothing to do. The last run over it skipped {}: fix {} and \
                 {again}{rejects}",
                count(bad, "bad line"),
                if bad == 1 { "it" } else { "them" }
            ))
            .into());
        }
        _ => noteln!("{done}; nothing to do: {again}."),
    }
    Ok(())
}

/// Whether an import of `bytes` more should run as a bulk load over a store of `rows`
/// opportunity rows: when it adds at least a quarter as many rows as are stored. A line is
/// about 2 KB and yields about 1.5 rows; building the sort indexes from sorted rows costs
/// a few times less a row than inserting each row into them at a random place.
fn bulk_worthwhile(bytes: u64, rows: u64) -> bool {
    let added = bytes / 2000 * 3 / 2;
    added.saturating_mul(4) >= rows
}

/// The checkpoint that holds how many lines of a file before `offset` were bad or imported
/// (`what`), for a run resumed there: written only once some are bad.
fn before_key(key: &str, what: &str, offset: u64) -> String {
    format!("{key}:{what}@{offset}")
}

/// Writes a batch's opportunities (and watchlist entries), then moves the checkpoint past it
/// (with the bad and imported lines up to there).
async fn finish_batch(
    store: &Arc<dyn Store>,
    sets: Vec<(Asin, Vec<crate::domain::Opportunity>)>,
    watch: Option<Vec<Asin>>,
    checkpoint: Option<Checkpoint>,
    (bad, imported): (u64, u64),
) -> Result<()> {
    store
        .replace_opportunities(sets)
        .await
        .context("Writing opportunities failed")?;
    if let Some(asins) = watch {
        store
            .watch_add(asins, WatchSource::Import)
            .await
            .context("Adding to the watchlist failed")?;
    }
    // The checkpoint moves only once the whole batch is written: a crash anywhere before
    // this line makes the next run redo the batch, which is idempotent. The bad lines up to
    // it are keyed by its offset and written first, so whichever checkpoint a crash leaves
    // has its count beside it.
    if let Some(checkpoint) = checkpoint {
        if bad > 0 {
            for (what, n) in [(OUTCOME_BAD, bad), (OUTCOME_IMPORTED, imported)] {
                let count = Checkpoint {
                    key: before_key(&checkpoint.key, what, checkpoint.offset),
                    offset: n,
                };
                store
                    .set_checkpoint(count)
                    .await
                    .context("Writing the import checkpoint failed")?;
            }
        }
        store
            .set_checkpoint(checkpoint)
            .await
            .context("Writing the import checkpoint failed")?;
    }
    Ok(())
}

/// Waits for Ctrl-C or SIGTERM; the exit status that says which (128 + the signal).
async fn interrupted() -> i32 {
    // Without a Ctrl-C handler only SIGTERM (or nothing) interrupts.
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            return tokio::select! {
                () = ctrl_c => 130,
                _ = term.recv() => 143,
            };
        }
    }
    ctrl_c.await;
    130
}

#[cfg(test)]
mod tests {
    use super::bulk_worthwhile;

    #[test]
    fn a_bulk_load_pays_when_the_file_adds_a_quarter_of_the_rows() {
        assert!(bulk_worthwhile(250_000_000, 0));
        assert!(bulk_worthwhile(0, 0));
        // 100k lines of ~2.5 KB ≈ 187k rows: worth it over 600k stored rows, not over 1M.
        assert!(bulk_worthwhile(250_000_000, 600_000));
        assert!(!bulk_worthwhile(250_000_000, 1_000_000));
        assert!(!bulk_worthwhile(2_500, 100));
    }
}
