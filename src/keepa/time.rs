//! Keepa time: minutes since 2011-01-01T00:00:00Z.
//!
//! Keepa stamps history points and `lastUpdate` in "Keepa minutes", an offset of
//! 21,564,000 minutes from the Unix epoch (`helper/KeepaTime.java` in Keepa's Java client).
//! The response envelope's `timestamp` is Unix milliseconds, not Keepa minutes.

use chrono::{DateTime, Utc};

/// Minutes between the Unix epoch and the Keepa epoch.
pub const KEEPA_EPOCH_OFFSET_MIN: i64 = 21_564_000;

/// Keepa minutes to Unix milliseconds.
pub const fn keepa_to_unix_ms(keepa_min: i64) -> i64 {
    (keepa_min + KEEPA_EPOCH_OFFSET_MIN) * 60_000
}

/// Unix milliseconds to Keepa minutes (floored to the minute).
pub const fn unix_ms_to_keepa(unix_ms: i64) -> i64 {
    unix_ms.div_euclid(60_000) - KEEPA_EPOCH_OFFSET_MIN
}

/// Keepa minutes to a UTC timestamp; `None` when out of chrono's range.
pub fn keepa_to_utc(keepa_min: i64) -> Option<DateTime<Utc>> {
    let ms = keepa_min
        .checked_add(KEEPA_EPOCH_OFFSET_MIN)?
        .checked_mul(60_000)?;
    DateTime::from_timestamp_millis(ms)
}

/// A UTC timestamp to Keepa minutes.
pub fn utc_to_keepa(t: DateTime<Utc>) -> i64 {
    unix_ms_to_keepa(t.timestamp_millis())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keepas_own_example() {
        let t = keepa_to_utc(411_180).unwrap();
        assert_eq!(t.to_rfc3339(), "2011-10-13T13:00:00+00:00");
        assert_eq!(utc_to_keepa(t), 411_180);
    }

    #[test]
    fn worked_example_of_the_reference() {
        assert_eq!(
            keepa_to_utc(8_362_421).unwrap().to_rfc3339(),
            "2026-11-25T05:41:00+00:00"
        );
        assert_eq!(unix_ms_to_keepa(1_795_586_400_000), 8_362_440);
        assert_eq!(keepa_to_unix_ms(8_362_440), 1_795_586_400_000);
    }

    #[test]
    fn absurd_minutes_do_not_panic() {
        assert_eq!(keepa_to_utc(i64::MAX), None);
        assert_eq!(keepa_to_utc(i64::MIN), None);
    }
}
