//! The process stage's unit tests: when failing reads count as working again.

use super::*;

#[test]
fn reading_works_again_on_a_message_or_after_a_quiet_while_not_between_errors() {
    let t0 = std::time::Instant::now();
    let at = |s: u64| t0 + Duration::from_secs(s);
    let mut streak = FailStreak::default();
    assert_eq!(streak.read(false, at(0)), None, "no streak");
    assert_eq!(streak.failed(at(1)), 1);
    // An outage: empty reads between its errors are not a recovery.
    assert_eq!(streak.read(false, at(2)), None);
    assert_eq!(streak.failed(at(3)), 2);
    assert_eq!(streak.read(false, at(10)), None);
    // Quiet for 15 s: it works again, and says how many reads failed.
    assert_eq!(streak.read(false, at(18)), Some(2));
    assert_eq!(streak.read(false, at(19)), None, "said once");
    // A message ends a streak at once.
    streak.failed(at(20));
    assert_eq!(streak.read(true, at(20)), Some(1));
}
