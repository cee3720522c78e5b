//! What both demo servers (`examples/axum.rs`, `examples/actix.rs`) share: settings from the
//! environment, the DEMO_CONFIG file, the authorization server built from it, the user
//! directory, and the login, consent and home pages. Everything here is framework-agnostic
//! (`http::Request<Bytes>` in, `grantor::HttpResponse` out); each example only wires routes.
//! See shared `demo-contract.md` for what the demos promise.

// Included by each example and by tests/adapters.rs; each uses a different subset.
#![allow(dead_code)]

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use bytes::Bytes;
use grantor::http::{self, header, HeaderValue, Method, StatusCode};
use grantor::memory::{
    ConsentPage, MemoryClaims, MemoryClientStore, MemoryConsent, MemoryGrantStore, MemorySessions,
};
use grantor::{
    escape_html, html, AuthorizationServer, Client, ClientAuthMethod, ClientSecret, EndUser,
    GrantType, HttpResponse, KeySet, Policy, RefreshTokenPolicy, SigningAlgorithm, SigningKey,
    TokenDigest,
};
use rand::RngCore as _;
use serde::Deserialize;

/// The largest login form body the demo reads.
pub const LOGIN_BODY_LIMIT: usize = 16 * 1024;

const LOGIN_CSRF_COOKIE: &str = "demo_login_csrf";

/// Settings from the environment (demo-contract.md, "Starting").
#[derive(Debug, Clone)]
pub struct Settings {
    /// `LISTEN_ADDR`, default `127.0.0.1:3000`.
    pub listen_addr: String,
    /// `ISSUER`, default `http://` + listen address.
    pub issuer: String,
    /// `DEMO_CONFIG`, default `examples/demo.json`.
    pub config_path: String,
}

impl Settings {
    pub fn from_env() -> Settings {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let listen_addr = var("LISTEN_ADDR").unwrap_or_else(|| "127.0.0.1:3000".to_owned());
        let issuer = var("ISSUER").unwrap_or_else(|| format!("http://{listen_addr}"));
        let config_path = var("DEMO_CONFIG").unwrap_or_else(|| "examples/demo.json".to_owned());
        Settings {
            listen_addr,
            issuer,
            config_path,
        }
    }
}

/// The DEMO_CONFIG file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub clients: Vec<ClientConfig>,
    #[serde(default)]
    pub users: Vec<UserConfig>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientConfig {
    pub client_id: String,
    /// A display name for the consent page (RFC 7591 `client_name`); default the id.
    #[serde(default)]
    pub client_name: Option<String>,
    #[serde(default)]
    pub client_secret: Option<String>,
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    #[serde(default)]
    pub grant_types: Vec<String>,
    #[serde(default)]
    pub scopes: Vec<String>,
    #[serde(default)]
    pub token_endpoint_auth_method: Option<String>,
    #[serde(default)]
    pub require_pkce: Option<bool>,
    #[serde(default)]
    pub id_token_signed_response_alg: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserConfig {
    pub username: String,
    pub password: String,
    pub sub: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
}

struct User {
    sub: String,
    /// The password's SHA-256 digest, compared in constant time. (A real server stores a
    /// slow password hash such as Argon2; the demo's passwords sit in a JSON file anyway.)
    password: TokenDigest,
}

/// A running demo's shared state: the authorization server and the login machinery.
pub struct Demo {
    pub server: AuthorizationServer,
    sessions: MemorySessions,
    users: HashMap<String, User>,
    issuer: String,
    /// The issuer's path ("" for an issuer at the root), under which every route is mounted.
    base_path: String,
    resume_endpoint: String,
    secure_cookies: bool,
    /// An authorization URL for the first client with a redirect URI, for the home page.
    sample_authorize: Option<String>,
}

impl std::fmt::Debug for Demo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Demo")
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

/// Reports that the server cannot listen on `LISTEN_ADDR` (demo contract: exit with failure).
pub fn cannot_listen(settings: &Settings, e: impl std::fmt::Display) -> std::process::ExitCode {
    eprintln!(
        "error: cannot listen on LISTEN_ADDR {:?}: {e}",
        settings.listen_addr
    );
    std::process::ExitCode::FAILURE
}

/// A fixed PKCE verifier and its S256 challenge, for the home page's sample link and README.
pub const SAMPLE_VERIFIER: &str = "dBjftJeZ4CVP-mJ92q9Vm1XBgWsEdiXAvwm3UWgyVdA";
pub const SAMPLE_CHALLENGE: &str = "d7gxb5pPiyI_xpKKGifxWe3p4HbC9KiryLgQ_WcNo0U";

/// What both demo servers do first: log to stderr at INFO, read the settings from the
/// environment and load the demo. On an error it has been printed: exit with failure.
pub fn start() -> Result<(Settings, std::sync::Arc<Demo>), std::process::ExitCode> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(tracing_subscriber::filter::LevelFilter::INFO)
        .init();
    let settings = Settings::from_env();
    match Demo::load(&settings) {
        Ok(demo) => Ok((settings, std::sync::Arc::new(demo))),
        Err(e) => {
            eprintln!("error: {e}");
            Err(std::process::ExitCode::FAILURE)
        }
    }
}

