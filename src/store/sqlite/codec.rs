//! How domain values sit in SQLite columns, and how SQLite failures become `StoreError`s.
//!
//! Times are INTEGER microseconds since the Unix epoch (sortable, exact to the microsecond).
//! Markets are their Keepa domain id (2 UK, 3 DE, 4 FR, 8 IT, 9 ES): stable, documented,
//! and ordered like `Market`'s display order, so `ORDER BY market` is the display order.
//!
//! Internal code returns `Fail`, which keeps what was being done; the store adds the file
//! path when it turns a `Fail` into the `StoreError` a caller sees. Anything read back that
//! does not decode is `Corrupt` naming the row: a damaged row is an error, never a panic.

use std::path::Path;

use chrono::{DateTime, Utc};
use rusqlite::ErrorCode;

use crate::domain::Market;
use crate::store::StoreError;

/// A failure inside the SQLite store, before the file path is attached.
#[derive(Debug)]
pub(super) enum Fail {
    /// SQLite refused `doing`.
    Db {
        doing: &'static str,
        err: rusqlite::Error,
    },
    /// A row or the schema does not decode.
    Corrupt(String),
    /// The caller's request is invalid.
    Invalid(String),
    /// The file cannot be used as it is (no WAL, gone); what is wrong and what to do.
    Unavailable(String),
}

/// Result of internal store code.
pub(super) type Res<T> = Result<T, Fail>;

/// Attaches what was being done to a SQLite error.
pub(super) trait Doing<T> {
    /// Wraps the error as `Fail::Db { doing, .. }`.
    fn doing(self, doing: &'static str) -> Res<T>;
}

impl<T> Doing<T> for Result<T, rusqlite::Error> {
    fn doing(self, doing: &'static str) -> Res<T> {
        self.map_err(|err| Fail::Db { doing, err })
    }
}

impl Fail {
    /// The caller-facing error, naming the database file and what to do.
    pub(super) fn into_store(self, path: &Path) -> StoreError {
        let path = path.display();
        match self {
            Fail::Corrupt(what) => StoreError::Corrupt(format!(
                "{path}: {what}; restore a backup or move the file aside to start afresh"
            )),
            Fail::Invalid(what) => StoreError::Invalid(what),
            Fail::Unavailable(what) => StoreError::Unavailable(format!("{path}: {what}")),
            Fail::Db { doing, err } => {
                let code = err.sqlite_error_code();
                match code {
                    Some(ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase) => {
                        StoreError::Corrupt(format!(
                            "{doing} in {path} failed: {err}; restore a backup or move the \
                             file aside to start afresh"
                        ))
                    }
                    Some(ErrorCode::DiskFull) => StoreError::Unavailable(format!(
                        "{doing} in {path} failed: {err}; free disk space and retry"
                    )),
                    Some(ErrorCode::ReadOnly) => StoreError::Unavailable(format!(
                        "{doing} in {path} failed: {err}; the file (or its directory, which \
                         holds its -wal and -shm files) is not writable by this user, which \
                         even reading needs (--read-only refuses changes, it does not open \
                         the file read-only): fix its owner or permissions"
                    )),
                    Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => {
                        StoreError::Unavailable(format!(
                            "{doing} in {path} failed: {err}; another process holds the \
                             database, retry or stop it"
                        ))
                    }
                    Some(_) => StoreError::Unavailable(format!(
                        "{doing} in {path} failed: {err}; check the file, its permissions \
                         and the disk"
                    )),
                    // Not an SQLite error code: a value that did not convert.
                    None => StoreError::Corrupt(format!(
                        "{doing} in {path} failed: {err}; restore a backup or move the file \
                         aside to start afresh"
                    )),
                }
            }
        }
    }
}

/// `sql` prepared (from the connection's cache) for a batch of executions; `what` names it
/// in an error.
pub(super) fn statement<'c>(
    c: &'c rusqlite::Connection,
    sql: &str,
    what: &'static str,
) -> Res<rusqlite::CachedStatement<'c>> {
    c.prepare_cached(sql).doing(what)
}

