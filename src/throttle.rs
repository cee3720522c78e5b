//! Brute-force protection for client authentication (RFC 6749 §2.3.1: "the authorization
//! server MUST protect any endpoint utilizing it against brute force attacks").
//!
//! Failed client authentications are counted per client id **and** source address in a fixed
//! window. Once a key reaches [`FailureLimit::max_failures`], every authentication attempt
//! under that key, right or wrong, is answered `429 Too Many Requests` with `Retry-After`
//! until the window ends, without checking the credentials: a guess made during the lockout
//! learns nothing. A successful authentication clears the key's count.
//!
//! The source address is the [`ClientAddr`] request extension. The adapters insert it from
//! the connection (for axum, when the app is served with `ConnectInfo<SocketAddr>`); a host
//! behind a reverse proxy inserts the address it trusts from the proxy's headers. Without
//! it, failures are counted per client id alone.
//!
//! The state is per server instance and in memory, bounded by `MAX_TRACKED` (100,000) keys (each a
//! 32-byte digest, so attacker-chosen client ids take no more room than real ones). When the
//! table is full, expired windows and then keys below the limit are dropped; locked keys stay
//! locked until their window ends.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use crate::secret::TokenDigest;

/// The most keys tracked at once.
pub(crate) const MAX_TRACKED: usize = 100_000;

/// The address a request came from, as a request extension. Adapters insert the peer address;
/// behind a proxy, insert the client address the proxy reports (and only if you trust it).
///
/// ```
/// let mut request = http::Request::post("/token").body(Vec::<u8>::new()).unwrap();
/// request
///     .extensions_mut()
///     .insert(grantor::ClientAddr("203.0.113.7".parse().unwrap()));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientAddr(pub IpAddr);

/// How many failed client authentications a client id may see from one address in a window
/// before further attempts are refused with `429` until the window ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FailureLimit {
    /// Failures allowed in one window. Default 10.
    pub max_failures: u32,
    /// The window, counted from the first failure. Default 60 s.
    pub window: Duration,
}