impl Demo {
    /// Reads `settings.config_path` and builds the demo. The error names the file and the
    /// problem, ready to print.
    pub fn load(settings: &Settings) -> Result<Demo, String> {
        let path = &settings.config_path;
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read DEMO_CONFIG {path:?}: {e}"))?;
        Demo::from_json(&text, &settings.issuer).map_err(|e| format!("DEMO_CONFIG {path:?}: {e}"))
    }

    /// Builds the demo from the text of a DEMO_CONFIG file.
    pub fn from_json(text: &str, issuer: &str) -> Result<Demo, String> {
        let config: Config = serde_json::from_str(text).map_err(|e| e.to_string())?;
        Demo::from_config(config, issuer)
    }

    pub fn from_config(config: Config, issuer: &str) -> Result<Demo, String> {
        let issuer = issuer.trim_end_matches('/').to_owned();
        let base_path = issuer_path(&issuer).to_owned();
        let clients = MemoryClientStore::new();
        let mut names = HashMap::new();
        let mut seen = HashSet::new();
        let mut all_scopes = Vec::new();
        let mut sample_authorize = None;
        if config.clients.is_empty() {
            return Err("no clients: list at least one in \"clients\"".into());
        }
        for c in config.clients {
            if !seen.insert(c.client_id.clone()) {
                return Err(format!("client {:?} is listed twice", c.client_id));
            }
            let client = build_client(&c)?;
            names.insert(
                c.client_id.clone(),
                c.client_name.clone().unwrap_or_else(|| c.client_id.clone()),
            );
            all_scopes.extend(c.scopes.iter().cloned());
            if sample_authorize.is_none() && client.allows_grant(GrantType::AuthorizationCode) {
                if let Some(uri) = c.redirect_uris.first() {
                    sample_authorize = Some(sample_authorize_url(&issuer, &c, uri));
                }
            }
            clients.insert(client);
        }

        let claims = MemoryClaims::new();
        let mut users = HashMap::new();
        let mut subs = HashSet::new();
        for u in config.users {
            if u.username.is_empty() || u.sub.is_empty() {
                return Err("a user needs a non-empty username and sub".into());
            }
            if !subs.insert(u.sub.clone()) {
                return Err(format!("user sub {:?} is used twice", u.sub));
            }
            let mut c = serde_json::Map::new();
            if let Some(name) = &u.name {
                c.insert("name".into(), name.clone().into());
            }
            if let Some(email) = &u.email {
                c.insert("email".into(), email.clone().into());
                c.insert("email_verified".into(), true.into());
            }
            claims.insert(u.sub.clone(), serde_json::Value::Object(c));
            let user = User {
                sub: u.sub,
                password: TokenDigest::of(&u.password),
            };
            if users.insert(u.username.clone(), user).is_some() {
                return Err(format!("user {:?} is listed twice", u.username));
            }
        }

        let keys = signing_keys().map_err(|e| format!("cannot generate signing keys: {e}"))?;
        let login_url = format!("{issuer}/login");
        let sessions = MemorySessions::new(login_url).with_cookie_name("demo_session");
        let consent = MemoryConsent::new().with_renderer(move |page| {
            let name = names.get(page.client_id).map_or(page.client_name, |n| n);
            consent_page(page, name)
        });
        let mut policy = Policy::default();
        // Contract: a client with the refresh_token grant gets one from every code exchange.
        policy.refresh_tokens = RefreshTokenPolicy::Always;
        let server = AuthorizationServer::builder()
            .issuer(issuer.clone())
            .danger_allow_http_issuer(issuer.starts_with("http://"))
            .clients(clients)
            .grants(MemoryGrantStore::new())
            .authenticator(sessions.clone())
            .consent(consent)
            .claims(claims)
            .signing_keys(keys)
            .policy(policy)
            .scopes(all_scopes)
            .build()
            .map_err(|e| format!("cannot build the server: {e}"))?;
        Ok(Demo {
            server,
            sessions,
            users,
            secure_cookies: issuer.starts_with("https://"),
            resume_endpoint: format!("{issuer}/authorize/resume"),
            base_path,
            issuer,
            sample_authorize,
        })
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    pub fn discovery_url(&self) -> String {
        format!("{}/.well-known/openid-configuration", self.issuer)
    }

    /// The one start-up line (demo-contract.md, "Starting").
    pub fn startup_line(&self, framework: &str, listen_addr: &str) -> String {
        format!(
            "grantor demo ({framework}) listening on {listen_addr}: issuer {}, discovery {}",
            self.issuer,
            self.discovery_url()
        )
    }

    /// Where the login page is mounted.
    pub fn login_path(&self) -> String {
        format!("{}/login", self.base_path)
    }

    /// Where the home page is mounted.
    pub fn home_path(&self) -> String {
        if self.base_path.is_empty() {
            "/".to_owned()
        } else {
            self.base_path.clone()
        }
    }

    /// The login page: `GET` shows the form, `POST` checks it.
    pub fn login(&self, request: http::Request<Bytes>) -> HttpResponse {
        match *request.method() {
            Method::GET | Method::HEAD => self.login_form(&request),
            Method::POST => self.login_submit(&request),
            _ => {
                let mut r = message_page(StatusCode::METHOD_NOT_ALLOWED, "Method not allowed", "");
                r.headers_mut()
                    .insert(header::ALLOW, HeaderValue::from_static("GET, POST"));
                r
            }
        }
    }

    fn login_form(&self, request: &http::Request<Bytes>) -> HttpResponse {
        let query = request.uri().query().unwrap_or("");
        let Some(interaction) = single(&form_pairs(query.as_bytes()), "interaction") else {
            return message_page(
                StatusCode::BAD_REQUEST,
                "This sign-in link is incomplete",
                "Start again from the application you were signing in to.",
            );
        };
        // Reuse the browser's token if it has one, so that two open login tabs both work.
        let csrf = cookie(request.headers(), LOGIN_CSRF_COOKIE)
            .filter(|t| t.len() == 43)
            .unwrap_or_else(random_token);
        self.login_page(StatusCode::OK, &interaction, &csrf, "", None)
    }

    fn login_submit(&self, request: &http::Request<Bytes>) -> HttpResponse {
        let is_form = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                v.split(';').next().unwrap_or("").trim() == "application/x-www-form-urlencoded"
            });
        if !is_form {
            return message_page(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "Unsupported form",
                "The sign-in form must be sent as application/x-www-form-urlencoded.",
            );
        }
        let pairs = form_pairs(request.body());
        let Some(interaction) = single(&pairs, "interaction") else {
            return message_page(
                StatusCode::BAD_REQUEST,
                "This sign-in form is incomplete",
                "Start again from the application you were signing in to.",
            );
        };
        let username = single(&pairs, "username").unwrap_or_default();
        let password = single(&pairs, "password").unwrap_or_default();
        // Login CSRF: the hidden token must match the cookie set with the form
        // (double submit; the cookie is SameSite=Strict, so no other site can send it).
        let csrf_ok = match (
            single(&pairs, "csrf_token"),
            cookie(request.headers(), LOGIN_CSRF_COOKIE),
        ) {
            (Some(sent), Some(expected)) => {
                TokenDigest::of(&sent).matches(&TokenDigest::of(&expected))
            }
            _ => false,
        };
        if !csrf_ok {
            return self.login_page(
                StatusCode::FORBIDDEN,
                &interaction,
                &random_token(),
                &username,
                Some("This sign-in form expired. Please sign in again."),
            );
        }
        let user = self.users.get(&username);
        let presented = TokenDigest::of(&password);
        // Compare even for an unknown user, so that timing does not tell which names exist.
        let unknown = TokenDigest::of("\u{0}no such user");
        let matches = presented.matches(user.map_or(&unknown, |u| &u.password));
        let Some(user) = user.filter(|_| matches) else {
            let csrf = cookie(request.headers(), LOGIN_CSRF_COOKIE).unwrap_or_else(random_token);
            return self.login_page(
                StatusCode::OK,
                &interaction,
                &csrf,
                &username,
                Some("Wrong username or password."),
            );
        };
        let session = self.sessions.sign_in(EndUser::new(user.sub.clone(), now()));
        let query = serde_urlencoded::to_string([("interaction", interaction.as_str())])
            .unwrap_or_default();
        let location = format!("{}?{query}", self.resume_endpoint);
        let mut r = http::Response::new(Bytes::new());
        *r.status_mut() = StatusCode::SEE_OTHER;
        let h = r.headers_mut();
        if let Ok(v) = HeaderValue::from_str(&location) {
            h.insert(header::LOCATION, v);
        }
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        h.append(
            header::SET_COOKIE,
            self.sessions.set_cookie(&session, self.secure_cookies),
        );
        if let Ok(v) = HeaderValue::from_str(&format!(
            "{LOGIN_CSRF_COOKIE}=; Path={}; Max-Age=0; HttpOnly; SameSite=Strict",
            self.login_path()
        )) {
            h.append(header::SET_COOKIE, v);
        }
        r
    }

    fn login_page(
        &self,
        status: StatusCode,
        interaction: &str,
        csrf: &str,
        username: &str,
        error: Option<&str>,
    ) -> HttpResponse {
        let error = error.map_or(String::new(), |e| {
            format!("<p class=\"error\" role=\"alert\">{}</p>", escape_html(e))
        });
        let body = format!(
            "<h1>Sign in</h1>{error}\
             <form method=\"post\" action=\"{action}\">\
             <input type=\"hidden\" name=\"interaction\" value=\"{interaction}\">\
             <input type=\"hidden\" name=\"csrf_token\" value=\"{csrf}\">\
             <label for=\"username\">Username</label>\
             <input type=\"text\" id=\"username\" name=\"username\" value=\"{username}\" autocomplete=\"username\" required autofocus>\
             <label for=\"password\">Password</label>\
             <input type=\"password\" id=\"password\" name=\"password\" autocomplete=\"current-password\" required>\
             <button type=\"submit\">Sign in</button>\
             </form>\
             <p class=\"hint\">Demo users are listed in the DEMO_CONFIG file (try alice / wonderland).</p>",
            action = escape_html(&self.login_path()),
            interaction = escape_html(interaction),
            csrf = escape_html(csrf),
            username = escape_html(username),
        );
        let mut r = html(status, layout("Sign in", &body));
        let cookie = format!(
            "{LOGIN_CSRF_COOKIE}={csrf}; Path={}; HttpOnly; SameSite=Strict{}",
            self.login_path(),
            if self.secure_cookies { "; Secure" } else { "" }
        );
        if let Ok(v) = HeaderValue::from_str(&cookie) {
            r.headers_mut().append(header::SET_COOKIE, v);
        }
        r
    }

    /// The home page: what this server is, and a link that starts a sign-in.
    pub fn home(&self) -> HttpResponse {
        let mut body = format!(
            "<h1>grantor demo</h1><p>An OAuth 2.0 / OpenID Connect authorization server.</p>\
             <p>Issuer: <code>{issuer}</code><br>Discovery: <a href=\"{disc}\">{disc}</a></p>",
            issuer = escape_html(&self.issuer),
            disc = escape_html(&self.discovery_url()),
        );
        if let Some(url) = &self.sample_authorize {
            let _ = write!(
                body,
                "<p><a class=\"button\" href=\"{url}\">Start a sign-in</a></p>\
                 <p class=\"hint\">This authorization request uses the PKCE verifier \
                 <code>{SAMPLE_VERIFIER}</code>: exchange the code \
                 from the redirect at the token endpoint with it within a minute.</p>",
                url = escape_html(url),
            );
        }
        html(StatusCode::OK, layout("grantor demo", &body))
    }
}

