//! The Amazon Standard Identification Number: ten ASCII letters or digits.
//!
//! Validated once where it enters the program (CLI, API, Keepa responses); after that an
//! `Asin` is always well formed and upper case, so it can be used as a key without checks.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A well-formed, upper-case ASIN.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Asin([u8; 10]);

/// Why a string is not an ASIN.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ParseAsinError {
    /// The rejected input, trimmed, shortened to 40 characters and stripped of control
    /// characters.
    pub input: String,
    /// The first control or non-ASCII character, if any: a NUL or a Cyrillic `В` does not
    /// show for what it is in the input as printed.
    pub stray: Option<char>,
    /// For a product link to an Amazon store outside the five markets (`amazon.com`), that
    /// store: its ASIN may name another product, or none, in the markets watched.
    pub store: Option<String>,
    /// For a link that names no product (a short link, a store's front page), what to give
    /// instead.
    pub hint: Option<&'static str>,
}

/// Amazon's short-link hosts: their links name no product until they are followed.
const SHORT_HOSTS: [&str; 4] = ["amzn.eu", "amzn.to", "a.co", "amzn.com"];

/// The Amazon stores of the five markets, as their links name them.
const STORES: [&str; 5] = [
    "amazon.co.uk",
    "amazon.de",
    "amazon.fr",
    "amazon.it",
    "amazon.es",
];

impl fmt::Display for ParseAsinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(store) = &self.store {
            return write!(
                f,
                "'{}' is a link to {store}, not to one of the stores watched ({}): give the \
                 product's link or ASIN in one of those",
                self.input,
                STORES.join(", ")
            );
        }
        if let Some(hint) = self.hint {
            return write!(f, "'{}' names no product: {hint}", self.input);
        }
        if self.input.is_empty() && self.stray.is_none() {
            f.write_str("empty ASIN")?;
        } else {
            write!(f, "invalid ASIN '{}'", self.input)?;
        }
        match self.stray {
            Some(c) if c.is_control() || c.is_whitespace() => write!(
                f,
                " (it holds U+{:04X}, not a letter or digit)",
                u32::from(c)
            )?,
            Some(c) => write!(
                f,
                " ('{c}' is U+{:04X}, not an ASCII letter or digit)",
                u32::from(c)
            )?,
            None => {}
        }
        f.write_str(": expected 10 letters or digits, such as B0DEMO1234")
    }
}

impl Asin {
    /// `asins` without repeats, in the order given: an ASIN named twice is one ASIN.
    pub fn distinct(asins: &[Asin]) -> Vec<Asin> {
        let mut seen = std::collections::HashSet::with_capacity(asins.len());
        asins.iter().copied().filter(|a| seen.insert(*a)).collect()
    }

    /// The ASIN as a string slice.
    pub fn as_str(&self) -> &str {
        // Only ASCII alphanumerics are ever stored, so this cannot fail.
        std::str::from_utf8(&self.0).unwrap_or("??????????")
    }
}

