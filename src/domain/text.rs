//! Making text from the internet safe to show.
//!
//! Product titles and brands come from Amazon via Keepa and can hold anything, including
//! terminal escape sequences that would recolour, move the cursor or rewrite the clipboard of
//! the operator's terminal. `sanitize` removes every escape sequence and control character
//! and collapses whitespace, so what reaches a screen, a clipboard or a link is inert.
//! `edit_distance` ranks "did you mean" suggestions for mistyped names.
//! `thousands` writes counts the way every screen and message shows them (`12,345`), `span`
//! a time span (`1h 59m`), `fit` cuts a text to a width with `…`. `inert_cell` keeps a
//! spreadsheet from running a title as a formula.

/// `s` as a spreadsheet cell shows it as written: a text that a spreadsheet would run as a
/// formula (`=`, `+`, `-`, `@`, tab or CR first) starts with `'` (OWASP's advice on CSV
/// injection). For every free text in an export or a copied row.
pub fn inert_cell(s: &str) -> std::borrow::Cow<'_, str> {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}").into()
    } else {
        s.into()
    }
}

/// `s` safe to print on a terminal with its lines kept: every control character but newline
/// and tab written out as an escape (`\u{1b}`), so no sequence in it acts. For messages
/// that may quote outside text whole (an error's chain of causes).
pub fn escape_controls(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return s.into();
    }
    s.chars()
        .map(|c| match c {
            '\n' | '\t' => c.to_string(),
            c if c.is_control() => c.escape_unicode().to_string(),
            c => c.to_string(),
        })
        .collect::<String>()
        .into()
}

/// `12345` → `12,345`.
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `text` cut to `width` terminal columns, ending in `…` when it had to be cut.
pub fn fit(text: &str, width: usize) -> std::borrow::Cow<'_, str> {
    use unicode_width::UnicodeWidthChar;
    // Measured per character, as it is cut, so a text is cut exactly when it is too wide.
    if text.chars().map(|c| c.width().unwrap_or(0)).sum::<usize>() <= width {
        return text.into();
    }
    let mut out = String::with_capacity(width + 3);
    let mut used = 0;
    for c in text.chars() {
        let w = c.width().unwrap_or(0);
        if used + w + 1 > width {
            break;
        }
        out.push(c);
        used += w;
    }
    if width > 0 {
        out.push('…');
    }
    out.into()
}

/// `n` with its noun, plural unless one: `1 bad line`, `2,980 bad lines`, `5 markets`.
pub fn count(n: u64, noun: &str) -> String {
    match n {
        1 => format!("1 {noun}"),
        n => format!("{} {noun}s", thousands(n)),
    }
}

/// Items as a comma-separated list: `B0DEMO0001, B0DEMO0002`.
pub fn list<T: std::fmt::Display>(items: &[T]) -> String {
    items
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The first `max` items, then how many more: `B0A, B0B, B0C and 397 more`.
pub fn list_first<T: std::fmt::Display>(items: &[T], max: usize) -> String {
    match items.len().checked_sub(max) {
        Some(more) if more > 0 => format!(
            "{} and {} more",
            list(&items[..max]),
            thousands(more as u64)
        ),
        _ => list(items),
    }
}

/// The first `max` items as the subject of a verb, singular for one item and plural for
/// more: `subject(&[a], 3, "was", "were")` is `B0A was`, for three `B0A, B0B, B0C were`.
pub fn subject<T: std::fmt::Display>(items: &[T], max: usize, one: &str, many: &str) -> String {
    let verb = if items.len() == 1 { one } else { many };
    format!("{} {verb}", list_first(items, max))
}

/// A count that may go below zero (a Keepa token balance) with thousands separators.
pub fn signed_thousands(n: i64) -> String {
    let digits = thousands(n.unsigned_abs());
    if n < 0 { format!("-{digits}") } else { digits }
}

/// `90s`, `30m`, `2h`, `1d` (a bare number is minutes) in seconds, as the console's filter
/// and `:set refresh` read a span.
pub fn span_secs(v: &str) -> Option<f64> {
    let (n, per) = match v.char_indices().last()? {
        (i, 's') => (&v[..i], 1.0),
        (i, 'm') => (&v[..i], 60.0),
        (i, 'h') => (&v[..i], 3_600.0),
        (i, 'd') => (&v[..i], 86_400.0),
        _ => (v, 60.0),
    };
    let n: f64 = n.parse().ok()?;
    (n.is_finite() && n >= 0.0).then_some(n * per)
}

/// A time span to the minute, two units at most: `45s`, `59m`, `1h 59m`, `2d 3h`.
pub fn span(secs: i64) -> String {
    let s = secs.max(0);
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m", s / 60),
        3600..86_400 if s % 3600 < 60 => format!("{}h", s / 3600),
        3600..86_400 => format!("{}h {}m", s / 3600, s % 3600 / 60),
        _ if s % 86_400 < 3600 => format!("{}d", s / 86_400),
        _ => format!("{}d {}h", s / 86_400, s % 86_400 / 3600),
    }
}

