//! Bounded property tests of the fuzz targets' invariants (fuzz/, see fuzz/README.md), run by
//! plain `cargo test`: the parser, Basic credentials and redirect URI matching against
//! independent reference implementations, and whole `authorize` and `token` calls against the
//! oracles in the shared harness (`fuzz/src/lib.rs`). Case counts are kept small so that the
//! file runs in seconds in a debug build; the fuzz targets run the same checks for longer.

#[allow(dead_code)]
#[path = "../fuzz/src/lib.rs"]
mod harness;

use grantor::__fuzz::{basic_credentials, form_encode, parse_params};
use grantor::http::HeaderValue;
use grantor::RedirectUri;
use harness::{
    AuthChoice, AuthzName, AuthzParam, AuthzRequest, AuthzValue, ContentType, CookieChoice,
    Encoding, HeaderChoice, LengthChoice, MethodChoice, Mutation, TokenName, TokenParam,
    TokenRequest, TokenValue,
};
use proptest::prelude::*;

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Bytes that are mostly what a query is made of, so that more of them parse.
fn query_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        prop_oneof![
            4 => prop::sample::select(b"ab=&%+2F0cE9".to_vec()),
            1 => any::<u8>(),
        ],
        0..64,
    )
}

proptest! {
    #![proptest_config(config(512))]

    /// The parser agrees with the reference, round-trips, and never panics (fuzz target
    /// `params`).
    #[test]
    fn params_match_reference(mut data in query_bytes(), mode in any::<u8>()) {
        data.insert(0, mode);
        harness::check_params(&data);
    }

    /// Any pairs, encoded, parse back to themselves (RFC 6749 Appendix B).
    #[test]
    fn params_round_trip(pairs in prop::collection::vec((any::<String>(), any::<String>()), 0..8)) {
        let encoded = pairs
            .iter()
            .map(|(k, v)| format!("{}={}", form_encode(k), form_encode(v)))
            .collect::<Vec<_>>()
            .join("&");
        let parsed = parse_params(encoded.as_bytes(), usize::MAX, usize::MAX).unwrap();
        let expected: Vec<(&str, &str)> =
            pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        prop_assert_eq!(parsed.pairs(), expected);
    }

    /// Basic credentials: agreement with the reference on any header (fuzz target
    /// `basic_header`).
    #[test]
    fn basic_header_matches_reference(data in prop::collection::vec(any::<u8>(), 0..96)) {
        harness::check_basic_header(&data);
    }

    /// Any id and secret, encoded as RFC 6749 §2.3.1 says, come back unchanged.
    #[test]
    fn basic_header_round_trips(id in ".+", secret in any::<String>()) {
        let header = harness::basic(&id, &secret);
        let value = HeaderValue::from_str(&header).unwrap();
        prop_assert_eq!(basic_credentials(&value).unwrap(), (id, secret));
    }

    /// Redirect URI registration and matching (fuzz target `redirect_match`).
    #[test]
    fn redirect_match_invariants(data in prop::collection::vec(any::<u8>(), 0..128)) {
        harness::check_redirect_match(&data);
    }

    /// A registered URI never matches another one, but for the port of a loopback IP URI
    /// when that is allowed (RFC 9700 §4.1.3, RFC 8252 §7.3).
    #[test]
    fn redirect_matches_only_itself(
        registered in prop::sample::select(vec![
            "https://client.example.com/cb",
            "https://client.example.com/cb?tenant=a",
            "http://127.0.0.1/cb",
            "http://[::1]:8080/cb",
            "http://localhost/cb",
            "com.example.app:/oauth2redirect",
        ]),
        suffix in "[/?#:a-z0-9.@%]{0,6}",
        port in any::<u16>(),
        any_port in any::<bool>(),
    ) {
        let uri = RedirectUri::parse(registered).unwrap();
        let extended = format!("{registered}{suffix}");
        prop_assert_eq!(uri.matches(&extended, any_port), suffix.is_empty());
        let with_port = match registered.find("/cb") {
            Some(i) if registered.starts_with("http") => {
                let host_end = registered[..i].rfind(']').map_or_else(
                    || registered[..i].rfind(':').filter(|p| *p > 5).unwrap_or(i),
                    |p| p + 1,
                );
                format!("{}:{port}{}", &registered[..host_end], &registered[i..])
            }
            _ => return Ok(()),
        };
        let loopback_ip = registered.starts_with("http://127.") || registered.starts_with("http://[::1]");
        prop_assert_eq!(
            uri.matches(&with_port, any_port),
            with_port == registered || (any_port && loopback_ip)
        );
    }
}