fn build_client(c: &ClientConfig) -> Result<Client, String> {
    let id = &c.client_id;
    let err = |msg: String| format!("client {id:?}: {msg}");
    let mut b = Client::builder(id.clone())
        .name(c.client_name.clone().unwrap_or_else(|| id.clone()))
        .scopes(c.scopes.join(" "));
    let method = match c.token_endpoint_auth_method.as_deref() {
        None => None,
        Some(m) => Some(ClientAuthMethod::parse(m).ok_or_else(|| {
            err(format!(
                "token_endpoint_auth_method {m:?} is not one of client_secret_basic, client_secret_post, none"
            ))
        })?),
    };
    match (&c.client_secret, method) {
        (None, Some(m)) if m != ClientAuthMethod::None => {
            return Err(err(format!(
                "has no client_secret, so it is public and its token_endpoint_auth_method must be \"none\", not {:?}",
                m.as_str()
            )))
        }
        (Some(_), Some(ClientAuthMethod::None)) => {
            return Err(err(
                "has a client_secret, so its token_endpoint_auth_method cannot be \"none\"".into(),
            ))
        }
        (Some(s), _) if s.is_empty() => return Err(err("client_secret is empty".into())),
        _ => {}
    }
    if let Some(secret) = &c.client_secret {
        b = b.secret(ClientSecret::new(secret.clone()));
    }
    if let Some(m) = method {
        b = b.auth_method(m);
    }
    if c.require_pkce == Some(false) && c.client_secret.is_none() {
        return Err(err(
            "is public (no client_secret), so it cannot set \"require_pkce\": false".into(),
        ));
    }
    if let Some(require) = c.require_pkce {
        b = b.require_pkce(require);
    }
    let mut grants = Vec::new();
    for g in &c.grant_types {
        grants.push(GrantType::parse(g).ok_or_else(|| {
            err(format!(
                "grant type {g:?} is not one of authorization_code, refresh_token, client_credentials"
            ))
        })?);
    }
    if grants.contains(&GrantType::AuthorizationCode) && c.redirect_uris.is_empty() {
        return Err(err(
            "has the authorization_code grant but no redirect_uris".into()
        ));
    }
    b = b.grant_types(grants);
    for uri in &c.redirect_uris {
        b = b.redirect_uri(uri.clone());
    }
    if let Some(alg) = &c.id_token_signed_response_alg {
        let alg = SigningAlgorithm::parse(alg).ok_or_else(|| {
            err(format!(
                "id_token_signed_response_alg {alg:?} is not one of RS256, ES256, EdDSA"
            ))
        })?;
        b = b.id_token_signing_alg(alg);
    }
    b.build().map_err(|e| e.to_string())
}

