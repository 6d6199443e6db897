//! Deterministic, stateless randomness for the simulator.
//!
//! Every simulated fact is a pure function of `(seed, what, ASIN, market, time)`, so the
//! simulator needs no stored catalogue and answers the same for the same seed and clock.

/// Mixes the bytes of `parts` with `seed` into 64 well-distributed bits (FNV-1a, then the
/// SplitMix64 finaliser).
pub fn hash(seed: u64, parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ seed.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    for p in parts {
        for &b in *p {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        h ^= 0xff;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    mix(h)
}

/// SplitMix64 finaliser.
pub fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A float in `[0, 1)` from 53 bits of `h`.
pub fn unit(h: u64) -> f64 {
    (h >> 11) as f64 / (1u64 << 53) as f64
}

/// A float in `[-1, 1)`.
pub fn signed(h: u64) -> f64 {
    unit(h) * 2.0 - 1.0
}

/// A per-series key: combine a base hash with a small tag and a number.
pub fn derive(base: u64, tag: u64, n: i64) -> u64 {
    mix(base ^ mix(tag.wrapping_add(0x5851_f42d_4c95_7f2d)) ^ mix(n as u64).rotate_left(17))
}

/// Value noise: smooth in `x`, with anchors every `period`, in `[-1, 1)`.
pub fn smooth(key: u64, x: i64, period: i64) -> f64 {
    let a = x.div_euclid(period);
    let frac = x.rem_euclid(period) as f64 / period as f64;
    let v0 = signed(derive(key, 1, a));
    let v1 = signed(derive(key, 1, a + 1));
    v0 + (v1 - v0) * frac
}
