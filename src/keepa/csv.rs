//! Decoding Keepa's `csv` history arrays.
//!
//! Each `csv[i]` is a flat integer array: pairs `[t, v, t, v, …]` for most types, triples
//! `[t, price, shipping, …]` for the "with shipping" types (7, 18–29, 32). Times are Keepa
//! minutes, ascending; a value holds until the next point; −1 means no offer. For triples
//! the landed price is `price + max(shipping, 0)`, computed only when `price ≥ 0`.

/// Index of Amazon's own offer history.
pub const AMAZON: usize = 0;
/// Index of the lowest New offer history.
pub const NEW: usize = 1;
/// Index of the sales-rank history.
pub const SALES: usize = 3;
/// Index of the New offer count history.
pub const COUNT_NEW: usize = 11;
/// Updates of the extra offer information; negative when more offers existed than were
/// fetched (keepa-api.md §10), so the one type whose values go below −2.
pub const EXTRA_INFO_UPDATES: usize = 15;
/// Index of the New Buy Box history, landed (triples).
pub const BUY_BOX_SHIPPING: usize = 18;
/// Index of the New FBA offer count (Amazon's offer included).
pub const COUNT_NEW_FBA: usize = 34;
/// Index of the New FBM offer count.
pub const COUNT_NEW_FBM: usize = 35;

/// Largest plausible price in minor units (1,000,000.00); anything above is corrupt data.
pub const MAX_PRICE_MINOR: i64 = 100_000_000;
/// Largest plausible sales rank or count.
pub const MAX_RANK: i64 = 1_000_000_000;
/// Largest plausible Keepa minute (the year 2087); anything above is corrupt data.
pub const MAX_KEEPA_MINUTE: i64 = 40_000_000;

/// How a csv type is laid out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// `[t, v, …]`.
    Pairs,
    /// `[t, price, shipping, …]`.
    Triples,
}

/// The layout of csv type `index`.
pub const fn layout(index: usize) -> Layout {
    match index {
        7 | 18..=29 | 32 => Layout::Triples,
        _ => Layout::Pairs,
    }
}

/// Whether csv type `index` holds money (as opposed to ranks, counts or ratings).
pub const fn is_price(index: usize) -> bool {
    !matches!(index, 3 | 11..=17 | 34 | 35)
}

/// One decoded history point: `value` holds from `minute` on; `None` is no offer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Point {
    /// Keepa minute.
    pub minute: i64,
    /// Minor units (landed for triples), rank or count.
    pub value: Option<i64>,
}

/// What is wrong with a csv array.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CsvError {
    /// Length is not a multiple of 2 (pairs) or 3 (triples).
    #[error("length {len} is not a multiple of {stride}")]
    Length {
        /// Array length.
        len: usize,
        /// Expected stride.
        stride: usize,
    },
    /// A time is outside Keepa's range or goes backwards.
    #[error("time {minute} at position {pos} {why}")]
    Time {
        /// Offending Keepa minute.
        minute: i64,
        /// Position in the array.
        pos: usize,
        /// What is wrong with it.
        why: &'static str,
    },
    /// A value is implausible (e.g. a price of more than 1,000,000.00 or below −2).
    #[error("value {value} at position {pos} is outside {min} to {max} (-1 and -2 mean no data)")]
    Value {
        /// Offending value.
        value: i64,
        /// Position in the array.
        pos: usize,
        /// The smallest plausible value of this kind.
        min: i64,
        /// The largest plausible value of this kind.
        max: i64,
    },
}

/// Decodes csv type `index` into points, validating layout, times and values.
pub fn decode(index: usize, raw: &[i64]) -> Result<Vec<Point>, CsvError> {
    let mut out = Vec::with_capacity(raw.len() / stride(index));
    visit(index, raw, |p| out.push(p))?;
    Ok(out)
}

