//! The authorization endpoint (RFC 6749 §3.1, §4.1.1; OIDC Core §3.1.2) and the resume
//! endpoint the browser returns to after login and consent.
//!
//! Validation order matters (RFC 6749 §4.1.2.1, checklist SEC-12): until the client and the
//! redirect URI are verified, every error is shown as a page and never redirected; after that,
//! errors go back to the client's redirect URI with `error`, `error_description`, `state` and
//! `iss` (RFC 9207).

use http::{header, Method, StatusCode};

use crate::client::{Client, GrantType};
use crate::error::{ErrorCode, ProtocolError};
use crate::interaction::{
    Authentication, AuthenticationRequest, Consent, ConsentRequest, HttpResponse, Interaction,
};
use crate::params::Params;
use crate::pkce::CodeChallenge;
use crate::redirect::RedirectUri;
use crate::response;
use crate::scope::{is_scope_token, ScopeBuilder, ScopeSet};
use crate::secret::{AuthorizationCode, InteractionId};
use crate::server::AuthorizationServer;
use crate::store::{
    AuthorizationRequest, CodeGrant, EndUser, GrantId, PendingAuthorization, Prompt, ResponseMode,
};

const TARGET: &str = "grantor::authorize";

/// Parameters that must not be repeated once the redirect URI is known (RFC 6749 §3.1).
const SINGLE_VALUED: &[&str] = &[
    "response_type",
    "scope",
    "nonce",
    "code_challenge",
    "code_challenge_method",
    "prompt",
    "max_age",
    "request",
    "request_uri",
    "id_token_hint",
    "login_hint",
    "display",
    "ui_locales",
    "acr_values",
    "claims",
];

/// Where an error goes once the redirect URI is trusted.
struct ReplyTo<'a> {
    redirect_uri: &'a str,
    mode: ResponseMode,
    state: Option<&'a str>,
}

impl AuthorizationServer {
    /// The authorization endpoint: `GET` with a query, or `POST` with a form body
    /// (RFC 6749 §3.1, OIDC Core §3.1.2.1).
    ///
    /// Answers a `303` redirect to the client (with a code or an error), a response of the
    /// host's authenticator or consent provider (a login or consent page), or an error page
    /// when the client or redirect URI cannot be trusted.
    pub async fn authorize<B: AsRef<[u8]>>(&self, request: http::Request<B>) -> HttpResponse {
        let (parts, body) = request.into_parts();
        let now = self.inner.clock.now();
        // HEAD is refused like any other method: it must not issue a code. On a POST, only
        // the body's parameters are read: a query is ignored rather than merged.
        let input = match self.browser_input(&parts, body.as_ref()) {
            Ok(input) => input,
            Err(refusal) => return self.refusal_page(refusal),
        };
        self.authorize_params(&parts, input, now).await
    }

