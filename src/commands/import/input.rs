//! What `import` reads: a regular file (resumable from a byte offset, its identity kept
//! for the checkpoint) or a stream, with gzip input named rather than read as bad lines.

use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use anyhow::{Context, Result};

/// The lines to import: a regular file (resumable) or a stream (stdin, a pipe).
pub(super) struct Input {
    source: Source,
    /// The file's canonical path, or what the stream is.
    pub(super) name: String,
    /// A regular file's size; `None` for a stream.
    pub(super) size: Option<u64>,
    /// A regular file's modification time, in nanoseconds since 1970 (0 when unknown).
    pub(super) modified_ns: u128,
    /// A regular file's first [`HEAD_BYTES`] bytes (0 for a stream), which with its size
    /// and modification time tell a file that changed from the one a checkpoint is for.
    pub(super) head: Vec<u8>,
}

/// How much of a file's start identifies its content, with its size and modification time.
const HEAD_BYTES: usize = 64 * 1024;

/// The first two bytes of every gzip stream.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// `text` as one shell word: quoted when it holds anything but plain path characters.
pub(super) fn shell_quoted(text: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "/._-+:,@%".contains(c);
    if !text.is_empty() && text.chars().all(plain) {
        text.to_string()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

enum Source {
    File(std::fs::File),
    Stream(Box<dyn Read + Send>),
}

impl Input {
    pub(super) fn open(arg: &Path) -> Result<Self> {
        if arg == Path::new("-") {
            return Ok(Input {
                source: Source::Stream(Box::new(std::io::stdin())),
                name: "standard input".to_string(),
                size: None,
                modified_ns: 0,
                head: Vec::new(),
            });
        }
        // A file that is not there is a bad argument (exit code 2), as the help says.
        let file = std::fs::File::open(arg).map_err(|e| {
            crate::commands::BadValue(format!(
                "Cannot open {}: {e}; give a JSON-lines file of Keepa products, or - for \
                 standard input",
                arg.display()
            ))
        })?;
        let meta = file
            .metadata()
            .with_context(|| format!("Cannot read {}", arg.display()))?;
        if meta.is_dir() {
            return Err(crate::commands::BadValue(format!(
                "{} is a directory: give a JSON-lines file, or - for standard input",
                arg.display()
            ))
            .into());
        }
        if !meta.is_file() {
            // A pipe or device (`<(zcat …)`, /dev/stdin): read once, from the start.
            return Ok(Input {
                source: Source::Stream(Box::new(file)),
                name: arg.display().to_string(),
                size: None,
                modified_ns: 0,
                head: Vec::new(),
            });
        }
        // A compressed file would read as thousands of bad lines; say what it is instead.
        let mut magic = [0u8; 2];
        let mut f = &file;
        if f.read_exact(&mut magic).is_ok() && magic == GZIP_MAGIC {
            // The file named is the wrong kind: a bad argument (exit code 2).
            return Err(crate::commands::BadValue(format!(
                "{} is gzip-compressed: decompress it first (`gunzip` it, or \
                 `zcat {} | arbdesk import -` with the same options; standard input is read \
                 whole, without resuming)",
                arg.display(),
                shell_quoted(&arg.display().to_string())
            ))
            .into());
        }
        std::io::Seek::seek(&mut f, std::io::SeekFrom::Start(0))
            .with_context(|| format!("Cannot read {}", arg.display()))?;
        let mut head = Vec::with_capacity(HEAD_BYTES);
        f.take(HEAD_BYTES as u64)
            .read_to_end(&mut head)
            .with_context(|| format!("Cannot read {}", arg.display()))?;
        std::io::Seek::seek(&mut f, std::io::SeekFrom::Start(0))
            .with_context(|| format!("Cannot read {}", arg.display()))?;
        if let Some(what) = not_json_lines(&head) {
            let quoted = shell_quoted(&arg.display().to_string());
            return Err(crate::commands::BadValue(format!(
                "{} {what}",
                arg.display(),
                what = what.replace("FILE", &quoted)
            ))
            .into());
        }
        let name = std::fs::canonicalize(arg)
            .map_or_else(|_| arg.display().to_string(), |p| p.display().to_string());
        let modified_ns = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos());
        Ok(Input {
            source: Source::File(file),
            name,
            size: Some(meta.len()),
            modified_ns,
            head,
        })
    }

    /// A reader positioned at byte `start` of a file (0 for a stream), and the number of
    /// lines before it, so numbers in messages stay true.
    pub(super) fn skip_to(self, start: u64) -> Result<(BufReader<Box<dyn Read + Send>>, u64)> {
        let mut file = match self.source {
            Source::Stream(r) => {
                let mut reader = BufReader::with_capacity(1 << 20, r);
                if reader.fill_buf()?.starts_with(&GZIP_MAGIC) {
                    // The wrong kind of input, as a compressed file named is (exit code 2).
                    return Err(crate::commands::BadValue(format!(
                        "{} is gzip-compressed: decompress it on the way in, e.g. \
                         `zcat FILE | arbdesk import -` with the same options",
                        self.name
                    ))
                    .into());
                }
                return Ok((reader, 0));
            }
            Source::File(f) => f,
        };
        let mut line_no = 0u64;
        if start > 0 {
            let mut counted = 0u64;
            let mut lines = BufReader::with_capacity(1 << 20, &file);
            let mut buf = Vec::new();
            while counted < start {
                buf.clear();
                let n = lines.read_until(b'\n', &mut buf)?;
                if n == 0 {
                    break;
                }
                counted += n as u64;
                line_no += 1;
            }
            drop(lines);
            file.seek(SeekFrom::Start(start))?;
        }
        Ok((BufReader::with_capacity(1 << 20, Box::new(file)), line_no))
    }
}

/// What a file starting with `head` is when it is plainly not JSON lines (a line each
/// would be reported bad, thousands of them): UTF-16 text, a JSON array, or one JSON object
/// written over many lines. `FILE` stands for the file's name in the advice.
fn not_json_lines(head: &[u8]) -> Option<&'static str> {
    if head.starts_with(&[0xFF, 0xFE]) || head.starts_with(&[0xFE, 0xFF]) {
        return Some(
            "is UTF-16 text (as Windows PowerShell's `>` writes it): save it as UTF-8, e.g. \
             `iconv -f UTF-16 -t UTF-8 FILE > products.jsonl`",
        );
    }
    let text = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    let first_line = text.split(|b| *b == b'\n').next().unwrap_or_default();
    match first_line.trim_ascii() {
        [b'[', ..] => Some(
            "is a JSON array, not JSON lines (one Keepa product object a line): e.g. \
             `jq -c '.[]' FILE > products.jsonl`, or `.products[]` for a whole Keepa answer",
        ),
        b"{" => Some(
            "holds JSON written over many lines, not JSON lines (one Keepa product object a \
             line): e.g. `jq -c . FILE > products.jsonl`",
        ),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::not_json_lines;

    #[test]
    fn files_that_are_plainly_not_json_lines_are_named() {
        assert!(not_json_lines(b"\xFF\xFE{\x00").unwrap().contains("UTF-16"));
        assert!(
            not_json_lines(b"[\n  {\"asin\": 1}\n]")
                .unwrap()
                .contains("JSON array")
        );
        assert!(
            not_json_lines(b"{\n  \"asin\": \"B0\"\n}")
                .unwrap()
                .contains("many lines")
        );
        assert!(
            not_json_lines(b"\xEF\xBB\xBF[{}]")
                .unwrap()
                .contains("JSON array")
        );
        assert_eq!(not_json_lines(b"{\"asin\":\"B000000001\"}\n{}"), None);
        assert_eq!(not_json_lines(b""), None);
        assert_eq!(not_json_lines(b"not json\n"), None);
    }
}
