//! Checklist SEC-95, the logs half: secrets and tokens never appear in logs (RFC 6749 §10.3,
//! §10.4; HARDEN). A binary of its own with a single test: tracing caches per-callsite
//! interest globally, and other tests registering callsites on other threads while this
//! test's scoped subscriber is installed make the capture flaky.

mod common;
use common::*;

use std::io;
use std::sync::{Arc, Mutex};

use grantor::http::{header, Request};
use grantor::RefreshTokenPolicy;

/// A `tracing` writer that keeps everything in memory.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

const WRONG_V: &str = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
/// unknown:x
const B_UNKNOWN: &str = "Basic dW5rbm93bjp4";
const POST_CB: &str = "https://post.example.com/cb";

/// SEC-95: a flow with successes and failures (bad secrets, unknown client, wrong verifier,
/// code replay, refresh) logged at TRACE leaks no client secret, verifier, session id, code,
/// access token or refresh token.
#[tokio::test]
async fn sec_95_secrets_never_appear_in_logs() {
    let captured = Captured::default();
    let sink = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || sink.clone())
        .finish();
    let guard = tracing::subscriber::set_default(subscriber);

    let mut p = policy();
    p.refresh_tokens = RefreshTokenPolicy::Always;
    let h = harness_with(p);
    let mut secrets: Vec<String> = vec![
        "s3cr3t".into(),
        V.into(),
        WRONG_V.into(),
        h.alice_session.expose().to_owned(),
    ];
    let c = h.code(&[]).await;
    secrets.push(c.clone());
    assert_token_err(
        &h.token(&exch_body(&c), Some(B_BAD)).await,
        401,
        "invalid_client",
    );
    assert_token_err(
        &h.token(&exch_body(&c), Some(B_UNKNOWN)).await,
        401,
        "invalid_client",
    );
    let j = assert_token_ok(&h.exch(&c).await);
    let rt = j["refresh_token"]
        .as_str()
        .expect("refresh_token")
        .to_owned();
    secrets.push(j["access_token"].as_str().unwrap().to_owned());
    secrets.push(rt.clone());
    // A valid replay: logged as a warning, revokes the grant.
    assert_token_err(&h.exch(&c).await, 400, "invalid_grant");
    let r = h
        .token(
            &format!("grant_type=refresh_token&refresh_token={}", enc(&rt)),
            Some(B_CONF),
        )
        .await;
    assert_token_err(&r, 400, "invalid_grant");

    let c = h.code(&[]).await;
    secrets.push(c.clone());
    let b = exch_body(&c).replace(V, WRONG_V);
    assert_token_err(&h.token(&b, Some(B_CONF)).await, 400, "invalid_grant");
    let c = h.code(&[]).await;
    let j = assert_token_ok(&h.exch(&c).await);
    let rt = j["refresh_token"].as_str().unwrap().to_owned();
    secrets.push(rt.clone());
    let r = h
        .token(
            &format!("grant_type=refresh_token&refresh_token={}", enc(&rt)),
            Some(B_CONF),
        )
        .await;
    let j = assert_token_ok(&r);
    secrets.push(j["access_token"].as_str().unwrap().to_owned());
    secrets.push(j["refresh_token"].as_str().unwrap().to_owned());

    let c = h
        .code(&[
            ("client_id", Some("post-client")),
            ("redirect_uri", Some(POST_CB)),
        ])
        .await;
    secrets.push(c.clone());
    let b = format!(
        "grant_type=authorization_code&client_id=post-client&client_secret=s3cr3t-wrong&code={}&redirect_uri={}&code_verifier={V}",
        enc(&c),
        enc(POST_CB)
    );
    let req = Request::post("/token")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(b.into_bytes())
        .unwrap();
    assert_token_err(&h.server.token(req).await, 401, "invalid_client");
    drop(guard);

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    // The capture works: the events we expect are there.
    for expected in ["tokens issued", "client authentication failed", "replayed"] {
        assert!(
            logs.contains(expected),
            "no {expected:?} in the logs:\n{logs}"
        );
    }
    for s in &secrets {
        assert!(
            !logs.contains(s.as_str()),
            "secret {s:?} in the logs:\n{logs}"
        );
    }
}
