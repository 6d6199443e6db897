//! Price history at rest: one compact BLOB per (ASIN, market) holding every kind's series,
//! merged on every upsert.
//!
//! A series is a step function with a point wherever the value changes; Keepa resends the
//! whole 90-day window on every fetch, so the store merges the incoming points into what it
//! has (deduplicated by time, the incoming point winning) and trims what fell out of the
//! retention window, keeping the last point before it so the window's first value is known.
//!
//! One blob per listing rather than one per kind: the listing row is read and written once
//! per upsert anyway, and four rows per listing cost four lookups and four writes each time.
//!
//! Layout: a version byte and the series count, then per series (kinds ascending) the kind
//! (Keepa's csv index: 0 Amazon, 1 New, 3 sales rank, 18 Buy Box), a time unit (minute,
//! second or millisecond: the coarsest that holds every point exactly, so Keepa's minute
//! stamps take one or two bytes), the point count, and per point a varint of the time
//! (zigzag for the first, strictly positive deltas after) shifted left with a "no offer" flag
//! in bit 0, followed, when there is an offer, by the zigzag delta from the previous value.
//! Times are kept to the millisecond. Decoding checks every byte and never panics: a damaged
//! blob is an error saying what is wrong, and the caller names the row.

use chrono::{DateTime, Utc};

use super::varint;
use crate::domain::{Market, PricePoint, PriceSeries, SeriesKind};

/// One point as the store handles it: Unix milliseconds and the value. Merging, trimming
/// and encoding work on these, so the write path never builds a calendar date.
pub(crate) type Step = (i64, Option<i64>);

/// One kind's points, sorted by time with no two at the same millisecond.
pub(crate) type Series = (SeriesKind, Vec<Step>);

/// The only encoding version so far.
const VERSION: u8 = 1;

/// Most points kept per series: a safety cap far above Keepa's hourly steps over 90 days.
pub(crate) const MAX_POINTS: usize = 20_000;

/// Milliseconds per time unit code.
const UNITS: [(u8, i64); 3] = [(1, 60_000), (2, 1_000), (3, 1)];

const DAY_MS: i64 = 86_400_000;

/// The stored code of a kind: its Keepa csv index, ordered like `SeriesKind`.
pub(crate) fn kind_code(k: SeriesKind) -> u8 {
    match k {
        SeriesKind::Amazon => 0,
        SeriesKind::New => 1,
        SeriesKind::SalesRank => 3,
        SeriesKind::BuyBox => 18,
    }
}

fn kind_from_code(c: u8) -> Option<SeriesKind> {
    match c {
        0 => Some(SeriesKind::Amazon),
        1 => Some(SeriesKind::New),
        3 => Some(SeriesKind::SalesRank),
        18 => Some(SeriesKind::BuyBox),
        _ => None,
    }
}

/// Incoming points as steps sorted by time, the later of two at the same millisecond
/// winning. Keepa's points are already sorted and distinct, which costs one pass.
pub(crate) fn steps(points: &[PricePoint]) -> Vec<Step> {
    let mut v: Vec<Step> = points
        .iter()
        .map(|p| (p.at.timestamp_millis(), p.value))
        .collect();
    if v.windows(2).all(|w| w[0].0 < w[1].0) {
        return v;
    }
    v.sort_by_key(|s| s.0);
    let mut out: Vec<Step> = Vec::with_capacity(v.len());
    for s in v {
        match out.last_mut() {
            Some(last) if last.0 == s.0 => last.1 = s.1,
            _ => out.push(s),
        }
    }
    out
}

/// Steps back as points; `None` if a time is beyond what a timestamp can hold.
pub(crate) fn points(steps: &[Step]) -> Option<Vec<PricePoint>> {
    steps
        .iter()
        .map(|(t, value)| {
            Some(PricePoint {
                at: DateTime::<Utc>::from_timestamp_millis(*t)?,
                value: *value,
            })
        })
        .collect()
}

/// The stored blob of one listing with `incoming` series merged in and trimmed to `days`
/// before `now`. A damaged stored blob is replaced by the incoming points (the reason is
/// returned for a warning) rather than blocking the listing.
pub(crate) fn merge_blob(
    stored: Option<&[u8]>,
    incoming: &[PriceSeries],
    now: DateTime<Utc>,
    days: u32,
) -> (Vec<u8>, Option<String>) {
    let (mut all, damage) = match stored.map(decode) {
        None => (Vec::new(), None),
        Some(Ok(all)) => (all, None),
        Some(Err(reason)) => (Vec::new(), Some(reason)),
    };
    for series in incoming {
        merge_into(&mut all, series.kind, steps(&series.points));
    }
    for (_, steps) in &mut all {
        trim(steps, now, days);
    }
    (encode(&all), damage)
}

