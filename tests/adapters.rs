//! The demo servers end to end, through both adapters: one flow suite, written once against a
//! `Transport` (an `http::Request` in, an `http::Response` out), run in-process through axum
//! (tower `oneshot`) and actix (`actix_web::test`), and over a real TCP socket with an HTTP
//! client, as a browser would: following redirects, keeping cookies, reading the HTML forms.
#![cfg(all(feature = "axum", feature = "actix"))]
// Both examples are included to test their real wiring, and each includes the demo module.
#![allow(clippy::duplicate_mod)]

#[allow(dead_code)]
#[path = "../examples/axum.rs"]
mod axum_example;

#[allow(dead_code)]
#[path = "../examples/actix.rs"]
mod actix_example;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use bytes::Bytes;
use http::{header, Method, StatusCode};
use serde_json::Value;

const CONFIG: &str = include_str!("../examples/demo.json");
const CALLBACK: &str = "http://127.0.0.1:8080/callback";
const SPA_CALLBACK: &str = "http://127.0.0.1:8080/spa/callback";
const VERIFIER: &str = "dBjftJeZ4CVP-mJ92q9Vm1XBgWsEdiXAvwm3UWgyVdA";
const CHALLENGE: &str = "d7gxb5pPiyI_xpKKGifxWe3p4HbC9KiryLgQ_WcNo0U";

type Response = http::Response<Bytes>;

/// Sends one request (absolute URI) and returns the whole response.
trait Transport {
    async fn send(&self, request: http::Request<Bytes>) -> Response;
}

/// The request in origin form, as a server sees it.
fn origin_form(request: http::Request<Bytes>) -> http::Request<Bytes> {
    let (mut parts, body) = request.into_parts();
    let path = parts
        .uri
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_owned();
    parts.uri = path.parse().unwrap();
    http::Request::from_parts(parts, body)
}

// ----- the transports -----

struct AxumInProcess(axum::Router);

impl Transport for AxumInProcess {
    async fn send(&self, request: http::Request<Bytes>) -> Response {
        use tower::ServiceExt as _;
        let request = origin_form(request).map(axum::body::Body::from);
        let response = self.0.clone().oneshot(request).await.unwrap();
        let (parts, body) = response.into_parts();
        let body = axum::body::to_bytes(body, usize::MAX).await.unwrap();
        http::Response::from_parts(parts, body)
    }
}

struct ActixInProcess<S>(S);

impl<S> Transport for ActixInProcess<S>
where
    S: actix_web::dev::Service<
        actix_http::Request,
        Response = actix_web::dev::ServiceResponse,
        Error = actix_web::Error,
    >,
{
    async fn send(&self, request: http::Request<Bytes>) -> Response {
        let (parts, body) = origin_form(request).into_parts();
        let mut test = actix_web::test::TestRequest::default()
            .method(actix_web::http::Method::from_bytes(parts.method.as_str().as_bytes()).unwrap())
            .uri(&parts.uri.to_string());
        for (name, value) in &parts.headers {
            test = test.append_header((name.as_str(), value.as_bytes()));
        }
        let response =
            actix_web::test::call_service(&self.0, test.set_payload(body).to_request()).await;
        let mut out = http::Response::builder().status(response.status().as_u16());
        for (name, value) in response.headers() {
            out = out.header(name.as_str(), value.as_bytes());
        }
        let body = actix_web::test::read_body(response).await;
        out.body(body).unwrap()
    }
}

/// A real HTTP/1 client over TCP.
struct Tcp(
    hyper_util::client::legacy::Client<
        hyper_util::client::legacy::connect::HttpConnector,
        http_body_util::Full<Bytes>,
    >,
);

impl Tcp {
    fn new() -> Tcp {
        Tcp(
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .build_http(),
        )
    }
}

impl Transport for Tcp {
    async fn send(&self, request: http::Request<Bytes>) -> Response {
        use http_body_util::BodyExt as _;
        let response = self
            .0
            .request(request.map(http_body_util::Full::new))
            .await
            .expect("the server answers");
        let (parts, body) = response.into_parts();
        let body = body.collect().await.unwrap().to_bytes();
        http::Response::from_parts(parts, body)
    }
}

