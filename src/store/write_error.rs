//! A store's own last failed write, as its health reports it.
//!
//! A failed write keeps the store degraded for [`HOLD`] while later writes succeed: a full
//! disk fails the large writes (a batch of opportunities) and lets small ones through, and a
//! health that every success cleared would flicker between the two. With no write after it,
//! the failure stays until one succeeds.

use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// How long a failure is still reported while later writes succeed.
pub(crate) const HOLD: Duration = Duration::from_secs(60);

/// The last failed write and when it failed.
#[derive(Debug, Default)]
pub(crate) struct LastWriteError(Mutex<Option<(Instant, String)>>);

impl LastWriteError {
    /// Records a write that failed with `err`.
    pub fn failed(&self, err: String) {
        *self.lock() = Some((Instant::now(), err));
    }

    /// Records a write that succeeded: forgets a failure older than [`HOLD`].
    pub fn succeeded(&self) {
        let mut last = self.lock();
        if last.as_ref().is_some_and(|(at, _)| at.elapsed() >= HOLD) {
            *last = None;
        }
    }

    /// `a write failed 12s ago: <error>`, while a failure is held.
    pub fn describe(&self) -> Option<String> {
        self.lock().as_ref().map(|(at, err)| {
            format!(
                "a write failed {} ago: {err}",
                crate::domain::text::span(at.elapsed().as_secs() as i64)
            )
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<(Instant, String)>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_outlives_later_successes_for_the_hold() {
        let last = LastWriteError::default();
        assert_eq!(last.describe(), None);
        last.failed("disk full".into());
        last.succeeded();
        let shown = last.describe().expect("held after a success");
        assert!(
            shown.starts_with("a write failed 0s ago: disk full"),
            "{shown}"
        );
        // Older than the hold: the next success forgets it.
        *last.lock() = Some((Instant::now() - HOLD, "disk full".into()));
        assert!(last.describe().is_some(), "no write since: still reported");
        last.succeeded();
        assert_eq!(last.describe(), None);
    }
}