/// The series of one market's stored blob, kinds ascending.
pub(crate) fn series_of(market: Market, blob: &[u8]) -> Result<Vec<PriceSeries>, String> {
    let mut out = Vec::new();
    for (kind, steps) in decode(blob)? {
        let points = points(&steps).ok_or("a time is out of range")?;
        out.push(PriceSeries {
            market,
            kind,
            points,
        });
    }
    Ok(out)
}

/// Merges `incoming` points of `kind` into `all` (kept sorted by kind).
pub(crate) fn merge_into(all: &mut Vec<Series>, kind: SeriesKind, incoming: Vec<Step>) {
    match all.binary_search_by_key(&kind, |(k, _)| *k) {
        Ok(i) => all[i].1 = merge(&all[i].1, &incoming),
        Err(i) => all.insert(i, (kind, incoming)),
    }
}

/// Encodes series sorted by kind; empty series are left out.
pub(crate) fn encode(all: &[Series]) -> Vec<u8> {
    let present: Vec<&Series> = all.iter().filter(|(_, s)| !s.is_empty()).collect();
    let points: usize = present.iter().map(|(_, s)| s.len()).sum();
    let mut out = Vec::with_capacity(2 + present.len() * 4 + points * 3);
    out.push(VERSION);
    varint::put(&mut out, present.len() as u64);
    for (kind, steps) in present {
        out.push(kind_code(*kind));
        encode_series(&mut out, steps);
    }
    out
}

fn encode_series(out: &mut Vec<u8>, steps: &[Step]) {
    // Constant divisors, so the per-point division is a multiplication.
    if steps.iter().all(|(t, _)| t % 60_000 == 0) {
        encode_points::<1, 60_000>(out, steps);
    } else if steps.iter().all(|(t, _)| t % 1_000 == 0) {
        encode_points::<2, 1_000>(out, steps);
    } else {
        encode_points::<3, 1>(out, steps);
    }
}

fn encode_points<const CODE: u8, const UNIT_MS: i64>(out: &mut Vec<u8>, steps: &[Step]) {
    out.push(CODE);
    varint::put(out, steps.len() as u64);
    let (mut prev_t, mut prev_v) = (0i64, 0i64);
    for (i, (t, value)) in steps.iter().enumerate() {
        let t = t / UNIT_MS;
        // Valid timestamps are below 2^53 ms, so the shift never loses a bit.
        let time = if i == 0 {
            varint::zigzag(t)
        } else {
            t.wrapping_sub(prev_t) as u64
        };
        prev_t = t;
        varint::put(out, time << 1 | u64::from(value.is_none()));
        if let Some(v) = value {
            varint::put(out, varint::zigzag(v.wrapping_sub(prev_v)));
            prev_v = *v;
        }
    }
}

/// Decodes a blob written by `encode`; every time is a valid timestamp.
pub(crate) fn decode(blob: &[u8]) -> Result<Vec<Series>, String> {
    let mut r = Reader { blob, pos: 0 };
    let version = r.byte()?;
    if version != VERSION {
        return Err(format!(
            "history encoding version {version} is unknown (this arbdesk reads {VERSION})"
        ));
    }
    let n = r.varint()?;
    if n > 4 {
        return Err(format!("history claims {n} series; there are 4 kinds"));
    }
    let mut all: Vec<Series> = Vec::with_capacity(n as usize);
    for _ in 0..n {
        let code = r.byte()?;
        let kind = kind_from_code(code).ok_or_else(|| format!("history kind {code} is unknown"))?;
        if all.last().is_some_and(|(k, _)| *k >= kind) {
            return Err(format!("history kind {code} is out of order"));
        }
        all.push((kind, decode_series(&mut r)?));
    }
    if r.pos != blob.len() {
        return Err(format!("history has {} trailing bytes", blob.len() - r.pos));
    }
    Ok(all)
}