/// One active key of each kind, all published (demo-contract.md).
fn signing_keys() -> Result<KeySet, grantor::KeyError> {
    let keys = KeySet::new(SigningKey::generate(SigningAlgorithm::RS256, "rs256-1")?);
    for (alg, kid) in [
        (SigningAlgorithm::ES256, "es256-1"),
        (SigningAlgorithm::EdDSA, "eddsa-1"),
    ] {
        keys.try_publish(SigningKey::generate(alg, kid)?)?;
        keys.activate(kid)?;
    }
    Ok(keys)
}

fn sample_authorize_url(issuer: &str, c: &ClientConfig, redirect_uri: &str) -> String {
    let scope = c.scopes.join(" ");
    let query = serde_urlencoded::to_string([
        ("response_type", "code"),
        ("client_id", c.client_id.as_str()),
        ("redirect_uri", redirect_uri),
        ("scope", scope.as_str()),
        ("state", "demo-state"),
        ("nonce", "demo-nonce"),
        ("code_challenge", SAMPLE_CHALLENGE),
        ("code_challenge_method", "S256"),
    ])
    .unwrap_or_default();
    format!("{issuer}/authorize?{query}")
}

/// The consent page (MemoryConsent's renderer): names the client, lists the scopes in words.
fn consent_page(p: &ConsentPage<'_>, client_name: &str) -> HttpResponse {
    let scopes: String = p
        .scope
        .iter()
        .map(|s| {
            format!(
                "<li>{} <code>{}</code></li>",
                escape_html(describe_scope(s)),
                escape_html(s)
            )
        })
        .collect();
    let body = format!(
        "<h1>Allow {name}?</h1>\
         <p><strong>{name}</strong> (<code>{id}</code>) asks to:</p><ul class=\"scopes\">{scopes}</ul>\
         <form method=\"post\" action=\"{action}\">\
         <input type=\"hidden\" name=\"interaction\" value=\"{interaction}\">\
         <input type=\"hidden\" name=\"csrf_token\" value=\"{csrf}\">\
         <div class=\"row\">\
         <button type=\"submit\" name=\"consent\" value=\"allow\">Allow</button>\
         <button type=\"submit\" name=\"consent\" value=\"deny\" class=\"secondary\">Deny</button>\
         </div></form>",
        name = escape_html(client_name),
        id = escape_html(p.client_id),
        action = escape_html(p.action),
        interaction = escape_html(p.interaction),
        csrf = escape_html(p.csrf_token),
    );
    html(StatusCode::OK, layout("Allow access", &body))
}

