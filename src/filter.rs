//! The filter grammar: words and field comparisons, all of which must hold. The console's
//! `/` filter, `GET /opportunities?q=` and `export --filter` parse it here, and match the
//! console's rows and the store's opportunities through [`Filterable`].
//!
//! ```text
//! term  := ['!'] (field op value[,value…] | word | "phrase")
//! op    := = | != | > | >= | < | <= | ~ (regular expression, any case)
//! field := asin title brand src dst route profit net margin gross roi emp price
//!          bsr sold drops30 age flags          (and the bare word amz)
//! /roi>=25 route=it>de,es>de !amz   /kopfhörer profit>5   /sold>=50 src=uk   /age<2h
//! /title~^nord  asin~^B0MC  title~(kettle|toaster)$  brand=zentro  bsr<20000
//! ```
//! A bare word or phrase matches the ASIN or the title, case-insensitively; `amz` alone
//! means Amazon sells in the sell market (the `AMAZON` flag). `bsr`, `sold` and `drops30`
//! are Keepa's figures for the sell market; a row without one matches no comparison of it.
//! `age` takes a duration (`90s`, `30m`, `2h`, `1d`; a bare number is minutes). Values may end
//! in their field's unit, `%` or `€`: `profit`, `gross` and `emp` are euros; `net`, `margin`
//! and `roi` are percentages (`gross>19%` is refused, naming `margin`).

use std::borrow::Cow;

use chrono::{DateTime, Utc};

use crate::domain::text::sanitize;
use crate::domain::{Currency, Market, Money, Opportunity, OpportunityKey};
use crate::store::{OpportunityFilter, Page, Store, StoreResult};

/// What a filter reads of a row.
pub trait Filterable {
    /// ASIN and route.
    fn key(&self) -> OpportunityKey;
    /// Lower-case `asin title`: what a word or phrase searches.
    fn search(&self) -> Cow<'_, str>;
    /// The title as shown (may be empty).
    fn title(&self) -> Cow<'_, str>;
    /// The lower-case brand, if known.
    fn brand(&self) -> Option<Cow<'_, str>>;
    /// Failed gates and warnings by name, space-separated.
    fn flags(&self) -> Cow<'_, str>;
    /// The figures the number fields compare.
    fn figures(&self) -> Figures;
}

/// The figures of a row that number fields compare.
#[derive(Clone, Copy, Debug)]
pub struct Figures {
    /// Gross margin, EUR.
    pub gross: Money,
    /// Gross margin %.
    pub gross_pct: f64,
    /// Net profit, EUR.
    pub net: Money,
    /// Net margin %.
    pub net_pct: f64,
    /// ROI %.
    pub roi: f64,
    /// Expected monthly profit, EUR.
    pub emp: Money,
    /// The net figures were computed (else no comparison of them matches).
    pub has_net: bool,
    /// Buy price, EUR.
    pub buy_eur: Money,
    /// Sales rank where it is sold.
    pub bsr: Option<i64>,
    /// Units sold last month where it is sold.
    pub sold: Option<i64>,
    /// Rank drops in 30 days where it is sold.
    pub drops30: Option<i64>,
    /// When the row was computed.
    pub updated_at: DateTime<Utc>,
}

/// The buy price in EUR: as it is on a euro market; from a GBP one, the sell price (then
/// in EUR) less the gross margin, which is how the row converted it.
pub fn buy_eur(buy: Money, sell: Money, gross: Money) -> Money {
    match buy.currency {
        Currency::EUR => buy,
        Currency::GBP => Money::eur(sell.minor - gross.minor),
    }
}

/// Longest title kept for display and search (a table truncates it long before that).
pub const MAX_TITLE: usize = 240;

/// A title as shown: sanitized, at most [`MAX_TITLE`] characters.
pub fn shown_title(title: Option<&str>) -> String {
    let mut title = title.map(sanitize).unwrap_or_default();
    if let Some((cut, _)) = title.char_indices().nth(MAX_TITLE) {
        title.truncate(cut);
    }
    title
}

/// What a word searches: lower-case `asin title` (the title as shown).
pub fn search_text(asin: &str, shown_title: &str) -> String {
    format!(
        "{} {}",
        asin.to_ascii_lowercase(),
        shown_title.to_lowercase()
    )
}