fn decode_series(r: &mut Reader<'_>) -> Result<Vec<Step>, String> {
    let unit = r.byte()?;
    let unit_ms = UNITS
        .into_iter()
        .find(|(c, _)| *c == unit)
        .map(|(_, ms)| ms)
        .ok_or_else(|| format!("history time unit {unit} is unknown"))?;
    let count = r.varint()?;
    // Each point takes at least a byte: a count beyond that is a lie, not an allocation.
    let left = r.blob.len() - r.pos;
    let cap = usize::try_from(count)
        .ok()
        .filter(|c| *c <= left)
        .ok_or_else(|| format!("history claims {count} points in {left} bytes"))?;
    let range =
        DateTime::<Utc>::MIN_UTC.timestamp_millis()..=DateTime::<Utc>::MAX_UTC.timestamp_millis();
    let mut steps = Vec::with_capacity(cap);
    let (mut t, mut prev_v) = (0i64, 0i64);
    for i in 0..cap {
        let raw = r.varint()?;
        let (time, none) = (raw >> 1, raw & 1 == 1);
        t = if i == 0 {
            varint::unzigzag(time)
        } else if time == 0 {
            return Err(format!(
                "history point {i} repeats the time of the previous one"
            ));
        } else {
            t.checked_add_unsigned(time)
                .ok_or_else(|| format!("history point {i} time overflows"))?
        };
        let ms = t
            .checked_mul(unit_ms)
            .filter(|ms| range.contains(ms))
            .ok_or_else(|| format!("history point {i} time is out of range"))?;
        let value = if none {
            None
        } else {
            prev_v = prev_v.wrapping_add(varint::unzigzag(r.varint()?));
            Some(prev_v)
        };
        steps.push((ms, value));
    }
    Ok(steps)
}

/// Merges sorted `incoming` into sorted `existing`; at equal times the incoming step wins.
pub(crate) fn merge(existing: &[Step], incoming: &[Step]) -> Vec<Step> {
    let mut out = Vec::with_capacity(existing.len() + incoming.len());
    let (mut a, mut b) = (existing.iter().peekable(), incoming.iter().peekable());
    loop {
        match (a.peek(), b.peek()) {
            (Some(x), Some(y)) if x.0 < y.0 => out.extend(a.next()),
            (Some(x), Some(y)) if x.0 == y.0 => {
                a.next();
                out.extend(b.next());
            }
            (_, Some(_)) => out.extend(b.next()),
            (Some(_), None) => out.extend(a.next()),
            (None, None) => return out,
        }
    }
}

/// Drops steps before `now - days`, keeping the last one before the cutoff (it holds the
/// value at the window's start), then keeps at most `MAX_POINTS` of the newest.
pub(crate) fn trim(steps: &mut Vec<Step>, now: DateTime<Utc>, days: u32) {
    let cutoff = now
        .timestamp_millis()
        .saturating_sub(i64::from(days).saturating_mul(DAY_MS));
    let first_inside = steps.partition_point(|s| s.0 < cutoff);
    let keep_from = first_inside
        .saturating_sub(1)
        .max(steps.len().saturating_sub(MAX_POINTS));
    steps.drain(..keep_from);
}