    async fn authorize_params(
        &self,
        parts: &http::request::Parts,
        input: &[u8],
        now: u64,
    ) -> HttpResponse {
        let params = match Params::parse(input, self.inner.limits.parse()) {
            Ok(p) => p,
            Err(e) => return self.page(StatusCode::BAD_REQUEST, &e),
        };
        // 1. Client and redirect URI: nothing is redirected before both are verified.
        let client_id = match params.get("client_id") {
            Ok(Some(id)) => id,
            Ok(None) => return self.bad_page("client_id is missing"),
            Err(_) => return self.bad_page("client_id is repeated"),
        };
        let client = match self.inner.clients.client(client_id).await {
            Ok(Some(c)) => c,
            Ok(None) => {
                tracing::debug!(target: TARGET, "unknown client_id at the authorization endpoint");
                return self.bad_page("unknown client");
            }
            Err(e) => {
                tracing::error!(target: TARGET, error = %e, "client store failed");
                return self.page(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    &ProtocolError::server_error(),
                );
            }
        };
        let redirect_uri = match params.get("redirect_uri") {
            Ok(Some(uri)) => uri,
            Ok(None) => return self.bad_page("redirect_uri is missing"),
            Err(_) => return self.bad_page("redirect_uri is repeated"),
        };
        if !self.redirect_registered(&client, redirect_uri) {
            tracing::info!(target: TARGET, client_id = client.id(), "redirect_uri not registered for client");
            return self.bad_page("redirect_uri is not registered for this client");
        }
        // 2. How to answer (OIDC Core §3.1.2.6: an unusable response_mode is not redirected).
        let mode = match params.get("response_mode") {
            Ok(None) | Ok(Some("query")) => ResponseMode::Query,
            Ok(Some("fragment")) => ResponseMode::Fragment,
            Ok(Some("form_post")) => ResponseMode::FormPost,
            Ok(Some(_)) => return self.bad_page("unsupported response_mode"),
            Err(_) => return self.bad_page("response_mode is repeated"),
        };
        // A repeated state is not echoed: there is no single value to return (SEC-02).
        let (state, state_repeated) = match params.get("state") {
            Ok(s) => (s, false),
            Err(_) => (None, true),
        };
        let reply = ReplyTo {
            redirect_uri,
            mode,
            state,
        };
        let invalid = if state_repeated {
            ProtocolError::new(ErrorCode::InvalidRequest, "state is repeated")
        } else if let Some(name) = params.first_duplicate(SINGLE_VALUED) {
            ProtocolError::with_description(
                ErrorCode::InvalidRequest,
                format!("{name} is repeated"),
            )
        } else {
            match self.validate(&params, &client, &reply, now) {
                Ok(request) => return self.drive(parts, &client, request, None, None, now).await,
                Err(e) => e,
            }
        };
        // RFC 9700 §4.11.2: an untrusted client's error goes out only after the user signed
        // in, so an anonymous visitor is never bounced to an attacker-registered URI.
        // prompt=none gets its answer at once (OIDC Core §3.1.2.6).
        let prompt_none = params
            .get("prompt")
            .ok()
            .flatten()
            .is_some_and(|p| p.split(' ').any(|v| v == "none"));
        if client.is_trusted() || prompt_none {
            return self.error_redirect(&reply, &invalid);
        }
        let request = AuthorizationRequest {
            client_id: client.id().into(),
            redirect_uri: reply.redirect_uri.into(),
            response_mode: reply.mode,
            scope: ScopeSet::default(),
            state: reply.state.map(Into::into),
            nonce: None,
            code_challenge: None,
            prompt: Prompt::default(),
            max_age: None,
            requested_at: now,
            id_token_hint_subject: None,
        };
        self.drive(parts, &client, request, None, Some(invalid), now)
            .await
    }

    /// Validates everything after the redirect URI (RFC 6749 §4.1.1, OIDC Core §3.1.2.1).
    fn validate(
        &self,
        params: &Params<'_>,
        client: &Client,
        reply: &ReplyTo<'_>,
        now: u64,
    ) -> Result<AuthorizationRequest, ProtocolError> {
        // Duplicates were ruled out before this point.
        let get = |name| params.value(name);
        if params.contains("request") {
            return Err(ProtocolError::new(
                ErrorCode::RequestNotSupported,
                "request objects are not supported",
            ));
        }
        if params.contains("request_uri") {
            return Err(ProtocolError::new(
                ErrorCode::RequestUriNotSupported,
                "request_uri is not supported",
            ));
        }
        match get("response_type") {
            None => {
                return Err(ProtocolError::new(
                    ErrorCode::InvalidRequest,
                    "response_type is missing",
                ))
            }
            Some("code") => {}
            Some(_) => {
                return Err(ProtocolError::new(
                    ErrorCode::UnsupportedResponseType,
                    "only response_type=code is supported",
                ))
            }
        }
        if !client.allows_grant(GrantType::AuthorizationCode) {
            return Err(ProtocolError::new(
                ErrorCode::UnauthorizedClient,
                "the client may not use the authorization code grant",
            ));
        }
        let scope = self.requested_scope(get("scope"), client)?;
        let code_challenge = match (get("code_challenge"), get("code_challenge_method")) {
            (Some(ch), method) => Some(CodeChallenge::parse(
                ch,
                method,
                self.inner.policy.allow_plain_pkce,
            )?),
            (None, Some(_)) => {
                return Err(ProtocolError::new(
                    ErrorCode::InvalidRequest,
                    "code_challenge_method without code_challenge",
                ))
            }
            (None, None) if client.require_pkce() => {
                return Err(ProtocolError::new(
                    ErrorCode::InvalidRequest,
                    "code challenge required (PKCE, RFC 7636)",
                ))
            }
            (None, None) => None,
        };
        let max = self.inner.limits.max_nonce_bytes;
        let nonce = get("nonce");
        if nonce.is_some_and(|n| n.len() > max) {
            return Err(ProtocolError::new(
                ErrorCode::InvalidRequest,
                "nonce is too long",
            ));
        }
        if reply.state.is_some_and(|s| s.len() > max) {
            return Err(ProtocolError::new(
                ErrorCode::InvalidRequest,
                "state is too long",
            ));
        }
        let prompt = parse_prompt(get("prompt"))?;
        // OIDC Core §11: offline access needs the user's explicit consent, asked with
        // prompt=consent; without it, offline_access is ignored.
        let scope = if scope.contains("openid") && !prompt.consent {
            scope.without("offline_access")
        } else {
            scope
        };
        let max_age = match get("max_age") {
            None => None,
            Some(v) if !v.is_empty() && v.len() <= 10 && v.bytes().all(|b| b.is_ascii_digit()) => {
                v.parse::<u64>().ok()
            }
            Some(_) => {
                return Err(ProtocolError::new(
                    ErrorCode::InvalidRequest,
                    "max_age must be a non-negative integer",
                ))
            }
        };
        let id_token_hint_subject = match get("id_token_hint") {
            None => None,
            Some(hint) => Some(self.id_token_hint_subject(hint, client)?),
        };
        Ok(AuthorizationRequest {
            client_id: client.id().into(),
            redirect_uri: reply.redirect_uri.into(),
            response_mode: reply.mode,
            scope,
            state: reply.state.map(Into::into),
            nonce: nonce.map(Into::into),
            code_challenge,
            prompt,
            max_age,
            requested_at: now,
            id_token_hint_subject,
        })
    }

