use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use http::header;

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
/// ```
/// use grantor::{EndUser, memory::MemorySessions};
/// let sessions = MemorySessions::new("/login");
/// let id = sessions.sign_in(EndUser::new("alice-sub", 1_700_000_000));
/// let cookie = sessions.set_cookie(&id, false);
/// assert!(cookie.to_str().unwrap().contains("HttpOnly"));
/// ```
#[derive(Clone)]
pub struct MemorySessions {
    sessions: Arc<Mutex<HashMap<TokenDigest, EndUser>>>,
    login_url: Arc<str>,
    cookie_name: Arc<str>,
}

impl std::fmt::Debug for MemorySessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemorySessions")
            .field("login_url", &self.login_url)
            .field("cookie_name", &self.cookie_name)
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
        }
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

    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<TokenDigest, EndUser>> {
        match self.sessions.lock() {
            Ok(m) => m,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// Starts a session for `user`; returns the id to put in the cookie.
    pub fn sign_in(&self, user: EndUser) -> SessionId {
        let id = SessionId::generate();
        self.map().insert(id.digest(), user);
        id
    }

    /// Ends a session.
    pub fn sign_out(&self, id: &SessionId) {
        self.map().remove(&id.digest());
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
        for value in headers.get_all(header::COOKIE) {
            let Ok(value) = value.to_str() else { continue };
            for pair in value.split(';') {
                if let Some((name, v)) = pair.trim().split_once('=') {
                    if name == &*self.cookie_name {
                        return Some(SessionId::new(v));
                    }
                }
            }
        }
        None
    }

    /// The user signed in on the browser that sent `headers`.
    pub fn user(&self, headers: &http::HeaderMap) -> Option<EndUser> {
        let id = self.session_id(headers)?;
        self.map().get(&id.digest()).cloned()
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
