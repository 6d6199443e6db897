//! When to fetch the ECB file: `fx.fetch_after = "16:30 Europe/Berlin"`.
//!
//! The ECB publishes around 16:00 CET on TARGET working days. Rather than pull in a time-zone
//! database for one setting, the zones accepted are UTC, the UK and the central-European
//! zones, whose summer time follows the one EU rule (last Sunday of March to last Sunday of
//! October, switching at 01:00 UTC). A fetch is due on a weekday once local time has passed
//! the configured time and no attempt was made since; holidays simply return yesterday's
//! file, which is harmless.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, TimeZone, Utc, Weekday};

/// A parsed `fetch_after`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FetchSchedule {
    /// Local time of day after which the day's rate is fetched.
    pub after: NaiveTime,
    /// Standard offset from UTC in hours (0 for UTC and the UK, 1 for CET).
    pub standard_offset_h: i64,
    /// Whether EU summer time applies.
    pub summer_time: bool,
}

const CET_ZONES: [&str; 9] = [
    "Europe/Berlin",
    "Europe/Paris",
    "Europe/Rome",
    "Europe/Madrid",
    "Europe/Amsterdam",
    "Europe/Brussels",
    "Europe/Vienna",
    "Europe/Luxembourg",
    "CET",
];

impl FetchSchedule {
    /// Parses `HH:MM Zone`; `None` when the time or the zone is not understood.
    pub fn parse(s: &str) -> Option<Self> {
        let mut parts = s.split_whitespace();
        let (time, zone) = (parts.next()?, parts.next()?);
        if parts.next().is_some() {
            return None;
        }
        let after = NaiveTime::parse_from_str(time, "%H:%M").ok()?;
        let (standard_offset_h, summer_time) = match zone {
            "UTC" | "Etc/UTC" => (0, false),
            "Europe/London" => (0, true),
            z if CET_ZONES.contains(&z) => (1, true),
            _ => return None,
        };
        Some(FetchSchedule {
            after,
            standard_offset_h,
            summer_time,
        })
    }

    /// The zones `parse` accepts, for error messages.
    pub fn accepted_zones() -> String {
        let mut z = vec!["UTC", "Europe/London"];
        z.extend(CET_ZONES);
        z.join(", ")
    }

    /// Local wall-clock time at `now`.
    fn local(&self, now: DateTime<Utc>) -> chrono::NaiveDateTime {
        let summer = self.summer_time && in_eu_summer_time(now);
        let offset = self.standard_offset_h + i64::from(summer);
        now.naive_utc() + Duration::hours(offset)
    }

    /// Whether a fetch is due at `now`, given the last attempt (successful or not).
    pub fn due(&self, now: DateTime<Utc>, last_attempt: Option<DateTime<Utc>>) -> bool {
        let local = self.local(now);
        if matches!(local.weekday(), Weekday::Sat | Weekday::Sun) || local.time() < self.after {
            return false;
        }
        match last_attempt {
            None => true,
            Some(last) => {
                let l = self.local(last);
                l.date() < local.date() || l.time() < self.after
            }
        }
    }
}

impl FetchSchedule {
    /// The first time after `last_attempt` at which a fetch is due: the configured time on
    /// the next weekday (today's, if `last_attempt` was before it).
    pub fn next_due(&self, last_attempt: DateTime<Utc>) -> DateTime<Utc> {
        let from = self.local(last_attempt).date();
        for days in 0..8 {
            let day = from + Duration::days(days);
            if matches!(day.weekday(), Weekday::Sat | Weekday::Sun) {
                continue;
            }
            let local = day.and_time(self.after);
            // The offset in force then: the standard one, plus an hour in EU summer time
            // (judged at the standard-time instant; the switches are at 01:00 UTC on
            // Sundays, far from any working-day fetch time).
            let standard =
                Utc.from_utc_datetime(&(local - Duration::hours(self.standard_offset_h)));
            let summer = self.summer_time && in_eu_summer_time(standard);
            let at = standard - Duration::hours(i64::from(summer));
            if at > last_attempt {
                return at;
            }
        }
        // Unreachable with a week of candidates; a day later is a safe answer anyway.
        last_attempt + Duration::days(1)
    }
}

