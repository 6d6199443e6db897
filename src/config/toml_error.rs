//! TOML and serde error messages in the words of a config file's reader: where the key is,
//! secrets masked, long lines cut, Rust type names said plainly. Used for the config file
//! and the console's own TOML files (keymap, themes).

/// Where the key an error names is, when TOML's message points at its section's header
/// instead (a section read by its `type`, such as `[store]`, is checked as a whole): `at
/// line 3: url = "http://x"`.
pub(super) fn key_line(text: &str, e: &toml::de::Error) -> Option<String> {
    let message = e.message();
    let key = ["unknown field `", "in `"].iter().find_map(|start| {
        let at = message.rfind(start)? + start.len();
        message[at..].split('`').next()
    })?;
    let span = e.span()?;
    let header = text.get(span.clone())?.trim();
    if !header.starts_with('[') {
        return None;
    }
    // The line after the header's (it may be indented).
    let first = text[..span.start].matches('\n').count() + 1;
    text.lines()
        .enumerate()
        .skip(first)
        .take_while(|(_, l)| !l.trim_start().starts_with('['))
        .find(|(_, l)| {
            l.split_once('=')
                .is_some_and(|(k, _)| k.trim().trim_matches(['"', '\'']) == key)
        })
        // Shown as TOML shows a line, which `mask_secrets` reads.
        .map(|(i, l)| format!("\nthe key is at line {n}:\n{n} | {}", l.trim(), n = i + 1))
}

