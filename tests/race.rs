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
