use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use http::header;

use crate::clock::{Clock, SystemClock};
use crate::error::StoreError;
use crate::interaction::{Authentication, AuthenticationRequest, UserAuthenticator};
use crate::response;
use crate::secret::{SessionId, TokenDigest};
use crate::store::EndUser;

/// Browser sessions held in memory, keyed by a cookie: a [`UserAuthenticator`].
///
/// The host's login page checks the user's password, calls [`sign_in`](Self::sign_in), sets
/// the cookie from [`set_cookie`](Self::set_cookie) and redirects to the interaction's
/// resume URL. Without a valid session (or when the request demands a fresher login), the
/// browser is sent (303) to `login_url?interaction=<id>`.
///
/// A session lasts [`lifetime`](Self::with_lifetime) from sign-in (default 8 hours), by the
/// sessions' [clock](Self::with_clock); expired sessions are forgotten, and purged from
/// memory at the next sign-in at least a minute after the last purge.
///
/// ```
/// use grantor::{EndUser, memory::MemorySessions};
/// let sessions = MemorySessions::new("/login");
/// let id = sessions.sign_in(EndUser::new("alice-sub", 1_700_000_000));
/// let cookie = sessions.set_cookie(&id, false);
/// assert!(cookie.to_str().unwrap().contains("HttpOnly"));
/// ```
#[derive(Clone)]
pub struct MemorySessions {
    sessions: Arc<Mutex<Sessions>>,
    login_url: Arc<str>,
    cookie_name: Arc<str>,
    lifetime: Duration,
    clock: Arc<dyn Clock>,
}

#[derive(Default)]
struct Sessions {
    /// The user and the session's expiry (Unix seconds).
    live: super::DigestMap<TokenDigest, (EndUser, u64)>,
    next_purge: u64,
}

impl std::fmt::Debug for MemorySessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemorySessions")
            .field("login_url", &self.login_url)
            .field("cookie_name", &self.cookie_name)
            .field("lifetime", &self.lifetime)
            .finish_non_exhaustive()
    }
}

impl MemorySessions {
    /// Sessions that send unauthenticated browsers to `login_url`.
    pub fn new(login_url: impl Into<String>) -> Self {
        MemorySessions {
            sessions: Arc::default(),
            login_url: login_url.into().into(),
            cookie_name: "grantor_session".into(),
            lifetime: Duration::from_secs(8 * 60 * 60),
            clock: Arc::new(SystemClock),
        }
    }

    /// Changes how long a session lasts after sign-in (default 8 hours).
    pub fn with_lifetime(mut self, lifetime: Duration) -> Self {
        self.lifetime = lifetime;
        self
    }

    /// Changes the clock sessions expire by (default the system clock); tests pass the
    /// server's [`ManualClock`](crate::ManualClock).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Changes the cookie name (default `grantor_session`).
    pub fn with_cookie_name(mut self, name: impl Into<String>) -> Self {
        self.cookie_name = name.into().into();
        self
    }

    /// The cookie name.
    pub fn cookie_name(&self) -> &str {
        &self.cookie_name
    }

    fn map(&self) -> std::sync::MutexGuard<'_, Sessions> {
        self.sessions.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Starts a session for `user`; returns the id to put in the cookie.
    pub fn sign_in(&self, user: EndUser) -> SessionId {
        let id = SessionId::generate();
        let now = self.clock.now();
        let expires_at = now.saturating_add(self.lifetime.as_secs());
        let mut sessions = self.map();
        if now >= sessions.next_purge {
            sessions.live.retain(|_, (_, expires_at)| *expires_at > now);
            sessions.next_purge = now.saturating_add(60);
        }
        sessions.live.insert(id.digest(), (user, expires_at));
        id
    }

    /// Ends a session.
    pub fn sign_out(&self, id: &SessionId) {
        self.map().live.remove(&id.digest());
    }

    /// How many sessions are held, expired ones not yet purged included.
    pub fn len(&self) -> usize {
        self.map().live.len()
    }

    /// Whether no session is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The `Set-Cookie` value for a session: `HttpOnly`, `SameSite=Lax`, `Path=/`, and
    /// `Secure` when `secure` (always, over https).
    pub fn set_cookie(&self, id: &SessionId, secure: bool) -> http::HeaderValue {
        let secure = if secure { "; Secure" } else { "" };
        let value = format!(
            "{}={}; Path=/; HttpOnly; SameSite=Lax{secure}",
            self.cookie_name,
            id.expose()
        );
        http::HeaderValue::from_str(&value)
            .unwrap_or_else(|_| http::HeaderValue::from_static("invalid=; Path=/"))
    }

