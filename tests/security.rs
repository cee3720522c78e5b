//! The security checklist (`../shared/security-checklist.md`, rows SEC-01 to SEC-95) has one
//! or more tests per row, named after the row (`fn sec_12_...`), split by area:
//!
//! | rows | file |
//! |---|---|
//! | authorization endpoint, redirects, PKCE at /authorize, prompt, browser hardening | `tests/security_authorize.rs` |
//! | token endpoint, client authentication, code grant, client_credentials | `tests/security_token.rs` |
//! | refresh tokens | `tests/security_refresh.rs` |
//! | ID tokens, keys, discovery | `tests/oidc.rs` |
//! | userinfo, revocation, introspection | `tests/security_endpoints.rs` |
//! | secrets never logged | `tests/security_logs.rs` |
//!
//! This file checks that the mapping stays complete: every row id has a test function.

use std::collections::BTreeSet;

const FILES: [&str; 7] = [
    include_str!("security_authorize.rs"),
    include_str!("security_token.rs"),
    include_str!("security_refresh.rs"),
    include_str!("security_endpoints.rs"),
    include_str!("security_logs.rs"),
    include_str!("oidc.rs"),
    include_str!("private_key_jwt.rs"),
];

/// The checklist's rows: SEC-01 to SEC-95.
const ROWS: std::ops::RangeInclusive<u32> = 1..=95;

#[test]
fn every_checklist_row_has_a_named_test() {
    let mut tested = BTreeSet::new();
    for source in FILES {
        for line in source.lines() {
            let line = line.trim_start();
            let Some(rest) = line
                .strip_prefix("async fn sec_")
                .or_else(|| line.strip_prefix("fn sec_"))
            else {
                continue;
            };
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            if let Ok(n) = digits.parse::<u32>() {
                tested.insert(n);
            }
        }
    }
    let missing: Vec<u32> = ROWS.filter(|n| !tested.contains(n)).collect();
    assert!(
        missing.is_empty(),
        "checklist rows without a test: {missing:?}"
    );
}