/// A brand as the `brand` field compares it.
pub fn brand_key(brand: &str) -> String {
    sanitize(brand).to_lowercase()
}

impl Filterable for Opportunity {
    fn key(&self) -> OpportunityKey {
        Opportunity::key(self)
    }
    fn search(&self) -> Cow<'_, str> {
        search_text(self.asin.as_str(), &shown_title(self.title.as_deref())).into()
    }
    fn title(&self) -> Cow<'_, str> {
        shown_title(self.title.as_deref()).into()
    }
    fn brand(&self) -> Option<Cow<'_, str>> {
        self.sell_facts
            .brand
            .as_deref()
            .map(|b| brand_key(b).into())
    }
    fn flags(&self) -> Cow<'_, str> {
        self.flags.join(" ").into()
    }
    fn figures(&self) -> Figures {
        Figures {
            gross: self.gross_margin,
            gross_pct: self.gross_margin_pct,
            net: self.net_profit,
            net_pct: self.net_margin_pct,
            roi: self.roi_pct,
            emp: self.expected_monthly_profit,
            has_net: self.has_net(),
            buy_eur: buy_eur(self.buy_price, self.sell_price, self.gross_margin),
            bsr: self.sell_facts.sales_rank,
            sold: self.sell_facts.monthly_sold,
            drops30: self.sell_facts.rank_drops30,
            updated_at: self.updated_at,
        }
    }
}

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
     roi, emp, price, bsr, sold, drops30, age, flags (and the word amz)";

/// What the number fields mean, in the units a filter compares them in.
pub const NUMBER_FIELDS: &str = "profit = net profit €, net = net margin %, margin = gross \
     margin %, gross = gross margin €, roi = ROI %, emp = expected monthly profit €, price = \
     buy price €, bsr = sales rank, sold = units sold last month, drops30 = rank drops in 30 \
     days (all three where it is sold), age = since computed (30m, 2h, 1d)";

/// Every field name the parser takes, aliases included.
const FIELD_NAMES: [&str; 24] = [
    "asin", "title", "brand", "src", "buy", "dst", "sell", "route", "profit", "net", "margin",
    "gross", "roi", "emp", "price", "bsr", "rank", "sold", "drops30", "drops", "age", "flags",
    "flag", "amz",
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
    // `amz` is a whole term already: it applies at once.
    let becoming_field = !word.contains('"')
        && word != "amz"
        && (negating || FIELD_NAMES.iter().any(|f| f.starts_with(word.as_str())));
    if !last.is_empty() && becoming_field {
        &input[..start]
    } else {
        input
    }
}

