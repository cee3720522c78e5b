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
use crate::secret::{AccessToken, RefreshToken, TOKEN_LEN};
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
    pub(crate) access_token: AccessToken,
    pub(crate) token_type: &'static str,
    pub(crate) expires_in: u64,
    pub(crate) refresh_token: Option<RefreshToken>,
    /// Omitted when empty.
    pub(crate) scope: ScopeSet,
    pub(crate) id_token: Option<String>,
}

impl TokenResponse {
    /// The JSON body, in a buffer of exactly its size when no value needs escaping (every
    /// token grantor mints, and almost every scope): [`crate::response::json`] then hands the
    /// buffer to the response without another allocation. The members are written in their
    /// fixed order and each string value is escaped as RFC 8259 §7 requires (see
    /// [`json_string`]); a token grantor minted is base64url and copied as it is (see
    /// [`json_token`]). A response costs no serializer state beyond the values themselves.
    pub(crate) fn to_json(&self) -> Result<Vec<u8>, serde_json::Error> {
        let mut digits = [0; 20];
        let expires_in = decimal(self.expires_in, &mut digits);
        let access = &self.access_token;
        let refresh = self.refresh_token.as_ref();
        let scope = Some(self.scope.as_str()).filter(|s| !s.is_empty());
        // Each member is `,"name":` and its value (`{` for the first comma); a string value
        // adds its two quotes, so `expires_in` takes two bytes less.
        let member = |name: &str, value: usize| name.len() + value + 6;
        let len = member("access_token", access.len())
            + member("token_type", self.token_type.len())
            + member("expires_in", expires_in.len())
            - 2
            + refresh.map_or(0, |r| member("refresh_token", r.len()))
            + scope.map_or(0, |s| member("scope", s.len()))
            + self
                .id_token
                .as_ref()
                .map_or(0, |t| member("id_token", t.len()))
            + 1;
        let mut out = Vec::with_capacity(len);
        out.extend_from_slice(b"{\"access_token\":");
        json_token(&mut out, access.minted(), || access.expose())?;
        out.extend_from_slice(b",\"token_type\":");
        json_string(&mut out, self.token_type)?;
        out.extend_from_slice(b",\"expires_in\":");
        out.extend_from_slice(expires_in);
        if let Some(refresh) = refresh {
            out.extend_from_slice(b",\"refresh_token\":");
            json_token(&mut out, refresh.minted(), || refresh.expose())?;
        }
        if let Some(scope) = scope {
            out.extend_from_slice(b",\"scope\":");
            json_string(&mut out, scope)?;
        }
        if let Some(id_token) = &self.id_token {
            out.extend_from_slice(b",\"id_token\":");
            json_string(&mut out, id_token)?;
        }
        out.push(b'}');
        Ok(out)
    }
}

/// The decimal digits of `n`, written at the end of `buf`.
fn decimal(mut n: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut at = buf.len();
    loop {
        at -= 1;
        // `n % 10` is below 10, so the cast keeps it whole.
        buf[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return &buf[at..];
        }
    }
}

/// Writes a token as a JSON string: one grantor minted (`minted`, 43 base64url characters)
/// is copied between quotes as it is, since nothing in it needs an escape; any other value
/// (`exposed`: a JWT, or a token the host gave) goes through [`json_string`].
fn json_token<'a>(
    out: &mut Vec<u8>,
    minted: Option<&[u8; TOKEN_LEN]>,
    exposed: impl FnOnce() -> &'a str,
) -> Result<(), serde_json::Error> {
    match minted {
        Some(text) => {
            out.push(b'"');
            out.extend_from_slice(text);
            out.push(b'"');
            Ok(())
        }
        None => json_string(out, exposed()),
    }
}

