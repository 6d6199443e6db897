//! The GBP rate: where it comes from, how it converts, when it is stale.
//!
//! The ECB publishes "1 EUR = x GBP". Mixing that up with "EUR per GBP" is the classic bug,
//! so [`GbpQuote`] keeps the direction a rate was written in and converts with it: a
//! published `x` divides (`amount / x`, never `amount × rounded 1/x`), an override's
//! `eur_per_unit` multiplies, as written. GBP is never treated as EUR: converting needs an
//! `FxRate`. The ECB daily file is parsed by a small tolerant scanner (no XML crate for one
//! attribute pair); anything unexpected is a typed [`FxError`], never a panic.

mod schedule;

use std::str::FromStr;
use std::time::Duration;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;

pub use schedule::FetchSchedule;

use super::num::{Const, Num};
use crate::domain::{Currency, Money};
use crate::pipeline::FxStatus;

/// A GBP rate in the direction it was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GbpQuote {
    /// x as the ECB publishes it: 1 EUR = x GBP.
    GbpPerEur(Const),
    /// An override: 1 GBP = y EUR, used as written.
    EurPerGbp(Const),
}

/// A rate as exact integers: an amount of `c` minor units is `c · scale / den` EUR cents,
/// with its currency's scale and one denominator for both currencies, so the numerators of
/// two amounts subtract and compare directly.
///
/// The rate is a decimal `m / 10^s` (`m` its mantissa, `s` its scale). With `1 EUR = x GBP`,
/// GBP cents `c` are `c · 10^s / m` EUR cents (`den = m`); with `1 GBP = y EUR`, they are
/// `c · m / 10^s` (`den = 10^s`). EUR cents `c` are `c · den / den`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExactRate {
    eur: i128,
    gbp: i128,
    den: i128,
}

impl ExactRate {
    /// `amount` in EUR cents times [`den`](Self::den); `None` if it does not fit.
    pub fn numerator(self, amount: Money) -> Option<i128> {
        let scale = match amount.currency {
            Currency::EUR => self.eur,
            Currency::GBP => self.gbp,
        };
        i128::from(amount.minor).checked_mul(scale)
    }

    /// The denominator every numerator is over (positive).
    pub fn den(self) -> i128 {
        self.den
    }
}

/// Where a rate came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FxSource {
    /// Fetched from the ECB daily file.
    Ecb,
    /// `[fx] override` in config.
    Override,
    /// The rate shipped in `defaults.toml` (offline).
    Shipped,
}

impl FxSource {
    /// `ecb`, `config` or `default`, as `FxStatus` and breakdown sources say it.
    pub fn label(self) -> &'static str {
        match self {
            FxSource::Ecb => "ecb",
            FxSource::Override => "config",
            FxSource::Shipped => "default",
        }
    }
}

/// A dated GBP rate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FxRate {
    /// The rate, in the direction it was written.
    pub gbp: GbpQuote,
    /// Publication (or override) date.
    pub date: NaiveDate,
    /// Where it came from.
    pub source: FxSource,
}

/// Why a rate could not be read or fetched.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FxError {
    /// A tag never closes.
    #[error("malformed ECB XML: unterminated tag at byte {at}")]
    Unterminated {
        /// Byte offset of the `<`.
        at: usize,
    },
    /// No `<Cube time='…'>`.
    #[error("ECB XML has no <Cube time='YYYY-MM-DD'>: is this the eurofxref daily file?")]
    NoDate,
    /// The date attribute does not parse.
    #[error("ECB XML time '{0}' is not a date (YYYY-MM-DD)")]
    BadDate(String),
    /// No GBP entry in the day's cube.
    #[error("ECB XML for {0} has no <Cube currency='GBP' rate='…'/>")]
    NoGbp(NaiveDate),
    /// The GBP rate does not parse or is implausible.
    #[error("ECB XML GBP rate '{0}' is not a plausible decimal (expected e.g. 0.8653)")]
    BadRate(String),
    /// The request failed.
    #[error("fetching ECB rates from {url}: {reason}")]
    Http {
        /// The URL.
        url: String,
        /// What went wrong.
        reason: String,
    },
}

impl FxRate {
    /// A rate as the ECB publishes it.
    pub fn ecb(gbp_per_eur: Decimal, date: NaiveDate) -> Self {
        FxRate {
            gbp: GbpQuote::GbpPerEur(gbp_per_eur.into()),
            date,
            source: FxSource::Ecb,
        }
    }

