//! The filter grammar: words and field comparisons, all of which must hold. The console's
//! `/` filter, `GET /opportunities?q=` and `export --filter` parse it here, and match the
//! console's rows and the store's opportunities through [`Filterable`].
//!
//! ```text
//! term  := ['!'] (field op value[,value…] | word | "phrase")
//! op    := = | != | > | >= | < | <= | ~ (regular expression, any case)
//! field := asin title brand src dst route profit net margin gross roi emp price
//!          bsr sold drops30 age flags          (and the bare words amz, ranked)
//! /roi>=25 route=it>de,es>de !amz   /kopfhörer profit>5   /sold>=50 src=uk   /age<2h
//! /ranked src=it,es dst=de
//! /title~^nord  asin~^B0MC  title~(kettle|toaster)$  brand=zentro  bsr<20000
//! ```
//! A bare word or phrase matches the ASIN or the title, case-insensitively; `amz` alone
//! means Amazon sells in the sell market (the `AMAZON` flag), `ranked` alone that the row
//! passes every gate (`!ranked`: it fails one). `bsr`, `sold` and `drops30`
//! are Keepa's figures for the sell market; a row without one matches no comparison of it.
//! `age` takes a duration (`90s`, `30m`, `2h`, `1d`; a bare number is minutes). Values may end
//! in their field's unit, `%` or `€`: `profit`, `gross` and `emp` are euros; `net`, `margin`
//! and `roi` are percentages (`gross>19%` is refused, naming `margin`).

mod fields;
mod select;

use std::borrow::Cow;

use chrono::{DateTime, Utc};

pub use fields::{Figures, Filterable, MAX_TITLE, brand_key, buy_eur, search_text, shown_title};
pub use select::{select, select_in_chunks};

use crate::domain::{Market, Money};

/// A parsed filter.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Filter {
    terms: Vec<Term>,
}

#[derive(Clone, Debug, PartialEq)]
struct Term {
    negate: bool,
    kind: TermKind,
}

#[derive(Clone, Debug, PartialEq)]
enum TermKind {
    Text(String),
    Num(NumField, Op, f64),
    Markets(MarketField, bool, Vec<Market>),
    Routes(bool, Vec<(Market, Market)>),
    Str(StrField, Op, String),
    Matches(StrField, Pattern),
    /// The row passes every gate.
    Ranked,
}

/// A compiled `~` pattern; two are equal when they were written the same.
#[derive(Clone, Debug)]
struct Pattern(regex::Regex);

impl PartialEq for Pattern {
    fn eq(&self, other: &Self) -> bool {
        self.0.as_str() == other.0.as_str()
    }
}

/// Patterns larger than this (compiled) are refused rather than slowing every keystroke.
const PATTERN_SIZE_LIMIT: usize = 1 << 20;

#[derive(Clone, Copy, Debug, PartialEq)]
enum NumField {
    Profit,
    Net,
    Margin,
    Gross,
    Roi,
    Emp,
    /// Buy price in EUR.
    Price,
    /// Sales rank in the sell market.
    Bsr,
    /// Units sold last month in the sell market.
    Sold,
    /// Sales-rank drops in 30 days in the sell market.
    Drops30,
    /// Seconds since the row was computed.
    Age,
}

impl NumField {
    /// The unit the field compares in: `%`, `€`, or none (a count, a rank, a duration).
    fn unit(self) -> Option<char> {
        match self {
            NumField::Profit | NumField::Gross | NumField::Emp | NumField::Price => Some('€'),
            NumField::Net | NumField::Margin | NumField::Roi => Some('%'),
            NumField::Bsr | NumField::Sold | NumField::Drops30 | NumField::Age => None,
        }
    }