fn tokens(input: &str) -> Result<Vec<String>, String> {
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
    if quoted {
        return Err("a \"quoted phrase\" is not closed".into());
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    Ok(out)
}

impl Filter {
    /// Parses the filter text; the error names the term and what is accepted.
    pub fn parse(input: &str) -> Result<Filter, String> {
        let mut terms = Vec::new();
        for tok in tokens(input)? {
            let (negate, body) = match tok.strip_prefix('!') {
                Some(rest) if !rest.is_empty() => (true, rest),
                _ => (false, tok.as_str()),
            };
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
                    *i > 0 && body[..*i].chars().all(|c| c.is_ascii_alphanumeric())
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
                        _ => TermKind::Text(lower),
                    }
                }
                Some((i, len, op)) => {
                    let field = body[..i].to_ascii_lowercase();
                    let raw = &body[i + len..];
                    let value = raw.trim_end_matches(['%', '€']);
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

    /// Narrows `query` by the terms the store can answer itself (a lower bound on ROI,
    /// margins or profit; the buy and sell markets), so that fewer rows are read to be
    /// matched here. What the store then selects includes every row this filter matches;
    /// `false` when no row can match (the markets asked for exclude each other).
    pub fn narrow(&self, query: &mut OpportunityFilter) -> bool {
        fn raise(bound: &mut Option<f64>, v: f64) {
            if v.is_finite() {
                *bound = Some(bound.map_or(v, |b| b.max(v)));
            }
        }
        /// Keeps the markets of `allowed` in `list` (empty `list`: every market).
        fn keep(list: &mut Vec<Market>, allowed: &[Market]) -> bool {
            if list.is_empty() {
                list.extend(Market::ALL.iter().filter(|m| allowed.contains(m)));
            } else {
                list.retain(|m| allowed.contains(m));
            }
            !list.is_empty()
        }
        for t in self.terms.iter().filter(|t| !t.negate) {
            match &t.kind {
                TermKind::Num(f, op @ (Op::Ge | Op::Gt | Op::Eq), v) => {
                    // `=` matches within half a hundredth: the bound is that much lower.
                    let lo = if *op == Op::Eq { v - 0.005 } else { *v };
                    match f {
                        NumField::Roi => raise(&mut query.min_roi_pct, lo),
                        NumField::Margin => raise(&mut query.min_gross_margin_pct, lo),
                        NumField::Net => raise(&mut query.min_net_margin_pct, lo),
                        NumField::Profit if lo.is_finite() && lo.abs() < 1e15 => {
                            // Whole cents at least a cent below: never above the bound.
                            let cents = (lo * 100.0).floor() as i64 - 1;
                            query.min_profit_cents =
                                Some(query.min_profit_cents.map_or(cents, |c| c.max(cents)));
                        }
                        _ => {}
                    }
                }
                TermKind::Markets(f, true, list) => {
                    let side = match f {
                        MarketField::Src => &mut query.buy,
                        MarketField::Dst => &mut query.sell,
                    };
                    if !keep(side, list) {
                        return false;
                    }
                }
                TermKind::Routes(true, routes) => {
                    let buys: Vec<Market> = routes.iter().map(|r| r.0).collect();
                    let sells: Vec<Market> = routes.iter().map(|r| r.1).collect();
                    if !keep(&mut query.buy, &buys) || !keep(&mut query.sell, &sells) {
                        return false;
                    }
                }
                _ => {}
            }
        }
        true
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

/// Rows scanned per store read when a filter has terms the store cannot answer.
const SCAN_CHUNK: usize = 10_000;

/// The page of `query` (its sort, `limit` and `offset`) among the store's opportunities
/// that also pass `filter` at `now`, with the total that pass. A filter of one plain word
/// is the store's own text search; any other is applied here to every row the rest of
/// `query` selects, read in chunks in `query`'s order, so totals and pages are exact.
pub async fn select(
    store: &dyn Store,
    query: OpportunityFilter,
    filter: &Filter,
    now: DateTime<Utc>,
) -> StoreResult<Page<Opportunity>> {
    select_in_chunks(store, query, filter, now, SCAN_CHUNK).await
}

/// [`select`], reading at most `chunk` rows per store read.
pub async fn select_in_chunks(
    store: &dyn Store,
    mut query: OpportunityFilter,
    filter: &Filter,
    now: DateTime<Utc>,
    chunk: usize,
) -> StoreResult<Page<Opportunity>> {
    let chunk = chunk.max(1);
    query.text = filter.store_text();
    if filter.is_empty() || filter.is_store_text() {
        return store.opportunities(query).await;
    }
    if !filter.narrow(&mut query) {
        return Ok(Page {
            total: 0,
            items: Vec::new(),
        });
    }
    let (skip, take) = (query.offset, query.limit);
    let mut page = Page {
        total: 0,
        items: Vec::with_capacity(take.min(1_000)),
    };
    query.limit = chunk;
    query.offset = 0;
    loop {
        let rows = store.opportunities(query.clone()).await?.items;
        let read = rows.len();
        for row in rows {
            if !filter.matches(&row, now) {
                continue;
            }
            let at = page.total as usize;
            if at >= skip && at - skip < take {
                page.items.push(row);
            }
            page.total += 1;
        }
        if read < chunk {
            return Ok(page);
        }
        query.offset += read;
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
            let secs = duration_secs(value)
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
                let names: Vec<&str> = crate::domain::Flag::ALL.iter().map(|f| f.name()).collect();
                return Err(format!(
                    "'{tok}': no flag '{value}'; flags are {}",
                    names.join(", ").to_lowercase()
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
        other => Err(format!(
            "'{tok}': unknown field '{other}'; fields are {FIELDS}"
        )),
    }
}

/// `90s`, `30m`, `2h`, `1d` (a bare number is minutes) in seconds.
fn duration_secs(v: &str) -> Option<f64> {
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
                match op {
                    Op::Eq if *f == StrField::Flags => hay.split(' ').any(|x| x == v),
                    Op::Eq => hay == v.as_str(),
                    _ => hay != v.as_str(),
                }
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