    /// Verifies an `id_token_hint` (OIDC Core §3.1.2.1) and returns its `sub`: it must be an ID
    /// token (`typ: JWT`) signed by one of this server's published keys, issued by this issuer
    /// to this client. Expiry is not checked, as the specification allows expired hints.
    fn id_token_hint_subject(
        &self,
        hint: &str,
        client: &Client,
    ) -> Result<Box<str>, ProtocolError> {
        #[derive(serde::Deserialize)]
        struct HintClaims {
            iss: String,
            sub: String,
            aud: Audience,
        }
        #[derive(serde::Deserialize)]
        #[serde(untagged)]
        enum Audience {
            One(String),
            Many(Vec<String>),
        }
        let invalid = || {
            ProtocolError::new(
                ErrorCode::InvalidRequest,
                "id_token_hint is not an ID token issued by this server to this client",
            )
        };
        let keys = self.inner.keys.as_ref().ok_or_else(invalid)?;
        let claims: HintClaims =
            crate::token::jwt::verify(keys, hint, Some("JWT")).map_err(|_| invalid())?;
        let audience_ok = match &claims.aud {
            Audience::One(aud) => aud == client.id(),
            Audience::Many(auds) => auds.iter().any(|aud| aud == client.id()),
        };
        if claims.iss != *self.inner.issuer || !audience_ok || claims.sub.is_empty() {
            return Err(invalid());
        }
        Ok(claims.sub.into_boxed_str())
    }

    /// RFC 6749 §3.3 with the checklist's choice (SEC-18): values outside the grammar are
    /// `invalid_scope`; values neither the server nor the client knows are ignored; values the
    /// server knows but the client may not use are `invalid_scope`. `Ok(None)` when nothing
    /// usable was asked for, so the caller applies its default.
    pub(crate) fn filter_scope(
        &self,
        requested: Option<&str>,
        client: &Client,
    ) -> Result<Option<ScopeSet>, ProtocolError> {
        let requested = requested.unwrap_or("");
        let mut out = ScopeBuilder::from_source(requested);
        let mut any = false;
        for token in requested.split(' ').filter(|t| !t.is_empty()) {
            if !is_scope_token(token) {
                return Err(ProtocolError::new(
                    ErrorCode::InvalidScope,
                    "scope contains a character outside the scope grammar",
                ));
            }
            if client.scopes().contains(token) {
                out.push(token);
                any = true;
            } else if self.inner.known_scopes.contains(token) {
                return Err(ProtocolError::with_description(
                    ErrorCode::InvalidScope,
                    format!("the client may not request the scope {token}"),
                ));
            }
        }
        Ok(any.then(|| out.finish()))
    }