/// EU summer time: from the last Sunday of March to the last Sunday of October, 01:00 UTC.
fn in_eu_summer_time(now: DateTime<Utc>) -> bool {
    let year = now.year();
    match (last_sunday_1am(year, 3), last_sunday_1am(year, 10)) {
        (Some(start), Some(end)) => now >= start && now < end,
        _ => false,
    }
}

fn last_sunday_1am(year: i32, month: u32) -> Option<DateTime<Utc>> {
    let last = NaiveDate::from_ymd_opt(year, month + 1, 1)?.pred_opt()?;
    let back = i64::from(last.weekday().num_days_from_sunday());
    let sunday = last - Duration::days(back);
    Some(Utc.from_utc_datetime(&sunday.and_hms_opt(1, 0, 0)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn berlin_follows_summer_time() {
        let s = FetchSchedule::parse("16:30 Europe/Berlin").unwrap();
        // Tuesday 2026-11-24, CET (UTC+1): 15:29 UTC is 16:29 local.
        assert!(!s.due(at("2026-11-24T15:29:00Z"), None));
        assert!(s.due(at("2026-11-24T15:31:00Z"), None));
        // Summer (UTC+2): 14:31 UTC is 16:31 local.
        assert!(s.due(at("2026-07-14T14:31:00Z"), None));
        assert!(!s.due(at("2026-07-14T14:29:00Z"), None));
        // Already tried after today's publication; not again until tomorrow.
        assert!(!s.due(at("2026-11-24T18:00:00Z"), Some(at("2026-11-24T15:40:00Z"))));
        assert!(s.due(at("2026-11-25T15:40:00Z"), Some(at("2026-11-24T15:40:00Z"))));
        // Saturday: never.
        assert!(!s.due(at("2026-11-28T17:00:00Z"), None));
    }

    #[test]
    fn the_next_fetch_is_the_configured_time_of_the_next_working_day() {
        let s = FetchSchedule::parse("16:30 Europe/Berlin").unwrap();
        for (last, next) in [
            // Tuesday before publication: today, 16:30 CET = 15:30 UTC.
            ("2026-11-24T09:00:00Z", "2026-11-24T15:30:00Z"),
            // Tuesday after it: Wednesday.
            ("2026-11-24T15:40:00Z", "2026-11-25T15:30:00Z"),
            // Friday evening and Saturday: Monday.
            ("2026-11-27T18:00:00Z", "2026-11-30T15:30:00Z"),
            ("2026-11-28T12:00:00Z", "2026-11-30T15:30:00Z"),
            // Summer: 16:30 CEST = 14:30 UTC.
            ("2026-07-14T08:00:00Z", "2026-07-14T14:30:00Z"),
        ] {
            assert_eq!(s.next_due(at(last)), at(next), "after {last}");
        }
        // Every answer is due, and nothing before it since the attempt is.
        for last in [
            "2026-03-27T16:00:00Z",
            "2026-10-23T16:00:00Z",
            "2026-12-31T23:59:00Z",
        ] {
            let next = s.next_due(at(last));
            assert!(s.due(next, Some(at(last))), "{last} → {next}");
            assert!(
                !s.due(next - Duration::minutes(1), Some(at(last))),
                "{last} → {next}"
            );
        }
        let utc = FetchSchedule::parse("17:00 UTC").unwrap();
        assert_eq!(
            utc.next_due(at("2026-07-14T17:00:00Z")),
            at("2026-07-15T17:00:00Z")
        );
    }

    #[test]
    fn rejects_unknown_zones_and_times() {
        assert!(FetchSchedule::parse("16:30 Mars/Olympus").is_none());
        assert!(FetchSchedule::parse("25:30 Europe/Berlin").is_none());
        assert!(FetchSchedule::parse("16:30").is_none());
        assert!(FetchSchedule::parse("16:30 UTC").is_some());
    }
}