// ----- a small browser -----

/// Follows redirects, keeps cookies, reads forms.
struct Browser<'t, T> {
    transport: &'t T,
    cookies: Mutex<HashMap<String, String>>,
    /// The browser's view of the server's origin.
    origin: String,
    /// The `Referrer-Policy` of the page shown last: it decides the `Origin` of its form posts.
    page_referrer_policy: Mutex<Option<String>>,
}

/// Where a navigation ended.
enum Landed {
    /// A page (any status other than a redirect).
    Page(Response),
    /// A redirect to the client's callback, not followed.
    Callback(String),
}

impl<'t, T: Transport> Browser<'t, T> {
    fn new(transport: &'t T, issuer: &str) -> Self {
        Browser {
            transport,
            cookies: Mutex::default(),
            origin: issuer.to_owned(),
            page_referrer_policy: Mutex::default(),
        }
    }

    async fn send(&self, mut request: http::Request<Bytes>) -> Response {
        let cookie_header: String = {
            let jar = self.cookies.lock().unwrap();
            jar.iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("; ")
        };
        if !cookie_header.is_empty() {
            request
                .headers_mut()
                .insert(header::COOKIE, cookie_header.parse().unwrap());
        }
        if let Some(authority) = request.uri().authority() {
            let host = authority.as_str().parse().unwrap();
            request.headers_mut().insert(header::HOST, host);
        }
        let response = self.transport.send(request).await;
        let mut jar = self.cookies.lock().unwrap();
        for set in response.headers().get_all(header::SET_COOKIE) {
            let set = set.to_str().unwrap();
            let (pair, attrs) = set.split_once(';').unwrap_or((set, ""));
            let (name, value) = pair.split_once('=').unwrap();
            if attrs.contains("Max-Age=0") || value.is_empty() {
                jar.remove(name.trim());
            } else {
                jar.insert(name.trim().to_owned(), value.trim().to_owned());
            }
        }
        response
    }

    /// Sends `request`, then follows redirects (as GET) until a page or the client callback.
    async fn navigate(&self, request: http::Request<Bytes>) -> Landed {
        let mut response = self.send(request).await;
        for _ in 0..10 {
            if !response.status().is_redirection() {
                *self.page_referrer_policy.lock().unwrap() = response
                    .headers()
                    .get(header::REFERRER_POLICY)
                    .map(|v| v.to_str().unwrap().to_owned());
                return Landed::Page(response);
            }
            let location = header_str(&response, header::LOCATION).to_owned();
            if location.starts_with("http://127.0.0.1:8080/") {
                return Landed::Callback(location);
            }
            let url = self.absolute(&location);
            response = self.send(get(&url)).await;
        }
        panic!("too many redirects");
    }

    async fn open(&self, url: &str) -> Landed {
        self.navigate(get(url)).await
    }

    /// Submits `form` (with a button's `name=value` and field overrides), as a browser would.
    async fn submit(&self, form: &Form, fields: &[(&str, &str)]) -> Landed {
        let mut values: Vec<(String, String)> = form.fields.clone();
        for (name, value) in fields {
            match values.iter_mut().find(|(n, _)| n == name) {
                Some(slot) => slot.1 = (*value).to_owned(),
                None => values.push(((*name).to_owned(), (*value).to_owned())),
            }
        }
        let body = serde_urlencoded::to_string(&values).unwrap();
        assert_eq!(form.method, "post");
        // As Chromium does (Fetch Standard, "append a request `Origin` header"): a POST from a
        // page with `Referrer-Policy: no-referrer` carries `Origin: null`, and fetch metadata
        // says the post is same-origin.
        let origin = match self.page_referrer_policy.lock().unwrap().as_deref() {
            Some("no-referrer") => "null".to_owned(),
            _ => self.origin.clone(),
        };
        let request = http::Request::post(self.absolute(&form.action))
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::ORIGIN, origin)
            .header("sec-fetch-site", "same-origin")
            .body(Bytes::from(body))
            .unwrap();
        self.navigate(request).await
    }

    fn absolute(&self, url: &str) -> String {
        if url.starts_with("http://") || url.starts_with("https://") {
            url.to_owned()
        } else {
            format!("{}{url}", self.origin)
        }
    }
}