// Structured requests: mostly a valid request with a few targeted edits, so that a broken
// check (PKCE, client secret, code binding, redirect URI) is found within a few hundred cases.

fn mutation() -> impl Strategy<Value = Option<Mutation>> {
    prop::option::weighted(
        0.3,
        prop_oneof![
            any::<char>().prop_map(Mutation::AppendChar),
            Just(Mutation::DropLast),
            Just(Mutation::Upper),
            "[a-z:/.]{1,3}".prop_map(Mutation::Prefix),
            "[a-z:/?#.]{1,3}".prop_map(Mutation::Suffix),
            any::<u8>().prop_map(Mutation::FlipChar),
            any::<u16>().prop_map(Mutation::Port),
            Just(Mutation::Empty),
        ],
    )
}

fn encoding() -> impl Strategy<Value = Encoding> {
    prop_oneof![
        6 => Just(Encoding::Proper),
        2 => Just(Encoding::Plus),
        1 => Just(Encoding::Raw),
        1 => Just(Encoding::Double),
    ]
}

fn method() -> impl Strategy<Value = MethodChoice> {
    prop_oneof![
        8 => Just(MethodChoice::Post),
        4 => Just(MethodChoice::Get),
        1 => Just(MethodChoice::Head),
        1 => Just(MethodChoice::Put),
    ]
}

fn content_type() -> impl Strategy<Value = ContentType> {
    prop_oneof![
        8 => Just(ContentType::Form),
        1 => Just(ContentType::FormCharset),
        1 => Just(ContentType::Json),
        1 => Just(ContentType::None),
    ]
}

fn token_value() -> impl Strategy<Value = TokenValue> {
    prop_oneof![
        2 => any::<u8>().prop_map(TokenValue::ClientId),
        2 => any::<u8>().prop_map(TokenValue::Secret),
        3 => any::<u8>().prop_map(TokenValue::Code),
        3 => any::<u8>().prop_map(TokenValue::Verifier),
        2 => any::<u8>().prop_map(TokenValue::Redirect),
        2 => any::<u8>().prop_map(TokenValue::Refresh),
        1 => any::<u8>().prop_map(TokenValue::GrantType),
        1 => prop::collection::vec(any::<u8>(), 0..3).prop_map(TokenValue::Scope),
        1 => Just(TokenValue::AssertionType),
        1 => "[ -~]{0,12}".prop_map(TokenValue::Raw),
    ]
}

fn token_request() -> impl Strategy<Value = TokenRequest> {
    // Weighted towards what binds a grant: code, verifier, redirect URI, client, tokens.
    let name = prop_oneof![
        1 => Just(TokenName::GrantType),
        3 => Just(TokenName::Code),
        2 => Just(TokenName::RedirectUri),
        3 => Just(TokenName::CodeVerifier),
        2 => Just(TokenName::ClientId),
        2 => Just(TokenName::ClientSecret),
        2 => Just(TokenName::RefreshToken),
        1 => Just(TokenName::Scope),
        1 => Just(TokenName::ClientAssertion),
        1 => Just(TokenName::Other),
    ];
    let param = (name, token_value(), mutation(), encoding()).prop_map(
        |(name, value, mutation, encoding)| TokenParam {
            name,
            value,
            mutation,
            encoding,
        },
    );
    let auth = prop_oneof![
        (
            token_value(),
            token_value(),
            mutation(),
            mutation(),
            any::<bool>(),
            0u8..6
        )
            .prop_map(
                |(id, secret, id_mutation, secret_mutation, encode, scheme)| AuthChoice::Basic {
                    id,
                    secret,
                    id_mutation,
                    secret_mutation,
                    encode,
                    scheme,
                }
            ),
        "[ -~]{0,24}".prop_map(|s| AuthChoice::Raw(s.into_bytes())),
    ];
    (
        prop_oneof![6 => Just(MethodChoice::Post), 1 => method()],
        prop::option::weighted(0.9, any::<u8>()),
        prop::option::weighted(0.15, any::<u8>()),
        mutation(),
        prop::collection::vec(param, 0..3),
        prop_oneof![4 => Just(ContentType::Form), 1 => content_type()],
        prop_oneof![
            4 => Just(LengthChoice::None),
            2 => Just(LengthChoice::Correct),
            1 => any::<u16>().prop_map(LengthChoice::Wrong),
        ],
        prop_oneof![3 => Just(Vec::new()), 1 => prop::collection::vec(auth, 1..3)],
    )
        .prop_map(
            |(
                method,
                base,
                credentials_of,
                secret_mutation,
                params,
                content_type,
                content_length,
                auth,
            )| {
                TokenRequest {
                    method,
                    base,
                    credentials_of,
                    secret_mutation,
                    params,
                    tail: None,
                    content_type,
                    content_length,
                    auth,
                }
            },
        )
}