    /// The scope of an authorization request: [`filter_scope`](Self::filter_scope), or the
    /// policy's default when nothing was asked for (`invalid_scope` when there is none).
    /// `openid` needs signing keys.
    fn requested_scope(
        &self,
        requested: Option<&str>,
        client: &Client,
    ) -> Result<ScopeSet, ProtocolError> {
        let scope = match self.filter_scope(requested, client)? {
            Some(scope) => scope,
            None => self
                .inner
                .policy
                .default_scopes
                .intersection(client.scopes()),
        };
        if scope.is_empty() {
            return Err(ProtocolError::new(
                ErrorCode::InvalidScope,
                "scope is required",
            ));
        }
        if scope.contains("openid") && self.inner.keys.is_none() {
            return Err(ProtocolError::new(
                ErrorCode::InvalidScope,
                "OpenID Connect is not enabled on this server",
            ));
        }
        Ok(scope)
    }

    fn redirect_registered(&self, client: &Client, uri: &str) -> bool {
        let any_port = self.inner.policy.loopback_redirect_any_port;
        client
            .redirect_uris()
            .iter()
            .any(|r| r.matches(uri, any_port))
    }

    /// Authenticates, asks consent and issues the code, keeping the request server-side when
    /// the host needs to show a page first. `existing` is the pending authorization being
    /// resumed: its id and expiry.
    async fn drive(
        &self,
        parts: &http::request::Parts,
        client: &Client,
        request: AuthorizationRequest,
        existing: Option<(InteractionId, u64)>,
        deferred_error: Option<ProtocolError>,
        now: u64,
    ) -> HttpResponse {
        let reply = ReplyTo {
            redirect_uri: &request.redirect_uri,
            mode: request.response_mode,
            state: request.state.as_deref(),
        };
        let (existing_id, expires_at) = match existing {
            Some((id, expires_at)) => (Some(id), expires_at),
            None => (None, now + self.inner.policy.interaction_lifetime.as_secs()),
        };
        let resumed = existing_id.is_some();
        let interaction = Interaction::new(existing_id, &self.inner.resume_endpoint);
        let authn = AuthenticationRequest {
            http: parts,
            authorization: &request,
            client,
            interaction: &interaction,
            min_auth_time: min_auth_time(&request, now),
        };
        let user = match self.inner.authenticator.authenticate(&authn).await {
            Ok(Authentication::Authenticated(user)) => user,
            Ok(Authentication::Interact(page)) => {
                if request.prompt.none {
                    return self.error_redirect(
                        &reply,
                        &ProtocolError::new(ErrorCode::LoginRequired, "the user is not signed in"),
                    );
                }
                // Boxed here and below: the interactive path's future would otherwise make
                // every signed-in request's future larger, and futures are moved by copying.
                return Box::pin(self.save_pending(
                    &interaction,
                    request,
                    None,
                    expires_at,
                    page,
                    deferred_error,
                ))
                .await;
            }
            Err(e) => return self.host_failure(&reply, &e),
        };
        if let Some(err) = deferred_error {
            if resumed {
                if let Some(refused) = self.finish_pending(&interaction, now, &reply).await {
                    return refused;
                }
            }
            tracing::info!(target: TARGET, client_id = client.id(), "untrusted client's error redirected after sign-in");
            return self.error_redirect(&reply, &err);
        }
        // OIDC Core §3.1.2.1: a hint for another user never yields a code for the session user.
        if request
            .id_token_hint_subject
            .as_deref()
            .is_some_and(|hinted| hinted != user.subject)
        {
            return self.error_redirect(
                &reply,
                &ProtocolError::new(
                    ErrorCode::LoginRequired,
                    "the signed-in user is not the user id_token_hint names",
                ),
            );
        }
        if authn.min_auth_time.is_some_and(|t| user.auth_time < t) {
            return self.error_redirect(
                &reply,
                &ProtocolError::new(ErrorCode::LoginRequired, "the user must sign in again"),
            );
        }
        let consent_request = ConsentRequest {
            http: parts,
            authorization: &request,
            client,
            user: &user,
            interaction: &interaction,
        };
        let granted = match self.inner.consent.consent(&consent_request).await {
            Ok(Consent::Granted(scope)) => request.scope.intersection(&scope),
            Ok(Consent::Denied) => {
                if resumed {
                    if let Some(refused) = self.finish_pending(&interaction, now, &reply).await {
                        return refused;
                    }
                }
                return self.error_redirect(
                    &reply,
                    &ProtocolError::new(ErrorCode::AccessDenied, "the request was denied"),
                );
            }
            Ok(Consent::Interact(page)) => {
                if request.prompt.none {
                    return self.error_redirect(
                        &reply,
                        &ProtocolError::new(ErrorCode::ConsentRequired, "consent is required"),
                    );
                }
                let subject = Some(user.subject.clone().into_boxed_str());
                // The consent form's token must exist before the page is stored.
                let _ = interaction.csrf_token();
                return Box::pin(self.save_pending(
                    &interaction,
                    request,
                    subject,
                    expires_at,
                    page,
                    None,
                ))
                .await;
            }
            Err(e) => return self.host_failure(&reply, &e),
        };
        if resumed {
            if let Some(refused) = self.finish_pending(&interaction, now, &reply).await {
                return refused;
            }
        }
        self.issue_code(client, &request, user, granted, now).await
    }

