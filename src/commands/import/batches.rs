//! `import`'s reading stage: the file in batches of lines, each decoded on every core.

use std::io::{BufRead, BufReader, Read};
use std::ops::Range;

use anyhow::Result;

use crate::domain::Listing;
use crate::keepa::decode::updated_by;
use crate::keepa::decode_product;

/// Lines in the first batch, when batches are larger.
const FIRST_BATCH: usize = 1_000;

/// The longest line read: a Keepa product object with years of history is a few MB.
const MAX_LINE: usize = 64 << 20;

/// The longest line skipped before the input is taken for something that is not lines at
/// all (`/dev/zero`, a disk image): reading stops there with an error rather than forever.
const MAX_SKIPPED: u64 = 256 << 20;

/// Reads past the rest of a line (to its newline or the end), keeping none of it; returns
/// the bytes passed.
fn skip_line(reader: &mut impl BufRead) -> std::io::Result<u64> {
    let mut passed = 0;
    loop {
        if passed > MAX_SKIPPED {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "a line runs on past 256 MiB with no end: this is not a JSON-lines file (a \
                 device or a binary file?)",
            ));
        }
        let chunk = reader.fill_buf()?;
        if chunk.is_empty() {
            return Ok(passed);
        }
        match chunk.iter().position(|&b| b == b'\n') {
            Some(i) => {
                reader.consume(i + 1);
                return Ok(passed + i as u64 + 1);
            }
            None => {
                let n = chunk.len();
                reader.consume(n);
                passed += n as u64;
            }
        }
    }
}

/// A batch of lines as read: their text end to end in one buffer (one allocation a batch,
/// not one a line) and, per line, its number and its place in the buffer, or why it is not
/// text.
#[derive(Default)]
struct Lines {
    text: String,
    lines: Vec<(u64, Result<Range<usize>, String>)>,
}

