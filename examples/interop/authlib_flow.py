#!/usr/bin/env python3
"""Drive a running grantor demo server end to end with an independent client library (Authlib).

This is an interoperability check, not part of the Rust test suite and not run in CI. It plays
a relying party that knows nothing about grantor beyond what OpenID Connect Discovery tells it:

  1. fetches the discovery documents (OIDC Discovery 1.0 and RFC 8414) and the JWK set;
  2. signs in and consents once with the headers a real browser sends with the form posts
     (requests sends none): `Origin` per the Fetch Standard, where the page's Referrer-Policy
     decides whether it is the page's origin or "null" (under the demo's no-referrer, Chromium
     sends "null"), and the Fetch Metadata headers (`Sec-Fetch-Site: same-origin` and
     `Sec-Fetch-Mode`/`-Dest`/`-User`); before allowing, it checks that the same consent post
     with `Origin: null` but no `Sec-Fetch-Site`, or with a cross-site or same-site one, is
     refused with 403;
  3. for every client of DEMO_CONFIG with the authorization_code grant: builds the authorization
     URL with Authlib (PKCE S256, state, nonce), signs in (a wrong password first, once) and
     consents by posting the server's HTML forms, catches the redirect to the redirect_uri
     without following it, lets Authlib check `state` (and checks the RFC 9207 `iss` itself:
     Authlib does not), exchanges the code with the client's registered authentication method,
     has Authlib VALIDATE the ID token against the JWK set (signature, alg, iss, aud, exp, iat,
     nonce, at_hash), calls userinfo, introspects, refreshes (rotation), revokes; then, from the
     same browser session, checks single sign-on with remembered consent, a wrong PKCE verifier,
     refresh token reuse, prompt=consent and authorization code replay;
  4. for every client with the client_credentials grant: gets a token, introspects and revokes it.

How to run (from the repository root):

    cargo run --example axum                 # or: cargo run --example actix; in another shell
    pip install authlib requests && python3 examples/interop/authlib_flow.py

It reads the same settings as the demo: ISSUER (default http://127.0.0.1:3000) and DEMO_CONFIG
(default examples/demo.json) for the clients and users (it signs in as the first user). Give it
the same values as the server: with LISTEN_ADDR=127.0.0.1:4000 on the demo, run the script with
ISSUER=http://127.0.0.1:4000. examples/demo.json has no client with ID tokens signed with EdDSA
or with client_secret_post for the code flow; to cover those, start the demo with a DEMO_CONFIG
listing such clients and run this script with the same DEMO_CONFIG. The demo remembers consent
for as long as it runs; the script copes with either a fresh or a used server.

It prints one line per step and exits non-zero if any step failed (VERBOSE=1 adds tracebacks).
Written against Authlib 1.9 (which validates JWTs with joserfc) and requests 2.
"""

import base64
import hashlib
import json
import os
import re
import sys
import traceback
import warnings
from contextlib import contextmanager
from html.parser import HTMLParser
from urllib.parse import parse_qs, urljoin, urlsplit

try:
    import authlib
    import requests
    from authlib.common.security import generate_token
    from authlib.integrations.base_client import OAuthError
    from authlib.integrations.base_client.sync_openid import OpenIDMixin
    from authlib.integrations.requests_client import OAuth2Session
    from authlib.oauth2.rfc6749.errors import MismatchingStateException
except ImportError as e:  # pragma: no cover
    sys.exit(f"missing dependency ({e}): pip install authlib requests")

ISSUER = os.environ.get("ISSUER", "").strip().rstrip("/") or "http://127.0.0.1:3000"
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEMO_CONFIG = os.environ.get("DEMO_CONFIG", "").strip() or os.path.join(
    REPO_ROOT, "examples", "demo.json"
)
TIMEOUT = 10  # seconds, every HTTP request


# ----------------------------------------------------------------------------------------------
# Reporting: one line per step; a failed step aborts the rest of its flow, not the whole run.
# ----------------------------------------------------------------------------------------------


class FlowAborted(Exception):
    pass


class Report:
    def __init__(self):
        self.passed = 0
        self.failed = []
        self.notes = []

    @contextmanager
    def step(self, name):
        """Runs a step; `yield`s a list to append detail strings to."""
        detail = []
        try:
            yield detail
        except FlowAborted:
            raise
        except Exception as e:  # noqa: BLE001 - every failure is reported, with its cause
            self.failed.append(name)
            print(f"  FAIL  {name}: {type(e).__name__}: {e}")
            if os.environ.get("VERBOSE"):
                traceback.print_exc()
            raise FlowAborted(name) from e
        self.passed += 1
        print(f"  ok    {name}" + (f": {'; '.join(detail)}" if detail else ""))

    def note(self, text):
        self.notes.append(text)
        print(f"  note  {text}")