    async fn save_pending(
        &self,
        interaction: &Interaction<'_>,
        request: AuthorizationRequest,
        subject: Option<Box<str>>,
        expires_at: u64,
        page: HttpResponse,
        deferred_error: Option<ProtocolError>,
    ) -> HttpResponse {
        let state = request.state.clone();
        let redirect_uri = request.redirect_uri.clone();
        let mode = request.response_mode;
        let pending = PendingAuthorization {
            request,
            subject,
            csrf: interaction.csrf_value().map(|c| c.digest()),
            expires_at,
            deferred_error,
        };
        match self
            .inner
            .grants
            .save_interaction(interaction.id_value().digest(), pending)
            .await
        {
            Ok(()) => page,
            Err(e) => self.host_failure(
                &ReplyTo {
                    redirect_uri: &redirect_uri,
                    mode,
                    state: state.as_deref(),
                },
                &e,
            ),
        }
    }

    /// Spends a pending authorization.
    /// `None` when this request took it; otherwise the answer: the expired page when another
    /// request already did (or it expired), `server_error` when the store failed (DESIGN
    /// decision 5).
    async fn finish_pending(
        &self,
        interaction: &Interaction<'_>,
        now: u64,
        reply: &ReplyTo<'_>,
    ) -> Option<HttpResponse> {
        match self
            .inner
            .grants
            .take_interaction(&interaction.id_value().digest(), now)
            .await
        {
            Ok(Some(p)) if !crate::clock::expired(p.expires_at, now) => None,
            Ok(_) => Some(self.expired_page()),
            Err(e) => Some(self.host_failure(reply, &e)),
        }
    }

    async fn issue_code(
        &self,
        client: &Client,
        request: &AuthorizationRequest,
        user: EndUser,
        scope: ScopeSet,
        now: u64,
    ) -> HttpResponse {
        let reply = ReplyTo {
            redirect_uri: &request.redirect_uri,
            mode: request.response_mode,
            state: request.state.as_deref(),
        };
        let code = AuthorizationCode::generate();
        let grant = CodeGrant {
            grant_id: GrantId::generate(),
            client_id: client.id().into(),
            redirect_uri: request.redirect_uri.clone(),
            scope,
            user,
            nonce: request.nonce.clone(),
            code_challenge: request.code_challenge.clone(),
            issued_at: now,
            expires_at: now + self.inner.policy.code_lifetime.as_secs(),
        };
        if let Err(e) = self.inner.grants.store_code(code.digest(), grant).await {
            return self.host_failure(&reply, &e);
        }
        tracing::info!(target: TARGET, client_id = client.id(), "authorization code issued");
        let mut params: [(&str, &str); 3] = [("code", code.expose()), ("", ""), ("", "")];
        let mut n = 1;
        if let Some(state) = reply.state {
            params[n] = ("state", state);
            n += 1;
        }
        params[n] = ("iss", &self.inner.issuer);
        n += 1;
        deliver(&reply, &params[..n])
    }

