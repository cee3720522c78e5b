mod common;
use common::*;

#[tokio::test]
async fn full_code_flow_with_pkce_rfc6749_4_1_rfc7636() {
    let h = harness();
    let r = h.authorize(&authz(&[])).await;
    let code = assert_code_redirect(&r, CB, Some("xyz"));
    let j = assert_token_ok(&h.exch(&code).await);
    assert_eq!(j["scope"], "openid read");
    assert_eq!(j["expires_in"], 3600);
}
