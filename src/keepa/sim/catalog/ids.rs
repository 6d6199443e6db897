//! Identifiers derived from hashes: EANs, image file names and ASINs.

/// A valid EAN-13 with the GS1 check digit.
pub(super) fn ean13(h: u64) -> String {
    let mut digits: Vec<u32> = format!("40{:010}", h % 10_000_000_000)
        .chars()
        .filter_map(|c| c.to_digit(10))
        .collect();
    let sum: u32 = digits
        .iter()
        .enumerate()
        .map(|(i, d)| if i % 2 == 0 { *d } else { d * 3 })
        .sum();
    digits.push((10 - sum % 10) % 10);
    digits.iter().map(|d| char::from(b'0' + *d as u8)).collect()
}

const ALNUM: &[u8; 36] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";

/// An Amazon-style image file stem, e.g. `71Ab3xYzQ9`.
pub(super) fn image_name(h: u64) -> String {
    const CHARS: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut s = String::from("71");
    let mut x = h;
    for _ in 0..8 {
        s.push(CHARS[(x % 62) as usize] as char);
        x /= 62;
    }
    s
}

/// A `B0…` ASIN from 64 bits.
pub fn asin_from(h: u64) -> String {
    let mut s = String::from("B0");
    let mut x = h;
    for _ in 0..8 {
        s.push(ALNUM[(x % 36) as usize] as char);
        x /= 36;
    }
    s
}
