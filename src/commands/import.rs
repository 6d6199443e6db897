//! `arbdesk import FILE`: Keepa product objects, one JSON object per line, into the store.
//!
//! Lines are read in batches; each batch is decoded on every core, its listings written in
//! one store transaction, run through detection, its opportunities written, and then a
//! checkpoint (the byte offset after its last line) is stored. Reading, writing and detection
//! of consecutive batches overlap (see [`import`]). Killed at any point, the checkpoint names
//! a point before which everything is written, so running the same command again resumes
//! there; re-importing is harmless because every write is idempotent. A bad line is
//! reported with its number and skipped; the rest is imported. A large import runs as the
//! store's bulk load ([`Store::bulk_load`]), which the store finishes even after a failure.

use std::io::{BufRead, BufReader, IsTerminal, Seek, SeekFrom};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};
use chrono::Utc;

use crate::cli::ImportArgs;
use crate::config::Settings;
use crate::domain::{Asin, Listing, Product};
use crate::keepa::decode_product;
use crate::store::{Checkpoint, Store, WatchSource};

const SHOWN_ERRORS: usize = 20;

struct Line {
    number: u64,
    /// The line, or why it is not text.
    text: Result<String, String>,
}

/// Decodes lines on all cores; returns listings and `(line number, error)` pairs.
fn decode_all(lines: Vec<Line>) -> (Vec<Listing>, Vec<(u64, String)>) {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, 8);
    let chunk = lines.len().div_ceil(threads).max(1);
    let results: Vec<Vec<(u64, Result<Listing, String>)>> = std::thread::scope(|s| {
        let handles: Vec<_> = lines
            .chunks(chunk)
            .map(|part| {
                s.spawn(move || {
                    part.iter()
                        .map(|l| {
                            let decoded = match &l.text {
                                Ok(text) => decode_product(text).map_err(|e| e.to_string()),
                                Err(e) => Err(e.clone()),
                            };
                            (l.number, decoded)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_default())
            .collect()
    });
    let mut ok = Vec::with_capacity(lines.len());
    let mut bad = Vec::new();
    for (n, r) in results.into_iter().flatten() {
        match r {
            Ok(l) => ok.push(l),
            Err(e) => bad.push((n, e)),
        }
    }
    (ok, bad)
}

/// One batch of the file, read and decoded.
struct Decoded {
    listings: Vec<Listing>,
    bad: Vec<(u64, String)>,
    /// Byte offset just after the batch's last line.
    offset: u64,
}

/// Reads and decodes batches of `lines` lines ahead of the writer, until the end of the file
/// or until the writer stops listening. Runs on a blocking thread.
fn read_batches(
    mut reader: BufReader<std::fs::File>,
    lines: usize,
    mut line_no: u64,
    mut offset: u64,
    path: std::path::PathBuf,
    tx: tokio::sync::mpsc::Sender<Result<Decoded>>,
) {
    let mut buf = Vec::new();
    loop {
        let mut batch = Vec::with_capacity(lines);
        while batch.len() < lines {
            buf.clear();
            let n = match reader.read_until(b'\n', &mut buf) {
                Ok(n) => n,
                Err(e) => {
                    let e = anyhow::Error::new(e).context(format!(
                        "Reading {} failed after line {line_no}",
                        path.display()
                    ));
                    let _ = tx.blocking_send(Err(e));
                    return;
                }
            };
            if n == 0 {
                break;
            }
            offset += n as u64;
            line_no += 1;
            let bytes = buf.trim_ascii();
            if !bytes.is_empty() {
                // A line that is not UTF-8 is a bad line like any other, not the end.
                let text = String::from_utf8(bytes.to_vec()).map_err(|e| {
                    format!(
                        "not UTF-8 text (invalid byte at column {}); save the file as UTF-8",
                        e.utf8_error().valid_up_to() + 1
                    )
                });
                batch.push(Line {
                    number: line_no,
                    text,
                });
            }
        }
        let end = batch.is_empty();
        let (listings, bad) = decode_all(batch);
        let sent = tx.blocking_send(Ok(Decoded {
            listings,
            bad,
            offset,
        }));
        if end || sent.is_err() {
            return;
        }
    }
}

/// Runs `arbdesk import`.
///
/// Three stages overlap: a reader thread decodes batch N+2 while the store writes the
/// listings of batch N+1 and detection runs over batch N; then N's opportunities and its
/// checkpoint are written. The checkpoint of N is written after N+1's listings, which is
/// harmless: a run resumed after N writes N+1 again, and every write is idempotent.
pub async fn import(settings: &Settings, args: &ImportArgs) -> Result<()> {
    let store = super::open_store(settings)?;
    let detect = super::detector(settings);
    // The rate the live pipeline last fetched, as its own rows use.
    crate::pipeline::restore_fx(&*store, &*detect).await;
    let path = std::fs::canonicalize(&args.file)
        .with_context(|| format!("Cannot open {}", args.file.display()))?;
    let file =
        std::fs::File::open(&path).with_context(|| format!("Cannot open {}", path.display()))?;
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    let key = format!("import:{}:{size}", path.display());
    let start = if args.restart {
        0
    } else {
        store
            .checkpoint(key.clone())
            .await
            .context("Reading the import checkpoint failed")?
            .unwrap_or(0)
    };
    if size > 0 && start >= size {
        eprintln!(
            "{} was imported completely before and has not changed since; nothing to do. \
             Run with --restart to import it again{}.",
            path.display(),
            if args.watch {
                " (and watch its ASINs)"
            } else {
                ""
            }
        );
        return Ok(());
    }
    let mut reader = BufReader::with_capacity(1 << 20, file);
    let mut line_no = 0u64;
    if start > 0 {
        // Count the lines already imported so numbers in messages stay true.
        let mut skipped = 0u64;
        let mut buf = Vec::new();
        while skipped < start {
            buf.clear();
            let n = reader.read_until(b'\n', &mut buf)?;
            if n == 0 {
                break;
            }
            skipped += n as u64;
            line_no += 1;
        }
        reader.seek(SeekFrom::Start(start))?;
        eprintln!(
            "Resuming {} after line {line_no} (byte {start} of {size}).",
            path.display()
        );
    }

    let progress = !args.quiet && std::io::stderr().is_terminal();
    let stored_rows = store
        .stats()
        .await
        .context("Reading the store's totals failed")?
        .opportunities;
    let bulk = bulk_worthwhile(size.saturating_sub(start), stored_rows);
    if bulk {
        store
            .bulk_load(true)
            .await
            .context("Starting a bulk load failed")?;
    }
    let began = Instant::now();
    let (mut imported, mut bad_total) = (0u64, 0u64);
    let mut last_report = Instant::now();
    let (tx, mut rx) = tokio::sync::mpsc::channel(2);
    let batch = args.batch.max(1);
    let reading = {
        let path = path.clone();
        tokio::task::spawn_blocking(move || {
            read_batches(reader, batch, line_no, start, path, tx);
        })
    };
    // Batch N: its listings are stored, its detection is next.
    let mut stored: Option<(Vec<Product>, Vec<Asin>, u64)> = None;
    // How far the file has been read, for the progress line.
    let mut read_to = start;
    let loaded: Result<()> = async {
        loop {
            let next = rx
                .recv()
                .await
                .transpose()?
                .filter(|d| !d.listings.is_empty() || !d.bad.is_empty());
            let now = Utc::now();
            let mut next_asins = Vec::new();
            let mut next_offset = 0;
            let write_next = match next {
                Some(d) => {
                    for (n, e) in &d.bad {
                        if bad_total < SHOWN_ERRORS as u64 {
                            eprintln!("line {n}: {e}; skipped");
                        }
                        bad_total += 1;
                    }
                    imported += d.listings.len() as u64;
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
                        Some((products, asins, offset)) => {
                            let sets =
                                crate::pipeline::detect_all(detect.clone(), products, now).await?;
                            finish_batch(&store, sets, args.watch.then_some(asins), &key, offset)
                                .await
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
                stored = Some((products, next_asins, next_offset));
            }
            if progress && last_report.elapsed().as_millis() > 300 {
                let pct = if size > 0 {
                    read_to as f64 * 100.0 / size as f64
                } else {
                    100.0
                };
                let rate = imported as f64 / began.elapsed().as_secs_f64().max(1e-3);
                eprint!(
                    "\rimported {imported} lines · {bad_total} bad · {pct:.0} % · {rate:.0} lines/s   "
                );
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
            eprint!("\rbuilding the sort indexes…{:40}", "");
        }
        // Built even after a failed batch: everything committed so far is sorted at once.
        let built = store
            .bulk_load(false)
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
        eprintln!();
    }
    if bad_total > SHOWN_ERRORS as u64 {
        eprintln!("… and {} more bad lines.", bad_total - SHOWN_ERRORS as u64);
    }
    if imported == 0 && bad_total > 0 {
        anyhow::bail!(
            "no line of {} could be imported: all {bad_total} are bad (see above)",
            path.display()
        );
    }
    let secs = began.elapsed().as_secs_f64();
    outln!(
        "Imported {imported} product lines from {} in {secs:.1} s ({:.0} lines/s); {bad_total} bad lines skipped.",
        path.display(),
        imported as f64 / secs.max(1e-3)
    );
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

/// Writes a batch's opportunities (and watchlist entries), then moves the checkpoint past it.
async fn finish_batch(
    store: &Arc<dyn Store>,
    sets: Vec<(Asin, Vec<crate::domain::Opportunity>)>,
    watch: Option<Vec<Asin>>,
    key: &str,
    offset: u64,
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
    // this line makes the next run redo the batch, which is idempotent.
    let checkpoint = Checkpoint {
        key: key.to_string(),
        offset,
    };
    store
        .upsert_listings(Vec::new(), Utc::now(), Some(checkpoint))
        .await
        .context("Writing the import checkpoint failed")?;
    Ok(())
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
