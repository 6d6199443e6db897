//! Where in a config file a setting is written, so that an error about its value can name
//! the line as well as the file (TOML's own parse errors already do).

/// The 1-based line of the config `text` that sets `key` (a dotted path such as
/// `api.addr` or `economics.gates.min_roi`): `key = …` under its table's header, a dotted
/// key under a parent table, or, for a key that is a table of its own, its header.
/// `None` when it is not written there as such (an inline table, an array of tables).
pub(crate) fn line_of(text: &str, key: &str) -> Option<usize> {
    let mut table = String::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.starts_with("[[") {
            table = format!(
                "[[{}",
                path(line.trim_start_matches('[').split(']').next()?)
            );
            continue;
        }
        if let Some(header) = line.strip_prefix('[') {
            table = path(header.split(']').next()?);
            // The key's own header, or the first of a table under it (`[economics.markets.DE]`
            // for `economics.markets`).
            if table == key || table.strip_prefix(key).is_some_and(|r| r.starts_with('.')) {
                return Some(i + 1);
            }
            continue;
        }
        let Some((k, _)) = line.split_once('=') else {
            continue;
        };
        let full = match (table.as_str(), path(k)) {
            ("", k) => k,
            (t, k) => format!("{t}.{k}"),
        };
        if full == key {
            return Some(i + 1);
        }
    }
    None
}

/// A TOML key path with the spaces and quotes of its parts removed: `"a" . b` → `a.b`.
fn path(raw: &str) -> String {
    raw.split('.')
        .map(|p| p.trim().trim_matches(['"', '\'']))
        .collect::<Vec<_>>()
        .join(".")
}

/// The setting an economics error names, as a dotted path: `[economics] return_rate '7' …`
/// → `economics.return_rate`; ``… in `economics.return_rate` `` → the same;
/// ``unknown field `x` … in `economics` `` → `economics.x`.
/// `None` for an entry of an array of tables (`[[route]] UK→DE …`: the message names which).
pub(crate) fn economics_key(message: &str) -> Option<String> {
    if let Some(rest) = message.strip_prefix('[').filter(|r| !r.starts_with('[')) {
        let (table, after) = rest.split_once(']')?;
        let key = after
            .split_whitespace()
            .next()?
            .trim_end_matches([':', ',', '\'']);
        return Some(format!("{table}.{key}"));
    }
    // serde's messages end with where they happened: ``in `economics.return_rate` ``, or
    // the table for an unknown field.
    let place = message.rsplit_once(" in `")?.1.split('`').next()?;
    match message.split_once("unknown field `") {
        Some((_, rest)) => Some(format!("{place}.{}", rest.split('`').next()?)),
        None => Some(place.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = r#"# arbdesk
log = "info"
api.token = "x"

[api]
addr = "127.0.0.1:8000"

[economics]
return_rate = 7
"gates".min_roi = 0.2

[economics.gates]
min_profit = -1

[[route]]
from = "UK"
"#;

    #[test]
    fn finds_keys_under_headers_dotted_and_top_level() {
        assert_eq!(line_of(FILE, "log"), Some(2));
        assert_eq!(line_of(FILE, "api.token"), Some(3));
        assert_eq!(line_of(FILE, "api.addr"), Some(6));
        assert_eq!(line_of(FILE, "economics.return_rate"), Some(9));
        assert_eq!(line_of(FILE, "economics.gates.min_roi"), Some(10));
        assert_eq!(line_of(FILE, "economics.gates.min_profit"), Some(13));
        assert_eq!(line_of(FILE, "economics.gates"), Some(12));
        assert_eq!(line_of(FILE, "economics"), Some(8), "a table's own header");
        assert_eq!(
            line_of(FILE, "economics.gate"),
            None,
            "not a prefix of a part"
        );
        assert_eq!(
            line_of(FILE, "route.from"),
            None,
            "an array entry is not one place"
        );
        assert_eq!(line_of(FILE, "api.allowed_hosts"), None);
    }

    #[test]
    fn reads_the_key_an_economics_message_names() {
        assert_eq!(
            economics_key("[economics] return_rate '7' is not a rate in [0, 1)").as_deref(),
            Some("economics.return_rate")
        );
        assert_eq!(
            economics_key("[economics.gates] min_roi: must be ≥ 0").as_deref(),
            Some("economics.gates.min_roi")
        );
        assert_eq!(
            economics_key("unknown field `min_roi`, expected one of `a`, `b` in `economics`")
                .as_deref(),
            Some("economics.min_roi")
        );
        assert_eq!(
            economics_key(
                "invalid value: string \"3%\", expected a number in `economics.return_rate`"
            )
            .as_deref(),
            Some("economics.return_rate")
        );
        assert_eq!(economics_key("[[route]] UK→DE customs: …"), None);
    }
}
