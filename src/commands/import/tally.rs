//! What an import run has read (its tally, shown as it goes and summed up at the end) and
//! the `--rejects` file of every bad line.

use std::time::Instant;

use anyhow::{Context, Result};

use super::batches::Decoded;
use super::{OUTCOME_BAD, OUTCOME_IMPORTED, SHOWN_ERRORS};
use crate::commands::Partial;
use crate::domain::text::{count, thousands};
use crate::store::{Checkpoint, Store};

/// What a run has read so far.
#[derive(Debug, Default)]
pub(super) struct Tally {
    /// Lines decoded into listings.
    pub(super) imported: u64,
    /// Lines skipped as bad (the first [`SHOWN_ERRORS`] of this run are shown as they come),
    /// with those of an interrupted run this one resumes.
    pub(super) bad: u64,
    /// The bad lines the interrupted run skipped before the point this one resumes at.
    pub(super) bad_before: u64,
    /// The lines it imported before that point.
    pub(super) imported_before: u64,
    /// Where every bad line is written (`--rejects`).
    pub(super) rejects: Option<Rejects>,
    /// Listings of what Keepa marks as no standard product: stored, with no product.
    pub(super) unlisted: u64,
}

impl Tally {
    /// Counts a decoded batch, showing its bad lines while fewer than [`SHOWN_ERRORS`] were,
    /// and writing each to the rejects file.
    pub(super) fn add(&mut self, d: &Decoded) -> Result<()> {
        if let Some(r) = &mut self.rejects {
            r.write(&d.bad)?;
        }
        for (n, e) in &d.bad {
            if self.bad - self.bad_before < SHOWN_ERRORS as u64 {
                noteln!("line {n}: {e}; skipped");
            }
            self.bad += 1;
        }
        self.imported += d.listings.len() as u64;
        // Stored for refresh scheduling, but no product anywhere.
        self.unlisted += d.listings.iter().filter(|l| !l.is_listed()).count() as u64;
        Ok(())
    }

    /// The progress line, rewritten in place: lines read so far (the store takes them a batch
    /// behind, so it says read, not imported), bad ones, how far into a file
    /// of `size` bytes (`0`: a stream) and the rate since `began`.
    pub(super) fn show_progress(&self, read_to: u64, size: u64, began: Instant) {
        let pct = if size > 0 {
            format!(" · {:.0} %", read_to as f64 * 100.0 / size as f64)
        } else {
            String::new()
        };
        let rate = self.imported as f64 / began.elapsed().as_secs_f64().max(1e-3);
        note!(
            "\rread {} good lines · {} bad{pct} · {} lines/s   ",
            thousands(self.imported),
            thousands(self.bad),
            thousands(rate as u64)
        );
    }

