//! Building responses: JSON with the no-store headers (RFC 6749 §5.1), redirects (303,
//! RFC 9700 §4.12), and HTML pages with anti-clickjacking headers (RFC 9700 §4.16).

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::StatusCode;

use crate::error::{ErrorCode, ProtocolError};
use crate::interaction::HttpResponse;

const JSON: HeaderValue = HeaderValue::from_static("application/json");
const HTML: HeaderValue = HeaderValue::from_static("text/html; charset=utf-8");
const NO_STORE: HeaderValue = HeaderValue::from_static("no-store");
const NO_CACHE: HeaderValue = HeaderValue::from_static("no-cache");

fn with_status(status: StatusCode, body: Bytes) -> HttpResponse {
    let mut r = http::Response::new(body);
    *r.status_mut() = status;
    r
}

/// A JSON response with `Cache-Control: no-store` and `Pragma: no-cache`.
pub(crate) fn json(status: StatusCode, body: Vec<u8>) -> HttpResponse {
    // Cloned from a map built once: a copy of three entries, where three inserts hashed
    // each name and probed for it (about 170 instructions fewer per response by callgrind).
    static HEADERS: std::sync::LazyLock<http::HeaderMap> = std::sync::LazyLock::new(|| {
        let mut h = http::HeaderMap::with_capacity(3);
        h.insert(header::CONTENT_TYPE, JSON);
        h.insert(header::CACHE_CONTROL, NO_STORE);
        h.insert(header::PRAGMA, NO_CACHE);
        h
    });
    let mut r = with_status(status, Bytes::from(body));
    *r.headers_mut() = HEADERS.clone();
    r
}

#[derive(serde::Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    error_description: &'a str,
}

/// A JSON error (RFC 6749 §5.2). A 401 carries `challenge` as `WWW-Authenticate`.
pub(crate) fn json_error(err: &ProtocolError, challenge: &HeaderValue) -> HttpResponse {
    let status = match err.retry_after() {
        Some(_) => StatusCode::TOO_MANY_REQUESTS,
        None => err.code().token_status(),
    };
    let body = serde_json::to_vec(&ErrorBody {
        error: err.code().as_str(),
        error_description: err.description(),
    })
    .unwrap_or_default();
    let mut r = json(status, body);
    if let Some(seconds) = err.retry_after() {
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    if status == StatusCode::UNAUTHORIZED {
        r.headers_mut()
            .insert(header::WWW_AUTHENTICATE, challenge.clone());
    }
    r
}

/// `405 Method Not Allowed` with `Allow` and a JSON `invalid_request` body.
pub(crate) fn method_not_allowed(allow: &'static str) -> HttpResponse {
    let mut r = json(
        StatusCode::METHOD_NOT_ALLOWED,
        br#"{"error":"invalid_request","error_description":"method not allowed"}"#.to_vec(),
    );
    r.headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static(allow));
    r
}

/// `413 Payload Too Large` with a JSON `invalid_request` body.
pub(crate) fn too_large() -> HttpResponse {
    json(
        StatusCode::PAYLOAD_TOO_LARGE,
        br#"{"error":"invalid_request","error_description":"request body too large"}"#.to_vec(),
    )
}

/// A `303 See Other` to `location` (never 307: RFC 9700 §4.12). The header takes the string's
/// buffer as it is, without a copy.
pub(crate) fn redirect(location: String) -> HttpResponse {
    match HeaderValue::from_maybe_shared(Bytes::from(location)) {
        Ok(value) => {
            let mut r = with_status(StatusCode::SEE_OTHER, Bytes::new());
            let h = r.headers_mut();
            h.insert(header::LOCATION, value);
            h.insert(header::CACHE_CONTROL, NO_STORE);
            r
        }
        // Unreachable for URIs grantor builds (printable ASCII only); never a panic.
        Err(_) => error_page(
            StatusCode::INTERNAL_SERVER_ERROR,
            &ProtocolError::server_error(),
        ),
    }
}

/// Adds the headers every HTML page of the authorization server carries: no framing
/// (RFC 9700 §4.16), no referrer (RFC 9700 §4.2.4), no caching.
pub fn secure_html_headers(headers: &mut http::HeaderMap) {
    headers.insert(header::CONTENT_TYPE, HTML);
    headers.insert(header::CACHE_CONTROL, NO_STORE);
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; form-action 'self' http: https:; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
}

/// An HTML page with [`secure_html_headers`].
pub fn html(status: StatusCode, body: String) -> HttpResponse {
    let mut r = with_status(status, Bytes::from(body));
    secure_html_headers(r.headers_mut());
    r
}

/// The one inline script grantor serves: submitting the form_post form.
const FORM_POST_SCRIPT: &str = "document.forms[0].submit()";

/// The CSP of the form_post page: like every page's, plus the hash of its one script.
fn form_post_csp() -> &'static HeaderValue {
    static CSP: std::sync::OnceLock<HeaderValue> = std::sync::OnceLock::new();
    CSP.get_or_init(|| {
        use base64::Engine as _;
        use sha2::Digest as _;
        let hash = base64::engine::general_purpose::STANDARD
            .encode(sha2::Sha256::digest(FORM_POST_SCRIPT.as_bytes()));
        HeaderValue::from_str(&format!(
            "default-src 'none'; script-src 'sha256-{hash}'; style-src 'unsafe-inline'; form-action http: https:; frame-ancestors 'none'; base-uri 'none'"
        ))
        .unwrap_or_else(|_| HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"))
    })
}

/// The form_post response (OAuth 2.0 Form Post Response Mode §2): a page whose form POSTs
/// `params` to `action`, submitted by a script, or by the user's click without JavaScript.
pub(crate) fn form_post(action: &str, params: &[(&str, &str)]) -> HttpResponse {
    let inputs: String = params
        .iter()
        .map(|(k, v)| {
            format!(
                "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
                escape_html(k),
                escape_html(v)
            )
        })
        .collect();
    let mut r = html(
        StatusCode::OK,
        format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Continue</title></head>\
             <body style=\"font-family:system-ui,sans-serif;margin:4rem auto;max-width:30rem\">\
             <form method=\"post\" action=\"{}\">{inputs}\
             <noscript><p>Continue to the application.</p><button type=\"submit\">Continue</button></noscript>\
             </form><script>{FORM_POST_SCRIPT}</script></body></html>",
            escape_html(action)
        ),
    );
    r.headers_mut()
        .insert(header::CONTENT_SECURITY_POLICY, form_post_csp().clone());
    r
}

/// Escapes text for HTML element content and attribute values.
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// The default page for an authorization error that must not be redirected
/// (RFC 6749 §4.1.2.1). It shows the error code and description only: never a link, form or
/// script that targets the request's redirect URI.
pub(crate) fn error_page(status: StatusCode, err: &ProtocolError) -> HttpResponse {
    let title = match err.code() {
        ErrorCode::ServerError => "Something went wrong",
        _ => "This authorization request cannot be completed",
    };
    html(
        status,
        format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title>\
             <meta name=\"viewport\" content=\"width=device-width\"></head>\
             <body style=\"font-family:system-ui,sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem\">\
             <h1 style=\"font-size:1.4rem\">{title}</h1><p>{}</p><p><code>{}</code></p></body></html>",
            escape_html(err.description()),
            err.code().as_str(),
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_escaping() {
        assert_eq!(
            escape_html("\"><script>alert('1')</script>&"),
            "&quot;&gt;&lt;script&gt;alert(&#39;1&#39;)&lt;/script&gt;&amp;"
        );
    }
}
