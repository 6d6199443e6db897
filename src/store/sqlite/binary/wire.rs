//! The primitives of the binary form: values appended to a document, and read back with
//! every length and tag checked against what is left.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::VERSION;
use crate::domain::{Currency, Market, Money};
use crate::store::varint;

/// Appends values to a document.
pub(super) struct Writer(pub(super) Vec<u8>);

impl Writer {
    pub(super) fn byte(&mut self, v: u8) {
        self.0.push(v);
    }

    pub(super) fn varint(&mut self, v: u64) {
        varint::put(&mut self.0, v);
    }

    pub(super) fn int(&mut self, v: i64) {
        self.varint(varint::zigzag(v));
    }

    pub(super) fn f64(&mut self, v: f64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }

    pub(super) fn str(&mut self, s: &str) {
        self.varint(s.len() as u64);
        self.0.extend_from_slice(s.as_bytes());
    }

    /// A tag (0 absent, 1 present), then the value.
    pub(super) fn opt<T: ?Sized>(&mut self, v: Option<&T>, f: impl FnOnce(&mut Self, &T)) {
        match v {
            None => self.byte(0),
            Some(v) => {
                self.byte(1);
                f(self, v);
            }
        }
    }

    pub(super) fn opt_str(&mut self, s: Option<&str>) {
        self.opt(s, |w, s| w.str(s));
    }

    pub(super) fn market(&mut self, m: Market) {
        self.byte(m.keepa_domain());
    }

    pub(super) fn money(&mut self, m: Money) {
        self.int(m.minor);
        self.byte(match m.currency {
            Currency::EUR => 0,
            Currency::GBP => 1,
        });
    }

    pub(super) fn time(&mut self, t: DateTime<Utc>) {
        self.int(t.timestamp());
        self.varint(u64::from(t.timestamp_subsec_nanos()));
    }
}

/// Reads values back, checking each against what is left.
pub(super) struct Reader<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    /// A reader past the version byte, which must be [`VERSION`].
    pub(super) fn open(b: &'a [u8]) -> Result<Self, String> {
        let mut r = Reader { b, at: 0 };
        let version = r.byte()?;
        if version != VERSION {
            return Err(format!(
                "has format version {version}, which this arbdesk does not know (it writes \
                 {VERSION}); run the arbdesk that wrote it, or a newer one"
            ));
        }
        Ok(r)
    }

    /// Checks that nothing is left.
    pub(super) fn end(&self) -> Result<(), String> {
        match self.b.len().saturating_sub(self.at) {
            0 => Ok(()),
            n => Err(format!("goes on past its end ({n} bytes more)")),
        }
    }

    pub(super) fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self
            .at
            .checked_add(n)
            .filter(|end| *end <= self.b.len())
            .ok_or_else(|| format!("ends early (at byte {} of {})", self.at, self.b.len()))?;
        let s = &self.b[self.at..end];
        self.at = end;
        Ok(s)
    }

    pub(super) fn byte(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }

    pub(super) fn varint(&mut self) -> Result<u64, String> {
        let from = self.at;
        varint::read(self.b, &mut self.at).map_err(|e| match e {
            varint::Bad::Truncated => {
                format!("ends early (at byte {} of {})", self.b.len(), self.b.len())
            }
            varint::Bad::TooLong => format!("has an over-long number at byte {from}"),
        })
    }

    pub(super) fn int(&mut self) -> Result<i64, String> {
        self.varint().map(varint::unzigzag)
    }

    /// A count of items or bytes, at most what is left (every item takes a byte or more).
    pub(super) fn len(&mut self) -> Result<usize, String> {
        let n = self.varint()?;
        usize::try_from(n)
            .ok()
            .filter(|n| *n <= self.b.len() - self.at)
            .ok_or_else(|| format!("has a length {n} past its end at byte {}", self.at))
    }

    pub(super) fn bool(&mut self) -> Result<bool, String> {
        match self.byte()? {
            0 => Ok(false),
            1 => Ok(true),
            t => Err(format!(
                "has {t} where a yes/no goes at byte {}",
                self.at - 1
            )),
        }
    }

    pub(super) fn f64(&mut self) -> Result<f64, String> {
        let mut a = [0u8; 8];
        a.copy_from_slice(self.take(8)?);
        Ok(f64::from_le_bytes(a))
    }

    pub(super) fn str(&mut self) -> Result<&'a str, String> {
        let n = self.len()?;
        let at = self.at;
        std::str::from_utf8(self.take(n)?).map_err(|e| format!("has bad text at byte {at}: {e}"))
    }

    pub(super) fn opt<T>(
        &mut self,
        f: impl FnOnce(&mut Self) -> Result<T, String>,
    ) -> Result<Option<T>, String> {
        if self.bool()? {
            f(self).map(Some)
        } else {
            Ok(None)
        }
    }

    pub(super) fn opt_str(&mut self) -> Result<Option<Arc<str>>, String> {
        self.opt(|r| r.str().map(Arc::from))
    }

    pub(super) fn opt_string(&mut self) -> Result<Option<String>, String> {
        self.opt(|r| r.str().map(str::to_string))
    }

    pub(super) fn market(&mut self) -> Result<Market, String> {
        let id = self.byte()?;
        Market::from_keepa_domain(i64::from(id))
            .ok_or_else(|| format!("has an unknown market id {id}"))
    }

    pub(super) fn money(&mut self) -> Result<Money, String> {
        let minor = self.int()?;
        let currency = match self.byte()? {
            0 => Currency::EUR,
            1 => Currency::GBP,
            c => return Err(format!("has an unknown currency code {c}")),
        };
        Ok(Money::new(minor, currency))
    }

    pub(super) fn time(&mut self) -> Result<DateTime<Utc>, String> {
        let secs = self.int()?;
        let nanos = self.varint()?;
        u32::try_from(nanos)
            .ok()
            .and_then(|n| DateTime::from_timestamp(secs, n))
            .ok_or_else(|| format!("has a time out of range ({secs} s, {nanos} ns)"))
    }
}