impl Asin {
    /// An ASIN, or the ASIN of an Amazon product link as a browser's address bar or a
    /// share button gives it (`https://www.amazon.de/dp/B0D1XD1ZV3?th=1`,
    /// `…/Some-Title/dp/B0D1XD1ZV3/ref=…`, `…/gp/product/B0D1XD1ZV3`, with or without the
    /// `https://`); what is neither is
    /// refused as [`FromStr`] refuses it.
    pub fn parse_or_link(s: &str) -> Result<Asin, ParseAsinError> {
        let refused = match s.parse() {
            Ok(a) => return Ok(a),
            Err(e) => e,
        };
        let t = s.trim();
        // With or without its scheme (`www.amazon.de/dp/…`, as the console shows links).
        let lower = t.to_ascii_lowercase();
        let rest = ["https://", "http://"]
            .iter()
            .find_map(|scheme| lower.strip_prefix(scheme))
            .unwrap_or(&lower);
        let host = rest.split(['/', ':']).next().unwrap_or_default();
        if SHORT_HOSTS.contains(&host.trim_start_matches("www.")) {
            return Err(ParseAsinError {
                hint: Some(
                    "a short link says which product only when it is followed: open it in a \
                     browser and give the address it lands on (…/dp/ASIN), or the ASIN",
                ),
                ..refused
            });
        }
        if !(host.starts_with("amazon.") || host.contains(".amazon.")) {
            // A link elsewhere (`https://example.com/dp/…`) is not a malformed ASIN.
            let link = rest.len() < lower.len() || (host.contains('.') && rest.contains('/'));
            return Err(ParseAsinError {
                hint: link.then_some(
                    "it is not a link to Amazon: give the product's link in one of the stores \
                     watched (amazon.de/dp/ASIN, …) or its ASIN",
                ),
                ..refused
            });
        }
        let store = host.find("amazon.").map_or(host, |at| &host[at..]);
        if !STORES.contains(&store) {
            // Shown in the error: a name, nothing a terminal would act on, not too long.
            let store: String = store.chars().filter(|c| !c.is_control()).take(40).collect();
            return Err(ParseAsinError {
                store: Some(store),
                ..refused
            });
        }
        let path = t.split(['?', '#']).next().unwrap_or_default();
        let segments: Vec<&str> = path.split('/').collect();
        // The segment after a product marker: the ASIN, or what was meant as one.
        let named = segments.windows(2).find_map(|w| {
            let marker = w[0].to_ascii_lowercase();
            matches!(marker.as_str(), "dp" | "product" | "d" | "asin").then_some(w[1])
        });
        match named {
            Some(a) if !a.is_empty() => a.parse(),
            _ => Err(ParseAsinError {
                hint: Some(
                    "it is a link to the store, not to a product page: give a product's \
                     link (…/dp/ASIN) or its ASIN",
                ),
                ..refused
            }),
        }
    }
}

impl FromStr for Asin {
    type Err = ParseAsinError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        let bytes = t.as_bytes();
        if bytes.len() != 10 || !bytes.iter().all(u8::is_ascii_alphanumeric) {
            let mut input: String = t.chars().filter(|c| !c.is_control()).take(40).collect();
            if input.is_empty() && !t.is_empty() {
                // Only control characters: shown escaped, not as nothing.
                input = t.escape_default().take(40).collect();
            }
            // Named only when it does not show as itself: a control character, or a letter
            // that looks like an ASCII one.
            let stray = t.chars().find(|c| c.is_control() || !c.is_ascii());
            return Err(ParseAsinError {
                input,
                stray,
                store: None,
                hint: None,
            });
        }
        let mut out = [0u8; 10];
        for (o, b) in out.iter_mut().zip(bytes) {
            *o = b.to_ascii_uppercase();
        }
        Ok(Asin(out))
    }
}

impl fmt::Display for Asin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Asin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Asin({})", self.as_str())
    }
}

impl Serialize for Asin {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Asin {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_uppercases() {
        let a: Asin = " b0demo1234 ".parse().unwrap();
        assert_eq!(a.as_str(), "B0DEMO1234");
    }

    #[test]
    fn rejects_wrong_length_and_symbols() {
        for bad in ["", "B0DEMO123", "B0DEMO12345", "B0DEMO-234", "B0DÉMO1234"] {
            let err = bad.parse::<Asin>().unwrap_err();
            assert!(
                err.to_string().contains("expected 10 letters or digits"),
                "{bad}"
            );
        }
        let blank = " \t".parse::<Asin>().unwrap_err().to_string();
        assert!(blank.starts_with("empty ASIN: expected"), "{blank}");
        let bell = "\u{7}".parse::<Asin>().unwrap_err().to_string();
        assert!(bell.starts_with("invalid ASIN '\\u{7}'"), "{bell}");
        // What does not show for what it is, is named by its code.
        let nul = "B0DEMO1234\u{0}".parse::<Asin>().unwrap_err().to_string();
        assert!(
            nul.starts_with("invalid ASIN 'B0DEMO1234' (it holds U+0000, not a letter or digit)"),
            "{nul}"
        );
        let cyrillic = "\u{412}0DEMO1234".parse::<Asin>().unwrap_err().to_string();
        assert!(
            cyrillic.contains("('\u{412}' is U+0412, not an ASCII letter or digit)"),
            "{cyrillic}"
        );
        let dash = "B0-BAD".parse::<Asin>().unwrap_err().to_string();
        // Links are taken where a person types or pastes ASINs, not by `parse`.
        assert!(
            "https://www.amazon.de/dp/B0D1XD1ZV3"
                .parse::<Asin>()
                .is_err()
        );
        assert_eq!(
            dash,
            "invalid ASIN 'B0-BAD': expected 10 letters or digits, such as B0DEMO1234"
        );
    }

