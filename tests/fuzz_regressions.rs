//! Inputs the fuzz targets (fuzz/, see fuzz/README.md) once failed on, replayed through the
//! same invariant checks on every `cargo test`: each file under `fuzz/regressions/<target>/`
//! goes through `grantor_fuzz::check_<target>`. Add a crash input there (a copy of
//! `fuzz/artifacts/<target>/crash-…`) when fixing what it found.

#[allow(dead_code)]
#[path = "../fuzz/src/lib.rs"]
mod harness;

use std::path::Path;

use grantor::RedirectUri;

fn replay(target: &str, check: fn(&[u8])) -> usize {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/regressions")
        .join(target);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return 0;
    };
    let mut files: Vec<_> = entries.map(|e| e.unwrap().path()).collect();
    files.sort();
    for file in &files {
        let data = std::fs::read(file).unwrap();
        let result = std::panic::catch_unwind(|| check(&data));
        assert!(result.is_ok(), "{} fails again", file.display());
    }
    files.len()
}

#[test]
fn params_regressions() {
    replay("params", harness::check_params);
}

#[test]
fn basic_header_regressions() {
    replay("basic_header", harness::check_basic_header);
}

#[test]
fn redirect_match_regressions() {
    assert!(replay("redirect_match", harness::check_redirect_match) > 0);
}

#[test]
fn authorize_regressions() {
    replay("authorize", harness::check_authorize);
}

#[test]
fn token_regressions() {
    replay("token", harness::check_token);
}

/// The fixtures the fuzz targets start from succeed, so their invariants are not vacuous.
#[test]
fn fuzz_fixtures_reach_success() {
    harness::self_test();
}

/// Found by `redirect_match` (fuzz/regressions/redirect_match/ipv6-garbage-after-port):
/// registration took `http://[::1]:8080cb`, whose loopback rule then matched
/// `http://[::1]:9999`, a URI that differs in more than the port (RFC 8252 §7.3). Only a port
/// may follow the host (RFC 3986 §3.2.3).
#[test]
fn only_a_numeric_port_may_follow_the_host() {
    for bad in [
        "http://[::1]:8080cb",
        "http://[::1]x/cb",
        "http://127.0.0.1:80x/cb",
        "http://127.0.0.1:/cb",
        "http://127.0.0.1:123456/cb",
        "https://client.example.com:443x/cb",
        "https://client.example.com:/cb",
    ] {
        assert!(RedirectUri::parse(bad).is_err(), "{bad}");
    }
    for good in [
        "http://[::1]:8080/cb",
        "http://[::1]",
        "http://127.0.0.1:65535?x=1",
        "https://client.example.com:443/cb",
        "http://localhost:3000/cb",
    ] {
        assert!(RedirectUri::parse(good).is_ok(), "{good}");
    }
    let v6 = RedirectUri::parse("http://[::1]:8080/cb").unwrap();
    assert!(v6.matches("http://[::1]:9999/cb", true));
    assert!(!v6.matches("http://[::1]:9999", true));
}

/// Found by `redirect_match`
/// (fuzz/regressions/redirect_match/params-appended-to-path-ending-in-ampersand): for a
/// registered URI without a query whose path ends in `&`, the response parameters were glued
/// to the path (`https://client.example.com/cb&code=…`) instead of going into a query
/// (RFC 6749 §4.1.2).
#[test]
fn response_parameters_go_into_the_query() {
    use grantor::__fuzz::redirect_with_params;
    let p = [("code", "x y"), ("state", "s")];
    for (base, expected) in [
        (
            "https://client.example.com/cb&",
            "https://client.example.com/cb&?code=x+y&state=s",
        ),
        ("https://&", "https://&?code=x+y&state=s"),
        (
            "https://client.example.com/cb?",
            "https://client.example.com/cb?code=x+y&state=s",
        ),
        (
            "https://client.example.com/cb?a=1&",
            "https://client.example.com/cb?a=1&code=x+y&state=s",
        ),
        (
            "https://client.example.com/cb?a=1",
            "https://client.example.com/cb?a=1&code=x+y&state=s",
        ),
        (
            "https://client.example.com/cb",
            "https://client.example.com/cb?code=x+y&state=s",
        ),
    ] {
        assert_eq!(redirect_with_params(base, false, &p), expected, "{base}");
    }
    assert_eq!(
        redirect_with_params("https://client.example.com/cb&", true, &p),
        "https://client.example.com/cb&#code=x+y&state=s"
    );
}