fn get(url: &str) -> http::Request<Bytes> {
    http::Request::get(url).body(Bytes::new()).unwrap()
}

fn header_str(response: &Response, name: header::HeaderName) -> &str {
    response
        .headers()
        .get(&name)
        .unwrap_or_else(|| panic!("no {name} header"))
        .to_str()
        .unwrap()
}

fn page(landed: Landed) -> (Response, String) {
    match landed {
        Landed::Page(r) => {
            let text = String::from_utf8(r.body().to_vec()).unwrap();
            (r, text)
        }
        Landed::Callback(url) => panic!("expected a page, got a redirect to {url}"),
    }
}

fn callback(landed: Landed) -> HashMap<String, String> {
    match landed {
        Landed::Callback(url) => {
            let query = url.split_once('?').map_or("", |(_, q)| q);
            serde_urlencoded::from_str(query).unwrap()
        }
        Landed::Page(r) => panic!(
            "expected a redirect to the client, got {}: {}",
            r.status(),
            String::from_utf8_lossy(r.body())
        ),
    }
}

// ----- reading HTML forms -----

#[derive(Debug)]
struct Form {
    action: String,
    method: String,
    /// Hidden and text inputs, in order.
    fields: Vec<(String, String)>,
    /// Submit buttons: (name, value).
    buttons: Vec<(String, String)>,
    /// Every input's (type, name).
    inputs: Vec<(String, String)>,
}

/// The one form on a page.
fn the_form(html: &str) -> Form {
    assert_eq!(html.matches("<form").count(), 1, "one form: {html}");
    let start = html.find("<form").unwrap();
    let end = html[start..].find("</form>").unwrap() + start;
    let inner = &html[start..end];
    let form_tag = &inner[..inner.find('>').unwrap()];
    let mut form = Form {
        action: attr(form_tag, "action").unwrap_or_default(),
        method: attr(form_tag, "method")
            .unwrap_or_else(|| "get".into())
            .to_lowercase(),
        fields: Vec::new(),
        buttons: Vec::new(),
        inputs: Vec::new(),
    };
    for (tag_name, tag) in tags(inner) {
        let name = attr(tag, "name");
        let value = attr(tag, "value").unwrap_or_default();
        match tag_name {
            "input" => {
                let kind = attr(tag, "type").unwrap_or_else(|| "text".into());
                if let Some(name) = name {
                    form.inputs.push((kind.clone(), name.clone()));
                    if kind != "submit" {
                        form.fields.push((name, value));
                    }
                }
            }
            "button" => {
                if let Some(name) = name {
                    form.buttons.push((name, value));
                }
            }
            _ => {}
        }
    }
    form
}

/// The `input` and `button` tags in `html`: (tag name, tag text).
fn tags(html: &str) -> Vec<(&'static str, &str)> {
    let mut out = Vec::new();
    let mut rest = html;
    while let Some(i) = rest.find('<') {
        rest = &rest[i + 1..];
        let end = rest.find('>').unwrap_or(rest.len());
        let tag = &rest[..end];
        if tag.starts_with("input ") {
            out.push(("input", tag));
        } else if tag.starts_with("button ") {
            out.push(("button", tag));
        }
        rest = &rest[end..];
    }
    out
}

fn attr(tag: &str, name: &str) -> Option<String> {
    let needle = format!(" {name}=\"");
    let start = tag.find(&needle)? + needle.len();
    let end = tag[start..].find('"')? + start;
    Some(unescape(&tag[start..end]))
}

fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

// ----- the flow suite -----

struct Discovered {
    authorization: String,
    token: String,
    userinfo: String,
    jwks: String,
}

