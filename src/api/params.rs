//! Strict query-string parsing with errors a script author can act on.
//!
//! axum's `Query<T>` with serde answers a typo'd parameter by ignoring it and a bad value
//! with a generic deserializer message. Here every endpoint declares the parameters it
//! accepts (taken from its OpenAPI `IntoParams` type, so the docs and the check cannot
//! drift); an unknown name is a 400 that lists them and suggests the closest, and every
//! value is parsed by a typed accessor whose error names the parameter, quotes the value
//! and says what is accepted. An empty value (`?q=`) means "not given", as an HTML form
//! sends it; a parameter given twice is an error, except market lists, which accumulate.

use std::ops::RangeInclusive;

use url::form_urlencoded;

use super::error::{ApiError, shorten};
use crate::domain::Market;
use crate::domain::text::nearest;

/// Largest offset accepted: deep enough for any catalogue, small enough for every store.
pub(crate) const MAX_OFFSET: u64 = 1_000_000_000;

/// The query string of one request, checked against the endpoint's accepted names.
#[derive(Debug)]
pub(crate) struct Params {
    pairs: Vec<(String, String)>,
}

/// Whether the percent-escapes of a query string decode to UTF-8 text.
fn decodes_to_utf8(raw: &str) -> bool {
    let b = raw.as_bytes();
    let mut bytes = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = b
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .filter(|h| b[i] == b'%' && h.bytes().all(|c| c.is_ascii_hexdigit()))
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match hex {
            Some(byte) => {
                bytes.push(byte);
                i += 3;
            }
            None => {
                bytes.push(b[i]);
                i += 1;
            }
        }
    }
    std::str::from_utf8(&bytes).is_ok()
}

impl Params {
    /// Decodes `raw` and rejects names outside `accepted`.
    pub fn parse(raw: Option<&str>, accepted: &[&str]) -> Result<Params, ApiError> {
        let pairs: Vec<(String, String)> = form_urlencoded::parse(raw.unwrap_or("").as_bytes())
            .into_owned()
            .filter(|(k, v)| !(k.is_empty() && v.is_empty()))
            .collect();
        let mut unknown: Vec<String> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for (k, _) in &pairs {
            if !accepted.contains(&k.as_str()) && seen.insert(k.as_str()) {
                unknown.push(k.clone());
            }
        }
        if let Some(first) = unknown.first() {
            let hint = suggest(first, accepted)
                .map(|s| format!(" (did you mean '{s}'?)"))
                .unwrap_or_default();
            return Err(ApiError::unknown_parameters(&unknown, accepted, &hint));
        }
        // What decoding puts where percent-escapes were not UTF-8 (`%E9` for é in Latin-1):
        // the client meant something else, so no value is read from it. (A U+FFFD sent on
        // purpose, `%EF%BF%BD`, is text like any other.)
        let replaced = pairs
            .iter()
            .any(|(_, v)| v.contains(char::REPLACEMENT_CHARACTER));
        if replaced
            && let Some(k) = raw
                .unwrap_or("")
                .split('&')
                .map(|pair| pair.split_once('=').unwrap_or((pair, "")))
                .find(|(_, v)| !decodes_to_utf8(v))
                .map(|(k, _)| {
                    form_urlencoded::parse(format!("{k}=").as_bytes())
                        .next()
                        .map_or_else(|| k.to_string(), |(k, _)| k.into_owned())
                })
        {
            return Err(ApiError::bad_parameter(
                &k,
                None,
                format!("{k} is not UTF-8 text: percent-encode the UTF-8 bytes (é is %C3%A9)"),
                vec!["UTF-8 text, percent-encoded".to_string()],
            ));
        }
        Ok(Params { pairs })
    }