    /// Ends a run that read `name` to its end: records its outcome under the checkpoint
    /// `key` (a file; `None`: a stream), prints the summary, and fails when every line was
    /// bad, or partly (exit 3) when some were.
    pub(super) async fn report(
        &self,
        store: &dyn Store,
        key: Option<&str>,
        name: &str,
        began: Instant,
    ) -> Result<()> {
        let bad_here = self.bad - self.bad_before;
        if bad_here > SHOWN_ERRORS as u64 {
            noteln!(
                "… and {} more (the first {SHOWN_ERRORS} are shown; {}).",
                count(bad_here - SHOWN_ERRORS as u64, "bad line"),
                match &self.rejects {
                    Some(r) if r.lacks(self.bad_before, name).is_some() => format!(
                        "every one this run read is in {}, which lacks some the interrupted \
                         run skipped (below)",
                        r.path.display()
                    ),
                    Some(r) => format!("every one is in {}", r.path.display()),
                    // The file is done: a run without --restart would not read it again.
                    None if key.is_some() => {
                        "--restart --rejects FILE imports it again writing every one to FILE"
                            .to_string()
                    }
                    None => "--rejects FILE writes every one to FILE".to_string(),
                }
            );
        }
        if let Some(key) = key {
            // What this run found, for a later run that finds nothing left to do.
            let outcome = [
                (OUTCOME_IMPORTED, self.imported_before + self.imported),
                (OUTCOME_BAD, self.bad),
            ];
            for (what, n) in outcome {
                let checkpoint = Checkpoint {
                    key: format!("{key}:{what}"),
                    offset: n,
                };
                store
                    .set_checkpoint(checkpoint)
                    .await
                    .context("Recording the import's outcome failed")?;
            }
        }
        if self.imported_before + self.imported == 0 && self.bad > 0 {
            anyhow::bail!(
                "no line of {name} could be imported: {} (see above)",
                if self.bad == 1 {
                    "its one line is bad".to_string()
                } else {
                    format!("all {} are bad", thousands(self.bad))
                }
            );
        }
        if self.imported_before + self.imported == 0 && self.bad == 0 {
            // Exit code 0 (no line failed), but an empty file is more often a mistake.
            noteln!("{name} holds no product line: it is empty, or blank lines only.");
        }
        let secs = began.elapsed().as_secs_f64();
        outln!(
            "Imported {} from {name} in {secs:.1} s ({} lines/s); {} skipped.",
            count(self.imported, "product line"),
            thousands((self.imported as f64 / secs.max(1e-3)) as u64),
            count(self.bad, "bad line")
        );
        if self.unlisted > 0 {
            // Said whole: this goes to stderr, after the bad lines, and may be read without
            // the summary line above it (stdout).
            noteln!(
                "Of the {} imported, {} that Keepa marks as no standard product (productType \
                 other than 0, or no title): stored, so not fetched again at once, but with no \
                 product and no opportunities.",
                count(self.imported, "product line"),
                if self.unlisted == 1 {
                    "1 is a listing".to_string()
                } else {
                    format!("{} are listings", thousands(self.unlisted))
                }
            );
        }
        if self.bad > 0 {
            let mut listed = Vec::new();
            match bad_here {
                0 => {}
                n if n > SHOWN_ERRORS as u64 => {
                    listed.push(format!("the first {SHOWN_ERRORS} of this run listed above"));
                }
                n if self.bad_before > 0 => listed.push(format!("{n} listed above")),
                _ => listed.push("listed above".to_string()),
            }
            if self.bad_before > 0 {
                listed.push(format!(
                    "{} listed by the interrupted run this one resumed",
                    thousands(self.bad_before)
                ));
            }
            let listed = listed.join(", ");
            let lacks = self
                .rejects
                .as_ref()
                .and_then(|r| r.lacks(self.bad_before, name))
                .map_or_else(String::new, |l| format!(" {l}."));
            return Err(Partial(format!(
                "{} of {name} skipped ({listed}); the rest is imported.{lacks} Fix {} and \
                 import {} again (every write is idempotent)",
                count(self.bad, "bad line"),
                if self.bad == 1 { "it" } else { "them" },
                if key.is_some() {
                    "the file"
                } else {
                    "the input"
                }
            ))
            .into());
        }
        Ok(())
    }
}

/// The `--rejects` file: every bad line's number and why.
#[derive(Debug)]
pub(super) struct Rejects {
    path: std::path::PathBuf,
    file: std::io::BufWriter<std::fs::File>,
    /// Resuming: the line the interrupted run's checkpoint ends at, and how many of its
    /// bad lines up to there this file already held (it may have written them elsewhere,
    /// or nowhere).
    resumed: Option<(u64, u64)>,
}

impl Rejects {
    /// Creates `path`, or (resuming after line `resumed_after`) keeps what it says of the
    /// lines up to there and appends to that: the interrupted run may have written lines
    /// past its last checkpoint, which this run reads again. Refuses the input file itself.
    pub(super) fn open(
        path: &std::path::Path,
        input: &std::path::Path,
        resumed_after: Option<u64>,
    ) -> Result<Rejects> {
        if crate::store::file_id::same_file(path, input) {
            // A bad argument (exit code 2), as `import --help` says.
            return Err(crate::commands::BadValue(format!(
                "--rejects {} is the file being imported: give another file name",
                path.display()
            ))
            .into());
        }
        let cannot = || {
            format!(
                "Could not create {} (--rejects): check that its directory exists and is \
                 writable",
                path.display()
            )
        };
        // A regular file resumed is read back; anything else (a new file, a terminal, a
        // pipe: `/dev/stderr`) is written from the start, as it always was.
        let resumed = resumed_after.filter(|_| path.metadata().is_ok_and(|m| m.is_file()));
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .write(true)
            .read(resumed.is_some())
            .truncate(resumed.is_none())
            .open(path)
            .with_context(cannot)?;
        let mut held = resumed_after.map(|line| (line, 0));
        if let Some(line) = resumed {
            let (keep, entries) = kept_before(&mut file, line)
                .with_context(|| format!("Could not read {} (--rejects)", path.display()))?;
            held = Some((line, entries));
            file.set_len(keep).with_context(cannot)?;
            use std::io::Seek as _;
            file.seek(std::io::SeekFrom::Start(keep))
                .with_context(cannot)?;
        }
        Ok(Rejects {
            path: path.to_path_buf(),
            file: std::io::BufWriter::new(file),
            resumed: held,
        })
    }

