//! The token endpoint (RFC 6749 §3.2, §5): request checks, client authentication, and the
//! dispatch to each grant type in [`crate::grant`].

use http::{header, Method, StatusCode};

use crate::client::GrantType;
use crate::endpoint::authorize::is_form;
use crate::error::{ErrorCode, ProtocolError};
use crate::interaction::HttpResponse;
use crate::params::Params;
use crate::response;
use crate::scope::ScopeSet;
use crate::server::AuthorizationServer;

const TARGET: &str = "grantor::token";

/// Parameters of the token endpoint that must not be repeated (RFC 6749 §3.2).
const SINGLE_VALUED: &[&str] = &[
    "grant_type",
    "code",
    "redirect_uri",
    "code_verifier",
    "client_id",
    "client_secret",
    "client_assertion",
    "client_assertion_type",
    "refresh_token",
    "scope",
];

/// A successful token response (RFC 6749 §5.1).
#[derive(Debug)]
pub(crate) struct TokenResponse {
    pub(crate) access_token: String,
    pub(crate) token_type: &'static str,
    pub(crate) expires_in: u64,
    pub(crate) refresh_token: Option<String>,
    /// Omitted when empty.
    pub(crate) scope: ScopeSet,
    pub(crate) id_token: Option<String>,
}

impl TokenResponse {
    /// The JSON body, written directly: a fixed shape of strings and one number needs no
    /// serializer, and every value is escaped as JSON requires whatever it holds.
    pub(crate) fn to_json(&self) -> Vec<u8> {
        let tokens = self.access_token.len()
            + self.refresh_token.as_ref().map_or(0, String::len)
            + self.id_token.as_ref().map_or(0, String::len);
        let mut out = Vec::with_capacity(128 + tokens + self.scope.as_str().len());
        out.extend_from_slice(b"{\"access_token\":");
        push_json_string(&mut out, &self.access_token);
        out.extend_from_slice(b",\"token_type\":");
        push_json_string(&mut out, self.token_type);
        out.extend_from_slice(b",\"expires_in\":");
        push_decimal(&mut out, self.expires_in);
        if let Some(refresh_token) = &self.refresh_token {
            out.extend_from_slice(b",\"refresh_token\":");
            push_json_string(&mut out, refresh_token);
        }
        if !self.scope.is_empty() {
            out.extend_from_slice(b",\"scope\":");
            push_json_string(&mut out, self.scope.as_str());
        }
        if let Some(id_token) = &self.id_token {
            out.extend_from_slice(b",\"id_token\":");
            push_json_string(&mut out, id_token);
        }
        out.push(b'}');
        out
    }
}

/// Appends `n` in decimal.
fn push_decimal(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

/// Appends `value` as a JSON string (RFC 8259 §7): runs that need no escape are copied whole.
fn push_json_string(out: &mut Vec<u8>, value: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    let bytes = value.as_bytes();
    let mut run = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escape: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0..=0x1f => b"",
            _ => continue,
        };
        out.extend_from_slice(&bytes[run..i]);
        run = i + 1;
        if escape.is_empty() {
            out.extend_from_slice(b"\\u00");
            out.push(HEX[usize::from(b >> 4)]);
            out.push(HEX[usize::from(b & 15)]);
        } else {
            out.extend_from_slice(escape);
        }
    }
    out.extend_from_slice(&bytes[run..]);
    out.push(b'"');
}

impl AuthorizationServer {
    /// The token endpoint: `POST` with an `application/x-www-form-urlencoded` body only.
    ///
    /// Answers JSON with `Cache-Control: no-store` and `Pragma: no-cache` (RFC 6749 §5.1,
    /// §5.2); a failed client authentication is `401 invalid_client` with a
    /// `WWW-Authenticate: Basic` challenge.
    pub async fn token<B: AsRef<[u8]>>(&self, request: http::Request<B>) -> HttpResponse {
        let (parts, body) = request.into_parts();
        self.form_endpoint(&parts, body.as_ref(), |s, p, b| s.token_inner(p, b))
            .await
    }

    async fn token_inner(
        &self,
        parts: &http::request::Parts,
        body: &[u8],
    ) -> Result<HttpResponse, ProtocolError> {
        let params = self.read_form(parts, body, SINGLE_VALUED)?;
        let grant = match params.get("grant_type").ok().flatten() {
            None => {
                return Err(ProtocolError::new(
                    ErrorCode::InvalidRequest,
                    "grant_type is missing",
                ))
            }
            Some(g) => match GrantType::parse(g) {
                Some(g) if self.supports_grant(g) => g,
                _ => {
                    return Err(ProtocolError::new(
                        ErrorCode::UnsupportedGrantType,
                        "unsupported grant_type",
                    ))
                }
            },
        };
        let client = self
            .authenticate_client(
                &parts.headers,
                &parts.extensions,
                &params,
                grant == GrantType::ClientCredentials,
            )
            .await?;
        if !client.allows_grant(grant) {
            return Err(ProtocolError::new(
                ErrorCode::UnauthorizedClient,
                "the client may not use this grant type",
            ));
        }
        let now = self.inner.clock.now();
        let issued = match grant {
            GrantType::AuthorizationCode => self.exchange_code(&client, &params, now).await?,
            GrantType::RefreshToken => self.refresh(&client, &params, now).await?,
            GrantType::ClientCredentials => self.client_credentials(&client, &params, now).await?,
        };
        tracing::info!(target: TARGET, client_id = client.id(), grant_type = grant.as_str(), "tokens issued");
        Ok(response::json(StatusCode::OK, issued.to_json()))
    }

