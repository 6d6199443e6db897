//! `arbdesk import FILE`: Keepa product objects, one JSON object per line, into the store.
//!
//! Lines are read in batches; each batch is decoded on every core, written in one store
//! transaction together with a checkpoint (the byte offset after its last line), then
//! run through detection. Killed at any point, the store holds whole batches and a
//! checkpoint that matches them, so running the same command again resumes after the last
//! committed batch; re-importing is harmless because every write is idempotent. A bad line
//! is reported with its number and skipped; the rest is imported.

use std::io::{BufRead, BufReader, IsTerminal, Seek, SeekFrom};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};
use chrono::Utc;

use crate::cli::ImportArgs;
use crate::config::Settings;
use crate::domain::{Asin, Listing};
use crate::keepa::decode_product;
use crate::pipeline::Detect;
use crate::store::{Checkpoint, Store, WatchSource};

const SHOWN_ERRORS: usize = 20;

struct Line {
    number: u64,
    text: String,
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
                        .map(|l| (l.number, decode_product(&l.text).map_err(|e| e.to_string())))
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

/// Runs `arbdesk import`.
pub async fn import(settings: &Settings, args: &ImportArgs) -> Result<()> {
    let store = super::open_store(settings)?;
    let detect = super::detector(settings)?;
    let path = std::fs::canonicalize(&args.file)
        .with_context(|| format!("Cannot open {}", args.file.display()))?;
    let file =
        std::fs::File::open(&path).with_context(|| format!("Cannot open {}", path.display()))?;
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    let key = format!("import:{}:{size}", path.display());
    let start = store
        .checkpoint(key.clone())
        .await
        .context("Reading the import checkpoint failed")?
        .unwrap_or(0);
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
    let began = Instant::now();
    let mut offset = start;
    let (mut imported, mut bad_total) = (0u64, 0u64);
    let mut last_report = Instant::now();
    loop {
        let mut lines = Vec::with_capacity(args.batch.max(1));
        let mut buf = String::new();
        while lines.len() < args.batch.max(1) {
            buf.clear();
            let n = reader.read_line(&mut buf).with_context(|| {
                format!("Reading {} failed after line {line_no}", path.display())
            })?;
            if n == 0 {
                break;
            }
            offset += n as u64;
            line_no += 1;
            let text = buf.trim();
            if !text.is_empty() {
                lines.push(Line {
                    number: line_no,
                    text: text.to_string(),
                });
            }
        }
        if lines.is_empty() && offset >= size {
            break;
        }
        let (listings, bad) = tokio::task::spawn_blocking(move || decode_all(lines)).await?;
        for (n, e) in &bad {
            if bad_total < SHOWN_ERRORS as u64 {
                eprintln!("line {n}: {e}; skipped");
            }
            bad_total += 1;
        }
        imported += listings.len() as u64;
        write_batch(
            &store,
            &detect,
            listings,
            args.watch,
            Checkpoint {
                key: key.clone(),
                offset,
            },
        )
        .await?;
        if progress && last_report.elapsed().as_millis() > 300 {
            let pct = if size > 0 {
                offset as f64 * 100.0 / size as f64
            } else {
                100.0
            };
            let rate = imported as f64 / began.elapsed().as_secs_f64().max(1e-3);
            eprint!(
                "\rimported {imported} lines · {bad_total} bad · {pct:.0} % · {rate:.0} lines/s   "
            );
            last_report = Instant::now();
        }
        if offset >= size {
            break;
        }
    }
    if progress {
        eprintln!();
    }
    if bad_total > SHOWN_ERRORS as u64 {
        eprintln!("… and {} more bad lines.", bad_total - SHOWN_ERRORS as u64);
    }
    let secs = began.elapsed().as_secs_f64();
    outln!(
        "Imported {imported} product lines from {} in {secs:.1} s ({:.0} lines/s); {bad_total} bad lines skipped.",
        path.display(),
        imported as f64 / secs.max(1e-3)
    );
    Ok(())
}

async fn write_batch(
    store: &Arc<dyn Store>,
    detect: &Arc<dyn Detect>,
    listings: Vec<Listing>,
    watch: bool,
    checkpoint: Checkpoint,
) -> Result<()> {
    let now = Utc::now();
    let t0 = Instant::now();
    let asins: Vec<Asin> = listings.iter().map(|l| l.asin).collect();
    let products = store
        .upsert_listings(listings, now, None)
        .await
        .context("Writing to the store failed")?;
    let t1 = Instant::now();
    let sets = crate::pipeline::detect_all(detect.clone(), products, now).await?;
    let t2 = Instant::now();
    store
        .replace_opportunities(sets)
        .await
        .context("Writing opportunities failed")?;
    tracing::debug!(
        store_ms = (t1 - t0).as_millis() as u64,
        detect_ms = (t2 - t1).as_millis() as u64,
        opportunities_ms = t2.elapsed().as_millis() as u64,
        "Wrote an import batch."
    );
    if watch {
        store
            .watch_add(asins, WatchSource::Import)
            .await
            .context("Adding to the watchlist failed")?;
    }
    // The checkpoint moves only once the whole batch is written: a crash anywhere before
    // this line makes the next run redo the batch, which is idempotent.
    store
        .upsert_listings(Vec::new(), now, Some(checkpoint))
        .await
        .context("Writing the import checkpoint failed")?;
    Ok(())
}