impl Default for FailureLimit {
    fn default() -> Self {
        FailureLimit {
            max_failures: 10,
            window: Duration::from_secs(60),
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Window {
    /// When the window ends (Unix seconds).
    ends_at: u64,
    failures: u32,
}

/// The failure counts of one server.
#[derive(Debug)]
pub(crate) struct Throttle {
    limit: Option<FailureLimit>,
    windows: Mutex<HashMap<TokenDigest, Window>>,
    /// How many keys are tracked, read without the lock so that a server with no recent
    /// failure never takes it.
    tracked: AtomicUsize,
}

impl Throttle {
    pub(crate) fn new(limit: Option<FailureLimit>) -> Self {
        Throttle {
            limit,
            windows: Mutex::default(),
            tracked: AtomicUsize::new(0),
        }
    }

    /// The key for a client id and an optional source address.
    pub(crate) fn key(client_id: &str, addr: Option<&ClientAddr>) -> TokenDigest {
        match addr {
            Some(ClientAddr(ip)) => TokenDigest::of(&format!("{client_id}\0{ip}")),
            None => TokenDigest::of(client_id),
        }
    }

    fn windows(&self) -> std::sync::MutexGuard<'_, HashMap<TokenDigest, Window>> {
        self.windows.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether any key is tracked (a cheap check before computing a key).
    pub(crate) fn tracking(&self) -> bool {
        self.limit.is_some() && self.tracked.load(Ordering::Relaxed) > 0
    }

    /// `Some(seconds)` when `key` is locked out at `now`: how long until it may try again.
    pub(crate) fn retry_after(&self, key: &TokenDigest, now: u64) -> Option<u64> {
        let limit = self.limit?;
        if self.tracked.load(Ordering::Relaxed) == 0 {
            return None;
        }
        let windows = self.windows();
        let window = windows.get(key)?;
        (window.failures >= limit.max_failures && window.ends_at > now)
            .then(|| window.ends_at - now)
    }

    /// Records a failed authentication under `key`.
    pub(crate) fn failure(&self, key: TokenDigest, now: u64) {
        let Some(limit) = self.limit else { return };
        let mut windows = self.windows();
        if windows.len() >= MAX_TRACKED && !windows.contains_key(&key) {
            windows.retain(|_, w| w.ends_at > now);
            if windows.len() >= MAX_TRACKED {
                windows.retain(|_, w| w.failures >= limit.max_failures);
            }
            if windows.len() >= MAX_TRACKED {
                tracing::warn!(
                    target: "grantor::throttle",
                    "client authentication failure table full; not tracking a new key"
                );
                self.tracked.store(windows.len(), Ordering::Relaxed);
                return;
            }
        }
        let window = windows.entry(key).or_insert(Window {
            ends_at: 0,
            failures: 0,
        });
        if window.ends_at <= now {
            *window = Window {
                ends_at: now.saturating_add(limit.window.as_secs().max(1)),
                failures: 0,
            };
        }
        window.failures = window.failures.saturating_add(1);
        if window.failures == limit.max_failures {
            tracing::warn!(
                target: "grantor::throttle",
                retry_after = window.ends_at - now,
                "client authentication locked after repeated failures"
            );
        }
        self.tracked.store(windows.len(), Ordering::Relaxed);
    }

    /// Clears `key` after a successful authentication.
    pub(crate) fn success(&self, key: &TokenDigest) {
        if self.limit.is_none() || self.tracked.load(Ordering::Relaxed) == 0 {
            return;
        }
        let mut windows = self.windows();
        windows.remove(key);
        self.tracked.store(windows.len(), Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn throttle(max_failures: u32) -> Throttle {
        Throttle::new(Some(FailureLimit {
            max_failures,
            window: Duration::from_secs(60),
        }))
    }

    #[test]
    fn locks_at_the_limit_until_the_window_ends() {
        let t = throttle(3);
        let key = Throttle::key("c", None);
        for _ in 0..2 {
            t.failure(key, 100);
            assert_eq!(t.retry_after(&key, 100), None);
        }
        t.failure(key, 110);
        assert_eq!(t.retry_after(&key, 110), Some(50));
        assert_eq!(t.retry_after(&key, 159), Some(1));
        assert_eq!(t.retry_after(&key, 160), None);
        // A new window starts from scratch.
        t.failure(key, 160);
        assert_eq!(t.retry_after(&key, 160), None);
    }

    #[test]
    fn keys_are_per_client_and_address() {
        let t = throttle(1);
        let a: ClientAddr = ClientAddr("192.0.2.1".parse().unwrap());
        let b: ClientAddr = ClientAddr("192.0.2.2".parse().unwrap());
        t.failure(Throttle::key("c", Some(&a)), 0);
        assert!(t.retry_after(&Throttle::key("c", Some(&a)), 0).is_some());
        assert!(t.retry_after(&Throttle::key("c", Some(&b)), 0).is_none());
        assert!(t.retry_after(&Throttle::key("d", Some(&a)), 0).is_none());
        assert!(t.retry_after(&Throttle::key("c", None), 0).is_none());
    }

    #[test]
    fn success_clears_and_disabled_never_locks() {
        let t = throttle(2);
        let key = Throttle::key("c", None);
        t.failure(key, 0);
        t.success(&key);
        t.failure(key, 0);
        assert_eq!(t.retry_after(&key, 0), None);
        let off = Throttle::new(None);
        for _ in 0..100 {
            off.failure(key, 0);
        }
        assert_eq!(off.retry_after(&key, 0), None);
    }

    #[test]
    fn the_table_is_bounded() {
        // Every key locked at once: the table stops growing at its bound.
        let t = throttle(1);
        for i in 0..MAX_TRACKED + 10 {
            t.failure(Throttle::key(&i.to_string(), None), 0);
        }
        assert_eq!(t.windows().len(), MAX_TRACKED);
        // Once their windows end, a new key makes room by purging them.
        t.failure(Throttle::key("late", None), 61);
        assert_eq!(t.windows().len(), 1);
        // Keys below the limit give way to new ones when the table is full.
        let t = throttle(2);
        for i in 0..MAX_TRACKED + 10 {
            t.failure(Throttle::key(&i.to_string(), None), 0);
        }
        assert!(t.windows().len() <= MAX_TRACKED);
        t.failure(Throttle::key("new", None), 0);
        assert!(t.windows().contains_key(&Throttle::key("new", None)));
    }
}