    #[test]
    fn product_links_give_their_asin() {
        for link in [
            "https://www.amazon.de/dp/B0D1XD1ZV3",
            "https://www.amazon.co.uk/Zentro-Skillet-28-cm/dp/b0d1xd1zv3/ref=sr_1_1?th=1",
            "https://amazon.fr/gp/product/B0D1XD1ZV3?psc=1",
            "http://www.amazon.it/gp/aw/d/B0D1XD1ZV3#reviews",
            " https://www.amazon.es/exec/obidos/ASIN/B0D1XD1ZV3/ ",
            "www.amazon.fr/dp/B0D1XD1ZV3",
            "amazon.co.uk/gp/product/B0D1XD1ZV3",
            "B0D1XD1ZV3",
        ] {
            assert_eq!(
                Asin::parse_or_link(link).map(|a| a.to_string()),
                Ok("B0D1XD1ZV3".to_string()),
                "{link}"
            );
        }
        // A link elsewhere is said to be one.
        for not in [
            "https://example.com/dp/B0D1XD1ZV3",
            "https://example.com/www.amazon.de/dp/B0D1XD1ZV3",
            "notamazon.de/dp/B0D1XD1ZV3",
        ] {
            let e = Asin::parse_or_link(not).unwrap_err().to_string();
            assert!(
                e.contains("names no product: it is not a link to Amazon"),
                "{not}: {e}"
            );
        }
        let e = Asin::parse_or_link("amazon.de/dp/B0D1XD1ZV3x")
            .unwrap_err()
            .to_string();
        assert!(e.contains("expected 10 letters or digits"), "{e}");
        let e = Asin::parse_or_link("B0D1.XD1").unwrap_err().to_string();
        assert!(e.contains("expected 10 letters or digits"), "{e}");
        // Links that name no product say what to give instead.
        for (link, says) in [
            (
                "https://www.amazon.de/s?k=B0D1XD1ZV3",
                "not to a product page",
            ),
            ("https://www.amazon.de/dp/", "not to a product page"),
            ("https://www.amazon.de/", "not to a product page"),
            ("https://amzn.eu/d/abc123X", "a short link"),
            ("a.co/d/5xYz", "a short link"),
        ] {
            let e = Asin::parse_or_link(link).unwrap_err().to_string();
            assert!(
                e.contains("names no product") && e.contains(says),
                "{link}: {e}"
            );
        }
        // Another Amazon store's product: its ASIN may name another product here.
        for (other, store) in [
            ("https://www.amazon.com/dp/B0D1XD1ZV3", "amazon.com"),
            ("smile.amazon.co.jp/gp/product/B0D1XD1ZV3", "amazon.co.jp"),
            (
                "https://www.amazon.nl/Some-Title/dp/B0D1XD1ZV3",
                "amazon.nl",
            ),
        ] {
            let e = Asin::parse_or_link(other).unwrap_err().to_string();
            assert!(
                e.contains(&format!(
                    "a link to {store}, not to one of the stores watched"
                )),
                "{other}: {e}"
            );
        }
        // The store's name is shown: nothing in it acts on a terminal.
        let e = Asin::parse_or_link("https://www.amazon.x\u{1b}]0;X\u{7}y/dp/B0D1XD1ZV3")
            .unwrap_err()
            .to_string();
        assert!(!e.contains(['\u{1b}', '\u{7}']), "{e:?}");
        assert!(Asin::parse_or_link("https://smile.amazon.de/dp/B0D1XD1ZV3").is_ok());
    }
}
