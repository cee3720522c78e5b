//! The same opaque-token flow on oxide-auth 0.6 (the comparison baseline): authorize → code →
//! token → refresh, PKCE S256 required, the client authenticating with HTTP Basic, with its
//! in-memory primitives (`ClientMap`, `AuthMap` and `TokenMap` with `RandomGenerator`)
//! driven through its `frontends::simple` request type.

use std::collections::HashMap;

use base64::Engine as _;
use oxide_auth::endpoint::{
    AccessTokenFlow, AuthorizationFlow, OwnerConsent, RefreshFlow, Solicitation,
};
use oxide_auth::frontends::simple::endpoint::{FnSolicitor, Generic, Vacant};
use oxide_auth::frontends::simple::extensions::{AddonList, Extended, Pkce};
use oxide_auth::frontends::simple::request::{Body, Request, Response, Status};
use oxide_auth::primitives::authorizer::AuthMap;
use oxide_auth::primitives::generator::RandomGenerator;
use oxide_auth::primitives::issuer::TokenMap;
use oxide_auth::primitives::registrar::{
    Client, ClientMap, ExactUrl, PasswordPolicy, RegisteredUrl, RegistrarError,
};
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

use super::{json_str, CB, CHALLENGE, CLIENT, SECRET, USER, VERIFIER};

/// Client secrets stored and checked as a plain SHA-256 digest, compared in constant time:
/// what grantor does, for a like-for-like comparison (oxide-auth's default is Argon2).
pub struct Sha256Policy;

impl PasswordPolicy for Sha256Policy {
    fn store(&self, _client_id: &str, passphrase: &[u8]) -> Vec<u8> {
        Sha256::digest(passphrase).to_vec()
    }

    fn check(
        &self,
        _client_id: &str,
        passphrase: &[u8],
        stored: &[u8],
    ) -> Result<(), RegistrarError> {
        if bool::from(Sha256::digest(passphrase).as_slice().ct_eq(stored)) {
            Ok(())
        } else {
            Err(RegistrarError::Unspecified)
        }
    }
}

type Solicitor = FnSolicitor<fn(&mut Request, Solicitation<'_>) -> OwnerConsent<Response>>;
type Endpoint = Extended<
    Generic<ClientMap, AuthMap<RandomGenerator>, TokenMap<RandomGenerator>, Solicitor>,
    AddonList,
>;

fn signed_in_and_consented(_: &mut Request, _: Solicitation<'_>) -> OwnerConsent<Response> {
    OwnerConsent::Authorized(USER.to_owned())
}

/// An oxide-auth endpoint with one confidential client.
pub struct Oxide {
    endpoint: Endpoint,
    basic: String,
}

impl Oxide {
    /// With `sha256`, secrets are checked with [`Sha256Policy`]; otherwise with oxide-auth's
    /// default (Argon2).
    pub fn new(sha256: bool) -> Oxide {
        let mut registrar = ClientMap::new();
        if sha256 {
            registrar.set_password_policy(Sha256Policy);
        }
        registrar.register_client(Client::confidential(
            CLIENT,
            RegisteredUrl::Exact(CB.parse::<ExactUrl>().unwrap()),
            "read write".parse().unwrap(),
            SECRET.as_bytes(),
        ));
        let mut addons = AddonList::new();
        addons.push_code(Pkce::required());
        let endpoint = Generic {
            registrar,
            // 32 bytes: the 256 bits grantor draws for codes and tokens.
            authorizer: AuthMap::new(RandomGenerator::new(32)),
            issuer: TokenMap::new(RandomGenerator::new(32)),
            solicitor: FnSolicitor(signed_in_and_consented as _),
            scopes: Vacant,
            response: Vacant,
        };
        Oxide {
            endpoint: Extended::extend_with(endpoint, addons),
            basic: format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{CLIENT}:{SECRET}"))
            ),
        }
    }

    fn map(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// The authorization request: the code from the redirect.
    pub fn authorize(&mut self) -> String {
        let request = Request {
            query: Self::map(&[
                ("response_type", "code"),
                ("client_id", CLIENT),
                ("redirect_uri", CB),
                ("scope", "read write"),
                ("state", "af0ifjsldkj"),
                ("code_challenge", CHALLENGE),
                ("code_challenge_method", "S256"),
            ]),
            urlbody: HashMap::new(),
            auth: None,
        };
        let response = AuthorizationFlow::prepare(&mut self.endpoint)
            .unwrap_or_else(|_| unreachable!())
            .execute(request)
            .unwrap_or_else(|_| panic!("authorization failed"));
        assert_eq!(response.status, Status::Redirect);
        let location = response.location.expect("location");
        let code = location
            .query_pairs()
            .find(|(k, _)| k == "code")
            .expect("code")
            .1;
        code.into_owned()
    }

    fn tokens(response: Response) -> (String, String) {
        assert_eq!(response.status, Status::Ok, "{:?}", response.body);
        let body = match response.body {
            Some(Body::Json(body)) => body,
            other => panic!("{other:?}"),
        };
        // STANDARD base64 tokens may hold '/' escaped as "\/"? serde_json does not escape it.
        (
            json_str(body.as_bytes(), "access_token")
                .unwrap()
                .to_owned(),
            json_str(body.as_bytes(), "refresh_token")
                .unwrap()
                .to_owned(),
        )
    }

    /// The code exchange with the PKCE verifier: (access token, refresh token).
    pub fn exchange(&mut self, code: &str) -> (String, String) {
        let request = Request {
            query: HashMap::new(),
            urlbody: Self::map(&[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", CB),
                ("code_verifier", VERIFIER),
            ]),
            auth: Some(self.basic.clone()),
        };
        let response = AccessTokenFlow::prepare(&mut self.endpoint)
            .unwrap_or_else(|_| unreachable!())
            .execute(request)
            .unwrap_or_else(|_| panic!("exchange failed"));
        Self::tokens(response)
    }

    /// One refresh: (access token, new refresh token).
    pub fn refresh(&mut self, refresh_token: &str) -> (String, String) {
        let request = Request {
            query: HashMap::new(),
            urlbody: Self::map(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh_token),
            ]),
            auth: Some(self.basic.clone()),
        };
        let response = RefreshFlow::prepare(&mut self.endpoint)
            .unwrap_or_else(|_| unreachable!())
            .execute(request)
            .unwrap_or_else(|_| panic!("refresh failed"));
        Self::tokens(response)
    }

    /// The whole flow.
    pub fn flow(&mut self) -> (String, String) {
        let code = self.authorize();
        let (_, refresh_token) = self.exchange(&code);
        self.refresh(&refresh_token)
    }
}