async fn discover<T: Transport>(t: &T, issuer: &str) -> Discovered {
    let r = t
        .send(get(&format!("{issuer}/.well-known/openid-configuration")))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let doc: Value = serde_json::from_slice(r.body()).unwrap();
    assert_eq!(doc["issuer"], issuer);
    let s = |k: &str| doc[k].as_str().unwrap().to_owned();
    // RFC 8414 §3: the same document at the OAuth path.
    let r2 = t
        .send(get(&format!(
            "{issuer}/.well-known/oauth-authorization-server"
        )))
        .await;
    assert_eq!(r2.status(), StatusCode::OK);
    assert_eq!(r2.body(), r.body());
    Discovered {
        authorization: s("authorization_endpoint"),
        token: s("token_endpoint"),
        userinfo: s("userinfo_endpoint"),
        jwks: s("jwks_uri"),
    }
}

fn authorize_url(ep: &Discovered, client_id: &str, redirect_uri: &str, scope: &str) -> String {
    let query = serde_urlencoded::to_string([
        ("response_type", "code"),
        ("client_id", client_id),
        ("redirect_uri", redirect_uri),
        ("scope", scope),
        ("state", "state-123"),
        ("nonce", "nonce-456"),
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
    ])
    .unwrap();
    format!("{}?{query}", ep.authorization)
}

fn form_post(
    url: &str,
    basic: Option<(&str, &str)>,
    fields: &[(&str, &str)],
) -> http::Request<Bytes> {
    let mut b =
        http::Request::post(url).header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    if let Some((id, secret)) = basic {
        b = b.header(
            header::AUTHORIZATION,
            format!("Basic {}", STANDARD.encode(format!("{id}:{secret}"))),
        );
    }
    b.body(Bytes::from(serde_urlencoded::to_string(fields).unwrap()))
        .unwrap()
}

fn json(r: &Response) -> Value {
    assert_eq!(
        r.status(),
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(r.body())
    );
    serde_json::from_slice(r.body()).unwrap()
}

fn jwt_header(jwt: &str) -> Value {
    let head = jwt.split('.').next().unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(head).unwrap()).unwrap()
}