fn describe_scope(scope: &str) -> &str {
    match scope {
        "openid" => "Confirm who you are (your account identifier)",
        "profile" => "See your name and basic profile",
        "email" => "See your email address",
        "address" => "See your postal address",
        "phone" => "See your phone number",
        "offline_access" => "Stay signed in to your account when you are not using it",
        "api.read" => "Read data from the API on your behalf",
        other => other,
    }
}

/// A page with a short message.
pub fn message_page(status: StatusCode, title: &str, text: &str) -> HttpResponse {
    let body = format!(
        "<h1>{}</h1><p>{}</p>",
        escape_html(title),
        escape_html(text)
    );
    html(status, layout(title, &body))
}

/// The common page frame: inline CSS only (the CSP allows no scripts, no outside styles).
fn layout(title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title}</title><style>\
         body{{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;background:#f4f5f7;color:#1d2433;margin:0;padding:0 1rem}}\
         main{{max-width:26rem;margin:4rem auto;background:#fff;padding:2rem 2.25rem;border-radius:12px;box-shadow:0 2px 12px rgba(0,0,0,.08)}}\
         h1{{font-size:1.4rem;margin:0 0 1rem}}\
         label{{display:block;font-weight:600;margin:.9rem 0 .3rem}}\
         input[type=text],input[type=password]{{width:100%;box-sizing:border-box;padding:.6rem .7rem;border:1px solid #c4c9d4;border-radius:8px;font-family:inherit;font-size:1rem}}\
         button,.button{{display:inline-block;margin-top:1.2rem;padding:.65rem 1.3rem;border:0;border-radius:8px;background:#2f5bea;color:#fff;font-family:inherit;font-size:1rem;cursor:pointer;text-decoration:none}}\
         button.secondary{{background:#e6e8ee;color:#1d2433}}\
         .row{{display:flex;gap:.75rem}}\
         .error{{background:#fdecec;color:#a11;padding:.6rem .8rem;border-radius:8px}}\
         .hint{{color:#667;font-size:.9rem}}\
         ul.scopes{{padding-left:1.2rem}} ul.scopes li{{margin:.35rem 0}}\
         code{{background:#f0f1f4;padding:0 .25rem;border-radius:4px;overflow-wrap:anywhere}}\
         </style></head><body><main>{body}</main></body></html>",
        title = escape_html(title),
    )
}

/// The path part of an issuer URL, without a trailing slash.
fn issuer_path(issuer: &str) -> &str {
    let rest = issuer.split_once("://").map_or(issuer, |(_, r)| r);
    rest.find('/')
        .map_or("", |i| rest[i..].trim_end_matches('/'))
}

fn form_pairs(input: &[u8]) -> Vec<(String, String)> {
    serde_urlencoded::from_bytes(input).unwrap_or_default()
}

/// The value of a parameter given exactly once.
fn single(pairs: &[(String, String)], name: &str) -> Option<String> {
    let mut found = pairs.iter().filter(|(k, _)| k == name);
    let first = found.next()?;
    if found.next().is_some() {
        return None;
    }
    Some(first.1.clone())
}

fn cookie(headers: &http::HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