    /// Whether the rate is a plausible positive number (0.01 < rate < 100) that converts
    /// without overflow; the detector prices no GBP side with any other.
    pub fn is_usable(&self) -> bool {
        let v = match self.gbp {
            GbpQuote::GbpPerEur(v) | GbpQuote::EurPerGbp(v) => v,
        };
        v.dec() > Decimal::new(1, 2) && v.dec() < Decimal::ONE_HUNDRED
    }

    /// The rate as exact integers (see [`ExactRate`]); `None` if it is not
    /// [usable](Self::is_usable) or its scale does not fit.
    pub fn exact(&self) -> Option<ExactRate> {
        if !self.is_usable() {
            return None;
        }
        let (per_eur, rate) = match self.gbp {
            GbpQuote::GbpPerEur(x) => (true, x.dec()),
            GbpQuote::EurPerGbp(y) => (false, y.dec()),
        };
        let (m, pow) = (rate.mantissa(), 10i128.checked_pow(rate.scale())?);
        Some(if per_eur {
            ExactRate {
                eur: m,
                gbp: pow,
                den: m,
            }
        } else {
            ExactRate {
                eur: pow,
                gbp: m,
                den: pow,
            }
        })
    }

    /// `amount` of `currency` in EUR (zero if the rate is not [usable](Self::is_usable)).
    pub fn to_eur<N: Num>(&self, amount: N, currency: Currency) -> N {
        match (currency, self.gbp) {
            (Currency::EUR, _) => Some(amount),
            (Currency::GBP, GbpQuote::GbpPerEur(x)) => amount.checked_div(N::of(x)),
            (Currency::GBP, GbpQuote::EurPerGbp(y)) => amount.checked_mul(N::of(y)),
        }
        .unwrap_or_else(N::zero)
    }

    /// `amount_eur` in `currency` (zero if the rate is not [usable](Self::is_usable)).
    pub fn from_eur<N: Num>(&self, amount_eur: N, currency: Currency) -> N {
        match (currency, self.gbp) {
            (Currency::EUR, _) => Some(amount_eur),
            (Currency::GBP, GbpQuote::GbpPerEur(x)) => amount_eur.checked_mul(N::of(x)),
            (Currency::GBP, GbpQuote::EurPerGbp(y)) => amount_eur.checked_div(N::of(y)),
        }
        .unwrap_or_else(N::zero)
    }

    /// EUR per GBP for display only (never computed with).
    pub fn eur_per_gbp_display(&self) -> f64 {
        let v = match self.gbp {
            GbpQuote::GbpPerEur(x) => Decimal::ONE.checked_div(x.dec()).unwrap_or_default(),
            GbpQuote::EurPerGbp(y) => y.dec(),
        };
        v.round_dp(6).to_f64().unwrap_or(0.0)
    }

    /// Older than `max_age_days` on `today` (a rate dated in the future is not stale).
    pub fn is_stale(&self, today: NaiveDate, max_age_days: i64) -> bool {
        (today - self.date).num_days() > max_age_days
    }

    /// `ecb 2026-11-24`: the source string of breakdown lines.
    pub fn source_label(&self) -> String {
        format!("{} {}", self.source.label(), self.date)
    }

    /// The rate exactly as written, with source and date: `ecb 2026-06-09: 1 EUR = 0.8653 GBP`
    /// or `config 2026-11-24: 1 GBP = 1.15 EUR`. [`from_record`](Self::from_record) reads it
    /// back.
    pub fn record(&self) -> String {
        match self.gbp {
            GbpQuote::GbpPerEur(x) => format!("{}: 1 EUR = {x} GBP", self.source_label()),
            GbpQuote::EurPerGbp(y) => format!("{}: 1 GBP = {y} EUR", self.source_label()),
        }
    }

    /// The rate written by [`record`](Self::record), or `None` if `s` is not one.
    pub fn from_record(s: &str) -> Option<FxRate> {
        let (head, quote) = s.split_once(": 1 ")?;
        let (source, date) = head.split_once(' ')?;
        let source = match source {
            "ecb" => FxSource::Ecb,
            "config" => FxSource::Override,
            "default" => FxSource::Shipped,
            _ => return None,
        };
        let date = super::parse_date(date)?;
        let gbp = if let Some(x) = quote
            .strip_prefix("EUR = ")
            .and_then(|q| q.strip_suffix(" GBP"))
        {
            GbpQuote::GbpPerEur(Decimal::from_str(x).ok()?.into())
        } else {
            let y = quote.strip_prefix("GBP = ")?.strip_suffix(" EUR")?;
            GbpQuote::EurPerGbp(Decimal::from_str(y).ok()?.into())
        };
        Some(FxRate { gbp, date, source })
    }