/// A time span to the second, every unit it has: `90` is `1m 30s`, `3600` is `1h`. For a
/// setting, whose value a rounded [`span`] would misstate.
pub fn span_exact(secs: u64) -> String {
    let parts = [
        (secs / 86_400, "d"),
        (secs % 86_400 / 3600, "h"),
        (secs % 3600 / 60, "m"),
        (secs % 60, "s"),
    ];
    let shown: Vec<String> = parts
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, unit)| format!("{n}{unit}"))
        .collect();
    if shown.is_empty() {
        "0s".to_string()
    } else {
        shown.join(" ")
    }
}

/// `input` split into words at whitespace, a "quoted phrase" kept as one word (quotes
/// removed); and whether a quote was left open (its phrase then runs to the end).
pub fn words(input: &str) -> (Vec<String>, bool) {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    for c in input.chars() {
        match c {
            '"' => quoted = !quoted,
            c if c.is_whitespace() && !quoted => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            c => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    (out, quoted)
}

/// Removes ANSI/OSC/DCS escape sequences and control characters; collapses whitespace runs
/// (tabs and newlines included) to one space and trims the ends.
pub fn sanitize(input: &str) -> String {
    let mut out = String::with_capacity(input.len());
    let mut chars = input.chars().peekable();
    let mut pending_space = false;
    while let Some(c) = chars.next() {
        match c {
            '\u{1b}' => skip_escape(&mut chars),
            // C1 introducers: CSI, OSC, DCS, SOS, PM, APC take a body like their ESC forms.
            '\u{9b}' => skip_until_final(&mut chars),
            '\u{9d}' | '\u{90}' | '\u{98}' | '\u{9e}' | '\u{9f}' => skip_string(&mut chars),
            c if c.is_whitespace() => pending_space = !out.is_empty(),
            c if c.is_control() => {}
            // Bidi overrides and marks can make a title render as something else (the marks
            // are invisible anyway).
            '\u{202a}'..='\u{202e}'
            | '\u{2066}'..='\u{2069}'
            | '\u{200e}'
            | '\u{200f}'
            | '\u{061c}' => {}
            c => {
                if pending_space {
                    out.push(' ');
                    pending_space = false;
                }
                out.push(c);
            }
        }
    }
    out
}

fn skip_escape(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) {
    match chars.next() {
        Some('[') => skip_until_final(chars),
        Some(']' | 'P' | 'X' | '^' | '_') => skip_string(chars),
        // Two-byte sequences (ESC c, ESC 7, …) and intermediates: drop one more char.
        Some(_) | None => {}
    }
}

/// CSI: parameters and intermediates, then one final byte in `@`..=`~`.
fn skip_until_final(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) {
    for c in chars.by_ref() {
        if ('@'..='~').contains(&c) {
            break;
        }
    }
}

/// OSC/DCS/APC bodies end at BEL, ST (`ESC \`) or C1 ST.
fn skip_string(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) {
    while let Some(c) = chars.next() {
        match c {
            '\u{7}' | '\u{9c}' => break,
            '\u{1b}' => {
                if chars.peek() == Some(&'\\') {
                    chars.next();
                }
                break;
            }
            _ => {}
        }
    }
}

/// The candidate a mistyped `word` most likely meant, for "did you mean": the same word in
/// another case, or a slip of a key or two: at most one edit in a word of up to four
/// letters, two up to eight, three beyond, and fewer edits than either word has letters
/// (`limt` is `limit` and `sotr` is `sort`, but `nope` is not `move`, nor `x0` `q`). The
/// nearest wins, the first listed among equals. A word over 40 letters is no slip.
pub fn nearest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let word = word.to_lowercase();
    let len = word.chars().count();
    if len > 40 {
        return None;
    }
    let limit = match len {
        0..=4 => 1,
        5..=8 => 2,
        _ => 3,
    };
    candidates
        .into_iter()
        .map(|c| (edit_distance(&word, &c.to_lowercase()), c))
        .filter(|(d, c)| *d == 0 || (*d <= limit && *d < len.min(c.chars().count())))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// The edit distance between `a` and `b`, in characters, where swapping two neighbours is
/// one edit as an insertion, a deletion or a change is (optimal string alignment): `sotr`
/// is one edit from `sort`, and so nearer to it than to `goto`.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    // Three rows of the table: two back (for swaps), the last, this one.
    let mut before: Vec<usize> = Vec::new();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for i in 0..a.len() {
        let mut cur = vec![i + 1; b.len() + 1];
        for j in 0..b.len() {
            let sub = prev[j] + usize::from(a[i] != b[j]);
            let mut d = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
            if i > 0 && j > 0 && a[i] == b[j - 1] && a[i - 1] == b[j] {
                d = d.min(before[j - 1] + 1);
            }
            cur[j + 1] = d;
        }
        before = std::mem::replace(&mut prev, cur);
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::{
        edit_distance, escape_controls, inert_cell, list_first, nearest, sanitize, span, span_exact,
    };

    #[test]
    fn outside_text_cannot_act_on_a_terminal_or_a_spreadsheet() {
        assert_eq!(
            escape_controls("bad key\u{1b}]52;c;cHduZWQ=\u{7}\u{1b}[2J\n  at line 2\t"),
            "bad key\\u{1b}]52;c;cHduZWQ=\\u{7}\\u{1b}[2J\n  at line 2\t"
        );
        assert!(matches!(
            escape_controls("plain"),
            std::borrow::Cow::Borrowed(_)
        ));
        assert_eq!(inert_cell("=1+2"), "'=1+2");
        assert_eq!(inert_cell("-5 °C kettle"), "'-5 °C kettle");
        assert_eq!(inert_cell("Kettle"), "Kettle");
    }

    #[test]
    fn long_lists_name_the_first_few() {
        assert_eq!(list_first(&["a", "b"], 3), "a, b");
        assert_eq!(list_first(&["a", "b", "c"], 3), "a, b, c");
        assert_eq!(list_first(&["a", "b", "c", "d"], 3), "a, b, c and 1 more");
        assert_eq!(list_first(&[0; 1_404], 2), "0, 0 and 1,402 more");
    }

    #[test]
    fn spans_keep_two_units() {
        assert_eq!(span(45), "45s");
        assert_eq!(span(59 * 60 + 59), "59m");
        assert_eq!(span(7140), "1h 59m");
        assert_eq!(span(7200), "2h");
        assert_eq!(span(86_400 + 3 * 3600 + 5), "1d 3h");
        assert_eq!(span(-5), "0s");
        assert_eq!(span_exact(90), "1m 30s");
        assert_eq!(span_exact(150), "2m 30s");
        assert_eq!(span_exact(3600), "1h");
        assert_eq!(span_exact(86_400 + 61), "1d 1m 1s");
        assert_eq!(span_exact(0), "0s");
    }

    #[test]
    fn edit_distance_counts_characters() {
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "sort"), 4);
        assert_eq!(edit_distance("grösse", "grosse"), 1);
        assert_eq!(edit_distance("roi", "roi"), 0);
        // A swap of neighbours is one edit.
        assert_eq!(edit_distance("sotr", "sort"), 1);
        assert_eq!(edit_distance("sotr", "goto"), 2);
        assert_eq!(edit_distance("ab", "ba"), 1);
    }

    #[test]
    fn the_nearest_word_is_a_slip_of_a_key_or_two() {
        let ids = [
            "move", "mark", "limit", "sort", "goto", "quit", "export", "q",
        ];
        assert_eq!(nearest("limt", ids), Some("limit"));
        assert_eq!(nearest("sotr", ids), Some("sort"));
        assert_eq!(nearest("SORT", ids), Some("sort"));
        assert_eq!(nearest("exprot", ids), Some("export"));
        assert_eq!(nearest("nope", ids), None, "two edits in four letters");
        assert_eq!(nearest("x0", ids), None);
        assert_eq!(
            nearest("a", ["q"]),
            None,
            "one letter for another is no slip"
        );
        assert_eq!(nearest(&"x".repeat(41), ids), None);
        assert_eq!(edit_distance("abc", "ca"), 3);
    }

    #[test]
    fn strips_sgr_osc_and_controls() {
        let evil = "\u{1b}[31mRed\u{1b}[0m Kettle\u{7}\u{1b}]52;c;ZXZpbA==\u{7} 1.7L\r\n\tsteel";
        assert_eq!(sanitize(evil), "Red Kettle 1.7L steel");
        let link = "\u{1b}]8;;https://evil.example\u{1b}\\click\u{1b}]8;;\u{1b}\\";
        assert_eq!(sanitize(link), "click");
        assert_eq!(sanitize("a\u{9b}2Jb\u{202e}c"), "abc");
        assert_eq!(
            sanitize("a\u{200f}b\u{200e}c\u{61c}d"),
            "abcd",
            "bidi marks"
        );
        assert_eq!(sanitize("  Kopfhörer  Über  "), "Kopfhörer Über");
    }

    #[test]
    fn never_panics_on_truncated_sequences() {
        for s in ["\u{1b}", "\u{1b}[", "\u{1b}]52;c;", "x\u{9d}", "\u{1b}P"] {
            let _ = sanitize(s);
        }
    }
}