/// A time as stored: microseconds since the Unix epoch.
pub(super) fn micros(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

/// A stored time back; `what` names the row for the error.
pub(super) fn from_micros(v: i64, what: &dyn Fn() -> String) -> Res<DateTime<Utc>> {
    DateTime::from_timestamp_micros(v)
        .ok_or_else(|| Fail::Corrupt(format!("{}: time {v} is out of range", what())))
}

/// A market as stored: its Keepa domain id.
pub(super) fn market_id(m: Market) -> i64 {
    i64::from(m.keepa_domain())
}

/// A stored market back.
pub(super) fn market_from(v: i64, what: &dyn Fn() -> String) -> Res<Market> {
    Market::from_keepa_domain(v)
        .ok_or_else(|| Fail::Corrupt(format!("{}: market id {v} is unknown", what())))
}

/// The bit of a market in a market bit set (`products.markets`, `watchlist.fetched`): its
/// position in display order.
pub(super) fn market_bit(m: Market) -> i64 {
    let i = Market::ALL.iter().position(|x| *x == m).unwrap_or(0);
    1 << i
}

/// SQL turning a `market` column into its bit, built from `Market::ALL`.
pub(super) fn market_bit_sql(column: &str) -> String {
    let arms: String = Market::ALL
        .iter()
        .map(|m| format!(" WHEN {} THEN {}", market_id(*m), market_bit(*m)))
        .collect();
    format!("(CASE {column}{arms} ELSE 0 END)")
}

/// A `usize` limit or offset as an SQLite integer (saturating: nobody pages past 2^63).
pub(super) fn count_param(v: usize) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// A stored count back (never negative).
pub(super) fn count_from(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

/// JSON of a stored document back; `what` names the row for the error.
pub(super) fn from_json<T: serde::de::DeserializeOwned>(
    text: &str,
    what: &dyn Fn() -> String,
) -> Res<T> {
    serde_json::from_str(text)
        .map_err(|e| Fail::Corrupt(format!("{}: stored JSON does not decode: {e}", what())))
}

/// JSON of a value to store.
pub(super) fn to_json<T: serde::Serialize>(v: &T, what: &dyn Fn() -> String) -> Res<String> {
    serde_json::to_string(v)
        .map_err(|e| Fail::Invalid(format!("{} cannot be stored as JSON: {e}", what())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markets_round_trip_in_display_order() {
        let what = || "test".to_string();
        let ids: Vec<i64> = Market::ALL.iter().map(|m| market_id(*m)).collect();
        let mut sorted = ids.clone();
        sorted.sort_unstable();
        assert_eq!(ids, sorted, "market ids must sort in display order");
        for m in Market::ALL {
            assert_eq!(market_from(market_id(m), &what).unwrap(), m);
        }
        assert!(matches!(market_from(5, &what), Err(Fail::Corrupt(_))));
    }

    #[test]
    fn times_round_trip_and_absurd_ones_are_corrupt() {
        let what = || "row".to_string();
        let t = DateTime::from_timestamp(1_795_586_400, 123_456_000).unwrap();
        assert_eq!(from_micros(micros(t), &what).unwrap(), t);
        let err = from_micros(i64::MAX, &what).unwrap_err();
        assert!(matches!(err, Fail::Corrupt(m) if m.contains("row: time")));
    }

    #[test]
    fn errors_name_the_file_and_what_to_do() {
        let p = Path::new("/data/arbdesk.sqlite");
        let e = Fail::Corrupt("listing B0X:DE: bad".into()).into_store(p);
        assert!(
            matches!(&e, StoreError::Corrupt(m) if m.contains("/data/arbdesk.sqlite")
            && m.contains("restore a backup"))
        );
        let busy = rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_BUSY),
            None,
        );
        let e = Fail::Db {
            doing: "writing listings",
            err: busy,
        }
        .into_store(p);
        assert!(
            matches!(&e, StoreError::Unavailable(m) if m.contains("writing listings")
            && m.contains("retry"))
        );
    }
}