    /// The pipeline's view of this rate.
    pub fn status(&self, today: NaiveDate, max_age_days: i64) -> FxStatus {
        FxStatus {
            eur_per_gbp: self.eur_per_gbp_display(),
            date: self.date.to_string(),
            source: self.source.label().to_string(),
            stale: self.is_stale(today, max_age_days),
            record: self.record(),
        }
    }
}

/// Parses the ECB daily reference-rate file: the first `<Cube time='…'>` and the GBP rate
/// inside it.
pub fn parse_ecb_daily(xml: &str) -> Result<FxRate, FxError> {
    let mut date: Option<NaiveDate> = None;
    let mut pos = 0;
    while let Some(rel) = xml[pos..].find('<') {
        let start = pos + rel;
        let end = xml[start..]
            .find('>')
            .map(|e| start + e)
            .ok_or(FxError::Unterminated { at: start })?;
        let tag = &xml[start + 1..end];
        pos = end + 1;
        let Some(attrs) = cube_attributes(tag) else {
            continue;
        };
        if let Some(t) = attribute(attrs, "time") {
            if date.is_some() {
                break; // The next day's cube: the first day had no GBP.
            }
            date = Some(super::parse_date(t).ok_or_else(|| FxError::BadDate(clip(t)))?);
        } else if attribute(attrs, "currency") == Some("GBP") {
            let day = date.ok_or(FxError::NoDate)?;
            let raw = attribute(attrs, "rate").unwrap_or("");
            let rate = Decimal::from_str(raw.trim())
                .ok()
                .filter(|r| *r > Decimal::new(1, 2) && *r < Decimal::ONE_HUNDRED)
                .ok_or_else(|| FxError::BadRate(clip(raw)))?;
            return Ok(FxRate::ecb(rate, day));
        }
    }
    match date {
        Some(d) => Err(FxError::NoGbp(d)),
        None => Err(FxError::NoDate),
    }
}

/// The attribute text of a `Cube` element (with or without a namespace prefix).
fn cube_attributes(tag: &str) -> Option<&str> {
    let name_end = tag
        .find(|c: char| c.is_whitespace() || c == '/')
        .unwrap_or(tag.len());
    let name = &tag[..name_end];
    let local = name.rsplit(':').next().unwrap_or(name);
    (local == "Cube").then(|| &tag[name_end..])
}

/// The value of `name='…'` or `name="…"` in an attribute list.
fn attribute<'a>(attrs: &'a str, name: &str) -> Option<&'a str> {
    let mut rest = attrs;
    loop {
        rest = rest.trim_start_matches(|c: char| c.is_whitespace() || c == '/');
        let eq = rest.find('=')?;
        let key = rest[..eq].trim();
        let after = rest[eq + 1..].trim_start();
        let quote = after.chars().next().filter(|c| *c == '\'' || *c == '"')?;
        let body = &after[1..];
        let close = body.find(quote)?;
        if key == name {
            return Some(&body[..close]);
        }
        rest = &body[close + 1..];
    }
}

/// At most 40 printable characters of untrusted text, for error messages.
fn clip(s: &str) -> String {
    s.chars().filter(|c| !c.is_control()).take(40).collect()
}

/// Fetches and parses the ECB daily file (one GET, 30 s timeout, at most 1 MiB).
pub async fn fetch_ecb(client: &reqwest::Client, url: &str) -> Result<FxRate, FxError> {
    let http = |reason: String| FxError::Http {
        url: url.to_string(),
        reason,
    };
    let resp = client
        .get(url)
        .timeout(Duration::from_secs(30))
        .send()
        .await
        .map_err(|e| http(e.to_string()))?;
    if !resp.status().is_success() {
        return Err(http(format!("HTTP status {}", resp.status())));
    }
    let body = resp.bytes().await.map_err(|e| http(e.to_string()))?;
    if body.len() > 1 << 20 {
        return Err(http(format!("body of {} bytes is too large", body.len())));
    }
    let text = std::str::from_utf8(&body).map_err(|e| http(format!("body is not UTF-8: {e}")))?;
    parse_ecb_daily(text)
}