fn jwt_claims(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

fn assert_framing_headers(r: &Response) {
    assert_eq!(header_str(r, header::X_FRAME_OPTIONS), "DENY");
    assert!(header_str(r, header::CONTENT_SECURITY_POLICY).contains("frame-ancestors 'none'"));
    assert!(header_str(r, header::CONTENT_TYPE).starts_with("text/html"));
}

/// Login page → POST login (wrong, then right) → consent → code → token (Basic + PKCE) →
/// refresh → userinfo; then a second authorization from the same browser needs neither login
/// nor consent; then a public client (PKCE, no secret) with an ES256 ID token.
async fn full_flow<T: Transport>(t: &T, issuer: &str) {
    let ep = discover(t, issuer).await;
    let browser = Browser::new(t, issuer);
    let scope = "openid profile email api.read";

    // 1. /authorize sends the browser to the login page.
    let (r, html) = page(
        browser
            .open(&authorize_url(&ep, "web-app", CALLBACK, scope))
            .await,
    );
    assert_eq!(r.status(), StatusCode::OK);
    assert_framing_headers(&r);
    let login = the_form(&html);
    assert!(
        login.inputs.contains(&("text".into(), "username".into())),
        "{login:?}"
    );
    assert!(login
        .inputs
        .contains(&("password".into(), "password".into())));
    assert!(login
        .fields
        .iter()
        .any(|(n, v)| n == "interaction" && !v.is_empty()));
    assert!(login
        .fields
        .iter()
        .any(|(n, v)| n == "csrf_token" && !v.is_empty()));

    // 2. A wrong password shows the form again with an error.
    let (r, html) = page(
        browser
            .submit(&login, &[("username", "alice"), ("password", "nope")])
            .await,
    );
    assert_eq!(r.status(), StatusCode::OK);
    assert!(html.contains("Wrong username or password"), "{html}");
    let login = the_form(&html);

    // 3. The right one leads (303 → resume → 303) to the consent page.
    let (r, html) = page(
        browser
            .submit(&login, &[("username", "alice"), ("password", "wonderland")])
            .await,
    );
    assert_eq!(r.status(), StatusCode::OK, "{html}");
    assert_framing_headers(&r);
    assert!(html.contains("Example Web App"), "names the client: {html}");
    assert!(
        html.contains("See your email address"),
        "scopes in words: {html}"
    );
    assert!(!html.contains("<script"));
    let consent = the_form(&html);
    assert!(consent
        .buttons
        .contains(&("consent".into(), "allow".into())));
    assert!(consent.buttons.contains(&("consent".into(), "deny".into())));

    // 4. Allow: back to the client with a code, the state and the issuer (RFC 9207).
    let params = callback(browser.submit(&consent, &[("consent", "allow")]).await);
    assert_eq!(params["state"], "state-123");
    assert_eq!(params["iss"], issuer);
    let code = &params["code"];

    // 5. Token exchange: Basic authentication and the PKCE verifier.
    let tokens = json(
        &t.send(form_post(
            &ep.token,
            Some(("web-app", "a-long-random-secret")),
            &[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", CALLBACK),
                ("code_verifier", VERIFIER),
            ],
        ))
        .await,
    );
    assert_eq!(tokens["token_type"], "Bearer");
    let id_token = tokens["id_token"].as_str().unwrap();
    assert_eq!(jwt_header(id_token)["alg"], "RS256");
    let claims = jwt_claims(id_token);
    assert_eq!(claims["sub"], "248289761001");
    assert_eq!(claims["nonce"], "nonce-456");
    assert_eq!(claims["aud"], "web-app");
    // Contract: refresh tokens from every code exchange, without offline_access.
    let refresh = tokens["refresh_token"].as_str().expect("a refresh token");

    // 6. Refresh: rotated.
    let refreshed = json(
        &t.send(form_post(
            &ep.token,
            Some(("web-app", "a-long-random-secret")),
            &[("grant_type", "refresh_token"), ("refresh_token", refresh)],
        ))
        .await,
    );
    let access = refreshed["access_token"].as_str().unwrap();
    assert_ne!(refreshed["refresh_token"].as_str().unwrap(), refresh);

    // 7. Userinfo with the new access token.
    let info = json(
        &t.send(
            http::Request::get(&ep.userinfo)
                .header(header::AUTHORIZATION, format!("Bearer {access}"))
                .body(Bytes::new())
                .unwrap(),
        )
        .await,
    );
    assert_eq!(info["sub"], "248289761001");
    assert_eq!(info["name"], "Alice Liddell");
    assert_eq!(info["email"], "alice@example.com");

    // A replayed code is refused (and what it gave is revoked, RFC 6749 §4.1.2).
    let replay = t
        .send(form_post(
            &ep.token,
            Some(("web-app", "a-long-random-secret")),
            &[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", CALLBACK),
                ("code_verifier", VERIFIER),
            ],
        ))
        .await;
    assert_eq!(replay.status(), StatusCode::BAD_REQUEST);

    // 8. The same browser again: signed in, consent remembered, straight back with a code.
    let params = callback(
        browser
            .open(&authorize_url(&ep, "web-app", CALLBACK, scope))
            .await,
    );
    assert!(params.contains_key("code"));

    // 9. The public client: no login (same session), a consent page, then PKCE without a
    //    secret; its ID tokens are ES256, signed with a key from the JWK set.
    let (_, html) = page(
        browser
            .open(&authorize_url(&ep, "spa", SPA_CALLBACK, "openid profile"))
            .await,
    );
    let consent = the_form(&html);
    let params = callback(browser.submit(&consent, &[("consent", "allow")]).await);
    let tokens = json(
        &t.send(form_post(
            &ep.token,
            None,
            &[
                ("grant_type", "authorization_code"),
                ("client_id", "spa"),
                ("code", &params["code"]),
                ("redirect_uri", SPA_CALLBACK),
                ("code_verifier", VERIFIER),
            ],
        ))
        .await,
    );
    let header = jwt_header(tokens["id_token"].as_str().unwrap());
    assert_eq!(header["alg"], "ES256");
    let jwks = json(&t.send(get(&ep.jwks)).await);
    let kids: Vec<&str> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    assert!(kids.contains(&header["kid"].as_str().unwrap()), "{kids:?}");
    assert_eq!(kids.len(), 3, "RS256, ES256 and EdDSA keys: {kids:?}");

    // 10. Deny: access_denied back to the client.
    let other = Browser::new(t, issuer);
    let (_, html) = page(
        other
            .open(&authorize_url(&ep, "spa", SPA_CALLBACK, "openid"))
            .await,
    );
    let login = the_form(&html);
    let (_, html) = page(
        other
            .submit(&login, &[("username", "bob"), ("password", "builder")])
            .await,
    );
    let consent = the_form(&html);
    let params = callback(other.submit(&consent, &[("consent", "deny")]).await);
    assert_eq!(params["error"], "access_denied");
    assert_eq!(params["state"], "state-123");
}

/// What the adapters themselves decide: the body limit, and that every method reaches the
/// core (whose 405 answers apply).
async fn adapter_basics<T: Transport>(t: &T, issuer: &str) {
    // Past the body limit (64 KiB by default): 413, before the core.
    let big = "a".repeat(70 * 1024);
    let r = t
        .send(form_post(
            &format!("{issuer}/token"),
            None,
            &[("grant_type", "client_credentials"), ("x", &big)],
        ))
        .await;
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);

    // Any method reaches the core, which answers 405 with Allow.
    for (method, path) in [
        (Method::DELETE, "/token"),
        (Method::PUT, "/authorize"),
        (Method::PATCH, "/revoke"),
        (Method::DELETE, "/introspect"),
    ] {
        let r = t
            .send(
                http::Request::builder()
                    .method(method.clone())
                    .uri(format!("{issuer}{path}"))
                    .body(Bytes::new())
                    .unwrap(),
            )
            .await;
        assert_eq!(
            r.status(),
            StatusCode::METHOD_NOT_ALLOWED,
            "{method} {path}"
        );
        assert!(r.headers().contains_key(header::ALLOW), "{method} {path}");
    }

    // client_credentials through client_secret_post.
    let r = json(
        &t.send(form_post(
            &format!("{issuer}/token"),
            None,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", "batch-job"),
                ("client_secret", "another-long-random-secret"),
                ("scope", "api.read"),
            ],
        ))
        .await,
    );
    assert!(r["access_token"].is_string());
    assert!(r.get("refresh_token").is_none());

    // The home page and a broken login link.
    let r = t.send(get(&format!("{issuer}/"))).await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = t.send(get(&format!("{issuer}/login"))).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
}