    /// What this file lacks of the `bad_before` lines an interrupted run skipped before
    /// the point this run resumed at: those it did not write here (it had no `--rejects`,
    /// or another one), said with how to get every one.
    fn lacks(&self, bad_before: u64, input: &str) -> Option<String> {
        let (line, held) = self.resumed?;
        let missing = bad_before.checked_sub(held).filter(|n| *n > 0)?;
        Some(format!(
            "{} lacks {} the interrupted run skipped up to line {} (it wrote {} to another \
             --rejects file, or to none): `arbdesk import {} --restart --rejects {}`, with \
             this run's other options, lists every one",
            self.path.display(),
            count(missing, "bad line"),
            thousands(line),
            if missing == 1 { "it" } else { "them" },
            super::input::shell_quoted(input),
            super::input::shell_quoted(&self.path.display().to_string())
        ))
    }

    /// Writes `bad` lines, `NUMBER<TAB>REASON` each (the reason on one line), flushed at
    /// once: an interrupted run exits without unwinding.
    fn write(&mut self, bad: &[(u64, String)]) -> Result<()> {
        use std::io::Write as _;
        if bad.is_empty() {
            return Ok(());
        }
        let mut out = || -> std::io::Result<()> {
            for (n, e) in bad {
                let reason: String = e
                    .chars()
                    .map(|c| if c.is_control() { ' ' } else { c })
                    .collect();
                writeln!(self.file, "{n}\t{reason}")?;
            }
            self.file.flush()
        };
        out().with_context(|| format!("Could not write {}", self.path.display()))
    }
}

/// How many bytes of a rejects file list lines up to `line` (its lines are in order), so
/// that those after it, which a resumed run writes again, go; and how many entries that is.
fn kept_before(file: &mut std::fs::File, line: u64) -> std::io::Result<(u64, u64)> {
    use std::io::BufRead as _;
    let (mut kept, mut entries) = (0, 0);
    let mut reader = std::io::BufReader::new(file);
    let mut entry = Vec::new();
    loop {
        entry.clear();
        let n = reader.read_until(b'\n', &mut entry)?;
        let number = std::str::from_utf8(&entry)
            .ok()
            .and_then(|e| e.split('\t').next())
            .and_then(|n| n.parse::<u64>().ok());
        match number {
            Some(number) if number <= line && entry.ends_with(b"\n") => {
                kept += n as u64;
                entries += 1;
            }
            _ => return Ok((kept, entries)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::kept_before;
    use std::io::Write as _;

    /// A resumed run keeps the entries of the lines before its resume point, not those the
    /// interrupted run wrote past its last checkpoint (read again now), nor a torn last one.
    #[test]
    fn a_resumed_rejects_file_keeps_the_lines_up_to_the_resume_point() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.tsv");
        let text = "7\tbad\n500\tbad too\n900\tnot UTF-8\n1201\tnot j";
        std::fs::write(&path, text).unwrap();
        let mut f = std::fs::OpenOptions::new().read(true).open(&path).unwrap();
        assert_eq!(kept_before(&mut f, 6).unwrap(), (0, 0));
        let mut f = std::fs::OpenOptions::new().read(true).open(&path).unwrap();
        assert_eq!(
            kept_before(&mut f, 899).unwrap(),
            ("7\tbad\n500\tbad too\n".len() as u64, 2)
        );
        let mut f = std::fs::OpenOptions::new().read(true).open(&path).unwrap();
        let whole = "7\tbad\n500\tbad too\n900\tnot UTF-8\n".len() as u64;
        assert_eq!(
            kept_before(&mut f, 5_000).unwrap(),
            (whole, 3),
            "a torn entry goes"
        );
        // Opened to resume after line 899: what it says of the lines before stays, the
        // rest goes, and what is written next follows it.
        let input = dir.path().join("in.jsonl");
        std::fs::File::create(&input)
            .unwrap()
            .write_all(b"{}")
            .unwrap();
        let mut r = super::Rejects::open(&path, &input, Some(899)).unwrap();
        r.write(&[(900, "again".into())]).unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "7\tbad\n500\tbad too\n900\tagain\n"
        );
        // Not resuming: written from the start; and a terminal or pipe can take it.
        drop(super::Rejects::open(&path, &input, None).unwrap());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "");
        #[cfg(unix)]
        drop(super::Rejects::open(std::path::Path::new("/dev/null"), &input, Some(5)).unwrap());
    }
}