/// Decodes lines on all cores; returns listings and `(line number, error)` pairs.
fn decode_all(batch: &Lines) -> (Vec<Listing>, Vec<(u64, String)>) {
    let read_at = chrono::Utc::now();
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, 8);
    let chunk = batch.lines.len().div_ceil(threads).max(1);
    let results: Vec<Vec<(u64, Result<Listing, String>)>> = std::thread::scope(|s| {
        let handles: Vec<_> = batch
            .lines
            .chunks(chunk)
            .map(|part| {
                s.spawn(move || {
                    part.iter()
                        .map(|(number, line)| {
                            let decoded = match line {
                                Ok(range) => decode_product(&batch.text[range.clone()])
                                    .and_then(|l| updated_by(l, read_at, "read"))
                                    .map_err(|e| e.to_string()),
                                Err(e) => Err(e.clone()),
                            };
                            (*number, decoded)
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
    let mut ok = Vec::with_capacity(batch.lines.len());
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
pub(super) struct Decoded {
    pub(super) listings: Vec<Listing>,
    /// `(line number, why it is bad)`.
    pub(super) bad: Vec<(u64, String)>,
    /// Byte offset just after the batch's last line.
    pub(super) offset: u64,
}

/// Reads and decodes batches of `lines` lines ahead of the writer, until the end of the file
/// or until the writer stops listening. Runs on a blocking thread.
pub(super) fn read_batches(
    mut reader: BufReader<Box<dyn Read + Send>>,
    lines: usize,
    mut line_no: u64,
    mut offset: u64,
    name: String,
    tx: tokio::sync::mpsc::Sender<Result<Decoded>>,
) {
    let mut buf = Vec::new();
    // The first batch is small, so that writing starts after a fraction of a batch's
    // decoding rather than a whole one.
    let mut want = lines.min(FIRST_BATCH);
    // Reused: a new buffer of a batch's size would be faulted in page by page each time.
    let mut batch = Lines::default();
    loop {
        batch.text.clear();
        batch.lines.clear();
        while batch.lines.len() < want {
            buf.clear();
            let at_start = offset == 0;
            // At most MAX_LINE bytes and the newline: a file that is not JSON lines (a
            // binary dump, say) must not be read into memory whole as one line.
            let read = (&mut reader)
                .take(MAX_LINE as u64 + 1)
                .read_until(b'\n', &mut buf)
                .and_then(|n| {
                    let cut = n > MAX_LINE && buf.last() != Some(&b'\n');
                    let rest = if cut { skip_line(&mut reader)? } else { 0 };
                    Ok((n as u64 + rest, cut))
                });
            let (n, cut) = match read {
                Ok(read) => read,
                Err(e) => {
                    let e = anyhow::Error::new(e)
                        .context(format!("Reading {name} failed after line {line_no}"));
                    let _ = tx.blocking_send(Err(e));
                    return;
                }
            };
            if n == 0 {
                break;
            }
            offset += n;
            line_no += 1;
            if cut {
                batch.lines.push((
                    line_no,
                    Err(format!(
                        "longer than {} MiB ({n} bytes): not a Keepa product line; is this the \
                         right file?",
                        MAX_LINE >> 20
                    )),
                ));
                continue;
            }
            // A byte-order mark (editors on Windows write one) is not part of the first line.
            let line = match buf.strip_prefix(b"\xEF\xBB\xBF") {
                Some(rest) if at_start => rest,
                _ => &buf[..],
            };
            let bytes = line.trim_ascii();
            if !at_start && bytes.starts_with(b"\xEF\xBB\xBF") {
                batch.lines.push((
                    line_no,
                    Err(
                        "starts with a byte-order mark (U+FEFF), which only a file's first line \
                         may: were two files joined? Remove it from this line"
                            .to_string(),
                    ),
                ));
                continue;
            }
            if !bytes.is_empty() {
                // A line that is not UTF-8 is a bad line like any other, not the end.
                let text = match std::str::from_utf8(bytes) {
                    Ok(text) => {
                        let at = batch.text.len();
                        batch.text.push_str(text);
                        Ok(at..batch.text.len())
                    }
                    Err(e) => Err(format!(
                        "not UTF-8 text (invalid byte at column {}); save the file as UTF-8",
                        e.valid_up_to() + 1
                    )),
                };
                batch.lines.push((line_no, text));
            }
        }
        want = lines;
        let end = batch.lines.is_empty();
        let (listings, bad) = decode_all(&batch);
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

#[cfg(test)]
mod tests {
    use std::io::{BufReader, Read};

    use super::{Decoded, FIRST_BATCH, read_batches};

    /// The batches `read_batches` sends for `input` read in batches of `lines`.
    fn batches(input: Vec<u8>, lines: usize) -> Vec<Decoded> {
        let (tx, mut rx) = tokio::sync::mpsc::channel(1);
        let reader: Box<dyn Read + Send> = Box::new(std::io::Cursor::new(input));
        let reading = std::thread::spawn(move || {
            read_batches(BufReader::new(reader), lines, 0, 0, "input".into(), tx);
        });
        let mut out = Vec::new();
        while let Some(d) = rx.blocking_recv() {
            out.push(d.expect("reading from memory"));
        }
        reading.join().expect("the reader ends");
        out
    }

    /// An input that never ends its line (`/dev/zero`) stops with an error naming the
    /// line, rather than being read forever.
    #[test]
    fn an_endless_line_stops_reading() {
        let (tx, mut rx) = tokio::sync::mpsc::channel(1);
        let zeros: Box<dyn Read + Send> = Box::new(std::io::repeat(0));
        let reading = std::thread::spawn(move || {
            read_batches(BufReader::new(zeros), 10, 4, 0, "/dev/zero".into(), tx);
        });
        let err = rx
            .blocking_recv()
            .expect("an answer")
            .err()
            .expect("an error");
        let text = format!("{err:#}");
        assert!(
            text.starts_with("Reading /dev/zero failed after line 4: a line runs on past 256 MiB"),
            "{text}"
        );
        reading.join().expect("the reader ends");
    }

    #[test]
    fn the_first_batch_is_small_and_every_line_keeps_its_number_and_offset() {
        // Lines that are not Keepa products: each one is a bad line with its number.
        let mut input = b"\xEF\xBB\xBF{}\n".to_vec();
        let mut ends = vec![input.len() as u64];
        for i in 2..=2_500 {
            match i {
                7 => input.extend_from_slice(b"\n"),
                9 => input.extend_from_slice(b"caf\xE9\n"),
                11 => input.extend_from_slice(b"\xEF\xBB\xBF[11]\n"),
                _ => input.extend_from_slice(format!("[{i}]\n").as_bytes()),
            }
            ends.push(input.len() as u64);
        }
        let got = batches(input, 2_000);
        // 2,499 lines that are not blank: a first batch of FIRST_BATCH (not 2,000), then the
        // rest, then the empty end.
        let sizes: Vec<usize> = got.iter().map(|d| d.bad.len()).collect();
        assert_eq!(FIRST_BATCH, 1_000);
        assert_eq!(sizes, [1_000, 1_499, 0]);
        assert!(got.iter().all(|d| d.listings.is_empty()));
        // Offsets are just after each batch's last line (line 7 is blank, so the first
        // batch of 1,000 lines ends at line 1,001).
        assert_eq!(got[0].offset, ends[1_000]);
        assert_eq!(got[1].offset, ends[2_499]);
        let bad: Vec<&(u64, String)> = got.iter().flat_map(|d| &d.bad).collect();
        assert_eq!(bad[0].0, 1);
        assert!(
            !bad[0].1.contains("UTF-8"),
            "the byte-order mark is not part of line 1"
        );
        assert!(bad.iter().all(|(n, _)| *n != 7), "a blank line is no line");
        let latin1 = bad
            .iter()
            .find(|(n, _)| *n == 9)
            .expect("line 9 is reported");
        assert!(
            latin1
                .1
                .contains("not UTF-8 text (invalid byte at column 4)"),
            "{}",
            latin1.1
        );
        assert_eq!(bad.last().map(|(n, _)| *n), Some(2_500));
        // Past line 1 a byte-order mark is named (two files joined), not taken for JSON.
        let joined = bad.iter().find(|(n, _)| *n == 11).unwrap();
        assert!(joined.1.contains("byte-order mark"), "{}", joined.1);
    }

    #[test]
    fn a_line_too_long_to_be_a_product_is_skipped_as_bad_and_the_next_one_read() {
        let mut input = b"[1]\n".to_vec();
        input.resize(input.len() + super::MAX_LINE + 10, b'x');
        input.extend_from_slice(b"\n[3]\n");
        let total = input.len() as u64;
        let got = batches(input, 10);
        let bad: Vec<&(u64, String)> = got.iter().flat_map(|d| &d.bad).collect();
        assert_eq!(bad.iter().map(|(n, _)| *n).collect::<Vec<_>>(), [1, 2, 3]);
        assert!(bad[1].1.contains("longer than 64 MiB"), "{}", bad[1].1);
        assert!(!bad[2].1.contains("longer"), "{}", bad[2].1);
        assert_eq!(got[0].offset, total, "every byte is counted");
    }

    #[test]
    fn batches_smaller_than_the_first_are_all_that_size() {
        let input: Vec<u8> = (1..=5)
            .flat_map(|i| format!("[{i}]\n").into_bytes())
            .collect();
        let sizes: Vec<usize> = batches(input, 2).iter().map(|d| d.bad.len()).collect();
        assert_eq!(sizes, [2, 2, 1, 0]);
    }
}