    /// The session id in a request's cookies, if any.
    pub fn session_id(&self, headers: &http::HeaderMap) -> Option<SessionId> {
        self.cookie_value(headers).map(SessionId::new)
    }

    /// The value of the session cookie, borrowed from the request.
    fn cookie_value<'h>(&self, headers: &'h http::HeaderMap) -> Option<&'h str> {
        for value in headers.get_all(header::COOKIE) {
            let Ok(value) = value.to_str() else { continue };
            for pair in value.split(';') {
                if let Some((name, v)) = pair.trim().split_once('=') {
                    if name == &*self.cookie_name {
                        return Some(v);
                    }
                }
            }
        }
        None
    }

    /// The user signed in on the browser that sent `headers`.
    pub fn user(&self, headers: &http::HeaderMap) -> Option<EndUser> {
        // The digest a `SessionId` of the value would have, without copying the value.
        let digest = TokenDigest::of(self.cookie_value(headers)?);
        let now = self.clock.now();
        match self.map().live.get(&digest) {
            Some((user, expires_at)) if *expires_at > now => Some(user.clone()),
            _ => None,
        }
    }
}

#[async_trait]
impl UserAuthenticator for MemorySessions {
    async fn authenticate(
        &self,
        request: &AuthenticationRequest<'_>,
    ) -> Result<Authentication, StoreError> {
        if let Some(user) = self.user(&request.http().headers) {
            if request.min_auth_time().is_none_or(|t| user.auth_time >= t) {
                return Ok(Authentication::Authenticated(user));
            }
        }
        if request.prompt_none() {
            // grantor turns this into login_required; no page is shown.
            return Ok(Authentication::Interact(response::html(
                http::StatusCode::OK,
                String::new(),
            )));
        }
        let mut location = String::from(&*self.login_url);
        location.push(if location.contains('?') { '&' } else { '?' });
        location.push_str("interaction=");
        location.push_str(request.interaction().id());
        let mut r = http::Response::new(bytes::Bytes::new());
        *r.status_mut() = http::StatusCode::SEE_OTHER;
        if let Ok(v) = http::HeaderValue::from_str(&location) {
            r.headers_mut().insert(header::LOCATION, v);
        }
        r.headers_mut().insert(
            header::CACHE_CONTROL,
            http::HeaderValue::from_static("no-store"),
        );
        Ok(Authentication::Interact(r))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;

    fn cookie(sessions: &MemorySessions, id: &SessionId) -> http::HeaderMap {
        let mut headers = http::HeaderMap::new();
        let value = format!("other=1; {}={}", sessions.cookie_name(), id.expose());
        headers.insert(header::COOKIE, http::HeaderValue::from_str(&value).unwrap());
        headers
    }

    #[test]
    fn sessions_expire_after_their_lifetime_and_are_purged() {
        let clock = Arc::new(ManualClock::new(1_000));
        let sessions = MemorySessions::new("/login")
            .with_lifetime(Duration::from_secs(100))
            .with_clock(clock.clone());
        let id = sessions.sign_in(EndUser::new("alice", 1_000));
        let headers = cookie(&sessions, &id);
        clock.advance(Duration::from_secs(99));
        assert_eq!(sessions.user(&headers).unwrap().subject, "alice");
        clock.advance(Duration::from_secs(1));
        assert!(sessions.user(&headers).is_none(), "expired at 100 s");
        // The next sign-in purges the expired session.
        let bob = sessions.sign_in(EndUser::new("bob", 1_100));
        assert_eq!(sessions.len(), 1);
        assert_eq!(
            sessions.user(&cookie(&sessions, &bob)).unwrap().subject,
            "bob"
        );
        sessions.sign_out(&bob);
        assert!(sessions.is_empty());
    }

    #[test]
    fn unknown_or_missing_cookies_are_no_session() {
        let sessions = MemorySessions::new("/login");
        assert!(sessions.user(&http::HeaderMap::new()).is_none());
        let forged = SessionId::new("forged");
        assert!(sessions.user(&cookie(&sessions, &forged)).is_none());
    }
}