    /// The one value of `name`, trimmed; `None` when absent or empty. An empty value is
    /// no value (as an empty form field sends it), so `limit=&limit=5` gives it once.
    fn one(&self, name: &str) -> Result<Option<&str>, ApiError> {
        let mut values = self
            .pairs
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty());
        let first = values.next();
        if let (Some(a), Some(b)) = (first, values.next()) {
            let given = format!("{a}, {b}");
            // The same value twice (a URL built by appending) is one choice, said as one.
            let accepted = if a == b {
                format!("one value: {name}={}", shorten(a))
            } else {
                format!("one value: {name}={} or {name}={}", shorten(a), shorten(b))
            };
            return Err(ApiError::bad_parameter(
                name,
                Some(&given),
                format!("{name} is given more than once; give it once"),
                vec![accepted],
            ));
        }
        Ok(first)
    }

    /// A list endpoint's page: `limit` (1 to 1000, default 50) and `offset` (default 0, at
    /// most [`MAX_OFFSET`]).
    pub fn page(&self) -> Result<(usize, usize), ApiError> {
        let limit = usize::try_from(self.whole("limit", 50, 1..=1000)?).unwrap_or(50);
        let offset = usize::try_from(self.whole("offset", 0, 0..=MAX_OFFSET)?).unwrap_or(0);
        Ok((limit, offset))
    }

    /// A whole number in `range`, or `default` when absent.
    pub fn whole(
        &self,
        name: &str,
        default: u64,
        range: RangeInclusive<u64>,
    ) -> Result<u64, ApiError> {
        let Some(v) = self.one(name)? else {
            return Ok(default);
        };
        let (min, max) = (*range.start(), *range.end());
        let accepted = vec![format!("a whole number from {min} to {max}")];
        let digits = v.strip_prefix(['-', '+']).unwrap_or(v);
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ApiError::bad_parameter(
                name,
                Some(v),
                format!("{name} '{}' is not a whole number", shorten(v)),
                accepted,
            ));
        }
        if v.starts_with('-') && digits.bytes().any(|b| b != b'0') {
            return Err(ApiError::bad_parameter(
                name,
                Some(v),
                format!("{name} {} is below the minimum {min}", shorten(v)),
                accepted,
            ));
        }
        match digits.parse::<u64>() {
            Ok(n) if n < min => Err(ApiError::bad_parameter(
                name,
                Some(v),
                format!("{name} {n} is below the minimum {min}"),
                accepted,
            )),
            Ok(n) if n <= max => Ok(n),
            _ => Err(ApiError::bad_parameter(
                name,
                Some(v),
                format!("{name} {} is above the maximum {max}", shorten(v)),
                accepted,
            )),
        }
    }

    /// A finite number of percent, e.g. `10` or `12.5`.
    pub fn percent(&self, name: &str) -> Result<Option<f64>, ApiError> {
        let Some(v) = self.one(name)? else {
            return Ok(None);
        };
        crate::domain::parse_percent(v).map(Some).map_err(|why| {
            ApiError::bad_parameter(
                name,
                Some(v),
                format!("{name} '{}' {why}", shorten(v)),
                vec!["a finite number of percent".into()],
            )
        })
    }

    /// An amount of euros with at most two decimals (`3`, `3.5`, `-0.25`), as cents.
    pub fn euros(&self, name: &str) -> Result<Option<i64>, ApiError> {
        let Some(v) = self.one(name)? else {
            return Ok(None);
        };
        crate::domain::parse_euro_cents(v).map(Some).map_err(|why| {
            ApiError::bad_parameter(
                name,
                Some(v),
                format!("{name} '{}' {why}", shorten(v)),
                vec![
                    "euros with up to 2 decimals between -1000000000 and 1000000000, e.g. 3.5"
                        .into(),
                ],
            )
        })
    }

    /// Markets from every occurrence of `name`, comma-separated, sorted and deduplicated.
    pub fn markets(&self, name: &str) -> Result<Vec<Market>, ApiError> {
        let mut out = Vec::new();
        // `buy=` is no filter; an empty item in a list (`buy=de,,it`) is a typo.
        for (_, v) in self.pairs.iter().filter(|(k, _)| k == name) {
            if v.trim().is_empty() {
                continue;
            }
            for part in v.split(',').map(str::trim) {
                if part.is_empty() {
                    return Err(ApiError::bad_parameter(
                        name,
                        Some(v),
                        format!(
                            "{name} '{}': an empty market between commas; expected a \
                             comma-separated list of UK, DE, FR, IT, ES",
                            shorten(v)
                        ),
                        market_codes(),
                    ));
                }
                out.push(parse_market(name, part)?);
            }
        }
        out.sort();
        out.dedup();
        Ok(out)
    }

    /// `true`/`false` (also `1`/`0`, `yes`/`no`).
    pub fn boolean(&self, name: &str) -> Result<Option<bool>, ApiError> {
        let Some(v) = self.one(name)? else {
            return Ok(None);
        };
        match v.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" => Ok(Some(true)),
            "false" | "0" | "no" => Ok(Some(false)),
            _ => Err(ApiError::bad_parameter(
                name,
                Some(v),
                format!(
                    "{name} '{}' is not a yes/no value: use true or false (1/0 and yes/no \
                     are read too)",
                    shorten(v)
                ),
                ["true", "false", "1", "0", "yes", "no"]
                    .map(String::from)
                    .to_vec(),
            )),
        }
    }

    /// One of a fixed set of names (case-insensitive).
    pub fn choice<T: Copy>(
        &self,
        name: &str,
        choices: &[(&str, T)],
    ) -> Result<Option<T>, ApiError> {
        let Some(v) = self.one(name)? else {
            return Ok(None);
        };
        if let Some((_, t)) = choices.iter().find(|(c, _)| c.eq_ignore_ascii_case(v)) {
            return Ok(Some(*t));
        }
        let names: Vec<&str> = choices.iter().map(|(c, _)| *c).collect();
        let hint = suggest(v, &names)
            .map(|s| format!(" (did you mean '{s}'?)"))
            .unwrap_or_default();
        Err(ApiError::bad_parameter(
            name,
            Some(v),
            format!(
                "{name} '{}' is not one of {}{hint}",
                shorten(v),
                names.join(", ")
            ),
            names.iter().map(|s| s.to_string()).collect(),
        ))
    }

    /// Free text of at most `max_chars` characters, without control characters.
    pub fn text(&self, name: &str, max_chars: usize) -> Result<Option<String>, ApiError> {
        let Some(v) = self.one(name)? else {
            return Ok(None);
        };
        let n = v.chars().count();
        if n > max_chars {
            return Err(ApiError::bad_parameter(
                name,
                Some(v),
                format!("{name} is {n} characters long; the maximum is {max_chars}"),
                vec![format!("text of 1 to {max_chars} characters")],
            ));
        }
        if v.chars().any(char::is_control) {
            return Err(ApiError::bad_parameter(
                name,
                Some(v),
                format!("{name} contains control characters"),
                vec![format!("text of 1 to {max_chars} characters")],
            ));
        }
        Ok(Some(v.to_string()))
    }
}