/// Validates csv type `index` as [`decode`] does, handing each point to `each` instead of
/// collecting them; returns the last point. Arrays a listing keeps nothing of but their
/// last value are checked this way without a copy.
pub fn visit(
    index: usize,
    raw: &[i64],
    mut each: impl FnMut(Point),
) -> Result<Option<Point>, CsvError> {
    let stride = stride(index);
    if !raw.len().is_multiple_of(stride) {
        return Err(CsvError::Length {
            len: raw.len(),
            stride,
        });
    }
    let max = if is_price(index) {
        MAX_PRICE_MINOR
    } else {
        MAX_RANK
    };
    let min = if index == EXTRA_INFO_UPDATES {
        -max
    } else {
        -2
    };
    let mut last = None;
    let mut last_minute = i64::MIN;
    for (k, chunk) in raw.chunks_exact(stride).enumerate() {
        let pos = k * stride;
        let minute = chunk[0];
        if !(0..=MAX_KEEPA_MINUTE).contains(&minute) {
            let why = "is outside Keepa's minutes (0 to 40000000)";
            return Err(CsvError::Time { minute, pos, why });
        }
        if minute < last_minute {
            let why = "is before the time at the previous point";
            return Err(CsvError::Time { minute, pos, why });
        }
        last_minute = minute;
        let v = chunk[1];
        if !(min..=max).contains(&v) {
            return Err(CsvError::Value {
                value: v,
                pos: pos + 1,
                min,
                max,
            });
        }
        let value = match chunk.get(2) {
            Some(&ship) => {
                if !(-2..=max).contains(&ship) {
                    return Err(CsvError::Value {
                        value: ship,
                        pos: pos + 2,
                        min: -2,
                        max,
                    });
                }
                (v >= 0).then(|| v + ship.max(0))
            }
            None => (v >= 0).then_some(v),
        };
        let point = Point { minute, value };
        each(point);
        last = Some(point);
    }
    Ok(last)
}

/// Values per point of csv type `index`.
const fn stride(index: usize) -> usize {
    match layout(index) {
        Layout::Pairs => 2,
        Layout::Triples => 3,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_and_missing_values() {
        let p = decode(AMAZON, &[100, 7999, 200, -1, 300, 7499]).unwrap();
        assert_eq!(p.len(), 3);
        assert_eq!(p[1].value, None);
        assert_eq!(
            p[2],
            Point {
                minute: 300,
                value: Some(7499)
            }
        );
    }

    #[test]
    fn triples_add_shipping_but_never_a_negative_one() {
        let p = decode(BUY_BOX_SHIPPING, &[10, 7199, 299, 20, 7499, -1, 30, -1, 0]).unwrap();
        assert_eq!(
            p.iter().map(|x| x.value).collect::<Vec<_>>(),
            [Some(7498), Some(7499), None]
        );
    }

    #[test]
    fn rejects_bad_layouts_times_and_values() {
        assert_eq!(
            decode(AMAZON, &[1, 2, 3]),
            Err(CsvError::Length { len: 3, stride: 2 })
        );
        assert_eq!(
            decode(18, &[1, 2]),
            Err(CsvError::Length { len: 2, stride: 3 })
        );
        assert!(matches!(
            decode(AMAZON, &[5, 1, 4, 1]),
            Err(CsvError::Time { .. })
        ));
        assert!(matches!(
            decode(AMAZON, &[5, -7]),
            Err(CsvError::Value { .. })
        ));
        assert!(matches!(
            decode(AMAZON, &[5, i64::MAX]),
            Err(CsvError::Value { .. })
        ));
        assert!(decode(SALES, &[5, 900_000]).is_ok());
    }

    #[test]
    fn extra_info_updates_may_be_negative() {
        // More offers existed than were fetched (keepa-api.md §10): a product with such an
        // array decodes; a negative value is no value, as everywhere.
        let points = decode(EXTRA_INFO_UPDATES, &[5, -7, 6, 3]).unwrap();
        assert_eq!(points[0].value, None);
        assert_eq!(points[1].value, Some(3));
        assert_eq!(
            decode(COUNT_NEW, &[5, -7]).unwrap_err().to_string(),
            "value -7 at position 1 is outside -2 to 1000000000 (-1 and -2 mean no data)"
        );
    }
}
