//! The clock: the only place in the crate that reads the wall clock.
//!
//! Everything time-dependent (deadlines, report windows, verification validity, punishment
//! periods) takes a [`Clock`], so tests and replays can pin "now" with [`FixedClock`] and the
//! legal day boundaries are computed in one place. This module must not know about calendars,
//! records, HTTP or storage; it only answers "what instant is it" and "what day is it in China".

use std::sync::{Mutex, PoisonError};

use time::{Date, Duration, OffsetDateTime, UtcOffset};

/// China Standard Time, UTC+8, the offset in which every legal date (decision dates, deadlines,
/// "today" in a report) is reckoned.
///
/// A constant is exact: mainland China has used a single zone without daylight saving since
/// 1991 (DST was observed 1986–1991 only), so no time-zone database is needed, and none can be
/// missing or stale on a deployed node.
pub const SHANGHAI_OFFSET: UtcOffset = time::macros::offset!(+8);

/// A source of the current instant.
pub trait Clock: Send + Sync + 'static {
    /// The current instant.
    fn now(&self) -> OffsetDateTime;

    /// Today's date in China (UTC+8): the date on which anything happening now is legally
    /// dated. Between 00:00 and 08:00 Beijing time it is a day ahead of the UTC date.
    fn today_shanghai(&self) -> Date {
        self.now().to_offset(SHANGHAI_OFFSET).date()
    }
}

/// The real clock, reading the operating system's time.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        // UTC, not the host's local offset: the host's zone is configuration we do not control,
        // and reading it can fail; conversion to China time is `today_shanghai`'s job.
        #[expect(
            clippy::disallowed_methods,
            reason = "SystemClock is the one place the wall clock is read"
        )]
        let now = OffsetDateTime::now_utc();
        to_micros(now)
    }
}

/// A clock that stands still until told otherwise, for tests and deterministic replays.
///
/// Shared by reference (`Arc<FixedClock>`), it can be moved while the code under test holds it.
#[derive(Debug)]
pub struct FixedClock {
    now: Mutex<OffsetDateTime>,
}

impl FixedClock {
    /// A clock showing `now`.
    pub fn new(now: OffsetDateTime) -> Self {
        Self {
            now: Mutex::new(now),
        }
    }

    /// Sets the clock to `now`.
    pub fn set(&self, now: OffsetDateTime) {
        *self.lock() = now;
    }

    /// Moves the clock by `by` (negative moves it back), saturating at the representable range
    /// rather than panicking.
    pub fn advance(&self, by: Duration) {
        let mut now = self.lock();
        *now = now.saturating_add(by);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, OffsetDateTime> {
        // A poisoned lock only means another thread panicked while holding it; the guarded
        // value is a plain Copy timestamp that is always valid, so keep using it.
        self.now.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Clock for FixedClock {
    fn now(&self) -> OffsetDateTime {
        *self.lock()
    }
}

/// Drops sub-microsecond precision. PostgreSQL keeps microseconds, so a timestamp that is
/// hashed (audit chain) or compared after a round trip must not carry nanoseconds.
pub fn to_micros(at: OffsetDateTime) -> OffsetDateTime {
    at.replace_nanosecond(at.nanosecond() / 1_000 * 1_000)
        .unwrap_or(at)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]
mod tests {
    use super::*;
    use std::sync::Arc;
    use time::macros::{date, datetime};

    #[test]
    fn fixed_clock_set_and_advance() {
        let clock = FixedClock::new(datetime!(2026-10-01 03:00 UTC));
        assert_eq!(clock.now(), datetime!(2026-10-01 03:00 UTC));
        clock.advance(Duration::hours(2));
        assert_eq!(clock.now(), datetime!(2026-10-01 05:00 UTC));
        clock.advance(Duration::days(-1));
        assert_eq!(clock.now(), datetime!(2026-09-30 05:00 UTC));
        clock.set(datetime!(2027-01-01 00:00 UTC));
        assert_eq!(clock.now(), datetime!(2027-01-01 00:00 UTC));
        clock.advance(Duration::MAX);
        clock.advance(Duration::MIN);
    }

    #[test]
    fn today_in_shanghai_crosses_midnight_at_16_utc() {
        let clock = FixedClock::new(datetime!(2026-09-30 15:59:59 UTC));
        assert_eq!(clock.today_shanghai(), date!(2026 - 09 - 30));
        clock.advance(Duration::seconds(1));
        assert_eq!(clock.today_shanghai(), date!(2026 - 10 - 01));
        // The input offset does not matter, only the instant.
        let clock = FixedClock::new(datetime!(2026-09-30 23:30 -05:00));
        assert_eq!(clock.today_shanghai(), date!(2026 - 10 - 01));
    }

    #[test]
    fn usable_as_shared_trait_object() {
        let fixed = Arc::new(FixedClock::new(datetime!(2026-01-01 00:00 UTC)));
        let clock: Arc<dyn Clock> = fixed.clone();
        fixed.advance(Duration::minutes(1));
        assert_eq!(clock.now(), datetime!(2026-01-01 00:01 UTC));
        let system: Arc<dyn Clock> = Arc::new(SystemClock);
        assert!(system.now().year() >= 2024);
        assert_eq!(system.now().offset(), UtcOffset::UTC);
    }
}