    /// Where the authorization and resume endpoints read their parameters: a `GET`'s query
    /// or a `POST`'s form body, each within its limit ([`Limits`](crate::Limits)). Anything
    /// else is refused before a parameter is read.
    fn browser_input<'r>(
        &self,
        parts: &'r http::request::Parts,
        body: &'r [u8],
    ) -> Result<&'r [u8], Unreadable> {
        let limits = &self.inner.limits;
        if parts.method == Method::GET {
            let query = parts.uri.query().unwrap_or("");
            if query.len() > limits.max_query_bytes {
                return Err(Unreadable::QueryTooLong);
            }
            Ok(query.as_bytes())
        } else if parts.method == Method::POST {
            if body.len() > limits.max_body_bytes {
                return Err(Unreadable::BodyTooLarge);
            }
            if !is_form(&parts.headers) {
                return Err(Unreadable::NotForm);
            }
            Ok(body)
        } else {
            Err(Unreadable::Method)
        }
    }

    /// The error page for a request [`browser_input`](Self::browser_input) refused.
    fn refusal_page(&self, refusal: Unreadable) -> HttpResponse {
        let (status, description) = match refusal {
            Unreadable::QueryTooLong => (StatusCode::URI_TOO_LONG, "the request is too long"),
            Unreadable::BodyTooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "the request is too large"),
            Unreadable::NotForm => (
                StatusCode::BAD_REQUEST,
                "the request body must be application/x-www-form-urlencoded",
            ),
            Unreadable::Method => (StatusCode::METHOD_NOT_ALLOWED, "method not allowed"),
        };
        let mut r = self.page(
            status,
            &ProtocolError::new(ErrorCode::InvalidRequest, description),
        );
        if refusal == Unreadable::Method {
            r.headers_mut()
                .insert(header::ALLOW, http::HeaderValue::from_static("GET, POST"));
        }
        r
    }

    /// The resume endpoint: where the browser comes back after login (`GET
    /// ?interaction=<id>`) and where the consent form posts its decision (`POST` with
    /// `interaction`, `csrf_token`, `consent=allow|deny`).
    pub async fn resume<B: AsRef<[u8]>>(&self, request: http::Request<B>) -> HttpResponse {
        let (parts, body) = request.into_parts();
        let now = self.inner.clock.now();
        let is_post = parts.method == Method::POST;
        let input = match self.browser_input(&parts, body.as_ref()) {
            Ok(input) => input,
            Err(refusal) => return self.refusal_page(refusal),
        };
        let params = match Params::parse(input, self.inner.limits.parse()) {
            Ok(p) => p,
            Err(e) => return self.page(StatusCode::BAD_REQUEST, &e),
        };
        let Ok(Some(id)) = params.get("interaction") else {
            return self.bad_page("the interaction parameter is missing or repeated");
        };
        let id = InteractionId::new(id);
        let pending = match self.inner.grants.interaction(&id.digest(), now).await {
            Ok(Some(p)) if !crate::clock::expired(p.expires_at, now) => p,
            Ok(_) => return self.expired_page(),
            Err(e) => {
                tracing::error!(target: TARGET, error = %e, "grant store failed");
                return self.page(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    &ProtocolError::server_error(),
                );
            }
        };
        let client = match self.inner.clients.client(&pending.request.client_id).await {
            Ok(Some(c)) if self.redirect_registered(&c, &pending.request.redirect_uri) => c,
            Ok(_) => return self.bad_page("the client is no longer registered"),
            Err(e) => {
                tracing::error!(target: TARGET, error = %e, "client store failed");
                return self.page(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    &ProtocolError::server_error(),
                );
            }
        };
        match (is_post, params.get("consent")) {
            (true, Ok(Some(decision))) => {
                self.consent_decision(&parts, &params, &client, id, pending, decision, now)
                    .await
            }
            (_, Err(_)) => self.bad_page("consent is repeated"),
            _ => {
                let request = pending.request.clone();
                let deferred = pending.deferred_error.clone();
                let existing = Some((id, pending.expires_at));
                self.drive(&parts, &client, request, existing, deferred, now)
                    .await
            }
        }
    }

    /// Whether a form post may come from one of this server's own pages (defence in depth
    /// beside the CSRF token, RFC 6749 §10.12).
    ///
    /// `Origin` must be the issuer's origin. Our pages send `Referrer-Policy: no-referrer`
    /// (SEC-91), under which browsers send `Origin: null` even for same-origin posts (Fetch
    /// Standard, "append a request `Origin` header"); `null` is then accepted only with
    /// `Sec-Fetch-Site: same-origin`, which a browser sets and a page cannot forge. Any
    /// `Sec-Fetch-Site` other than `same-origin` is refused. A request with neither header
    /// (not a browser, or a very old one) relies on the CSRF token and session checks alone.
    fn same_origin_post(&self, headers: &http::HeaderMap) -> bool {
        let fetch_site = headers.get("sec-fetch-site").map(|v| v.as_bytes());
        if fetch_site.is_some_and(|site| site != b"same-origin") {
            return false;
        }
        match headers.get(header::ORIGIN).map(|v| v.as_bytes()) {
            None => true,
            Some(b"null") => fetch_site == Some(b"same-origin".as_slice()),
            Some(origin) => origin == self.inner.issuer_origin.as_bytes(),
        }
    }

    /// A consent decision posted from the consent page (RFC 6749 §10.12: CSRF protection;
    /// checklist SEC-89).
    #[allow(clippy::too_many_arguments)]
    async fn consent_decision(
        &self,
        parts: &http::request::Parts,
        params: &Params<'_>,
        client: &Client,
        id: InteractionId,
        pending: PendingAuthorization,
        decision: &str,
        now: u64,
    ) -> HttpResponse {
        let forbidden = |why: &'static str| {
            tracing::warn!(target: TARGET, client_id = client.id(), reason = why, "consent decision refused");
            self.page(
                StatusCode::FORBIDDEN,
                &ProtocolError::new(ErrorCode::AccessDenied, why),
            )
        };
        if !self.same_origin_post(&parts.headers) {
            return forbidden("cross-origin consent submissions are refused");
        }
        let csrf_ok = match (params.get("csrf_token"), &pending.csrf) {
            (Ok(Some(token)), Some(expected)) => {
                crate::secret::TokenDigest::of(token).matches(expected)
            }
            _ => false,
        };
        if !csrf_ok {
            return forbidden("the consent form is invalid or expired");
        }
        let Some(expected_subject) = pending.subject.as_deref() else {
            return forbidden("the consent form is invalid or expired");
        };
        let request = &pending.request;
        let interaction = Interaction::new(Some(id), &self.inner.resume_endpoint);
        let authn = AuthenticationRequest {
            http: parts,
            authorization: request,
            client,
            interaction: &interaction,
            min_auth_time: None,
        };
        let reply = ReplyTo {
            redirect_uri: &request.redirect_uri,
            mode: request.response_mode,
            state: request.state.as_deref(),
        };
        let user = match self.inner.authenticator.authenticate(&authn).await {
            Ok(Authentication::Authenticated(u)) if u.subject == expected_subject => u,
            Ok(_) => {
                return forbidden("the consent must come from the signed-in user who was asked")
            }
            Err(e) => return self.host_failure(&reply, &e),
        };
        if let Some(refused) = self.finish_pending(&interaction, now, &reply).await {
            return refused;
        }
        match decision {
            "allow" => {
                if let Err(e) = self
                    .inner
                    .consent
                    .remember(&user, client, &request.scope)
                    .await
                {
                    return self.host_failure(&reply, &e);
                }
                let scope = request.scope.clone();
                self.issue_code(client, request, user, scope, now).await
            }
            _ => {
                tracing::info!(target: TARGET, client_id = client.id(), "user denied consent");
                self.error_redirect(
                    &reply,
                    &ProtocolError::new(ErrorCode::AccessDenied, "the user denied the request"),
                )
            }
        }
    }

    fn error_redirect(&self, reply: &ReplyTo<'_>, err: &ProtocolError) -> HttpResponse {
        tracing::info!(target: TARGET, error = err.code().as_str(), "authorization error returned to the client");
        let mut params: [(&str, &str); 4] = [
            ("error", err.code().as_str()),
            ("error_description", err.description()),
            ("", ""),
            ("", ""),
        ];
        let mut n = 2;
        if let Some(state) = reply.state {
            params[n] = ("state", state);
            n += 1;
        }
        params[n] = ("iss", &self.inner.issuer);
        n += 1;
        deliver(reply, &params[..n])
    }

    fn host_failure(&self, reply: &ReplyTo<'_>, e: &crate::error::StoreError) -> HttpResponse {
        tracing::error!(target: TARGET, error = %e, "host component failed");
        self.error_redirect(reply, &ProtocolError::server_error())
    }

    fn page(&self, status: StatusCode, err: &ProtocolError) -> HttpResponse {
        match &self.inner.error_page {
            Some(render) => {
                let mut r = render(err);
                *r.status_mut() = status;
                // The host's page still may not be framed or leak the referrer (RFC 9700
                // §4.16, §4.2.4).
                let h = r.headers_mut();
                for (name, value) in [
                    (header::X_FRAME_OPTIONS, "DENY"),
                    (header::CONTENT_SECURITY_POLICY, "frame-ancestors 'none'"),
                    (header::REFERRER_POLICY, "no-referrer"),
                    (header::CACHE_CONTROL, "no-store"),
                ] {
                    if !h.contains_key(&name) {
                        h.insert(name, http::HeaderValue::from_static(value));
                    }
                }
                r
            }
            None => response::error_page(status, err),
        }
    }

    fn bad_page(&self, description: &'static str) -> HttpResponse {
        self.page(
            StatusCode::BAD_REQUEST,
            &ProtocolError::new(ErrorCode::InvalidRequest, description),
        )
    }

    fn expired_page(&self) -> HttpResponse {
        self.bad_page(
            "this sign-in has expired or was already completed; start again from the application",
        )
    }
}