fn authz_value() -> impl Strategy<Value = AuthzValue> {
    prop_oneof![
        1 => any::<u8>().prop_map(AuthzValue::Client),
        3 => any::<u8>().prop_map(AuthzValue::Redirect),
        1 => any::<u8>().prop_map(AuthzValue::Challenge),
        1 => any::<u8>().prop_map(AuthzValue::ChallengeMethod),
        1 => prop::collection::vec(any::<u8>(), 0..4).prop_map(AuthzValue::Scope),
        1 => any::<u8>().prop_map(AuthzValue::ResponseType),
        1 => any::<u8>().prop_map(AuthzValue::ResponseMode),
        1 => prop::collection::vec(any::<u8>(), 0..3).prop_map(AuthzValue::Prompt),
        1 => any::<u64>().prop_map(AuthzValue::Number),
        1 => any::<u8>().prop_map(AuthzValue::IdTokenHint),
        1 => Just(AuthzValue::Interaction),
        1 => Just(AuthzValue::Csrf),
        1 => any::<u8>().prop_map(AuthzValue::Decision),
        1 => "[ -~]{0,16}".prop_map(AuthzValue::Raw),
    ]
}

fn authz_request() -> impl Strategy<Value = AuthzRequest> {
    let name = prop::sample::select(vec![
        AuthzName::ResponseType,
        AuthzName::ClientId,
        AuthzName::RedirectUri,
        AuthzName::RedirectUri,
        AuthzName::Scope,
        AuthzName::State,
        AuthzName::Nonce,
        AuthzName::CodeChallenge,
        AuthzName::CodeChallengeMethod,
        AuthzName::ResponseMode,
        AuthzName::Prompt,
        AuthzName::MaxAge,
        AuthzName::IdTokenHint,
        AuthzName::Request,
        AuthzName::Interaction,
        AuthzName::Consent,
        AuthzName::CsrfToken,
    ]);
    let param = (name, authz_value(), mutation(), encoding()).prop_map(
        |(name, value, mutation, encoding)| AuthzParam {
            name,
            value,
            mutation,
            encoding,
        },
    );
    let cookie = prop_oneof![
        4 => Just(CookieChoice::Alice),
        2 => Just(CookieChoice::None),
        2 => Just(CookieChoice::Bob),
        1 => Just(CookieChoice::AliceAndBob),
        1 => "[ -~]{0,12}".prop_map(CookieChoice::Garbage),
    ];
    let header = prop_oneof![
        Just(HeaderChoice::OriginIssuer),
        "[ -~]{0,16}".prop_map(HeaderChoice::Origin),
        "[ -~]{0,16}".prop_map(HeaderChoice::Referer),
    ];
    (
        prop::bool::weighted(0.25),
        prop_oneof![3 => Just(MethodChoice::Get), 1 => method()],
        prop::option::weighted(0.8, any::<u8>()),
        prop::collection::vec(param, 0..4),
        content_type(),
        cookie,
        prop::collection::vec(header, 0..2),
    )
        .prop_map(
            |(resume, method, base, params, content_type, cookie, headers)| AuthzRequest {
                resume,
                method,
                base,
                params,
                tail: None,
                query_on_post: None,
                content_type,
                cookie,
                headers,
            },
        )
}

proptest! {
    #![proptest_config(config(512))]

    /// Structured authorization requests and resumptions: the invariants of
    /// [`harness::check_authorize`].
    #[test]
    fn authorize_structured(
        any_port in any::<bool>(),
        steps in prop::collection::vec(authz_request(), 1..5),
    ) {
        harness::check_authorize_steps(any_port, &steps);
    }

    /// Structured token requests: the invariants of [`harness::check_token`].
    #[test]
    fn token_structured(steps in prop::collection::vec(token_request(), 1..5)) {
        harness::check_token_steps(&steps);
    }
}

proptest! {
    #![proptest_config(config(256))]

    /// Raw bytes through the fuzz target `authorize`'s decoder: no panic, no
    /// 5xx, a Location only to a registered redirect URI of the requesting client (or the
    /// login page of a request that passed those checks).
    #[test]
    fn authorize_invariants(data in prop::collection::vec(any::<u8>(), 0..1024)) {
        harness::check_authorize(&data);
    }

    /// Raw bytes through the fuzz target `token`'s decoder: no panic, no 5xx, and no access token
    /// without a client's valid credentials and a valid grant.
    #[test]
    fn token_invariants(data in prop::collection::vec(any::<u8>(), 0..1024)) {
        harness::check_token(&data);
    }
}
