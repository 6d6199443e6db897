//! Price history at rest: one compact BLOB per (ASIN, market, kind), merged on every upsert.
//!
//! A series is a step function with a point wherever the value changes; Keepa resends the
//! whole 90-day window on every fetch, so the store merges the incoming points into what it
//! has (deduplicated by time, the incoming point winning) and trims what fell out of the
//! retention window, keeping the last point before it so the window's first value is known.
//!
//! The encoding is delta varints: a version byte, a time unit byte (minute, second or
//! millisecond: the coarsest that holds every point exactly, so Keepa's minute stamps take
//! one or two bytes), the point count, then per point the time (zigzag for the first,
//! strictly positive deltas after) and the value (0 for "no offer", else the zigzag delta
//! from the previous value plus one). Times are kept to the millisecond. Decoding checks
//! every byte and never panics: a damaged blob is an error naming nothing but what is wrong,
//! and the caller names the row.

use chrono::{DateTime, TimeDelta, Utc};

use crate::domain::PricePoint;

/// The only encoding version so far.
const VERSION: u8 = 1;

/// Most points kept per series: a safety cap far above Keepa's hourly steps over 90 days.
pub(super) const MAX_POINTS: usize = 20_000;

/// Milliseconds per time unit code.
const UNITS: [(u8, i64); 3] = [(1, 60_000), (2, 1_000), (3, 1)];

/// Encodes points that are sorted by time with no two at the same millisecond.
pub(super) fn encode(points: &[PricePoint]) -> Vec<u8> {
    let ms: Vec<i64> = points.iter().map(|p| p.at.timestamp_millis()).collect();
    let (unit_code, unit_ms) = UNITS
        .into_iter()
        .find(|(_, u)| ms.iter().all(|t| t % u == 0))
        .unwrap_or((3, 1));
    let mut out = Vec::with_capacity(4 + points.len() * 4);
    out.push(VERSION);
    out.push(unit_code);
    put_varint(&mut out, points.len() as u128);
    let (mut prev_t, mut prev_v) = (0i64, 0i64);
    for (i, (p, t)) in points.iter().zip(&ms).enumerate() {
        let t = t / unit_ms;
        if i == 0 {
            put_varint(&mut out, u128::from(zigzag(t)));
        } else {
            put_varint(&mut out, u128::from(t.wrapping_sub(prev_t) as u64));
        }
        prev_t = t;
        match p.value {
            None => put_varint(&mut out, 0),
            Some(v) => {
                put_varint(&mut out, u128::from(zigzag(v.wrapping_sub(prev_v))) + 1);
                prev_v = v;
            }
        }
    }
    out
}

/// Decodes a blob written by `encode`.
pub(super) fn decode(blob: &[u8]) -> Result<Vec<PricePoint>, String> {
    let mut r = Reader { blob, pos: 0 };
    let version = r.byte()?;
    if version != VERSION {
        return Err(format!(
            "history encoding version {version} is unknown (this arbdesk reads {VERSION})"
        ));
    }
    let unit = r.byte()?;
    let unit_ms = UNITS
        .into_iter()
        .find(|(c, _)| *c == unit)
        .map(|(_, ms)| ms)
        .ok_or_else(|| format!("history time unit {unit} is unknown"))?;
    let count = r.varint()?;
    // Each point takes at least two bytes: a count beyond that is a lie, not an allocation.
    let cap = usize::try_from(count)
        .ok()
        .filter(|c| *c <= blob.len() / 2)
        .ok_or_else(|| format!("history claims {count} points in {} bytes", blob.len()))?;
    let mut points = Vec::with_capacity(cap);
    let (mut t, mut prev_v) = (0i64, 0i64);
    for i in 0..cap {
        let raw_t = u64::try_from(r.varint()?).map_err(|_| "history time overflows")?;
        t = if i == 0 {
            unzigzag(raw_t)
        } else if raw_t == 0 {
            return Err(format!(
                "history point {i} repeats the time of the previous one"
            ));
        } else {
            t.checked_add_unsigned(raw_t)
                .ok_or_else(|| format!("history point {i} time overflows"))?
        };
        let at = t
            .checked_mul(unit_ms)
            .and_then(DateTime::<Utc>::from_timestamp_millis)
            .ok_or_else(|| format!("history point {i} time is out of range"))?;
        let value = match r.varint()? {
            0 => None,
            raw => {
                let z = u64::try_from(raw - 1).map_err(|_| "history value overflows")?;
                prev_v = prev_v.wrapping_add(unzigzag(z));
                Some(prev_v)
            }
        };
        points.push(PricePoint { at, value });
    }
    if r.pos != blob.len() {
        return Err(format!("history has {} trailing bytes", blob.len() - r.pos));
    }
    Ok(points)
}

/// Sorts incoming points by time, the later of two at the same millisecond winning.
pub(super) fn normalize(points: &[PricePoint]) -> Vec<PricePoint> {
    let mut v: Vec<PricePoint> = points.to_vec();
    v.sort_by_key(|p| p.at.timestamp_millis());
    let mut out: Vec<PricePoint> = Vec::with_capacity(v.len());
    for p in v {
        let at = truncate_ms(p.at);
        match out.last_mut() {
            Some(last) if last.at == at => last.value = p.value,
            _ => out.push(PricePoint { at, value: p.value }),
        }
    }
    out
}