    /// Whether this server implements `grant`.
    pub(crate) fn supports_grant(&self, grant: GrantType) -> bool {
        matches!(
            grant,
            GrantType::AuthorizationCode | GrantType::RefreshToken | GrantType::ClientCredentials
        )
    }

    /// The request checks every client-authenticated form endpoint (token, revocation,
    /// introspection) shares: a body that matches its `Content-Length`, form-urlencoded,
    /// parameters from the body only (RFC 6749 §2.3.1: never the URI), none of
    /// `single_valued` repeated (RFC 6749 §3.2).
    pub(crate) fn read_form<'b>(
        &self,
        parts: &http::request::Parts,
        body: &'b [u8],
        single_valued: &[&'static str],
    ) -> Result<Params<'b>, ProtocolError> {
        check_content_length(&parts.headers, body.len())?;
        if !is_form(&parts.headers) {
            return Err(ProtocolError::new(
                ErrorCode::InvalidRequest,
                "the body must be application/x-www-form-urlencoded",
            ));
        }
        let params = Params::parse(body, self.inner.limits.parse())?;
        if let Some(name) = params.first_duplicate(single_valued) {
            return Err(ProtocolError::with_description(
                ErrorCode::InvalidRequest,
                format!("{name} is repeated"),
            ));
        }
        Ok(params)
    }

    /// The response of a client-authenticated form endpoint: `POST` only, a bounded body,
    /// and errors as JSON (RFC 6749 §5.2) with the Basic challenge on 401.
    pub(crate) async fn form_endpoint<'a, F, Fut>(
        &'a self,
        parts: &'a http::request::Parts,
        body: &'a [u8],
        handler: F,
    ) -> HttpResponse
    where
        F: FnOnce(&'a Self, &'a http::request::Parts, &'a [u8]) -> Fut,
        Fut: std::future::Future<Output = Result<HttpResponse, ProtocolError>> + 'a,
    {
        if parts.method != Method::POST {
            return response::method_not_allowed("POST");
        }
        if body.len() > self.inner.limits.max_body_bytes {
            return response::too_large();
        }
        match handler(self, parts, body).await {
            Ok(r) => r,
            Err(e) => response::json_error(&e, &self.inner.basic_challenge),
        }
    }
}

/// A `Content-Length` that disagrees with the body is a malformed request (checklist SEC-09).
fn check_content_length(headers: &http::HeaderMap, len: usize) -> Result<(), ProtocolError> {
    match headers.get(header::CONTENT_LENGTH) {
        None => Ok(()),
        Some(v) => match v.to_str().ok().and_then(|s| s.trim().parse::<usize>().ok()) {
            Some(n) if n == len => Ok(()),
            _ => Err(ProtocolError::new(
                ErrorCode::InvalidRequest,
                "Content-Length does not match the body",
            )),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(value: &str, scope: &str) -> TokenResponse {
        TokenResponse {
            access_token: value.to_owned(),
            token_type: "Bearer",
            expires_in: 3600,
            refresh_token: Some(format!("r{value}")),
            scope: ScopeSet::parse(scope).unwrap(),
            id_token: Some(format!("{value}.x")),
        }
    }

    /// RFC 6749 §5.1 members, and JSON that any parser reads back to the same strings,
    /// whatever bytes the values hold (quotes, backslashes, control characters, non-ASCII).
    #[test]
    fn token_response_json_round_trips_rfc6749_5_1() {
        for value in [
            "abc-DEF_123",
            "",
            "q\"uote",
            "back\\slash",
            "\u{0}\u{1f}\n\r\t\u{7f}",
            "é€😀",
            "</script>",
        ] {
            let r = response(value, "openid read");
            let json: serde_json::Value = serde_json::from_slice(&r.to_json()).unwrap();
            assert_eq!(json["access_token"], value);
            assert_eq!(json["token_type"], "Bearer");
            assert_eq!(json["expires_in"], 3600);
            assert_eq!(json["refresh_token"], format!("r{value}"));
            assert_eq!(json["scope"], "openid read");
            assert_eq!(json["id_token"], format!("{value}.x"));
        }
    }

    #[test]
    fn decimals() {
        for n in [0, 7, 10, 3600, u64::MAX] {
            let mut out = Vec::new();
            push_decimal(&mut out, n);
            assert_eq!(out, n.to_string().as_bytes());
        }
    }

    /// Absent members are left out, not written as null (RFC 6749 §5.1).
    #[test]
    fn token_response_omits_absent_members_rfc6749_5_1() {
        let mut r = response("t", "");
        r.refresh_token = None;
        r.id_token = None;
        assert_eq!(
            r.to_json(),
            br#"{"access_token":"t","token_type":"Bearer","expires_in":3600}"#
        );
    }
}