    /// The field that measures the same thing in the other unit, if any.
    fn in_other_unit(self) -> Option<&'static str> {
        match self {
            NumField::Profit => Some("net"),
            NumField::Net => Some("profit"),
            NumField::Margin => Some("gross"),
            NumField::Gross => Some("margin"),
            _ => None,
        }
    }

    /// A value written with `unit` (`gross>19%`) is refused unless it is the field's own:
    /// a percentage compared with euros would filter silently wrong.
    fn check_unit(self, unit: char, tok: &str) -> Result<(), String> {
        let Some(own) = self.unit() else {
            return Err(format!(
                "'{tok}': {} is a plain number, without % or €",
                self.id()
            ));
        };
        if unit == own {
            return Ok(());
        }
        // `gross margin €` of NUMBER_FIELDS, without its unit.
        let name = NUMBER_FIELDS
            .split(", ")
            .find_map(|d| d.split_once(" = ").filter(|(f, _)| *f == self.id()))
            .map_or(self.id(), |(_, d)| d.trim_end_matches([' ', '%', '€']));
        let id = self.id();
        Err(match self.in_other_unit() {
            Some(other) => format!("'{tok}': {id} is {name} in {own}; for {unit} write {other}"),
            None => format!("'{tok}': {id} is {name} in {own}"),
        })
    }

    /// The field's name in the grammar.
    fn id(self) -> &'static str {
        match self {
            NumField::Profit => "profit",
            NumField::Net => "net",
            NumField::Margin => "margin",
            NumField::Gross => "gross",
            NumField::Roi => "roi",
            NumField::Emp => "emp",
            NumField::Price => "price",
            NumField::Bsr => "bsr",
            NumField::Sold => "sold",
            NumField::Drops30 => "drops30",
            NumField::Age => "age",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum MarketField {
    Src,
    Dst,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum StrField {
    Brand,
    Asin,
    Title,
    Flags,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Op {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
    Matches,
}

const OPS: [(&str, Op); 7] = [
    (">=", Op::Ge),
    ("<=", Op::Le),
    ("!=", Op::Ne),
    ("=", Op::Eq),
    (">", Op::Gt),
    ("<", Op::Lt),
    ("~", Op::Matches),
];

/// The fields, as errors and the help name them.
pub const FIELDS: &str = "asin, title, brand, src, dst, route, profit, net, margin, gross, \
     roi, emp, price, bsr, sold, drops30, age, flags (and the words amz, ranked)";

/// What the number fields mean, in the units a filter compares them in.
pub const NUMBER_FIELDS: &str = "profit = net profit €, net = net margin %, margin = gross \
     margin %, gross = gross margin €, roi = ROI %, emp = expected monthly profit €, price = \
     buy price €, bsr = sales rank, sold = units sold last month, drops30 = rank drops in 30 \
     days (all three where it is sold), age = since computed (30m, 2h, 1d)";

/// Every field name the parser takes, aliases included.
const FIELD_NAMES: [&str; 25] = [
    "asin", "title", "brand", "src", "buy", "dst", "sell", "route", "profit", "net", "margin",
    "gross", "roi", "emp", "price", "bsr", "rank", "sold", "drops30", "drops", "age", "flags",
    "flag", "amz", "ranked",
];

/// The part of `input` that applies while it is being typed: all of it, except a last word
/// that is still the beginning of a field name (`r`, `ro`, `roi` on the way to `roi>=25`),
/// which would otherwise search titles for a keystroke or two and empty the table. A space
/// after the word, or Enter, applies it as a word.
pub fn settled(input: &str) -> &str {
    let start = input
        .char_indices()
        .rev()
        .find(|(_, c)| c.is_whitespace())
        .map_or(0, |(i, c)| i + c.len_utf8());
    let last = &input[start..];
    let word = last.trim_start_matches('!').to_ascii_lowercase();
    // `roi!` is on its way to `roi!=5`; a lone `!` to a negated term.
    let negating = word
        .strip_suffix('!')
        .is_some_and(|f| FIELD_NAMES.contains(&f));
    // `amz` and `ranked` are whole terms already: they apply at once.
    let becoming_field = !word.contains('"')
        && word != "amz"
        && word != "ranked"
        && (negating || FIELD_NAMES.iter().any(|f| f.starts_with(word.as_str())));
    if !last.is_empty() && becoming_field {
        &input[..start]
    } else {
        input
    }
}

fn tokens(input: &str) -> Result<Vec<String>, String> {
    match crate::domain::text::words(input) {
        (_, true) => Err("a \"quoted phrase\" is not closed".into()),
        (words, false) => Ok(words),
    }
}

impl Filter {
    /// The filter without its `ranked` terms, if it has any: what the rows it leaves out
    /// for failing a gate match otherwise.
    pub fn without_ranked(&self) -> Option<Filter> {
        let is_ranked = |t: &Term| !t.negate && t.kind == TermKind::Ranked;
        self.terms.iter().any(is_ranked).then(|| Filter {
            terms: self
                .terms
                .iter()
                .filter(|t| !is_ranked(t))
                .cloned()
                .collect(),
        })
    }

    /// Parses the filter text; the error names the term and what is accepted.
    pub fn parse(input: &str) -> Result<Filter, String> {
        let mut terms = Vec::new();
        for tok in tokens(input)? {
            if tok.chars().all(|c| c == '!') {
                return Err(format!(
                    "'{tok}' alone negates nothing: join it to the term it negates, e.g. !amz or !src=uk"
                ));
            }
            let (negate, body) = match tok.strip_prefix('!') {
                Some(rest) if !rest.is_empty() => (true, rest),
                _ => (false, tok.as_str()),
            };
            if negate && body.starts_with('!') {
                return Err(format!(
                    "'{tok}': one ! negates a term, and a second would undo it: write {} or !{}",
                    body.trim_start_matches('!'),
                    body.trim_start_matches('!')
                ));
            }
            if let Some((op, _)) = OPS.iter().find(|(s, _)| body.starts_with(s)) {
                return Err(if body == *op {
                    format!(
                        "'{op}' stands alone: write field, operator and value without spaces, e.g. roi>=25"
                    )
                } else {
                    format!(
                        "'{tok}' starts with an operator: write field, operator and value without spaces, e.g. roi>=25"
                    )
                });
            }
            let split = body
                .char_indices()
                .find_map(|(i, _)| {
                    OPS.iter()
                        .find(|(s, _)| body[i..].starts_with(s))
                        .map(|(s, op)| (i, s.len(), *op))
                })
                .filter(|(i, _, _)| {
                    // A field name, or what looks like a mistyped one (`net_profit>5`, which
                    // is refused below rather than searched for as a word).
                    *i > 0
                        && body[..*i]
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
                });
            let kind = match split {
                None => {
                    let lower = body.to_lowercase();
                    if let Some(field) = lower.strip_suffix('!').filter(|f| FIELD_NAMES.contains(f))
                    {
                        return Err(format!(
                            "'{tok}' is half a term: write {field}!=value (not equal), e.g. src!=uk"
                        ));
                    }
                    match lower.as_str() {
                        // Amazon sells where it is sold: the `AMAZON` flag.
                        "amz" => TermKind::Str(StrField::Flags, Op::Eq, "amazon".into()),
                        "ranked" => TermKind::Ranked,
                        _ => TermKind::Text(lower),
                    }
                }
                Some((i, len, op)) => {
                    let field = body[..i].to_ascii_lowercase();
                    let raw = &body[i + len..];
                    if raw.is_empty() && FIELD_NAMES.contains(&field.as_str()) {
                        return Err(format!(
                            "'{tok}' has no value: write one after the operator, e.g. src=uk, \
                             brand=anker or roi>=25"
                        ));
                    }
                    // One unit at most: `25%`, not `25%%` or `5€%`.
                    let value = raw.strip_suffix(['%', '€']).unwrap_or(raw);
                    let unit = raw[value.len()..].chars().next();
                    let kind = field_term(
                        &field,
                        op,
                        if op == Op::Matches { raw } else { value },
                        &tok,
                    )?;
                    if let (TermKind::Num(f, ..), Some(unit)) = (&kind, unit) {
                        f.check_unit(unit, &tok)?;
                    }
                    kind
                }
            };
            terms.push(Term { negate, kind });
        }
        Ok(Filter { terms })
    }

    /// No terms.
    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    /// A word the store can pre-filter on: the first plain, non-negated word.
    pub fn store_text(&self) -> Option<String> {
        self.terms.iter().find_map(|t| match (&t.kind, t.negate) {
            (TermKind::Text(w), false) => Some(w.clone()),
            _ => None,
        })
    }

    /// Whether a row passes every term at `now` (for `age`).
    pub fn matches<R: Filterable + ?Sized>(&self, row: &R, now: DateTime<Utc>) -> bool {
        self.terms.iter().all(|t| t.matches(row, now) != t.negate)
    }

    /// Whether a term compares `age`, so that a match depends on the clock as well as on
    /// the row.
    pub fn uses_clock(&self) -> bool {
        self.terms
            .iter()
            .any(|t| matches!(t.kind, TermKind::Num(NumField::Age, ..)))
    }

    /// Whether the filter is one plain word or phrase, which the store's own text search
    /// answers alone.
    pub fn is_store_text(&self) -> bool {
        matches!(
            self.terms.as_slice(),
            [Term {
                negate: false,
                kind: TermKind::Text(_)
            }]
        )
    }
}

fn field_term(field: &str, op: Op, value: &str, tok: &str) -> Result<TermKind, String> {
    let num = |f: NumField| -> Result<TermKind, String> {
        if op == Op::Matches {
            return Err(format!("'{tok}': {field} takes = != > >= < <="));
        }
        let v: f64 = value
            .parse()
            .ok()
            .filter(|v: &f64| v.is_finite())
            .ok_or_else(|| format!("'{tok}': '{value}' is not a number"))?;
        Ok(TermKind::Num(f, op, v))
    };
    let markets = |f: MarketField| -> Result<TermKind, String> {
        let eq = match op {
            Op::Eq => true,
            Op::Ne => false,
            _ => return Err(format!("'{tok}': {field} takes = or !=")),
        };
        let list = crate::domain::parse_market_list(value).map_err(|e| format!("'{tok}': {e}"))?;
        Ok(TermKind::Markets(f, eq, list))
    };
    let text = |f: StrField| -> Result<TermKind, String> {
        match op {
            Op::Eq | Op::Ne => Ok(TermKind::Str(f, op, value.to_lowercase())),
            Op::Matches => regex::RegexBuilder::new(value)
                .case_insensitive(true)
                .size_limit(PATTERN_SIZE_LIMIT)
                .build()
                .map(|re| TermKind::Matches(f, Pattern(re)))
                .map_err(|e| {
                    let why = e.to_string();
                    let why = why.lines().last().unwrap_or("invalid").trim();
                    format!("'{tok}': not a regular expression ({why})")
                }),
            _ => Err(format!(
                "'{tok}': {field} takes = != or ~ (a regular expression)"
            )),
        }
    };
    match field {
        "profit" => num(NumField::Profit),
        "net" => num(NumField::Net),
        "margin" => num(NumField::Margin),
        "gross" => num(NumField::Gross),
        "roi" => num(NumField::Roi),
        "emp" => num(NumField::Emp),
        "price" => num(NumField::Price),
        "bsr" | "rank" => num(NumField::Bsr),
        "sold" => num(NumField::Sold),
        "drops30" | "drops" => num(NumField::Drops30),
        "age" => {
            if op == Op::Matches {
                return Err(format!("'{tok}': age takes = != > >= < <="));
            }
            let secs = crate::domain::text::span_secs(value)
                .filter(|s| s.is_finite())
                .ok_or_else(|| {
                    format!("'{tok}': '{value}' is not a duration: write 90s, 30m, 2h or 1d")
                })?;
            Ok(TermKind::Num(NumField::Age, op, secs))
        }
        "brand" => text(StrField::Brand),
        "src" | "buy" => markets(MarketField::Src),
        "dst" | "sell" => markets(MarketField::Dst),
        "asin" => text(StrField::Asin),
        "title" => text(StrField::Title),
        "flags" | "flag" => {
            // A flag that does not exist would match nothing, silently.
            let upper = value.to_ascii_uppercase();
            if matches!(op, Op::Eq | Op::Ne) && crate::domain::Flag::from_name(&upper).is_none() {
                let names: Vec<String> = crate::domain::Flag::ALL
                    .iter()
                    .map(|f| f.name().to_lowercase())
                    .collect();
                // The likely one first: the whole list is long for a status line.
                let hint = crate::domain::text::nearest(value, names.iter().map(String::as_str))
                    .map(|n| format!(" (did you mean {n}?)"))
                    .unwrap_or_default();
                return Err(format!(
                    "'{tok}': no flag '{value}'{hint}; flags are {}",
                    names.join(", ")
                ));
            }
            text(StrField::Flags)
        }
        "route" => {
            let eq = match op {
                Op::Eq => true,
                Op::Ne => false,
                _ => return Err(format!("'{tok}': route takes = or !=")),
            };
            let routes = value
                .split(',')
                .map(|r| {
                    let (a, b) = r
                        .split_once('>')
                        .ok_or_else(|| format!("'{tok}': a route is written it>de"))?;
                    let a: Market = a.parse().map_err(|e| format!("'{tok}': {e}"))?;
                    let b: Market = b.parse().map_err(|e| format!("'{tok}': {e}"))?;
                    Ok((a, b))
                })
                .collect::<Result<Vec<_>, String>>()?;
            Ok(TermKind::Routes(eq, routes))
        }
        // A comparison: what each number field means (`netmargin>15` is `net>15`).
        other if matches!(op, Op::Gt | Op::Ge | Op::Lt | Op::Le) => Err(format!(
            "'{tok}': unknown field '{other}'; the number fields are {NUMBER_FIELDS}"
        )),
        other => Err(format!(
            "'{tok}': unknown field '{other}'; fields are {FIELDS}"
        )),
    }
}

fn cmp(op: Op, a: f64, b: f64) -> bool {
    match op {
        Op::Eq => (a - b).abs() < 0.005,
        Op::Ne => (a - b).abs() >= 0.005,
        Op::Gt => a > b,
        Op::Ge => a >= b,
        Op::Lt => a < b,
        Op::Le => a <= b,
        Op::Matches => false,
    }
}

impl Term {
    fn matches<R: Filterable + ?Sized>(&self, row: &R, now: DateTime<Utc>) -> bool {
        let euros = |m: Money| m.minor as f64 / 100.0;
        match &self.kind {
            TermKind::Text(w) => row.search().contains(w.as_str()),
            TermKind::Ranked => row.ranked(),
            TermKind::Num(f, op, v) => {
                let net = matches!(
                    f,
                    NumField::Profit | NumField::Emp | NumField::Net | NumField::Roi
                );
                let fig = row.figures();
                if net && !fig.has_net {
                    return false; // unknown, so neither above nor below any number
                }
                // A figure Keepa did not give is unknown: no comparison matches it.
                let known = |x: Option<i64>| x.map(|x| x as f64);
                let x = match f {
                    NumField::Profit => Some(euros(fig.net)),
                    NumField::Gross => Some(euros(fig.gross)),
                    NumField::Emp => Some(euros(fig.emp)),
                    NumField::Net => Some(fig.net_pct),
                    NumField::Margin => Some(fig.gross_pct),
                    NumField::Roi => Some(fig.roi),
                    NumField::Price => Some(euros(fig.buy_eur)),
                    NumField::Bsr => known(fig.bsr),
                    NumField::Sold => known(fig.sold),
                    NumField::Drops30 => known(fig.drops30),
                    NumField::Age => Some((now - fig.updated_at).num_seconds().max(0) as f64),
                };
                x.is_some_and(|x| cmp(*op, x, *v))
            }
            TermKind::Markets(f, eq, list) => {
                let key = row.key();
                let m = match f {
                    MarketField::Src => key.buy,
                    MarketField::Dst => key.sell,
                };
                list.contains(&m) == *eq
            }
            TermKind::Routes(eq, routes) => {
                let key = row.key();
                routes.contains(&(key.buy, key.sell)) == *eq
            }
            TermKind::Str(f, op, v) => {
                let hay: Cow<'_, str> = match f {
                    StrField::Asin => row.key().asin.as_str().to_lowercase().into(),
                    StrField::Title => row.title().to_lowercase().into(),
                    StrField::Flags => row.flags().to_lowercase().into(),
                    StrField::Brand => row.brand().unwrap_or_default(),
                };
                // `flags` holds a set: `=` is "has the flag", `!=` "has not".
                let hit = match f {
                    StrField::Flags => hay.split(' ').any(|x| x == v),
                    _ => hay == v.as_str(),
                };
                hit == (*op == Op::Eq)
            }
            TermKind::Matches(f, Pattern(re)) => match f {
                StrField::Asin => re.is_match(row.key().asin.as_str()),
                StrField::Title => re.is_match(&row.title()),
                StrField::Flags => re.is_match(&row.flags()),
                StrField::Brand => re.is_match(&row.brand().unwrap_or_default()),
            },
        }
    }
}

#[cfg(test)]
mod tests;
