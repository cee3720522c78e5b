//! The host's two decisions: who the user is ([`UserAuthenticator`]) and whether the user
//! agrees ([`ConsentProvider`]).
//!
//! Either may answer with a response of its own (a login or consent page). grantor then keeps
//! the validated authorization request server-side under an unguessable id (an
//! [`Interaction`]) and the browser comes back to the resume endpoint
//! ([`AuthorizationServer::resume`](crate::AuthorizationServer::resume)) with that id.
//!
//! A consent page submits its decision to the resume endpoint as a form with the fields
//! `interaction`, `csrf_token` and `consent` (`allow` or `deny`); grantor checks the anti-CSRF
//! token, the `Origin` header, and that the signed-in user is the one who was asked.

use std::sync::OnceLock;

use async_trait::async_trait;
use bytes::Bytes;

use crate::client::Client;
use crate::error::StoreError;
use crate::secret::{CsrfToken, InteractionId};
use crate::store::{AuthorizationRequest, EndUser};

/// An HTTP response with grantor's body type.
pub type HttpResponse = http::Response<Bytes>;

/// The handle a host uses to send the user back into a pending authorization.
#[derive(Debug)]
pub struct Interaction<'a> {
    id: OnceLock<InteractionId>,
    csrf: OnceLock<CsrfToken>,
    /// Borrowed from the server: the handle lives for one request, and a shared `Arc` here
    /// would put a count that every thread writes on every authorization.
    resume_endpoint: &'a str,
    resume_uri: OnceLock<String>,
}

impl<'a> Interaction<'a> {
    pub(crate) fn new(existing: Option<InteractionId>, resume_endpoint: &'a str) -> Self {
        let id = OnceLock::new();
        if let Some(existing) = existing {
            let _ = id.set(existing);
        }
        Interaction {
            id,
            csrf: OnceLock::new(),
            resume_endpoint,
            resume_uri: OnceLock::new(),
        }
    }

    /// The pending authorization's id: put it in the login page (or its URL) so that the
    /// browser can come back with it. It is a bearer secret for the pending request.
    pub fn id(&self) -> &str {
        self.id.get_or_init(InteractionId::generate).expose()
    }

    pub(crate) fn id_value(&self) -> &InteractionId {
        self.id.get_or_init(InteractionId::generate)
    }

    /// The anti-CSRF token a consent form must carry in its `csrf_token` field.
    pub fn csrf_token(&self) -> &str {
        self.csrf.get_or_init(CsrfToken::generate).expose()
    }

    pub(crate) fn csrf_value(&self) -> Option<&CsrfToken> {
        self.csrf.get()
    }

    /// Where the browser goes to continue: the resume endpoint with `?interaction=<id>`.
    /// Redirect there (303) after a successful login. A consent form POSTs to
    /// [`resume_endpoint`](Self::resume_endpoint).
    pub fn resume_uri(&self) -> &str {
        self.resume_uri.get_or_init(|| {
            crate::redirect::RedirectUri::with_params(
                self.resume_endpoint,
                false,
                &[("interaction", self.id())],
            )
        })
    }

    /// The resume endpoint's URL, without parameters (a consent form's `action`).
    pub fn resume_endpoint(&self) -> &str {
        self.resume_endpoint
    }
}

/// What the authenticator is asked.
#[derive(Debug)]
pub struct AuthenticationRequest<'a> {
    pub(crate) http: &'a http::request::Parts,
    pub(crate) authorization: &'a AuthorizationRequest,
    pub(crate) client: &'a Client,
    pub(crate) interaction: &'a Interaction<'a>,
    pub(crate) min_auth_time: Option<u64>,
}

impl AuthenticationRequest<'_> {
    /// The browser's request (headers carry the session cookie).
    pub fn http(&self) -> &http::request::Parts {
        self.http
    }
    /// The validated authorization request.
    pub fn authorization(&self) -> &AuthorizationRequest {
        self.authorization
    }
    /// The client asking.
    pub fn client(&self) -> &Client {
        self.client
    }
    /// The handle to resume this authorization after login.
    pub fn interaction(&self) -> &Interaction<'_> {
        self.interaction
    }
    /// The earliest `auth_time` acceptable for this request, if it sets one: a session
    /// authenticated before this instant must sign in again. Set by `prompt=login` (the
    /// request's own time) and `max_age` (now minus max_age), OIDC Core §3.1.2.1. An
    /// authenticator that answers [`Authentication::Authenticated`] with an older `auth_time`
    /// gets `login_required`.
    pub fn min_auth_time(&self) -> Option<u64> {
        self.min_auth_time
    }
    /// Whether `prompt=none` was asked: an [`Authentication::Interact`] answer then becomes a
    /// `login_required` error.
    pub fn prompt_none(&self) -> bool {
        self.authorization.prompt.none
    }
}