/// The parameter names an OpenAPI `IntoParams` type documents: the endpoint's allow-list.
/// Called once per endpoint (the names are leaked to live as long as the program).
pub(crate) fn names<T: utoipa::IntoParams>() -> Vec<&'static str> {
    T::into_params(|| None)
        .into_iter()
        .map(|p| &*Box::leak(p.name.into_boxed_str()))
        .collect()
}

fn market_codes() -> Vec<String> {
    Market::ALL.iter().map(|m| m.code().to_string()).collect()
}

fn parse_market(name: &str, v: &str) -> Result<Market, ApiError> {
    v.parse::<Market>().map_err(|_| {
        ApiError::bad_parameter(
            name,
            Some(v),
            format!(
                "{name} '{}': expected one of UK, DE, FR, IT, ES",
                shorten(v)
            ),
            market_codes(),
        )
    })
}

/// The closest candidate to `input` (see [`nearest`]).
pub(crate) fn suggest<'a>(input: &str, candidates: &[&'a str]) -> Option<&'a str> {
    nearest(input, candidates.iter().copied())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(q: &str) -> Params {
        Params::parse(
            Some(q),
            &["limit", "offset", "min_profit", "buy", "sort", "q"],
        )
        .unwrap()
    }

    /// Escapes that are not UTF-8 are refused; a replacement character sent as UTF-8 is
    /// text like any other.
    #[test]
    fn only_escapes_that_are_not_utf8_are_refused() {
        let accepted = &["q"];
        assert!(Params::parse(Some("q=caf%E9"), accepted).is_err());
        assert!(Params::parse(Some("q=caf%C3%A9"), accepted).is_ok());
        let sent = Params::parse(Some("q=%EF%BF%BD"), accepted).unwrap();
        assert_eq!(sent.pairs[0].1, "\u{FFFD}");
        assert!(Params::parse(Some("q=%EF%BF%BD%E9"), accepted).is_err());
        assert!(decodes_to_utf8("q=%+9&r=%zz"));
        // The parameter whose value is not UTF-8 is the one named.
        let e = Params::parse(Some("q=%EF%BF%BD&sort=%E9"), &["q", "sort"]).unwrap_err();
        assert!(format!("{e:?}").contains("sort is not UTF-8"), "{e:?}");
    }

    #[test]
    fn unknown_names_are_refused_with_a_suggestion() {
        let e = Params::parse(Some("limt=5"), &["limit", "offset"]).unwrap_err();
        let prob = e.problem();
        assert_eq!(prob.status, 400);
        assert!(prob.detail.contains("'limt'") && prob.detail.contains("did you mean 'limit'"));
    }

    /// A parameter given twice is refused, and what would be accepted names each value
    /// once (the same value twice is one choice).
    #[test]
    fn a_repeated_parameter_is_refused_naming_each_value_once() {
        let accepted = |q: &str| p(q).one("offset").unwrap_err().problem().accepted;
        assert_eq!(accepted("offset=1&offset=1"), ["one value: offset=1"]);
        assert_eq!(
            accepted("offset=1&offset=2"),
            ["one value: offset=1 or offset=2"]
        );
        // An empty value is no value.
        assert_eq!(p("offset=&offset=3").one("offset").unwrap(), Some("3"));
    }

    #[test]
    fn whole_numbers_have_ranges() {
        assert_eq!(p("limit=20").whole("limit", 50, 1..=1000).unwrap(), 20);
        assert_eq!(p("").whole("limit", 50, 1..=1000).unwrap(), 50);
        let e = p("limit=5000").whole("limit", 50, 1..=1000).unwrap_err();
        assert_eq!(e.problem().detail, "limit 5000 is above the maximum 1000");
        let e = p("limit=-1").whole("limit", 50, 1..=1000).unwrap_err();
        assert_eq!(e.problem().detail, "limit -1 is below the minimum 1");
        let e = p("limit=99999999999999999999999")
            .whole("limit", 50, 1..=1000)
            .unwrap_err();
        assert!(e.problem().detail.contains("above the maximum 1000"));
        assert!(p("limit=2.5").whole("limit", 50, 1..=1000).is_err());
        assert!(p("limit=5&limit=6").whole("limit", 50, 1..=1000).is_err());
    }

    #[test]
    fn euros_are_exact_cents() {
        assert_eq!(p("min_profit=3.5").euros("min_profit").unwrap(), Some(350));
        assert_eq!(p("min_profit=3").euros("min_profit").unwrap(), Some(300));
        assert_eq!(p("min_profit=-0.05").euros("min_profit").unwrap(), Some(-5));
        assert_eq!(p("min_profit=.25").euros("min_profit").unwrap(), Some(25));
        let e = p("min_profit=-1000000000000")
            .euros("min_profit")
            .unwrap_err();
        assert!(
            e.problem().detail.contains("below the minimum -1000000000"),
            "{}",
            e.problem().detail
        );
        let e = p("min_profit=1000000000000")
            .euros("min_profit")
            .unwrap_err();
        assert!(e.problem().detail.contains("above the maximum 1000000000"));
        // The bounds hold to the cent.
        assert_eq!(
            p("min_profit=1000000000").euros("min_profit").unwrap(),
            Some(100_000_000_000)
        );
        for over in ["1000000000.01", "-1000000000.01"] {
            assert!(
                p(&format!("min_profit={over}"))
                    .euros("min_profit")
                    .is_err(),
                "{over}"
            );
        }
        for bad in ["3.555", "abc", "1e3", ".", "-", "3,5"] {
            assert!(
                p(&format!("min_profit={bad}")).euros("min_profit").is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn markets_accumulate_and_sort() {
        let m = p("buy=it,DE&buy=de").markets("buy").unwrap();
        assert_eq!(m, vec![Market::DE, Market::IT]);
        let e = p("buy=XX").markets("buy").unwrap_err();
        assert_eq!(
            e.problem().detail,
            "buy 'XX': expected one of UK, DE, FR, IT, ES"
        );
        assert_eq!(p("buy=").markets("buy").unwrap(), vec![]);
        for typo in ["buy=de,,it", "buy=de,", "buy=,de"] {
            let e = p(typo).markets("buy").unwrap_err();
            assert!(
                e.problem()
                    .detail
                    .contains("an empty market between commas"),
                "{typo}"
            );
        }
    }

    #[test]
    fn suggestions_are_close_only() {
        assert_eq!(suggest("profit", &["net_profit", "roi_pct"]), None);
        assert_eq!(
            suggest("roi_pc", &["net_profit", "roi_pct"]),
            Some("roi_pct")
        );
        assert_eq!(suggest("LIMIT", &["limit"]), Some("limit"));
        assert_eq!(suggest("x0", &["q", "limit"]), None);
        assert_eq!(suggest("", &["q"]), None);
        assert_eq!(suggest("sotr", &["sort"]), Some("sort"));
    }
}
