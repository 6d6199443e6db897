//! A blocking call with a bounded wait, one at a time.
//!
//! librdkafka's synchronous commit waits until the group coordinator answers. While the
//! group rebalances, the answer can depend on this consumer being polled again, which the
//! worker does only after `ack` returns: the commit and the rebalance then wait on each
//! other, the worker takes nothing, and its partitions are not given to anyone else. So a
//! commit is waited for a few seconds at most; one that has not finished keeps its thread
//! until librdkafka answers, and no second one starts beside it (the next batch's commit
//! covers the same partitions' later offsets).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;

/// Why a bounded call gave no result.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Unfinished {
    /// The call did not return within the wait; it goes on in the background.
    TimedOut,
    /// The previous call has not returned yet; this one did not start.
    Busy,
    /// The call panicked or the runtime is stopping.
    Lost(String),
}

/// One blocking call at a time, each waited for at most `wait`.
#[derive(Debug)]
pub(super) struct Bounded {
    gate: Arc<Semaphore>,
    wait: Duration,
}

impl Bounded {
    pub(super) fn new(wait: Duration) -> Self {
        Bounded {
            gate: Arc::new(Semaphore::new(1)),
            wait,
        }
    }

    /// Runs `f` on a blocking thread and waits for it at most `wait` (counting the wait
    /// for a previous call to finish).
    pub(super) async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, Unfinished> {
        let deadline = tokio::time::Instant::now() + self.wait;
        let permit = tokio::time::timeout_at(deadline, self.gate.clone().acquire_owned())
            .await
            .map_err(|_| Unfinished::Busy)?
            .map_err(|e| Unfinished::Lost(e.to_string()))?;
        let call = tokio::task::spawn_blocking(move || {
            let out = f();
            drop(permit);
            out
        });
        match tokio::time::timeout_at(deadline, call).await {
            Err(_) => Err(Unfinished::TimedOut),
            Ok(Err(e)) => Err(Unfinished::Lost(e.to_string())),
            Ok(Ok(out)) => Ok(out),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_call_that_does_not_return_is_given_up_and_holds_off_the_next_until_it_does() {
        let bounded = Bounded::new(Duration::from_millis(200));
        let (release, held) = std::sync::mpsc::channel::<()>();
        // Stuck until released, like a commit waiting on a rebalance.
        let stuck = bounded.run(move || held.recv().is_ok()).await;
        assert_eq!(stuck, Err(Unfinished::TimedOut));
        // The stuck call still holds the gate: the next one does not start.
        let started = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = started.clone();
        let next = bounded
            .run(move || flag.store(true, std::sync::atomic::Ordering::SeqCst))
            .await;
        assert_eq!(next, Err(Unfinished::Busy));
        assert!(!started.load(std::sync::atomic::Ordering::SeqCst));
        // Once the stuck call returns, calls run again.
        release.send(()).unwrap();
        let mut after = bounded.run(|| 7).await;
        while after == Err(Unfinished::Busy) {
            after = bounded.run(|| 7).await;
        }
        assert_eq!(after, Ok(7));
    }
}