/// The authenticator's answer.
#[derive(Debug)]
pub enum Authentication {
    /// The user is signed in.
    Authenticated(EndUser),
    /// Show this response first (typically a 303 to a login page carrying
    /// [`Interaction::id`]).
    Interact(HttpResponse),
}

/// Decides who the end-user is. Implemented by the host (its login system).
#[async_trait]
pub trait UserAuthenticator: Send + Sync + 'static {
    /// Who is signed in on this browser, or the response that lets them sign in.
    ///
    /// Contract: honour [`AuthenticationRequest::min_auth_time`]; never authenticate from request parameters
    /// an attacker could set (only from the host's own session).
    async fn authenticate(
        &self,
        request: &AuthenticationRequest<'_>,
    ) -> Result<Authentication, StoreError>;
}

/// What the consent provider is asked.
#[derive(Debug)]
pub struct ConsentRequest<'a> {
    pub(crate) http: &'a http::request::Parts,
    pub(crate) authorization: &'a AuthorizationRequest,
    pub(crate) client: &'a Client,
    pub(crate) user: &'a EndUser,
    pub(crate) interaction: &'a Interaction<'a>,
}

impl ConsentRequest<'_> {
    /// The browser's request.
    pub fn http(&self) -> &http::request::Parts {
        self.http
    }
    /// The validated authorization request (its `scope` is what is asked for).
    pub fn authorization(&self) -> &AuthorizationRequest {
        self.authorization
    }
    /// The client asking.
    pub fn client(&self) -> &Client {
        self.client
    }
    /// The signed-in user.
    pub fn user(&self) -> &EndUser {
        self.user
    }
    /// The handle to put in the consent form (`interaction` and `csrf_token` fields, posted to
    /// [`Interaction::resume_endpoint`]).
    pub fn interaction(&self) -> &Interaction<'_> {
        self.interaction
    }
    /// Whether consent must be asked even if remembered (`prompt=consent`).
    pub fn force_consent(&self) -> bool {
        self.authorization.prompt.consent
    }
}

/// The consent provider's answer.
#[derive(Debug)]
pub enum Consent {
    /// Consent is given for these scopes (grantor keeps only those also requested).
    Granted(crate::scope::ScopeSet),
    /// The user (or the host's policy) refuses: `access_denied`.
    Denied,
    /// Show this response first (a consent page).
    Interact(HttpResponse),
}

/// Decides whether the user agrees. Implemented by the host.
#[async_trait]
pub trait ConsentProvider: Send + Sync + 'static {
    /// Whether consent is already given, or the page that asks for it.
    ///
    /// Contract: answer [`Consent::Interact`] when
    /// [`ConsentRequest::force_consent`] is set.
    async fn consent(&self, request: &ConsentRequest<'_>) -> Result<Consent, StoreError>;

    /// Called when the user allowed `scope` for `client` on the consent form, so that the
    /// decision can be remembered. The default remembers nothing.
    async fn remember(
        &self,
        user: &EndUser,
        client: &Client,
        scope: &crate::scope::ScopeSet,
    ) -> Result<(), StoreError> {
        let _ = (user, client, scope);
        Ok(())
    }
}

#[async_trait]
impl<T: UserAuthenticator + ?Sized> UserAuthenticator for std::sync::Arc<T> {
    async fn authenticate(
        &self,
        request: &AuthenticationRequest<'_>,
    ) -> Result<Authentication, StoreError> {
        (**self).authenticate(request).await
    }
}

#[async_trait]
impl<T: ConsentProvider + ?Sized> ConsentProvider for std::sync::Arc<T> {
    async fn consent(&self, request: &ConsentRequest<'_>) -> Result<Consent, StoreError> {
        (**self).consent(request).await
    }
    async fn remember(
        &self,
        user: &EndUser,
        client: &Client,
        scope: &crate::scope::ScopeSet,
    ) -> Result<(), StoreError> {
        (**self).remember(user, client, scope).await
    }
}