// ----- building the apps -----

const IN_PROCESS_ISSUER: &str = "http://127.0.0.1:3000";

fn axum_app(issuer: &str) -> axum::Router {
    let demo = axum_example::demo::Demo::from_json(CONFIG, issuer).unwrap();
    axum_example::app(Arc::new(demo))
}

fn actix_demo(issuer: &str) -> Arc<actix_example::demo::Demo> {
    Arc::new(actix_example::demo::Demo::from_json(CONFIG, issuer).unwrap())
}

#[tokio::test]
async fn axum_in_process_flow() {
    let t = AxumInProcess(axum_app(IN_PROCESS_ISSUER));
    full_flow(&t, IN_PROCESS_ISSUER).await;
    adapter_basics(&t, IN_PROCESS_ISSUER).await;
}

#[actix_web::test]
async fn actix_in_process_flow() {
    let app = actix_web::test::init_service(
        actix_web::App::new().configure(actix_example::configure(actix_demo(IN_PROCESS_ISSUER))),
    )
    .await;
    let t = ActixInProcess(app);
    full_flow(&t, IN_PROCESS_ISSUER).await;
    adapter_basics(&t, IN_PROCESS_ISSUER).await;
}

#[tokio::test]
async fn axum_over_tcp() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let issuer = format!("http://{}", listener.local_addr().unwrap());
    let app = axum_app(&issuer);
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let t = Tcp::new();
    full_flow(&t, &issuer).await;
    adapter_basics(&t, &issuer).await;
    server.abort();
}

#[actix_web::test]
async fn actix_over_tcp() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let issuer = format!("http://{}", listener.local_addr().unwrap());
    let demo = actix_demo(&issuer);
    let server = actix_web::HttpServer::new(move || {
        actix_web::App::new().configure(actix_example::configure(Arc::clone(&demo)))
    })
    .workers(1)
    .disable_signals()
    .listen(listener)
    .unwrap()
    .run();
    let handle = server.handle();
    actix_web::rt::spawn(server);
    let t = Tcp::new();
    full_flow(&t, &issuer).await;
    adapter_basics(&t, &issuer).await;
    handle.stop(false).await;
}