/// Writes `value` as a JSON string. A value with nothing to escape (no quote, backslash or
/// control character: every token grantor mints, and almost every scope) is copied between
/// quotes as it is; anything else goes through serde_json, the crate's one escaper.
fn json_string(out: &mut Vec<u8>, value: &str) -> Result<(), serde_json::Error> {
    // No early exit, so that the compiler can test many bytes at a time.
    let needs_escape = value.bytes().fold(false, |any, b| {
        any | (b < 0x20) | (b == b'"') | (b == b'\\')
    });
    if needs_escape {
        return serde_json::to_writer(out, value);
    }
    out.reserve(value.len() + 2);
    out.push(b'"');
    out.extend_from_slice(value.as_bytes());
    out.push(b'"');
    Ok(())
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
        let grant = match params.value("grant_type") {
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
        let body = issued
            .to_json()
            .map_err(|_| ProtocolError::server_error())?;
        Ok(response::json(StatusCode::OK, body))
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
            access_token: AccessToken::new(value),
            token_type: "Bearer",
            expires_in: 3600,
            refresh_token: Some(RefreshToken::new(format!("r{value}"))),
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
            let json: serde_json::Value = serde_json::from_slice(&r.to_json().unwrap()).unwrap();
            assert_eq!(json["access_token"], value);
            assert_eq!(json["token_type"], "Bearer");
            assert_eq!(json["expires_in"], 3600);
            assert_eq!(json["refresh_token"], format!("r{value}"));
            assert_eq!(json["scope"], "openid read");
            assert_eq!(json["id_token"], format!("{value}.x"));
        }
    }

    /// The copy without escaping writes exactly what serde_json writes, for values that need
    /// no escape and for values that do (RFC 8259 §7: quote, backslash, U+0000 to U+001F).
    #[test]
    fn json_strings_match_serde_json_rfc8259_7() {
        let mut values: Vec<String> = [
            "",
            "abc-DEF_123.~",
            "openid profile email",
            "é€😀",
            "</script>",
            "\u{7f}",
            "q\"uote",
            "back\\slash",
        ]
        .iter()
        .map(|v| v.to_string())
        .collect();
        for b in 0u8..0x20 {
            values.push(format!("token{}end", b as char));
        }
        for value in values {
            let mut ours = Vec::new();
            json_string(&mut ours, &value).unwrap();
            assert_eq!(ours, serde_json::to_vec(&value).unwrap(), "{value:?}");
        }
    }

    /// With nothing to escape, the body fills its buffer exactly, so that turning it into the
    /// response's `Bytes` needs no second allocation; with escapes it is still whole.
    #[test]
    fn token_response_buffer_is_exactly_sized() {
        for expires_in in [0, 9, 10, 3600, u64::MAX] {
            for (refresh, scope, id) in [(true, "read write", true), (false, "", false)] {
                let mut r = response("abc-DEF_123", scope);
                r.expires_in = expires_in;
                r.refresh_token = r.refresh_token.filter(|_| refresh);
                r.id_token = r.id_token.filter(|_| id);
                let body = r.to_json().unwrap();
                assert_eq!(
                    body.len(),
                    body.capacity(),
                    "{}",
                    String::from_utf8_lossy(&body)
                );
                let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
                assert_eq!(json["expires_in"], expires_in);
            }
        }
        let body = response("q\"uote", "read").to_json().unwrap();
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(json["access_token"], "q\"uote");
    }

    /// Minted tokens are copied into the body as they are: the body reads back to exactly
    /// the tokens minted, and fills its buffer exactly (RFC 6749 §5.1).
    #[test]
    fn token_response_with_minted_tokens_round_trips_rfc6749_5_1() {
        for refresh in [true, false] {
            let access = AccessToken::generate();
            let refresh_token = refresh.then(RefreshToken::generate);
            let expected_refresh = refresh_token.as_ref().map(|t| t.expose().to_owned());
            let r = TokenResponse {
                access_token: access.clone(),
                token_type: "Bearer",
                expires_in: 300,
                refresh_token,
                scope: ScopeSet::parse("read write").unwrap(),
                id_token: None,
            };
            let body = r.to_json().unwrap();
            assert_eq!(body.len(), body.capacity());
            let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
            assert_eq!(json["access_token"], access.expose());
            assert_eq!(json["token_type"], "Bearer");
            assert_eq!(json["expires_in"], 300);
            assert_eq!(json["scope"], "read write");
            match expected_refresh {
                Some(t) => assert_eq!(json["refresh_token"], t.as_str()),
                None => assert!(json.get("refresh_token").is_none()),
            }
            assert!(json.get("id_token").is_none());
        }
    }

    /// Absent members are left out, not written as null (RFC 6749 §5.1).
    #[test]
    fn token_response_omits_absent_members_rfc6749_5_1() {
        let mut r = response("t", "");
        r.refresh_token = None;
        r.id_token = None;
        assert_eq!(
            r.to_json().unwrap(),
            br#"{"access_token":"t","token_type":"Bearer","expires_in":3600}"#
        );
    }
}
