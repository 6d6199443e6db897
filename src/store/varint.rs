//! LEB128 varints (seven bits a byte, low first) and zigzag, so that small negative numbers
//! are short too: the integers of the store's binary forms (price history blobs, and the
//! SQLite store's documents).

/// Appends `v`.
pub(crate) fn put(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// A signed integer as an unsigned one, small in magnitude either way.
pub(crate) fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

/// The inverse of [`zigzag`].
pub(crate) fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

/// Why a varint could not be read.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Bad {
    /// The bytes ended inside it.
    Truncated,
    /// More than ten bytes: not a `u64`.
    TooLong,
}

/// The varint at `*pos` of `bytes`, moving `*pos` past what it read.
pub(crate) fn read(bytes: &[u8], pos: &mut usize) -> Result<u64, Bad> {
    let mut v: u64 = 0;
    for shift in (0..64).step_by(7) {
        let b = *bytes.get(*pos).ok_or(Bad::Truncated)?;
        *pos += 1;
        v |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Ok(v);
        }
    }
    Err(Bad::TooLong)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_and_zigzag_round_trip() {
        for v in [0i64, 1, -1, 63, -64, 64, 1 << 40, i64::MAX, i64::MIN] {
            let mut out = Vec::new();
            put(&mut out, zigzag(v));
            let mut pos = 0;
            assert_eq!(read(&out, &mut pos).map(unzigzag), Ok(v));
            assert_eq!(pos, out.len());
        }
        assert_eq!(read(&[0x80], &mut 0), Err(Bad::Truncated));
        assert_eq!(read(&[0xff; 11], &mut 0), Err(Bad::TooLong));
    }
}