/// Bad DEMO_CONFIG files are refused with a message that names the problem.
#[test]
fn bad_configs_are_refused_clearly() {
    let issuer = IN_PROCESS_ISSUER;
    let err = |json: &str| axum_example::demo::Demo::from_json(json, issuer).expect_err("refused");
    let e = err(r#"{"clients": [], "users": [], "extra": 1}"#);
    assert!(e.contains("unknown field `extra`"), "{e}");
    let e = err(r#"{"clients": [{"client_id": "c", "grant_types": ["authorization_code"]}]}"#);
    assert!(e.contains("redirect_uris"), "{e}");
    let e = err(
        r#"{"clients": [{"client_id": "c", "redirect_uris": ["https://c.example/cb"], "token_endpoint_auth_method": "client_secret_basic"}]}"#,
    );
    assert!(e.contains("must be \"none\""), "{e}");
    let e = err(
        r#"{"clients": [{"client_id": "c", "redirect_uris": ["https://c.example/cb"], "require_pkce": false}]}"#,
    );
    assert!(e.contains("require_pkce"), "{e}");
    let e = err(r#"{"clients": [{"client_id": "c", "colour": "red"}]}"#);
    assert!(e.contains("unknown field `colour`"), "{e}");
    let e = err("{not json");
    assert!(e.contains("line 1"), "{e}");
    // The shipped file is fine.
    assert!(axum_example::demo::Demo::from_json(CONFIG, issuer).is_ok());
}

/// A server built with its own endpoint paths and an issuer with a path: both adapters mount
/// each endpoint where discovery says it is (the paths come from the server, given once).
#[actix_web::test]
async fn custom_paths_are_mounted_where_discovery_says() {
    let issuer = "http://127.0.0.1:3000/tenant";
    let server = || {
        let mut paths = grantor::EndpointPaths::default();
        paths.token = "/oauth2/v1/token".into();
        paths.authorization = "/oauth2/v1/authorize".into();
        grantor::AuthorizationServer::builder()
            .issuer(issuer)
            .danger_allow_http_issuer(true)
            .paths(paths)
            .clients(grantor::memory::MemoryClientStore::new())
            .grants(grantor::memory::MemoryGrantStore::new())
            .authenticator(grantor::memory::MemorySessions::new("/login"))
            .consent(grantor::memory::MemoryConsent::new())
            .build()
            .unwrap()
    };
    let check = |discovery: Response, token: Response, old_token: Response| {
        let d = json(&discovery);
        assert_eq!(d["token_endpoint"], format!("{issuer}/oauth2/v1/token"));
        assert_eq!(
            d["authorization_endpoint"],
            format!("{issuer}/oauth2/v1/authorize")
        );
        // The core answered (an empty POST is invalid_request), not the router's 404.
        assert_eq!(token.status(), StatusCode::BAD_REQUEST);
        let body: Value = serde_json::from_slice(token.body()).unwrap();
        assert_eq!(body["error"], "invalid_request");
        assert_eq!(old_token.status(), StatusCode::NOT_FOUND);
    };
    let requests = || {
        (
            get(&format!("{issuer}/.well-known/openid-configuration")),
            form_post(&format!("{issuer}/oauth2/v1/token"), None, &[]),
            form_post(&format!("{issuer}/token"), None, &[]),
        )
    };

    let axum = AxumInProcess(grantor::adapter::axum::routes(server()));
    let (d, t, o) = requests();
    check(axum.send(d).await, axum.send(t).await, axum.send(o).await);

    let app = actix_web::test::init_service(
        actix_web::App::new().configure(grantor::adapter::actix::configure(server())),
    )
    .await;
    let actix = ActixInProcess(app);
    let (d, t, o) = requests();
    check(
        actix.send(d).await,
        actix.send(t).await,
        actix.send(o).await,
    );
}