struct Reader<'a> {
    blob: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn byte(&mut self) -> Result<u8, String> {
        let b = *self
            .blob
            .get(self.pos)
            .ok_or_else(|| format!("history is truncated at byte {}", self.pos))?;
        self.pos += 1;
        Ok(b)
    }

    /// A varint of at most 10 bytes.
    fn varint(&mut self) -> Result<u64, String> {
        varint::read(self.blob, &mut self.pos).map_err(|e| match e {
            varint::Bad::Truncated => format!("history is truncated at byte {}", self.pos),
            varint::Bad::TooLong => format!("history varint too long at byte {}", self.pos),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn pt(min: i64, v: Option<i64>) -> PricePoint {
        PricePoint {
            at: DateTime::from_timestamp(min * 60, 0).unwrap(),
            value: v,
        }
    }

    fn st(min: i64, v: Option<i64>) -> Step {
        (min * 60_000, v)
    }

    #[test]
    fn keepa_minute_steps_take_few_bytes_and_round_trip() {
        let base = 29_000_000; // minutes since 1970, ~2025
        let pts: Vec<PricePoint> = (0..100)
            .map(|i| {
                pt(
                    base + i * 60,
                    if i % 10 == 9 { None } else { Some(1999 + i) },
                )
            })
            .collect();
        let all = vec![
            (SeriesKind::New, steps(&pts)),
            (SeriesKind::BuyBox, steps(&pts[..3])),
        ];
        let blob = encode(&all);
        assert!(blob.len() < 4 + 103 * 3, "{} bytes", blob.len());
        let back = decode(&blob).unwrap();
        assert_eq!(back, all);
        assert_eq!(points(&back[0].1).unwrap(), pts);
        let empty = encode(&[(SeriesKind::Amazon, vec![])]);
        assert_eq!(decode(&empty).unwrap(), vec![], "empty series are left out");
    }

    #[test]
    fn incoming_points_are_sorted_and_the_last_of_a_millisecond_wins() {
        let at = |ms| DateTime::from_timestamp_millis(ms).unwrap();
        let nanos = at(5)
            .checked_add_signed(chrono::TimeDelta::nanoseconds(300))
            .unwrap();
        let raw = [
            PricePoint {
                at: at(9),
                value: Some(1),
            },
            PricePoint {
                at: at(5),
                value: Some(2),
            },
            PricePoint {
                at: nanos,
                value: Some(3),
            },
        ];
        assert_eq!(steps(&raw), vec![(5, Some(3)), (9, Some(1))]);
    }

    #[test]
    fn merge_dedupes_by_time_with_incoming_winning() {
        let old = vec![st(1, Some(10)), st(2, Some(20)), st(4, None)];
        let new = vec![st(2, Some(21)), st(3, Some(31)), st(4, Some(40))];
        assert_eq!(
            merge(&old, &new),
            vec![
                st(1, Some(10)),
                st(2, Some(21)),
                st(3, Some(31)),
                st(4, Some(40))
            ]
        );
        assert_eq!(merge(&old, &old), old);
        let mut all = vec![(SeriesKind::BuyBox, old.clone())];
        merge_into(&mut all, SeriesKind::New, new.clone());
        merge_into(&mut all, SeriesKind::BuyBox, new);
        assert_eq!(all[0].0, SeriesKind::New, "kinds stay sorted");
        assert_eq!(all[1].1.len(), 4);
    }

    #[test]
    fn trim_keeps_the_value_at_the_window_start() {
        let day = 24 * 60;
        let mut s = vec![st(0, Some(1)), st(day, Some(2)), st(5 * day, Some(3))];
        let now = pt(10 * day, None).at;
        trim(&mut s, now, 7);
        assert_eq!(s, vec![st(day, Some(2)), st(5 * day, Some(3))]);
        let mut all_old = vec![st(0, Some(1)), st(1, Some(2))];
        trim(&mut all_old, now, 7);
        assert_eq!(all_old, vec![st(1, Some(2))]);
        let mut many: Vec<Step> = (0..MAX_POINTS as i64 + 5).map(|i| (i, Some(i))).collect();
        trim(&mut many, DateTime::from_timestamp_millis(0).unwrap(), 1);
        assert_eq!(many.len(), MAX_POINTS);
        assert_eq!(many[0], (5, Some(5)), "the newest are kept");
    }

    #[test]
    fn damaged_blobs_are_errors() {
        let good = encode(&[(SeriesKind::New, vec![st(5, Some(1)), st(6, Some(2))])]);
        for cut in 0..good.len() {
            assert!(decode(&good[..cut]).is_err(), "cut at {cut}");
        }
        let mut trailing = good.clone();
        trailing.push(0);
        assert!(decode(&trailing).unwrap_err().contains("trailing"));
        assert!(decode(&[9, 0]).unwrap_err().contains("version 9"));
        assert!(decode(&[1, 5]).unwrap_err().contains("5 series"));
        assert!(decode(&[1, 1, 7, 1, 0]).unwrap_err().contains("kind 7"));
        assert!(
            decode(&[1, 2, 1, 1, 0, 1, 1, 0])
                .unwrap_err()
                .contains("out of order")
        );
        assert!(decode(&[1, 1, 1, 7, 0]).unwrap_err().contains("unit 7"));
        assert!(
            decode(&[1, 1, 1, 1, 0xff, 0x0f])
                .unwrap_err()
                .contains("claims")
        );
        // A zero time delta would be a duplicate point.
        assert!(
            decode(&[1, 1, 1, 1, 2, 4, 1, 1])
                .unwrap_err()
                .contains("repeats")
        );
        // A time beyond any timestamp.
        let far = encode(&[(SeriesKind::New, vec![(i64::MAX / 60_000 * 60_000, None)])]);
        assert!(decode(&far).is_err());
    }

    proptest! {
        #[test]
        fn any_sorted_series_round_trips(
            start in -8_000_000_000_000_000i64..8_000_000_000_000_000,
            deltas in proptest::collection::vec((1i64..10_000_000, proptest::option::of(any::<i64>())), 0..60),
        ) {
            let mut t = start;
            let mut s = Vec::new();
            for (dt, v) in deltas {
                t = (t + dt).min(8_200_000_000_000_000);
                if s.last().is_some_and(|(l, _)| *l >= t) {
                    break;
                }
                s.push((t, v));
            }
            let all = vec![(SeriesKind::SalesRank, s)];
            let back = decode(&encode(&all)).unwrap();
            if all[0].1.is_empty() {
                prop_assert!(back.is_empty());
            } else {
                prop_assert_eq!(back, all);
            }
        }

        #[test]
        fn decoding_garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = decode(&bytes);
        }
    }
}