/// Sends the authorization response to the client: a 303 with the parameters in the query
/// or fragment, or for `form_post` a page that POSTs them (OAuth 2.0 Form Post Response
/// Mode §2).
fn deliver(reply: &ReplyTo<'_>, params: &[(&str, &str)]) -> HttpResponse {
    match reply.mode {
        ResponseMode::Query | ResponseMode::Fragment => {
            response::redirect(RedirectUri::with_params(
                reply.redirect_uri,
                reply.mode == ResponseMode::Fragment,
                params,
            ))
        }
        ResponseMode::FormPost => response::form_post(reply.redirect_uri, params),
    }
}

/// The earliest acceptable `auth_time` (`prompt=login`: the request's own time; `max_age`:
/// now minus max_age, but never later than the request's own time, so that a login made for
/// this request satisfies it when the browser resumes a few seconds later).
fn min_auth_time(request: &AuthorizationRequest, now: u64) -> Option<u64> {
    let by_prompt = request.prompt.login.then_some(request.requested_at);
    let by_age = request
        .max_age
        .map(|m| now.saturating_sub(m).min(request.requested_at));
    by_prompt.max(by_age)
}

/// `prompt` (OIDC Core §3.1.2.1): space-separated; `none` alone; `select_account` is treated
/// as `login`; an unknown value is `invalid_request`.
fn parse_prompt(value: Option<&str>) -> Result<Prompt, ProtocolError> {
    let mut p = Prompt::default();
    let mut count = 0;
    for v in value.unwrap_or("").split(' ').filter(|v| !v.is_empty()) {
        count += 1;
        match v {
            "none" => p.none = true,
            "login" | "select_account" => p.login = true,
            "consent" => p.consent = true,
            _ => {
                return Err(ProtocolError::new(
                    ErrorCode::InvalidRequest,
                    "unsupported prompt value",
                ))
            }
        }
    }
    if p.none && count > 1 {
        return Err(ProtocolError::new(
            ErrorCode::InvalidRequest,
            "prompt=none cannot be combined with other values",
        ));
    }
    Ok(p)
}

/// Why [`AuthorizationServer::browser_input`] refused a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unreadable {
    /// A `GET` whose query is past `max_query_bytes`: `414`.
    QueryTooLong,
    /// A `POST` whose body is past `max_body_bytes`: `413`.
    BodyTooLarge,
    /// A `POST` whose body is not `application/x-www-form-urlencoded`: `400`.
    NotForm,
    /// Neither `GET` nor `POST`: `405` with `Allow`.
    Method,
}

/// Whether the content type is `application/x-www-form-urlencoded` (parameters allowed).
pub(crate) fn is_form(headers: &http::HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| {
            v.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
}