/// Merges sorted `incoming` into sorted `existing`; at equal times the incoming point wins.
pub(super) fn merge(existing: &[PricePoint], incoming: &[PricePoint]) -> Vec<PricePoint> {
    let mut out = Vec::with_capacity(existing.len() + incoming.len());
    let (mut a, mut b) = (existing.iter().peekable(), incoming.iter().peekable());
    loop {
        match (a.peek(), b.peek()) {
            (Some(x), Some(y)) if x.at < y.at => out.extend(a.next()),
            (Some(x), Some(y)) if x.at == y.at => {
                a.next();
                out.extend(b.next());
            }
            (_, Some(_)) => out.extend(b.next()),
            (Some(_), None) => out.extend(a.next()),
            (None, None) => return out,
        }
    }
}

/// Drops points before `now - days`, keeping the last one before the cutoff (it holds the
/// value at the window's start), then keeps at most `MAX_POINTS` of the newest.
pub(super) fn trim(points: &mut Vec<PricePoint>, now: DateTime<Utc>, days: u32) {
    let first_inside = now
        .checked_sub_signed(TimeDelta::days(i64::from(days)))
        .map_or(0, |cutoff| points.partition_point(|p| p.at < cutoff));
    let keep_from = first_inside
        .saturating_sub(1)
        .max(points.len().saturating_sub(MAX_POINTS));
    points.drain(..keep_from);
}

fn truncate_ms(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(t.timestamp_millis()).unwrap_or(t)
}

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

fn put_varint(out: &mut Vec<u8>, mut v: u128) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
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

    /// A varint of at most 19 bytes (enough for u128; 10 suffice for what is written).
    fn varint(&mut self) -> Result<u128, String> {
        let mut v: u128 = 0;
        for shift in (0..128).step_by(7) {
            let b = self.byte()?;
            v |= u128::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(format!("history varint too long at byte {}", self.pos))
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
        let blob = encode(&pts);
        assert!(blob.len() < 4 + 100 * 3, "{} bytes", blob.len());
        assert_eq!(decode(&blob).unwrap(), pts);
        assert_eq!(decode(&encode(&[])).unwrap(), vec![]);
    }

    #[test]
    fn merge_dedupes_by_time_with_incoming_winning() {
        let old = vec![pt(1, Some(10)), pt(2, Some(20)), pt(4, None)];
        let new = normalize(&[
            pt(4, Some(40)),
            pt(2, Some(21)),
            pt(3, Some(30)),
            pt(3, Some(31)),
        ]);
        assert_eq!(
            merge(&old, &new),
            vec![
                pt(1, Some(10)),
                pt(2, Some(21)),
                pt(3, Some(31)),
                pt(4, Some(40))
            ]
        );
        assert_eq!(merge(&old, &old), old);
    }

    #[test]
    fn trim_keeps_the_value_at_the_window_start() {
        let day = 24 * 60;
        let mut pts = vec![pt(0, Some(1)), pt(day, Some(2)), pt(5 * day, Some(3))];
        let now = pt(10 * day, None).at;
        trim(&mut pts, now, 7);
        assert_eq!(pts, vec![pt(day, Some(2)), pt(5 * day, Some(3))]);
        let mut all_old = vec![pt(0, Some(1)), pt(1, Some(2))];
        trim(&mut all_old, now, 7);
        assert_eq!(all_old, vec![pt(1, Some(2))]);
    }

    #[test]
    fn damaged_blobs_are_errors() {
        let good = encode(&[pt(5, Some(1)), pt(6, Some(2))]);
        for cut in 0..good.len() {
            assert!(decode(&good[..cut]).is_err(), "cut at {cut}");
        }
        let mut trailing = good.clone();
        trailing.push(0);
        assert!(decode(&trailing).unwrap_err().contains("trailing"));
        assert!(decode(&[9, 1, 0]).unwrap_err().contains("version 9"));
        assert!(decode(&[1, 7, 0]).unwrap_err().contains("unit 7"));
        assert!(
            decode(&[1, 1, 0xff, 0xff, 0xff, 0x0f])
                .unwrap_err()
                .contains("claims")
        );
        // A zero time delta would be a duplicate point.
        assert!(
            decode(&[1, 1, 2, 2, 0, 0, 0])
                .unwrap_err()
                .contains("repeats")
        );
    }

    proptest! {
        #[test]
        fn any_sorted_series_round_trips(
            start in -10_000_000_000_000i64..10_000_000_000_000,
            steps in proptest::collection::vec((1i64..10_000_000, proptest::option::of(any::<i64>())), 0..60),
        ) {
            let mut t = start;
            let mut pts = Vec::new();
            for (dt, v) in steps {
                t += dt;
                pts.push(PricePoint { at: DateTime::from_timestamp_millis(t).unwrap(), value: v });
            }
            prop_assert_eq!(decode(&encode(&pts)).unwrap(), pts);
        }

        #[test]
        fn decoding_garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = decode(&bytes);
        }
    }
}