def check(condition, message):
    if not condition:
        raise AssertionError(message)


def expect_oauth_error(code, fn, *args, **kwargs):
    """Calls fn and expects Authlib to raise the OAuth error `code` (RFC 6749 §5.2)."""
    try:
        fn(*args, **kwargs)
    except OAuthError as e:
        check(e.error == code, f"expected error {code!r}, got {e.error!r} ({e.description})")
        return e
    raise AssertionError(f"expected error {code!r}, but the request succeeded")


# ----------------------------------------------------------------------------------------------
# A tiny "browser": a requests.Session that keeps cookies, follows redirects by hand and fills
# in the server's login and consent forms (demo-contract.md, "Login and consent pages").
# ----------------------------------------------------------------------------------------------


class FormParser(HTMLParser):
    """Collects every <form> with its inputs and submit buttons, and role=alert text."""

    def __init__(self):
        super().__init__()
        self.forms = []
        self.alerts = []
        self._in_alert = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.forms.append(
                {"action": a.get("action", ""), "method": a.get("method", "get").lower(),
                 "inputs": {}, "buttons": []}
            )
        elif tag == "input" and self.forms and a.get("name"):
            self.forms[-1]["inputs"][a["name"]] = {
                "type": a.get("type", "text"), "value": a.get("value", "")}
        elif tag == "button" and self.forms and a.get("name"):
            self.forms[-1]["buttons"].append((a["name"], a.get("value", "")))
        if a.get("role") == "alert":
            self._in_alert = True
            self.alerts.append("")

    def handle_endtag(self, tag):
        if tag in ("p", "div"):
            self._in_alert = False

    def handle_data(self, data):
        if self._in_alert:
            self.alerts[-1] += data


def parse_page(response):
    check("text/html" in response.headers.get("content-type", ""),
          f"expected an HTML page, got {response.status_code} {response.headers.get('content-type')}")
    parser = FormParser()
    parser.feed(response.text)
    check(len(parser.forms) == 1, f"expected one <form>, found {len(parser.forms)}")
    return parser.forms[0], parser.alerts


def page_text(html):
    """The visible text of an HTML page, for error messages."""
    text = re.sub(r"(?s)<(style|script|title)\b.*?</\1>", " ", html)
    return " ".join(re.sub(r"<[^>]+>", " ", text).split())


def is_callback(url, redirect_uri):
    a, b = urlsplit(url), urlsplit(redirect_uri)
    return (a.scheme, a.netloc, a.path) == (b.scheme, b.netloc, b.path)


def origin_of(url):
    u = urlsplit(url)
    return f"{u.scheme}://{u.netloc}"


def browser_origin_header(page_url, referrer_policy, action):
    """The Origin header a browser sends with a form POST from `page_url` to `action`: the
    Fetch Standard's "append a request `Origin` header", which depends on the page's
    Referrer-Policy. (requests sends no Origin at all.)"""
    policy = (referrer_policy or "").split(",")[-1].strip().lower()
    origin, target = origin_of(page_url), origin_of(action)
    if policy == "no-referrer":
        return "null"
    if policy in ("no-referrer-when-downgrade", "strict-origin", "strict-origin-when-cross-origin", ""):
        if origin.startswith("https:") and not target.startswith("https:"):
            return "null"
    if policy == "same-origin" and origin != target:
        return "null"
    return origin


def browser_fetch_site(page_url, action):
    """The `Sec-Fetch-Site` a browser sends with a form POST from `page_url` to `action` (Fetch
    Metadata Request Headers): same-origin for the same scheme, host and port; same-site for
    the same scheme and host (a host with no registrable domain, like 127.0.0.1, is its own
    site); cross-site otherwise."""
    a, b = urlsplit(page_url), urlsplit(action)
    if origin_of(page_url) == origin_of(action):
        return "same-origin"
    if a.scheme == b.scheme and a.hostname == b.hostname:
        return "same-site"
    return "cross-site"


def browser_form_post_headers(page_url, referrer_policy, action):
    """What Chromium adds to a user-submitted form POST beyond cookies and the body: Origin,
    the Fetch Metadata headers, and no Referer under no-referrer (it sent exactly these, with
    Origin "null", to the demo's login and consent forms)."""
    return {
        "Origin": browser_origin_header(page_url, referrer_policy, action),
        "Sec-Fetch-Site": browser_fetch_site(page_url, action),
        "Sec-Fetch-Mode": "navigate",
        "Sec-Fetch-Dest": "document",
        "Sec-Fetch-User": "?1",
    }


