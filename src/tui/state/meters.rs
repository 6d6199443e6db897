//! What the console measures about itself and its sources for the health view: its
//! frame times, the Keepa token balance over the last hour and the REST API's requests a
//! minute.

use std::collections::VecDeque;

use chrono::{DateTime, Utc};

use crate::api::ApiActivity;

/// The draw times of the last frames, for the health panel: the console shows how fast it
/// is on the operator's own terminal.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FrameTimes {
    /// Milliseconds per frame, oldest first, at most `FrameTimes::KEPT`.
    last: VecDeque<f64>,
    /// Frames drawn since start.
    pub drawn: u64,
}

impl FrameTimes {
    /// Frames the figures are taken over.
    pub const KEPT: usize = 120;

    /// Records one frame's draw time.
    pub fn record(&mut self, took: std::time::Duration) {
        if self.last.len() == Self::KEPT {
            self.last.pop_front();
        }
        self.last.push_back(took.as_secs_f64() * 1000.0);
        self.drawn += 1;
    }

    /// The 50th and 99th percentiles of the kept frames (nearest rank), in milliseconds
    /// (`None` before the first frame).
    pub fn summary(&self) -> Option<(f64, f64)> {
        let mut v: Vec<f64> = self.last.iter().copied().collect();
        v.sort_by(f64::total_cmp);
        let rank = |p: f64| ((p * v.len() as f64).ceil() as usize).saturating_sub(1);
        Some((*v.get(rank(0.50))?, *v.get(rank(0.99))?))
    }
}

/// The Keepa token balance over the last hour, one value a minute (the last one seen in
/// that minute), for the health view's sparkline.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TokenTrail {
    /// (minute, balance), oldest first, at most `TokenTrail::MINUTES`, minutes increasing.
    minutes: VecDeque<(i64, i64)>,
}

impl TokenTrail {
    /// Minutes kept.
    pub const MINUTES: usize = 60;

    /// Records the balance seen at `at`.
    pub fn record(&mut self, at: DateTime<Utc>, tokens: i64) {
        let minute = at.timestamp().div_euclid(60);
        match self.minutes.back_mut() {
            Some((m, v)) if *m == minute => *v = tokens,
            // A clock that went back starts the trail again.
            Some((m, _)) if *m > minute => {
                self.minutes.clear();
                self.minutes.push_back((minute, tokens));
            }
            _ => self.minutes.push_back((minute, tokens)),
        }
        while self
            .minutes
            .front()
            .is_some_and(|(m, _)| minute - m >= Self::MINUTES as i64)
        {
            self.minutes.pop_front();
        }
    }

    /// The minute of the oldest value kept.
    pub fn since(&self) -> Option<DateTime<Utc>> {
        let (m, _) = self.minutes.front()?;
        DateTime::from_timestamp(m * 60, 0)
    }

    /// One value a minute, oldest first, ending at the latest minute seen; a minute without a
    /// sample holds the value before it (the balance did not change that anyone saw).
    pub fn per_minute(&self) -> Vec<i64> {
        let (Some(&(first, _)), Some(&(last, _))) = (self.minutes.front(), self.minutes.back())
        else {
            return Vec::new();
        };
        let mut out = Vec::with_capacity((last - first + 1) as usize);
        let mut it = self.minutes.iter().peekable();
        let mut value = 0;
        for m in first..=last {
            while let Some(&&(at, v)) = it.peek() {
                if at > m {
                    break;
                }
                value = v;
                it.next();
            }
            out.push(value);
        }
        out
    }
}

/// What the REST API answered, sampled once a second, for its requests a minute.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ApiMeter {
    /// The latest sample.
    pub now: ApiActivity,
    /// (when, requests answered), oldest first, spanning a little over a minute.
    samples: VecDeque<(DateTime<Utc>, u64)>,
}

impl ApiMeter {
    /// Records the API's counters as seen at `at`.
    pub fn observe(&mut self, activity: ApiActivity, at: DateTime<Utc>) {
        self.now = activity;
        if self.samples.back().is_some_and(|(t, _)| *t > at) {
            self.samples.clear(); // the clock went back
        }
        self.samples.push_back((at, activity.requests));
        // Keep one sample at least a minute old: the rate spans the whole minute.
        while self
            .samples
            .get(1)
            .is_some_and(|(t, _)| at - *t >= chrono::Duration::seconds(60))
        {
            self.samples.pop_front();
        }
    }

    /// Requests answered in the last minute (in the first minute, since sampling began:
    /// never extrapolated past what was answered); `None` until two samples a second apart.
    pub fn per_minute(&self) -> Option<f64> {
        let ((t0, n0), (t1, n1)) = (self.samples.front()?, self.samples.back()?);
        let secs = (*t1 - *t0).num_milliseconds() as f64 / 1000.0;
        // The oldest sample kept is a little over a minute old: scale down to the minute.
        (secs >= 1.0).then(|| n1.saturating_sub(*n0) as f64 * (60.0 / secs).min(1.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_rate_spans_the_last_minute() {
        let t = DateTime::<Utc>::from_timestamp(1_800_000_000, 0).unwrap_or_default();
        let mut m = ApiMeter::default();
        let at = |n: u64| ApiActivity {
            requests: n,
            ..ApiActivity::default()
        };
        m.observe(at(0), t);
        assert_eq!(m.per_minute(), None);
        // 30 requests in the first 30 s: 30 in the last minute, not 60.
        for s in 1..=30 {
            m.observe(at(s), t + chrono::Duration::seconds(s as i64));
        }
        assert_eq!(m.per_minute(), Some(30.0));
        // A request a second for 90 s: 60 in the last minute.
        for s in 31..=90 {
            m.observe(at(s), t + chrono::Duration::seconds(s as i64));
        }
        assert_eq!(m.per_minute(), Some(60.0));
        // Then a quiet minute and a half: nothing in the last minute.
        m.observe(at(90), t + chrono::Duration::seconds(160));
        m.observe(at(90), t + chrono::Duration::seconds(180));
        assert_eq!(m.per_minute(), Some(0.0));
    }
}
