//! Concurrency: a code is redeemed exactly once however many requests race for it
//! (RFC 6749 §4.1.2, §10.5 "single-use"; OAuth 2.1 §4.1.3; checklist SEC-51), and the tokens
//! of a replayed code end up revoked even when the replay overtakes the first redemption
//! (RFC 6749 §4.1.2; the `GrantStore` contract).

mod common;
use common::*;

use std::sync::Arc;

use grantor::http::{header, Request, StatusCode};
use grantor::{Clock, GrantStore, TokenDigest};
use tokio::sync::Barrier;
use tokio::task::JoinSet;

const TASKS: usize = 64;
const ROUNDS: usize = 100;

/// 64 tasks on 4 worker threads redeem the same fresh code at once, 100 times: each round
/// exactly one gets `TOKEN_OK` and 63 get `TOKEN_ERR(400, invalid_grant)`; exactly one access
/// token is minted; and since the 63 losers are valid replays, that token is revoked.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn race_64_concurrent_redemptions_of_one_code_yield_one_token() {
    let h = harness();
    for round in 0..ROUNDS {
        let code = h.code(&[]).await;
        let body = exch_body(&code);
        let barrier = Arc::new(Barrier::new(TASKS));
        let mut tasks = JoinSet::new();
        for _ in 0..TASKS {
            let server = h.server.clone();
            let barrier = barrier.clone();
            let req = Request::post("/token")
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .header(header::AUTHORIZATION, B_CONF)
                .body(body.clone().into_bytes())
                .unwrap();
            tasks.spawn(async move {
                barrier.wait().await;
                server.token(req).await
            });
        }
        let mut winners = Vec::new();
        let mut losers = 0;
        while let Some(r) = tasks.join_next().await {
            let r = r.expect("task panicked");
            if r.status() == StatusCode::OK {
                let j = assert_token_ok(&r);
                winners.push(j["access_token"].as_str().unwrap().to_owned());
            } else {
                assert_token_err(&r, 400, "invalid_grant");
                losers += 1;
            }
        }
        assert_eq!(winners.len(), 1, "round {round}: {} winners", winners.len());
        assert_eq!(losers, TASKS - 1, "round {round}");
        assert_eq!(
            h.grants.counts().1,
            round + 1,
            "round {round}: tokens minted"
        );
        let at = TokenDigest::of(&winners[0]);
        let live = h.grants.access_token(&at, h.clock.now()).await.unwrap();
        assert!(
            live.is_none(),
            "round {round}: the replayed code's access token is still active"
        );
    }
}

/// The value of the hidden input `name` on a page.
fn hidden(body: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = body.find(&marker).expect("no such hidden input") + marker.len();
    let len = body[start..].find('"').expect("unterminated value");
    body[start..start + len].to_owned()
}

/// 16 concurrent `consent=allow` posts of one consent form, 100 times: exactly one code is
/// issued each round (the pending authorization is taken atomically; RFC 6749 §10.5 for the
/// code, SEC-89 for single-use decisions), the others get the "already completed" page.
/// `prompt=consent` asks again every round although the consent is remembered.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn race_concurrent_consent_decisions_issue_one_code() {
    let h = harness();
    let bob = h
        .sessions
        .sign_in(grantor::EndUser::new("bob-sub", h.clock.now()));
    let cookie = format!("{}={}", h.sessions.cookie_name(), bob.expose());
    for round in 0..ROUNDS {
        let page = h
            .server
            .authorize(
                Request::get(format!(
                    "/authorize?{}",
                    authz(&[("prompt", Some("consent"))])
                ))
                .header(header::COOKIE, &cookie)
                .body(Vec::new())
                .unwrap(),
            )
            .await;
        assert_eq!(
            page.status(),
            StatusCode::OK,
            "round {round}: no consent page"
        );
        let html = String::from_utf8_lossy(page.body()).into_owned();
        let body = format!(
            "interaction={}&csrf_token={}&consent=allow",
            enc(&hidden(&html, "interaction")),
            enc(&hidden(&html, "csrf_token"))
        );
        let barrier = Arc::new(Barrier::new(16));
        let mut tasks = JoinSet::new();
        for _ in 0..16 {
            let server = h.server.clone();
            let barrier = barrier.clone();
            let req = Request::post("/authorize/resume")
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .header(header::COOKIE, &cookie)
                .header(header::ORIGIN, ISS)
                .body(body.clone().into_bytes())
                .unwrap();
            tasks.spawn(async move {
                barrier.wait().await;
                server.resume(req).await
            });
        }
        let mut codes = 0;
        while let Some(r) = tasks.join_next().await {
            let r = r.expect("task panicked");
            if r.status() == StatusCode::SEE_OTHER {
                assert_code_redirect(&r, CB, Some("xyz"));
                codes += 1;
            } else {
                assert_eq!(r.status(), StatusCode::BAD_REQUEST, "round {round}");
                assert!(r.headers().get(header::LOCATION).is_none());
            }
        }
        assert_eq!(codes, 1, "round {round}: {codes} codes issued");
    }
}

/// Revocation racing a rotation of the same refresh token (RFC 7009 §2.1 with RFC 9700
/// §4.14.2), 100 times: whichever wins, nothing of the family is usable afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn race_revocation_against_rotation_leaves_nothing_alive() {
    let mut policy = policy();
    policy.refresh_tokens = grantor::RefreshTokenPolicy::Always;
    let h = harness_with(policy);
    let form = |uri: &str, body: String| {
        Request::post(uri)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::AUTHORIZATION, B_CONF)
            .body(body.into_bytes())
            .unwrap()
    };
    for round in 0..ROUNDS {
        let code = h.code(&[]).await;
        let j = assert_token_ok(&h.exch(&code).await);
        let at = j["access_token"].as_str().unwrap().to_owned();
        let rt = j["refresh_token"].as_str().unwrap().to_owned();
        let barrier = Arc::new(Barrier::new(2));
        let refresh = {
            let (server, barrier) = (h.server.clone(), barrier.clone());
            let req = form(
                "/token",
                format!("grant_type=refresh_token&refresh_token={}", enc(&rt)),
            );
            tokio::spawn(async move {
                barrier.wait().await;
                server.token(req).await
            })
        };
        let revoke = {
            let (server, barrier) = (h.server.clone(), barrier.clone());
            let req = form("/revoke", format!("token={}", enc(&rt)));
            tokio::spawn(async move {
                barrier.wait().await;
                server.revoke(req).await
            })
        };
        let refreshed = refresh.await.expect("refresh task panicked");
        let revoked = revoke.await.expect("revoke task panicked");
        assert_eq!(revoked.status(), StatusCode::OK, "round {round}");
        let mut access_tokens = vec![at];
        if refreshed.status() == StatusCode::OK {
            let j = assert_token_ok(&refreshed);
            access_tokens.push(j["access_token"].as_str().unwrap().to_owned());
            let successor = j["refresh_token"].as_str().unwrap();
            let r = h
                .token(
                    &format!("grant_type=refresh_token&refresh_token={}", enc(successor)),
                    Some(B_CONF),
                )
                .await;
            assert_token_err(&r, 400, "invalid_grant");
        } else {
            assert_token_err(&refreshed, 400, "invalid_grant");
        }
        for token in access_tokens {
            let live = h
                .grants
                .access_token(&TokenDigest::of(&token), h.clock.now())
                .await
                .unwrap();
            assert!(live.is_none(), "round {round}: an access token survived");
        }
    }
}