class ConsentPage:
    """A consent page the Browser stopped at (Browser.run(stop_at_consent=True))."""

    def __init__(self, url, form, response):
        self.url, self.form, self.response = url, form, response

    def fields(self, consent):
        """The form data a browser posts for the `consent` button."""
        data = {n: i["value"] for n, i in self.form["inputs"].items() if i["type"] == "hidden"}
        data["consent"] = consent
        return data

    def action(self):
        return urljoin(self.url, self.form["action"] or self.url)


class Browser:
    """Walks from an authorization URL to the client's redirect_uri, recording what it saw.

    With send_origin=True its form posts carry the headers Chromium sends (see
    browser_form_post_headers: Origin per the page's Referrer-Policy, Sec-Fetch-Site and the
    other Fetch Metadata headers); by default they carry none, like curl or a script."""

    def __init__(self, send_origin=False):
        self.http = requests.Session()
        self.pages = []  # "login" / "consent" in the order they were shown
        self.send_origin = send_origin
        self.origins_sent = []  # (Origin, Sec-Fetch-Site) of every form post, with send_origin

    def submit(self, page_url, form, fields, page=None):
        action = urljoin(page_url, form["action"] or page_url)
        data = {name: i["value"] for name, i in form["inputs"].items() if i["type"] == "hidden"}
        data.update(fields)
        check(form["method"] == "post", f"form method is {form['method']!r}, not post")
        headers = {}
        if self.send_origin and page is not None:
            headers = browser_form_post_headers(page_url, page.headers.get("referrer-policy"), action)
            self.origins_sent.append((headers["Origin"], headers["Sec-Fetch-Site"]))
        response = self.http.post(action, data=data, headers=headers, allow_redirects=False,
                                  timeout=TIMEOUT)
        return response, action

    def run(self, url, redirect_uri, username, password, consent="allow", wrong_password_first=False,
            stop_at_consent=False):
        """Returns the full redirect_uri URL the server sent the browser to (not followed); with
        stop_at_consent=True, a ConsentPage instead if a consent page comes up (go on with
        finish_consent)."""
        response = self.http.get(url, allow_redirects=False, timeout=TIMEOUT)
        return self._walk(url, response, redirect_uri, username, password, consent,
                          wrong_password_first, stop_at_consent)

    def finish_consent(self, page, redirect_uri, consent="allow"):
        """Posts the consent form of `page` as the browser would, and walks on to the redirect_uri."""
        response, url = self.submit(page.url, page.form, {"consent": consent}, page.response)
        return self._walk(url, response, redirect_uri, None, None, consent, False, False)

    def _walk(self, url, response, redirect_uri, username, password, consent, wrong_password_first,
              stop_at_consent):
        for _ in range(20):
            if response.is_redirect:
                location = urljoin(url, response.headers["location"])
                if is_callback(location, redirect_uri):
                    return location
                url = location
                response = self.http.get(url, allow_redirects=False, timeout=TIMEOUT)
                continue
            check(response.status_code == 200,
                  f"{url} answered {response.status_code}: {page_text(response.text)[:300]}")
            form, _ = parse_page(response)
            if "password" in form["inputs"]:
                self.pages.append("login")
                check("username" in form["inputs"], "the login form has no username input")
                if wrong_password_first:
                    wrong_password_first = False
                    bad, _ = self.submit(url, form, {"username": username, "password": password + "-wrong"},
                                         response)
                    check(bad.status_code == 200, f"wrong password: status {bad.status_code}, not 200")
                    again, alerts = parse_page(bad)
                    check("password" in again["inputs"], "wrong password: the form is not shown again")
                    check(alerts and alerts[0].strip(), "wrong password: no error message on the page")
                    self.wrong_password_message = alerts[0].strip()
                    form, response = again, bad
                response, url = self.submit(url, form, {"username": username, "password": password},
                                            response)
            elif ("consent", "allow") in form["buttons"]:
                self.pages.append("consent")
                check(("consent", "deny") in form["buttons"], "the consent form has no deny button")
                self.consent_text = response.text
                if stop_at_consent:
                    return ConsentPage(url, form, response)
                response, url = self.submit(url, form, {"consent": consent}, response)
            else:
                raise AssertionError(f"unexpected page at {url}: {response.text[:300]}")
        raise AssertionError("too many redirects")


# ----------------------------------------------------------------------------------------------
# The relying party. ID tokens are validated by Authlib's own OpenIDMixin.parse_id_token (the
# code path its Flask/Django/Starlette integrations use), fed with discovery and the JWK set.
# ----------------------------------------------------------------------------------------------


