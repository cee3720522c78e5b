use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;

use crate::client::Client;
use crate::error::StoreError;
use crate::interaction::{Consent, ConsentProvider, ConsentRequest, HttpResponse};
use crate::response::{escape_html, html};
use crate::scope::{ScopeBuilder, ScopeSet};
use crate::store::EndUser;

/// What a consent page shows and must submit.
#[derive(Debug)]
pub struct ConsentPage<'a> {
    /// The client's display name.
    pub client_name: &'a str,
    /// The client id.
    pub client_id: &'a str,
    /// The scopes asked for.
    pub scope: &'a ScopeSet,
    /// The signed-in user's subject.
    pub subject: &'a str,
    /// The form's `action`: the resume endpoint.
    pub action: &'a str,
    /// The hidden `interaction` field's value.
    pub interaction: &'a str,
    /// The hidden `csrf_token` field's value.
    pub csrf_token: &'a str,
}

/// subject → client id → the scopes consented to. Nested, so that a lookup borrows both keys
/// instead of allocating a tuple of them.
type Remembered = HashMap<Box<str>, HashMap<Box<str>, ScopeSet>>;

type Renderer = dyn Fn(&ConsentPage<'_>) -> HttpResponse + Send + Sync;

/// Consent remembered in memory per user and client, with a built-in consent page.
///
/// Consent once given for a client and a scope set is remembered, and asked again only for
/// new scopes or with `prompt=consent`.
#[derive(Clone, Default)]
pub struct MemoryConsent {
    remembered: Arc<Mutex<Remembered>>,
    render: Option<Arc<Renderer>>,
}

impl std::fmt::Debug for MemoryConsent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryConsent").finish_non_exhaustive()
    }
}

impl MemoryConsent {
    /// Remembers nothing yet; uses the built-in page.
    pub fn new() -> Self {
        Self::default()
    }

    /// Uses `render` to draw the consent page. Its form must POST `interaction`, `csrf_token`
    /// and `consent` (`allow` or `deny`) to `page.action`.
    pub fn with_renderer(
        mut self,
        render: impl Fn(&ConsentPage<'_>) -> HttpResponse + Send + Sync + 'static,
    ) -> Self {
        self.render = Some(Arc::new(render));
        self
    }

    fn map(&self) -> std::sync::MutexGuard<'_, Remembered> {
        self.remembered
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Records that `subject` consented to `scope` for `client_id` (e.g. to seed tests).
    pub fn grant(&self, subject: &str, client_id: &str, scope: &ScopeSet) {
        let mut map = self.map();
        let entry = map
            .entry(subject.into())
            .or_default()
            .entry(client_id.into())
            .or_default();
        let mut merged = ScopeBuilder::default();
        for s in entry.iter().chain(scope.iter()) {
            merged.push(s);
        }
        *entry = merged.finish();
    }

    /// The scopes `subject` has consented to for `client_id`.
    pub fn granted(&self, subject: &str, client_id: &str) -> Option<ScopeSet> {
        self.map().get(subject)?.get(client_id).cloned()
    }

    /// Whether `subject` has consented to all of `scope` for `client_id`.
    fn covers(&self, subject: &str, client_id: &str, scope: &ScopeSet) -> bool {
        self.map()
            .get(subject)
            .and_then(|clients| clients.get(client_id))
            .is_some_and(|given| scope.is_subset_of(given))
    }
}

/// The built-in consent page: plain HTML, no JavaScript.
pub(crate) fn default_page(p: &ConsentPage<'_>) -> HttpResponse {
    let scopes: String = p
        .scope
        .iter()
        .map(|s| format!("<li>{}</li>", escape_html(s)))
        .collect();
    html(
        http::StatusCode::OK,
        format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Authorize {name}</title></head>\
             <body style=\"font-family:system-ui,sans-serif;max-width:30rem;margin:4rem auto\">\
             <h1>Authorize {name}</h1><p>{name} asks for:</p><ul>{scopes}</ul>\
             <form method=\"post\" action=\"{action}\">\
             <input type=\"hidden\" name=\"interaction\" value=\"{interaction}\">\
             <input type=\"hidden\" name=\"csrf_token\" value=\"{csrf}\">\
             <button type=\"submit\" name=\"consent\" value=\"allow\">Allow</button> \
             <button type=\"submit\" name=\"consent\" value=\"deny\">Deny</button>\
             </form></body></html>",
            name = escape_html(p.client_name),
            action = escape_html(p.action),
            interaction = escape_html(p.interaction),
            csrf = escape_html(p.csrf_token),
        ),
    )
}

#[async_trait]
impl ConsentProvider for MemoryConsent {
    async fn consent(&self, request: &ConsentRequest<'_>) -> Result<Consent, StoreError> {
        let asked = &request.authorization().scope;
        if !request.force_consent()
            && self.covers(&request.user().subject, request.client().id(), asked)
        {
            return Ok(Consent::Granted(asked.clone()));
        }
        let interaction = request.interaction();
        let page = ConsentPage {
            client_name: request.client().name(),
            client_id: request.client().id(),
            scope: asked,
            subject: &request.user().subject,
            action: interaction.resume_endpoint(),
            interaction: interaction.id(),
            csrf_token: interaction.csrf_token(),
        };
        Ok(Consent::Interact(match &self.render {
            Some(render) => render(&page),
            None => default_page(&page),
        }))
    }

    async fn remember(
        &self,
        user: &EndUser,
        client: &Client,
        scope: &ScopeSet,
    ) -> Result<(), StoreError> {
        self.grant(&user.subject, client.id(), scope);
        Ok(())
    }
}
