//! Time, injected (DESIGN decision 7) so that expiry is tested without sleeping.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Whether something that expires at `expires_at` has expired at `now`: from that second
/// on. RFC 7519 §4.1.4 says so of a JWT's `exp` ("the current time MUST be before" it), and
/// grantor applies the same rule to every code, token and pending authorization it stores, so
/// that an opaque token is refused from the second its `exp` (as introspection reports it)
/// names, like a JWT. Every expiry check in the crate uses this.
pub(crate) fn expired(expires_at: u64, now: u64) -> bool {
    expires_at <= now
}

/// A source of the current time, in whole seconds since the Unix epoch.
///
/// The server reads the time once per request. Implement this to control time in tests,
/// or use [`ManualClock`].
pub trait Clock: Send + Sync + std::fmt::Debug + 'static {
    /// Seconds since the Unix epoch.
    fn now(&self) -> u64;
}

/// The operating system's clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
    }
}

/// A clock that only moves when told to; for tests.
///
/// ```
/// use grantor::{Clock, ManualClock};
/// use std::time::Duration;
/// let clock = ManualClock::new(1_700_000_000);
/// clock.advance(Duration::from_secs(61));
/// assert_eq!(clock.now(), 1_700_000_061);
/// ```
#[derive(Debug, Default)]
pub struct ManualClock(AtomicU64);

impl ManualClock {
    /// A clock standing at `unix_seconds`.
    pub fn new(unix_seconds: u64) -> Self {
        ManualClock(AtomicU64::new(unix_seconds))
    }

    /// Moves the clock forward.
    pub fn advance(&self, by: Duration) {
        self.0.fetch_add(by.as_secs(), Ordering::SeqCst);
    }

    /// Sets the clock.
    pub fn set(&self, unix_seconds: u64) {
        self.0.store(unix_seconds, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}

impl<C: Clock> Clock for std::sync::Arc<C> {
    fn now(&self) -> u64 {
        (**self).now()
    }
}