/// A parse message with the values of the secret keys it quotes (`key`, `token`,
/// `password`, as in `2 | token = "…" x`) masked: the message goes to a terminal, and from
/// there into logs and pasted bug reports.
///
/// Every `=` of a line is looked at, so a secret in an inline table (`api = { token =
/// "…" }`), under a quoted key (`"token" = "…"`) or in a URL's query (`?key=…`) is masked
/// too: the line is shown up to the secret's `=`.
pub(super) fn mask_secrets(message: &str) -> String {
    message
        .lines()
        .map(|line| {
            let secret_at = line.match_indices('=').find_map(|(at, _)| {
                // The key just before this `=`: its last word, quotes and spaces left out.
                let key: String = line[..at]
                    .trim_end()
                    .trim_end_matches(['"', '\''])
                    .chars()
                    .rev()
                    .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev()
                    .collect::<String>()
                    .to_ascii_lowercase();
                let secret = ["key", "token", "password"].iter().any(|s| {
                    key == *s || key.ends_with(&format!(".{s}")) || key.ends_with(&format!("_{s}"))
                });
                // A librdkafka option (`"sasl.oauthbearer.client.secret"`, `"ssl.key.pem"`)
                // as `config show` reads them.
                let option = key.contains('.') && super::show::secret_option(&key);
                (secret || option).then_some(at)
            });
            match secret_at {
                Some(at) => format!("{}= *** (a secret's value is not shown)", &line[..at]),
                None => line.to_string(),
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// A parse message with each line cut to 300 characters: TOML's messages quote the line
/// and the value they refuse, and a huge one (a pasted blob, a number of 300 digits) is
/// found by its start.
pub(super) fn cut_long_lines(message: &str) -> String {
    const MOST: usize = 300;
    message
        .lines()
        .map(|line| match line.char_indices().nth(MOST) {
            Some((cut, _)) => format!("{}… (cut)", &line[..cut]),
            None => line.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// What is wrong in a TOML file of the console's (keymap, theme) and where: `line 3:
/// invalid string …`, in plain words.
pub fn toml_problem(text: &str, e: &toml::de::Error) -> String {
    let message = cut_long_lines(&plain_words(e.message()));
    match e.span() {
        Some(span) => {
            let line = text
                .get(..span.start)
                .map_or(1, |before| before.matches('\n').count() + 1);
            format!("line {line}: {message}")
        }
        None => message,
    }
}

/// A TOML/serde message in words a config file's reader uses: `expected f64` is "a
/// number", a `Decimal` is "a number such as 0.15 or 4.00", and so on.
pub fn plain_words(message: &str) -> String {
    let mut out = message
        .replace(
            "a Decimal type representing a fixed-point number",
            "a number such as 0.15 or 4.00",
        )
        .replace(
            "expected struct DiscoveryCategory",
            "expected a table such as { market = \"DE\", category = \"562066\" }",
        );
    // A list of names written as one string (`markets = "UK,DE"`): the list it was meant
    // to be. Other lists (of tables, of URLs) are only said to be lists.
    if out.contains("expected a sequence") {
        let list = out
            .split_once("invalid type: string \"")
            .and_then(|(_, rest)| rest.split_once('"'))
            .map(|(text, _)| {
                text.split([',', ' '])
                    .filter(|t| !t.is_empty())
                    .map(str::to_string)
                    .collect::<Vec<_>>()
            })
            .filter(|items| {
                !items.is_empty()
                    && items
                        .iter()
                        .all(|t| t.chars().all(|c| c.is_ascii_alphabetic()))
            });
        let words = match list {
            Some(items) => format!(
                "expected a list in brackets: [{}]",
                items
                    .iter()
                    .map(|t| format!("\"{t}\""))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            None => "expected a list in brackets [ … ]".to_string(),
        };
        out = out.replace("expected a sequence", &words);
    }
    // A whole number past every integer type: out of range, not of another type.
    const INTEGER: &str = "invalid type: integer `";
    if let Some(at) = out.find(INTEGER)
        && let Some(len) = out[at..].find("` as i128")
        && out[at + INTEGER.len()..at + len]
            .chars()
            .all(|c| c.is_ascii_digit() || c == '-')
    {
        let number = out[at + INTEGER.len()..at + len].to_string();
        out.replace_range(
            at..at + len + "` as i128".len(),
            &format!("the number `{number}` is out of range"),
        );
    }
    // A huge float written out in full (`1e308` is 309 digits): in scientific notation.
    if let Some(at) = out
        .find("floating point `")
        .map(|i| i + "floating point `".len())
        && let Some(len) = out[at..].find('`')
        && len > 24
        && let Ok(v) = out[at..at + len].parse::<f64>()
    {
        out.replace_range(at..at + len, &format!("{v:e}"));
    }
    // A number a decimal cannot hold (past 28 digits, or 1e308): its size is the problem,
    // not its being a number.
    const FLOAT: &str = "invalid value: floating point `";
    if out.contains("a number such as 0.15 or 4.00")
        && let Some(at) = out.find(FLOAT)
        && let Some(len) = out[at + FLOAT.len()..].find("`, expected")
    {
        let number = out[at + FLOAT.len()..at + FLOAT.len() + len].to_string();
        let what = match number.parse::<f64>() {
            Ok(v) if v.is_finite() => format!("the number `{number}` is too large"),
            _ => format!("`{number}` is not a number that can be used"),
        };
        out.replace_range(at..at + FLOAT.len() + len + 1, &what);
    }
    // A bare word that TOML reads as the start of `inf`, `nan`, `true` or `false` (`log =
    // info`): said as the unquoted string it is, as TOML says of other words.
    for bare in [
        "invalid float, expected `inf`",
        "invalid float, expected `nan`",
        "invalid boolean, expected `true`",
        "invalid boolean, expected `false`",
    ] {
        if out.contains(bare) {
            out = out.replace(
                bare,
                &format!("{bare}; if it is a word, string values must be quoted: \"…\""),
            );
        }
    }
    // Any other table named by its Rust type.
    while let Some(at) = out.find("expected struct ") {
        let name_at = at + "expected struct ".len();
        let end = out[name_at..]
            .find(|c: char| !c.is_ascii_alphanumeric())
            .map_or(out.len(), |i| name_at + i);
        out.replace_range(at..end, "expected a table { key = value, … }");
    }
    for (rust, words) in [
        ("expected f64", "expected a number"),
        ("expected f32", "expected a number"),
        ("expected u8", "expected a whole number, 0 or more"),
        ("expected u16", "expected a whole number, 0 or more"),
        ("expected u32", "expected a whole number, 0 or more"),
        ("expected u64", "expected a whole number, 0 or more"),
        ("expected usize", "expected a whole number, 0 or more"),
        ("expected i32", "expected a whole number"),
        ("expected i64", "expected a whole number"),
    ] {
        // Only whole words: `expected u32` but not `expected u32x`.
        let mut from = 0;
        while let Some(at) = out[from..].find(rust).map(|i| i + from) {
            let end = at + rust.len();
            let whole = out[end..]
                .chars()
                .next()
                .is_none_or(|c| !c.is_ascii_alphanumeric());
            if whole {
                out.replace_range(at..end, words);
                from = at + words.len();
            } else {
                from = end;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::plain_words;

    #[test]
    fn serde_jargon_becomes_plain_words() {
        assert_eq!(
            plain_words(
                "invalid type: integer `99999999999999999999` as i128, expected a whole number, 0 or more"
            ),
            "the number `99999999999999999999` is out of range, expected a whole number, 0 or more"
        );
        let huge = format!(
            "invalid value: floating point `1{}.0`, expected a number",
            "0".repeat(308)
        );
        assert_eq!(
            plain_words(&huge),
            "invalid value: floating point `1e308`, expected a number"
        );
        assert_eq!(
            plain_words("invalid type: string \"ten\", expected f64"),
            "invalid type: string \"ten\", expected a number"
        );
        assert_eq!(
            plain_words("expected u32 at line 3; expected u32x"),
            "expected a whole number, 0 or more at line 3; expected u32x"
        );
        assert_eq!(
            plain_words("invalid type: string \"abc\", expected struct DiscoveryCategory"),
            "invalid type: string \"abc\", expected a table such as { market = \"DE\", category = \"562066\" }"
        );
        assert_eq!(
            plain_words("invalid type: integer `1`, expected struct RouteSpec and more"),
            "invalid type: integer `1`, expected a table { key = value, … } and more"
        );
        assert_eq!(
            plain_words("invalid type: string \"UK,DE\", expected a sequence"),
            "invalid type: string \"UK,DE\", expected a list in brackets: [\"UK\", \"DE\"]"
        );
        assert_eq!(
            plain_words("invalid type: integer `3`, expected a sequence"),
            "invalid type: integer `3`, expected a list in brackets [ … ]"
        );
        // A list of tables or URLs is not a list of those words.
        assert_eq!(
            plain_words("invalid type: string \"562066\", expected a sequence"),
            "invalid type: string \"562066\", expected a list in brackets [ … ]"
        );
        assert!(
            plain_words("expected a Decimal type representing a fixed-point number")
                .ends_with("a number such as 0.15 or 4.00")
        );
        // A number past what a decimal holds is too large, not something else than a number.
        assert_eq!(
            plain_words(
                "invalid value: floating point `1e308`, expected a Decimal type representing a fixed-point number in `economics.purchase_fx_spread`"
            ),
            "the number `1e308` is too large, expected a number such as 0.15 or 4.00 in `economics.purchase_fx_spread`"
        );
        assert_eq!(
            plain_words(
                "invalid value: floating point `NaN`, expected a Decimal type representing a fixed-point number"
            ),
            "`NaN` is not a number that can be used, expected a number such as 0.15 or 4.00"
        );
        // A bare word TOML takes for the start of `inf` or `true`.
        assert_eq!(
            plain_words("invalid float, expected `inf`"),
            "invalid float, expected `inf`; if it is a word, string values must be quoted: \"…\""
        );
    }
}
