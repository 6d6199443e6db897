//! Price-change events: when each series of a listing last moved, found with one hash an
//! hour while the hours are walked in order.

use super::super::rng::{derive, unit};

/// Remembers the last price-change event per series, so each hour costs one hash.
#[derive(Default)]
pub(super) struct Events {
    pub amazon: EventTrack,
    pub third: EventTrack,
    pub rank: EventTrack,
    pub offers: EventTrack,
}

#[derive(Default)]
pub(super) struct EventTrack {
    last_hour: Option<i64>,
    last_event: i64,
}

impl EventTrack {
    /// The hour of the latest event at or before `h` (events happen with probability `p`
    /// per hour; a 4-day lattice bounds the look-back).
    pub(super) fn at(&mut self, key: u64, tag: u64, h: i64, p: f64) -> i64 {
        let is_event = |x: i64| x.rem_euclid(96) == 0 || unit(derive(key, tag, x)) < p;
        if self.last_hour == Some(h - 1) {
            if is_event(h) {
                self.last_event = h;
            }
        } else {
            let mut x = h;
            while !is_event(x) {
                x -= 1;
            }
            self.last_event = x;
        }
        self.last_hour = Some(h);
        self.last_event
    }
}