class RelyingParty(OpenIDMixin):
    def __init__(self, client_id, metadata):
        self.client_id = client_id
        self.server_metadata = dict(metadata)

    def load_server_metadata(self):
        return self.server_metadata

    def _get_session(self):
        return OAuth2Session()

    def validate_id_token(self, token, nonce):
        """Signature against the JWK set, alg among the advertised ones, iss, aud, exp, iat,
        nonce, azp and at_hash (OIDC Core §3.1.3.7), with Authlib's CodeIDToken rules."""
        options = {
            "iss": {"essential": True, "values": [self.server_metadata["issuer"]]},
            "aud": {"essential": True, "values": [self.client_id]},
            "exp": {"essential": True},
            "iat": {"essential": True},
            "sub": {"essential": True},
        }
        if nonce is not None:
            options["nonce"] = {"essential": True, "values": [nonce]}
        return self.parse_id_token(token, nonce=nonce, claims_options=options, leeway=60)


def b64url_json(segment):
    return json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))


def id_token_header(id_token):
    return b64url_json(id_token.split(".")[0])


def half_hash(value, alg):
    h = hashlib.sha512 if alg in ("EdDSA", "ES512", "RS512", "PS512") else (
        hashlib.sha384 if alg.endswith("384") else hashlib.sha256)
    d = h(value.encode()).digest()
    return base64.urlsafe_b64encode(d[: len(d) // 2]).rstrip(b"=").decode()


def session_for(client, metadata, scope=None, token=None):
    """An Authlib OAuth2Session for a client of DEMO_CONFIG, with its registered auth method."""
    method = client.get("token_endpoint_auth_method") or (
        "client_secret_basic" if client.get("client_secret") else "none")
    redirect_uris = client.get("redirect_uris") or [None]
    return OAuth2Session(
        client_id=client["client_id"],
        client_secret=client.get("client_secret"),
        token_endpoint_auth_method=method,
        # Revocation and introspection authenticate the same way as the token endpoint.
        revocation_endpoint_auth_method=method,
        scope=scope,
        redirect_uri=redirect_uris[0],
        code_challenge_method="S256",
        token=token,
    ), method


# ----------------------------------------------------------------------------------------------
# The flows
# ----------------------------------------------------------------------------------------------


def discover(report):
    print(f"\n== discovery: {ISSUER}")
    with report.step("OpenID Connect discovery") as d:
        r = requests.get(f"{ISSUER}/.well-known/openid-configuration", timeout=TIMEOUT)
        r.raise_for_status()
        metadata = r.json()
        check(metadata["issuer"] == ISSUER, f"issuer {metadata['issuer']!r} != {ISSUER!r}")
        for key in ("authorization_endpoint", "token_endpoint", "jwks_uri", "userinfo_endpoint",
                    "response_types_supported", "subject_types_supported",
                    "id_token_signing_alg_values_supported"):
            check(key in metadata, f"discovery lacks {key}")
        check("S256" in metadata.get("code_challenge_methods_supported", []), "no S256 PKCE")
        d.append(f"algs {metadata['id_token_signing_alg_values_supported']}")
        d.append(f"iss parameter supported: {metadata.get('authorization_response_iss_parameter_supported')}")
    with report.step("RFC 8414 authorization server metadata") as d:
        r = requests.get(f"{ISSUER}/.well-known/oauth-authorization-server", timeout=TIMEOUT)
        r.raise_for_status()
        as_meta = r.json()
        check(as_meta["issuer"] == ISSUER, "RFC 8414 issuer differs")
        for key in ("token_endpoint", "authorization_endpoint"):
            check(as_meta.get(key) == metadata.get(key), f"{key} differs between the documents")
    with report.step("JWK set") as d:
        jwks = RelyingParty("-", metadata).fetch_jwk_set()
        keys = jwks["keys"]
        check(keys, "empty JWK set")
        for k in keys:
            check("d" not in k and "p" not in k, f"private key material published in {k.get('kid')}")
        d.append(", ".join(f"{k.get('kid')}={k.get('alg')}/{k['kty']}" for k in keys))
    return metadata, jwks


def browser_origin_flow(report, metadata, client, user):
    """The login and consent forms posted with the headers Chromium sends (Origin: null and
    Sec-Fetch-Site: same-origin under the demo's Referrer-Policy: no-referrer), and the same
    consent post refused when its fetch metadata is missing or not same-origin."""
    oauth, _ = session_for(client, metadata, scope="openid")
    print(f"\n== browser-faithful form posts (Origin and Sec-Fetch-Site as Chromium sends them): "
          f"client {client['client_id']}")
    url, state = oauth.create_authorization_url(
        metadata["authorization_endpoint"], code_verifier=generate_token(48),
        nonce=generate_token(20), prompt="consent")
    browser = Browser(send_origin=True)
    with report.step("sign in with Chromium's form-post headers, reach the consent page") as d:
        try:
            page = browser.run(url, oauth.redirect_uri, user["username"], user["password"],
                               stop_at_consent=True)
        except AssertionError as e:
            raise AssertionError(f"{e} [(Origin, Sec-Fetch-Site) sent: {browser.origins_sent}]") from None
        check(isinstance(page, ConsentPage), f"no consent page despite prompt=consent: {page}")
        policy = page.response.headers.get("referrer-policy")
        expected = browser_form_post_headers(page.url, policy, page.action())
        d.append(f"login posts sent (Origin, Sec-Fetch-Site): {browser.origins_sent}")
        d.append(f"consent page Referrer-Policy: {policy!r}, so its post carries "
                 f"Origin: {expected['Origin']}, Sec-Fetch-Site: {expected['Sec-Fetch-Site']}")
        if expected["Origin"] != "null":
            report.note("the consent page no longer sends Referrer-Policy: no-referrer, so a browser "
                        "sends its real Origin, not 'null'")

    # A consent post with Origin: null that a browser did not mark same-origin: refused with 403,
    # before the server looks at the CSRF token (which is valid here) or records a decision.
    refused_cases = [
        ("no Sec-Fetch-Site", {"Origin": "null"}),
        ("Sec-Fetch-Site: cross-site", {"Origin": "null", "Sec-Fetch-Site": "cross-site"}),
        ("Sec-Fetch-Site: same-site", {"Origin": "null", "Sec-Fetch-Site": "same-site"}),
    ]
    for label, headers in refused_cases:
        with report.step(f"consent post with Origin: null and {label} refused with 403") as d:
            r = browser.http.post(page.action(), data=page.fields("allow"), headers=headers,
                                  allow_redirects=False, timeout=TIMEOUT)
            check(r.status_code == 403,
                  f"{r.status_code} (Location: {r.headers.get('location')}): {page_text(r.text)[:200]}")
            check("location" not in r.headers, f"403 with a Location: {r.headers.get('location')}")
            d.append(f"403: {page_text(r.text)[:120]!r}")

    with report.step("consent post with Origin: null and Sec-Fetch-Site: same-origin (as Chromium)") as d:
        before = len(browser.origins_sent)
        callback = browser.finish_consent(page, oauth.redirect_uri)
        d.append(f"sent (Origin, Sec-Fetch-Site): {browser.origins_sent[before:]}")
        cb = {k: v[0] for k, v in parse_qs(urlsplit(callback).query).items()}
        check("error" not in cb, f"error response: {cb}")
        check(cb.get("code"), f"no code: {callback}")
        check(cb.get("state") == state, f"state {cb.get('state')!r} != {state!r}")
        check(cb.get("iss") == metadata["issuer"], f"iss {cb.get('iss')!r} != issuer")
        d.append("reached the redirect_uri with code, state and iss (after the refused posts, "
                 "with the same form)")


def authorization_code_flow(report, metadata, jwks, client, user, first):
    cid = client["client_id"]
    expected_alg = client.get("id_token_signed_response_alg", "RS256")
    allowed = set(client.get("scopes", []))
    # openid plus what the client may ask for of profile/email; offline_access is deliberately
    # left out: the contract gives a refresh token to every client with the refresh_token grant.
    scope = " ".join(s for s in ("openid", "profile", "email") if s in allowed or s == "openid")
    oauth, method = session_for(client, metadata, scope=scope)
    rp = RelyingParty(cid, metadata)
    redirect_uri = oauth.redirect_uri
    print(f"\n== authorization code: client {cid} ({method}, ID token {expected_alg}), scope '{scope}'")

    # -- Authorization request, built by the library --
    nonce = generate_token(20)
    verifier = generate_token(48)
    url, state = oauth.create_authorization_url(
        metadata["authorization_endpoint"], code_verifier=verifier, nonce=nonce)
    q = parse_qs(urlsplit(url).query)
    with report.step("authorization URL built by Authlib") as d:
        check(q.get("code_challenge_method") == ["S256"] and q.get("code_challenge"), "no PKCE")
        check(q.get("nonce") == [nonce] and q.get("state") == [state], "no nonce/state")
        d.append("PKCE S256, state, nonce")

    browser = Browser()
    with report.step("sign in and consent through the HTML forms") as d:
        callback = browser.run(url, redirect_uri, user["username"], user["password"],
                               wrong_password_first=first)
        d.append(f"pages shown: {' -> '.join(browser.pages) or 'none (session and consent remembered)'}")
        if first:
            d.append(f"wrong password first: {browser.wrong_password_message!r}")
        if "consent" in browser.pages:
            name = client.get("client_name", cid)
            check(name in browser.consent_text, f"consent page does not name {name!r}")
            for s in scope.split():
                check(f"<code>{s}</code>" in browser.consent_text, f"consent page does not list {s}")
    cb = {k: v[0] for k, v in parse_qs(urlsplit(callback).query).items()}
    print(f"        redirected to {callback}")

    with report.step("authorization response: state checked by Authlib, iss (RFC 9207)") as d:
        check("error" not in cb, f"error response: {cb}")
        # Authlib rejects a tampered state...
        tampered = callback.replace(f"state={state}", "state=tampered")
        try:
            oauth.fetch_token(metadata["token_endpoint"], authorization_response=tampered,
                              state=state, code_verifier=verifier)
            raise AssertionError("Authlib accepted a mismatching state")
        except MismatchingStateException:
            pass
        # ...but does not implement RFC 9207, so check iss by hand.
        check(cb.get("iss") == metadata["issuer"], f"iss {cb.get('iss')!r} != issuer")
        d.append("tampered state rejected by Authlib (MismatchingStateException)")
        d.append("iss matches (checked by this script: Authlib has no RFC 9207 support)")

    with report.step(f"code exchange ({method})") as d:
        token = oauth.fetch_token(metadata["token_endpoint"], authorization_response=callback,
                                  state=state, code_verifier=verifier)
        check(token.get("token_type", "").lower() == "bearer", f"token_type {token.get('token_type')}")
        for k in ("access_token", "id_token", "expires_in"):
            check(k in token, f"no {k} in the token response")
        if "refresh_token" in client.get("grant_types", []):
            check("refresh_token" in token, "no refresh_token although the client has the grant")
        else:
            check("refresh_token" not in token, "a refresh_token for a client without the grant")
        d.append("got " + ", ".join(sorted(k for k in token if k != "expires_at")))

    with report.step("ID token validated by Authlib against the JWK set") as d:
        header = id_token_header(token["id_token"])
        check(header["alg"] == expected_alg, f"alg {header['alg']} != registered {expected_alg}")
        check(any(k.get("kid") == header.get("kid") for k in jwks["keys"]), "kid not in the JWK set")
        claims = rp.validate_id_token(token, nonce)
        check("at_hash" in claims, "no at_hash (optional in the code flow, but expected here)")
        check(claims["at_hash"] == half_hash(token["access_token"], header["alg"]), "at_hash")
        d.append(f"alg {header['alg']}, kid {header.get('kid')}, sub {claims['sub']}, "
                 f"iss/aud/exp/iat/nonce/at_hash ok")

    with report.step("userinfo") as d:
        r = oauth.get(metadata["userinfo_endpoint"], timeout=TIMEOUT)
        check(r.status_code == 200, f"status {r.status_code}: {r.text[:200]}")
        info = r.json()
        check(info.get("sub") == claims["sub"], "userinfo sub differs from the ID token's")
        if "profile" in scope:
            check(info.get("name") == user.get("name"), f"name {info.get('name')!r}")
        if "email" in scope:
            check(info.get("email") == user.get("email"), f"email {info.get('email')!r}")
        d.append(json.dumps(info, sort_keys=True))

    if "introspection_endpoint" in metadata and method != "none":
        with report.step("introspection of the access token") as d:
            r = oauth.introspect_token(metadata["introspection_endpoint"],
                                       token=token["access_token"], token_type_hint="access_token")
            check(r.status_code == 200, f"status {r.status_code}: {r.text[:200]}")
            i = r.json()
            check(i.get("active") is True, f"not active: {i}")
            check(i.get("client_id") == cid and i.get("sub") == claims["sub"], f"wrong owner: {i}")
            d.append(f"active, scope '{i.get('scope')}'")

    if "refresh_token" in token:
        with report.step("refresh") as d:
            new = oauth.refresh_token(metadata["token_endpoint"], refresh_token=token["refresh_token"])
            check(new.get("access_token") and new["access_token"] != token["access_token"], "no new access token")
            check(new.get("refresh_token") and new["refresh_token"] != token["refresh_token"],
                  "refresh token not rotated")
            d.append("new access token, rotated refresh token")
            if "id_token" in new:
                # OIDC Core §12.2: same iss, sub, aud, auth_time; no nonce check (none was sent).
                again = rp.validate_id_token(new, None)
                check(again["sub"] == claims["sub"], "refreshed ID token has another sub")
                check(again.get("auth_time") == claims.get("auth_time"), "auth_time changed on refresh")
                d.append(f"refreshed ID token validated ({id_token_header(new['id_token'])['alg']})")
            r = oauth.get(metadata["userinfo_endpoint"], timeout=TIMEOUT)
            check(r.status_code == 200, f"userinfo with the refreshed token: {r.status_code}")
            token = new

    if "revocation_endpoint" in metadata:
        with report.step("revocation (RFC 7009)") as d:
            r = oauth.revoke_token(metadata["revocation_endpoint"], token=token["access_token"],
                                   token_type_hint="access_token")
            check(r.status_code == 200, f"revoking the access token: {r.status_code} {r.text[:200]}")
            r = oauth.get(metadata["userinfo_endpoint"], timeout=TIMEOUT)
            check(r.status_code == 401, f"userinfo with a revoked access token: {r.status_code}")
            d.append("access token revoked, userinfo now 401")
            if method != "none" and "introspection_endpoint" in metadata:
                i = oauth.introspect_token(metadata["introspection_endpoint"], token=token["access_token"]).json()
                check(i == {"active": False}, f"introspection after revocation: {i}")
                d.append("introspection says inactive")
            if "refresh_token" in token:
                r = oauth.revoke_token(metadata["revocation_endpoint"], token=token["refresh_token"],
                                       token_type_hint="refresh_token")
                check(r.status_code == 200, f"revoking the refresh token: {r.status_code}")
                expect_oauth_error("invalid_grant", oauth.refresh_token, metadata["token_endpoint"],
                                   refresh_token=token["refresh_token"])
                d.append("refresh token revoked, refresh now invalid_grant")
            r = oauth.revoke_token(metadata["revocation_endpoint"], token="no-such-token")
            check(r.status_code == 200, f"revoking an unknown token: {r.status_code} (RFC 7009 §2.2: 200)")
            d.append("unknown token: 200")

    # -- The same browser again: single sign-on and remembered consent --
    def authorize(prompt=None):
        """A new authorization request from the same browser; returns what the token request needs."""
        nonce_, verifier_ = generate_token(20), generate_token(48)
        extra = {"prompt": prompt} if prompt else {}
        url_, state_ = oauth.create_authorization_url(
            metadata["authorization_endpoint"], code_verifier=verifier_, nonce=nonce_, **extra)
        browser.pages.clear()
        callback_ = browser.run(url_, redirect_uri, user["username"], user["password"])
        return {"authorization_response": callback_, "state": state_, "code_verifier": verifier_}

    with report.step("second authorization: no login, no consent; wrong code_verifier refused") as d:
        grant = authorize()
        check(browser.pages == [], f"pages shown: {browser.pages}")
        e = expect_oauth_error("invalid_grant", oauth.fetch_token, metadata["token_endpoint"],
                               **dict(grant, code_verifier=generate_token(48)))
        d.append(f"straight to the redirect_uri; wrong verifier: invalid_grant ({e.description})")

    if "refresh_token" in client.get("grant_types", []):
        with report.step("rotated-out refresh token refused") as d:
            first_token = oauth.fetch_token(metadata["token_endpoint"], **authorize())
            second_token = oauth.refresh_token(metadata["token_endpoint"],
                                               refresh_token=first_token["refresh_token"])
            e = expect_oauth_error("invalid_grant", oauth.refresh_token, metadata["token_endpoint"],
                                   refresh_token=first_token["refresh_token"])
            d.append(f"invalid_grant ({e.description})")
            # Replaying a rotated-out refresh token may revoke the whole grant (RFC 9700 §4.14.2).
            r = requests.post(metadata["token_endpoint"], timeout=TIMEOUT, **_client_auth_kwargs(
                client, method, {"grant_type": "refresh_token",
                                 "refresh_token": second_token["refresh_token"]}))
            d.append("after the replay the current refresh token is "
                     + ("still valid" if r.status_code == 200 else
                        f"refused too ({r.json().get('error')}): the grant was revoked on reuse"))

    with report.step("prompt=consent asks again; code replay refused and its tokens revoked") as d:
        grant = authorize(prompt="consent")
        check(browser.pages == ["consent"], f"pages shown: {browser.pages}")
        replayed = oauth.fetch_token(metadata["token_endpoint"], **grant)
        e = expect_oauth_error("invalid_grant", oauth.fetch_token, metadata["token_endpoint"], **grant)
        d.append(f"consent page shown; replay: invalid_grant ({e.description})")
        # RFC 6749 §4.1.2: the server SHOULD revoke the tokens issued from a replayed code.
        r = requests.get(metadata["userinfo_endpoint"], timeout=TIMEOUT,
                         headers={"Authorization": f"Bearer {replayed['access_token']}"})
        if r.status_code == 401:
            d.append("the access token from that code now gets 401")
        else:
            report.note(f"{cid}: the access token from a replayed code still works ({r.status_code})")


def _client_auth_kwargs(client, method, data):
    """requests.post arguments that authenticate `client` the way it is registered."""
    data = dict(data)
    if method == "client_secret_basic":
        return {"data": data, "auth": (client["client_id"], client["client_secret"])}
    data["client_id"] = client["client_id"]
    if method == "client_secret_post":
        data["client_secret"] = client["client_secret"]
    return {"data": data}


def client_credentials_flow(report, metadata, client):
    cid = client["client_id"]
    scope = " ".join(s for s in client.get("scopes", []) if s != "openid") or None
    oauth, method = session_for(client, metadata, scope=scope)
    print(f"\n== client_credentials: client {cid} ({method}), scope '{scope}'")
    with report.step(f"token request ({method})") as d:
        token = oauth.fetch_token(metadata["token_endpoint"], grant_type="client_credentials")
        check(token.get("token_type", "").lower() == "bearer", f"token_type {token.get('token_type')}")
        check("refresh_token" not in token, "a refresh token for client_credentials (RFC 6749 §4.4.3)")
        check("id_token" not in token, "an ID token for client_credentials")
        d.append("got " + ", ".join(sorted(k for k in token if k != "expires_at")))
    with report.step("wrong secret rejected") as d:
        bad = dict(client, client_secret=client["client_secret"] + "-wrong")
        bad_session, _ = session_for(bad, metadata, scope=scope)
        e = expect_oauth_error("invalid_client", bad_session.fetch_token, metadata["token_endpoint"],
                               grant_type="client_credentials")
        d.append(f"invalid_client ({e.description})")
    if "introspection_endpoint" in metadata:
        with report.step("introspection") as d:
            i = oauth.introspect_token(metadata["introspection_endpoint"], token=token["access_token"]).json()
            check(i.get("active") is True and i.get("client_id") == cid, f"{i}")
            d.append(f"active, scope '{i.get('scope')}', sub {i.get('sub')!r}")
    if "revocation_endpoint" in metadata:
        with report.step("revocation") as d:
            r = oauth.revoke_token(metadata["revocation_endpoint"], token=token["access_token"])
            check(r.status_code == 200, f"status {r.status_code}")
            if "introspection_endpoint" in metadata:
                i = oauth.introspect_token(metadata["introspection_endpoint"], token=token["access_token"]).json()
                check(i == {"active": False}, f"introspection after revocation: {i}")
            d.append("revoked; introspection says inactive")


def main():
    print(f"Authlib {authlib.__version__}, requests {requests.__version__}, Python {sys.version.split()[0]}")
    print(f"ISSUER={ISSUER} DEMO_CONFIG={DEMO_CONFIG}")
    try:
        requests.get(ISSUER, timeout=TIMEOUT)
    except requests.ConnectionError:
        sys.exit(f"cannot reach {ISSUER}: start the demo first (cargo run --example axum), "
                 "with the same ISSUER/LISTEN_ADDR")
    with open(DEMO_CONFIG) as f:
        config = json.load(f)
    user = config["users"][0]
    report = Report()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            metadata, jwks = discover(report)
        except FlowAborted:
            metadata = None
        if metadata:
            code_clients = [c for c in config["clients"]
                            if "authorization_code" in c.get("grant_types", [])]
            if code_clients:
                try:
                    browser_origin_flow(report, metadata, code_clients[0], user)
                except FlowAborted:
                    pass
            first = True
            algs_seen = set()
            for client in config["clients"]:
                grants = client.get("grant_types", [])
                try:
                    if "authorization_code" in grants:
                        algs_seen.add(client.get("id_token_signed_response_alg", "RS256"))
                        was_first, first = first, False
                        authorization_code_flow(report, metadata, jwks, client, user, was_first)
                    if "client_credentials" in grants:
                        client_credentials_flow(report, metadata, client)
                except FlowAborted:
                    pass
            missing = {"RS256", "ES256", "EdDSA"} - algs_seen
            if missing:
                report.note(f"no client in DEMO_CONFIG signs ID tokens with {sorted(missing)}: not covered")
    for w in caught:
        report.note(f"library warning: {w.category.__name__}: {w.message}")

    print(f"\n{report.passed} steps passed, {len(report.failed)} failed")
    for name in report.failed:
        print(f"  failed: {name}")
    sys.exit(1 if report.failed else 0)


if __name__ == "__main__":
    main()
