"""The sandbox plays Google and Microsoft: consent page, code for tokens with PKCE, who granted.

The consent form is filled in as a browser would: from the page's own inputs (hidden fields,
the e-mail box, the accounts to pick, the ticked scopes) plus the button pressed.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session
from authlib.jose import JsonWebKey, JsonWebToken
from authlib.jose.errors import BadSignatureError

from calendars.meetingbaas.transport import Transport
from calendars.meetingbaas.types import OAuthGrant, Platform
from calendars.meetingbaas.v2 import V2Client

CLIENT_ID = "123.apps.googleusercontent.com"
SECRET = "GOCSPX-sandbox-oauth-secret"
REDIRECT = "https://portal.example/connect/callback/"
CALENDAR_READ = "https://www.googleapis.com/auth/calendar.readonly"
EVENTS_READ = "https://www.googleapis.com/auth/calendar.events.readonly"
GOOGLE = "/oauth/google"
MICROSOFT = "/oauth/microsoft/common/oauth2/v2.0"
TENANT_ID = "0b5e2a8c-3f4d-4e6a-9c1b-2d3e4f5a6b7c"


class Controls(HTMLParser):
    """The form controls of a page, as attribute dicts in document order."""

    def __init__(self, page: str) -> None:
        super().__init__()
        self.found: list[dict[str, str]] = []
        self.feed(page)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("input", "button"):
            self.found.append({"tag": tag, **{k: v or "" for k, v in attrs}})

    def by_id(self, element_id: str) -> dict[str, str]:
        return next(c for c in self.found if c.get("id") == element_id)

    def of_type(self, kind: str) -> list[dict[str, str]]:
        return [c for c in self.found if c.get("type") == kind]


def challenge_of(verifier: str) -> str:
    return (
        base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    )


def asked(base: str, verifier: str, **overrides: str) -> dict[str, str]:
    """An authorize request as the portal sends it (Google's or Microsoft's scopes)."""
    params = {
        "response_type": "code",
        "client_id": CLIENT_ID,
        "redirect_uri": REDIRECT,
        "state": "state-from-the-portal",
        "code_challenge": challenge_of(verifier),
        "code_challenge_method": "S256",
    }
    if base == GOOGLE:
        params |= {
            "scope": f"openid email {CALENDAR_READ} {EVENTS_READ}",
            "access_type": "offline",
            "prompt": "consent",
            "include_granted_scopes": "true",
        }
    else:
        params["scope"] = "openid email offline_access Calendars.Read"
    return params | overrides


def open_page(sandbox, base: str, params: dict[str, str]) -> requests.Response:
    return requests.get(f"{sandbox.url}{base}/authorize", params=params, timeout=5)


def submit(
    sandbox,
    base: str,
    page: str,
    *,
    typed: str | None = None,
    pick: str = "",
    untick: tuple[str, ...] = (),
    decision: str = "allow",
    chosen: tuple[tuple[str, str], ...] = (),
) -> requests.Response:
    """Fill in the consent form the way a browser submits it (with `chosen` select and text
    values), and press `decision`."""
    controls = Controls(page)
    form = [(c["name"], c["value"]) for c in controls.of_type("hidden")]
    form.append(("email", controls.by_id("email")["value"] if typed is None else typed))
    if pick:
        radio = next(r for r in controls.of_type("radio") if r["value"] == pick)
        form.append(("email", radio["value"]))
    form += [
        ("scope", box["value"])
        for box in controls.of_type("checkbox")
        if "checked" in box and box["value"] not in untick
    ]
    form += list(chosen)
    form.append(("decision", controls.by_id(decision)["value"]))
    return requests.post(
        f"{sandbox.url}{base}/authorize", data=form, allow_redirects=False, timeout=5
    )


def code_from(allowed: requests.Response) -> str:
    assert allowed.status_code == 302, allowed.text
    return parse_qs(urlsplit(allowed.headers["Location"]).query)["code"][0]


def granted_code(sandbox, base: str, verifier: str, **choices: object) -> str:
    page = open_page(sandbox, base, asked(base, verifier))
    return code_from(submit(sandbox, base, page.text, **choices))


def exchange(sandbox, base: str, code: str, verifier: str, **form: str) -> requests.Response:
    """The portal's token request, client_secret_basic unless `auth=None` is asked for."""
    auth = form.pop("auth", (CLIENT_ID, SECRET))
    body = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT,
        "code_verifier": verifier,
    }
    return requests.post(f"{sandbox.url}{base}/token", data=body | form, auth=auth, timeout=5)


def who(sandbox, path: str, access_token: str) -> requests.Response:
    headers = {"Authorization": f"Bearer {access_token}"}
    return requests.get(f"{sandbox.url}{path}", headers=headers, timeout=5)


@pytest.fixture
def verifier() -> str:
    return secrets.token_urlsafe(48)


def test_the_consent_page_offers_accounts_and_scopes_and_escapes_what_it_echoes(sandbox, verifier):
    params = asked(GOOGLE, verifier, state='"><script>alert(1)</script>')
    params["login_hint"] = 'carol"<b>@example.com'

    page = open_page(sandbox, GOOGLE, params)

    assert page.status_code == 200
    assert page.headers["Content-Type"] == "text/html; charset=utf-8"
    assert "Sign in with Google (sandbox)" in page.text
    assert "<script>" not in page.text and "<b>" not in page.text
    controls = Controls(page.text)
    assert controls.by_id("email")["value"] == 'carol"<b>@example.com'
    assert [r["value"] for r in controls.of_type("radio")] == [
        "alice@example.com",
        "bob@example.com",
    ]
    boxes = controls.of_type("checkbox")
    assert [(b["id"], b["value"], "checked" in b) for b in boxes] == [
        ("scope-1", CALENDAR_READ, True),
        ("scope-2", EVENTS_READ, True),
    ]
    assert "openid" in page.text  # shown, always granted, no checkbox
    hidden = {c["name"]: c["value"] for c in controls.of_type("hidden")}
    assert hidden["state"] == '"><script>alert(1)</script>'
    assert controls.by_id("allow")["value"] == "allow"
    assert controls.by_id("cancel")["value"] == "cancel"
    assert "src=" not in page.text and "<link" not in page.text
    assert "default-src 'none'" in page.headers["Content-Security-Policy"]


@pytest.mark.parametrize(
    "change",
    [
        {"response_type": "token"},
        {"client_id": ""},
        {"redirect_uri": "javascript:alert(1)"},
        {"redirect_uri": "not a url"},
        {"redirect_uri": "https://portal.example/cb\r\nSet-Cookie: x=1"},
        {"code_challenge": ""},
        {"code_challenge_method": "plain"},
    ],
)
def test_a_bad_authorize_request_gets_an_error_page_never_a_redirect(sandbox, verifier, change):
    page = requests.get(
        f"{sandbox.url}{GOOGLE}/authorize",
        params=asked(GOOGLE, verifier, **change),
        allow_redirects=False,
        timeout=5,
    )

    assert page.status_code == 400
    assert "Location" not in page.headers
    assert page.headers["Content-Type"] == "text/html; charset=utf-8"
    assert "Error 400: invalid_request" in page.text


def test_google_allow_gives_a_code_that_buys_tokens_for_the_account_chosen(sandbox, verifier):
    page = open_page(sandbox, GOOGLE, asked(GOOGLE, verifier, redirect_uri=f"{REDIRECT}?link=7"))
    allowed = submit(sandbox, GOOGLE, page.text, typed="Alice@Example.com")
    location = urlsplit(allowed.headers["Location"])
    query = parse_qs(location.query)
    assert (allowed.status_code, location.netloc, location.path) == (
        302,
        "portal.example",
        "/connect/callback/",
    )
    assert (query["link"], query["state"]) == (["7"], ["state-from-the-portal"])

    token = exchange(sandbox, GOOGLE, query["code"][0], verifier, redirect_uri=f"{REDIRECT}?link=7")

    assert token.status_code == 200, token.text
    tokens = token.json()
    assert (tokens["token_type"], tokens["expires_in"]) == ("Bearer", 3599)
    assert tokens["scope"].split() == ["openid", "email", CALENDAR_READ, EVENTS_READ]
    assert tokens["refresh_token"].endswith(":alice@example.com")
    assert token.headers["Cache-Control"] == "no-store"
    me = who(sandbox, f"{GOOGLE}/userinfo", tokens["access_token"]).json()
    assert (me["email"], me["email_verified"]) == ("alice@example.com", True)
    assert me["sub"].isdigit()


def test_the_refresh_token_issued_lists_that_persons_calendars_at_the_sandbox_meeting_baas(
    sandbox, verifier
):
    code = granted_code(sandbox, GOOGLE, verifier, pick="bob@example.com")
    refresh_token = exchange(sandbox, GOOGLE, code, verifier).json()["refresh_token"]
    api = V2Client(Transport(sandbox.transport_config()))

    calendars = api.list_raw_calendars(
        OAuthGrant(Platform.GOOGLE, CLIENT_ID, SECRET, refresh_token)
    )

    assert {c.email for c in calendars} == {"bob@example.com"}
    assert [c.id for c in calendars if c.is_primary] == ["bob@example.com"]


def test_microsoft_allow_at_a_tenant_gives_tokens_and_me_names_the_account(sandbox, verifier):
    base = f"/oauth/microsoft/{TENANT_ID}/oauth2/v2.0"
    page = open_page(sandbox, base, asked(base, verifier))
    assert "Sign in with Microsoft (sandbox)" in page.text
    assert [r["value"] for r in Controls(page.text).of_type("radio")] == [
        "alice@contoso.example",
        "bob@contoso.example",
    ]
    code = granted_code(sandbox, base, verifier, pick="bob@contoso.example")

    tokens = exchange(sandbox, base, code, verifier).json()

    assert tokens["scope"].split() == ["openid", "email", "offline_access", "Calendars.Read"]
    me = who(sandbox, "/oauth/microsoft/v1.0/me", tokens["access_token"]).json()
    assert (me["mail"], me["userPrincipalName"]) == ("bob@contoso.example",) * 2
    assert me["id"]
    grant = OAuthGrant(Platform.MICROSOFT, CLIENT_ID, SECRET, tokens["refresh_token"], TENANT_ID)
    calendars = V2Client(Transport(sandbox.transport_config())).list_raw_calendars(grant)
    assert {c.email for c in calendars} == {"bob@contoso.example"}


def test_a_picked_account_wins_over_the_prefilled_login_hint(sandbox, verifier):
    params = asked(GOOGLE, verifier, login_hint="alice@example.com")
    page = open_page(sandbox, GOOGLE, params)

    code = code_from(submit(sandbox, GOOGLE, page.text, pick="bob@example.com"))

    refresh_token = exchange(sandbox, GOOGLE, code, verifier).json()["refresh_token"]
    assert refresh_token.endswith(":bob@example.com")


def test_cancel_sends_the_browser_back_with_access_denied(sandbox, verifier):
    page = open_page(sandbox, GOOGLE, asked(GOOGLE, verifier))

    cancelled = submit(sandbox, GOOGLE, page.text, typed="alice@example.com", decision="cancel")

    assert cancelled.status_code == 302
    assert cancelled.headers["Location"] == (
        f"{REDIRECT}?error=access_denied&state=state-from-the-portal"
    )
    assert not sandbox.state.oauth.codes


@pytest.mark.parametrize("typed", ["", "not-an-address"])
def test_allow_without_an_email_shows_the_page_again_with_an_error(sandbox, verifier, typed):
    page = open_page(sandbox, GOOGLE, asked(GOOGLE, verifier))

    again = submit(sandbox, GOOGLE, page.text, typed=typed, untick=(EVENTS_READ,))

    assert again.status_code == 200
    assert "Location" not in again.headers
    assert "Type an e-mail address or pick an account." in again.text
    boxes = {b["value"]: "checked" in b for b in Controls(again.text).of_type("checkbox")}
    assert boxes == {CALENDAR_READ: True, EVENTS_READ: False}  # the person's ticks are kept
    assert not sandbox.state.oauth.codes


def test_an_unticked_scope_is_not_granted(sandbox, verifier):
    code = granted_code(
        sandbox, GOOGLE, verifier, typed="alice@example.com", untick=(CALENDAR_READ,)
    )

    scope = exchange(sandbox, GOOGLE, code, verifier).json()["scope"].split()

    assert scope == ["openid", "email", EVENTS_READ]


def test_a_scope_not_asked_for_cannot_be_ticked_in(sandbox, verifier):
    page = open_page(sandbox, GOOGLE, asked(GOOGLE, verifier, scope=f"openid {CALENDAR_READ}"))
    form = [(c["name"], c["value"]) for c in Controls(page.text).of_type("hidden")]
    form += [("email", "alice@example.com"), ("scope", EVENTS_READ), ("decision", "allow")]
    allowed = requests.post(
        f"{sandbox.url}{GOOGLE}/authorize", data=form, allow_redirects=False, timeout=5
    )
    code = code_from(allowed)

    assert exchange(sandbox, GOOGLE, code, verifier).json()["scope"] == "openid"


def test_the_client_secret_may_come_in_the_form_instead_of_basic(sandbox, verifier):
    code = granted_code(sandbox, GOOGLE, verifier, typed="alice@example.com")

    token = exchange(
        sandbox, GOOGLE, code, verifier, auth=None, client_id=CLIENT_ID, client_secret=SECRET
    )

    assert token.status_code == 200, token.text


def test_a_pkce_mismatch_is_an_invalid_grant(sandbox, verifier):
    code = granted_code(sandbox, GOOGLE, verifier, typed="alice@example.com")

    token = exchange(sandbox, GOOGLE, code, secrets.token_urlsafe(48))

    assert (token.status_code, token.json()["error"]) == (400, "invalid_grant")


def test_a_replayed_code_is_refused_and_revokes_what_it_bought(sandbox, verifier):
    code = granted_code(sandbox, GOOGLE, verifier, typed="alice@example.com")
    first = exchange(sandbox, GOOGLE, code, verifier)
    assert first.status_code == 200

    replay = exchange(sandbox, GOOGLE, code, verifier)

    assert (replay.status_code, replay.json()["error"]) == (400, "invalid_grant")
    assert who(sandbox, f"{GOOGLE}/userinfo", first.json()["access_token"]).status_code == 401


def test_a_different_redirect_uri_is_an_invalid_grant(sandbox, verifier):
    code = granted_code(sandbox, GOOGLE, verifier, typed="alice@example.com")

    token = exchange(sandbox, GOOGLE, code, verifier, redirect_uri="https://evil.example/cb/")

    assert (token.status_code, token.json()["error"]) == (400, "invalid_grant")
    assert exchange(sandbox, GOOGLE, code, verifier).status_code == 200  # not spent by it


def test_a_code_given_to_another_client_is_an_invalid_grant(sandbox, verifier):
    code = granted_code(sandbox, GOOGLE, verifier, typed="alice@example.com")

    token = exchange(sandbox, GOOGLE, code, verifier, auth=("other-client", SECRET))

    assert (token.status_code, token.json()["error"]) == (400, "invalid_grant")


@pytest.mark.parametrize(
    "auth", [("wrong-secret-client", "wrong-secret"), (CLIENT_ID, ""), None], ids=str
)
def test_a_wrong_or_missing_client_secret_is_an_invalid_client(sandbox, verifier, auth):
    code = granted_code(sandbox, GOOGLE, verifier, typed="alice@example.com")

    token = exchange(sandbox, GOOGLE, code, verifier, auth=auth)

    assert (token.status_code, token.json()["error"]) == (401, "invalid_client")


def test_an_unknown_or_expired_code_is_an_invalid_grant(sandbox, verifier):
    code = granted_code(sandbox, GOOGLE, verifier, typed="alice@example.com")
    sandbox.state.oauth.codes[code].expires_at = time.monotonic() - 1

    unknown = exchange(sandbox, GOOGLE, "no-such-code", verifier)
    expired = exchange(sandbox, GOOGLE, code, verifier)

    assert (unknown.status_code, unknown.json()["error"]) == (400, "invalid_grant")
    assert (expired.status_code, expired.json()["error"]) == (400, "invalid_grant")
    assert expired.json()["error_description"] == "Code expired."


def test_a_code_is_valid_only_at_its_own_tenant(sandbox, verifier):
    code = granted_code(sandbox, MICROSOFT, verifier, typed="alice@contoso.example")

    elsewhere = exchange(sandbox, "/oauth/microsoft/organizations/oauth2/v2.0", code, verifier)
    google = exchange(sandbox, GOOGLE, code, verifier)

    assert (elsewhere.status_code, elsewhere.json()["error"]) == (400, "invalid_grant")
    assert (google.status_code, google.json()["error"]) == (400, "invalid_grant")
    assert exchange(sandbox, MICROSOFT, code, verifier).status_code == 200


def test_a_bad_tenant_is_refused_at_both_endpoints(sandbox, verifier):
    base = "/oauth/microsoft/contoso.example/oauth2/v2.0"

    page = open_page(sandbox, base, asked(base, verifier))
    token = exchange(sandbox, base, "some-code", verifier)

    assert page.status_code == 400
    assert "Error 400: invalid_request" in page.text
    assert (token.status_code, token.json()["error"]) == (400, "invalid_request")


@pytest.mark.parametrize(
    ("form", "error"),
    [
        ({"grant_type": "refresh_token"}, "unsupported_grant_type"),
        ({"grant_type": ""}, "invalid_request"),
        ({"code_verifier": ""}, "invalid_request"),
        ({"redirect_uri": ""}, "invalid_request"),
    ],
)
def test_a_malformed_token_request_is_refused(sandbox, verifier, form, error):
    code = granted_code(sandbox, GOOGLE, verifier, typed="alice@example.com")

    token = exchange(sandbox, GOOGLE, code, verifier, **form)

    assert (token.status_code, token.json()["error"]) == (400, error)


def test_who_granted_needs_a_token_that_provider_issued(sandbox, verifier):
    code = granted_code(sandbox, GOOGLE, verifier, typed="alice@example.com")
    google_token = exchange(sandbox, GOOGLE, code, verifier).json()["access_token"]

    missing = requests.get(f"{sandbox.url}{GOOGLE}/userinfo", timeout=5)
    unknown = who(sandbox, f"{GOOGLE}/userinfo", "not-a-token")
    at_microsoft = who(sandbox, "/oauth/microsoft/v1.0/me", google_token)

    for answer in (missing, unknown, at_microsoft):
        assert (answer.status_code, answer.json()["error"]) == (401, "invalid_token")


def test_google_gives_a_refresh_token_only_offline_and_again_only_with_prompt_consent(
    sandbox, verifier
):
    def refresh_token(**params: str) -> str | None:
        page = open_page(sandbox, GOOGLE, asked(GOOGLE, verifier, **params))
        code = code_from(submit(sandbox, GOOGLE, page.text, typed="alice@example.com"))
        return exchange(sandbox, GOOGLE, code, verifier).json().get("refresh_token")

    assert refresh_token(access_type="online") is None
    assert refresh_token(prompt="select_account")  # the first offline grant
    assert refresh_token(prompt="select_account") is None
    assert refresh_token(prompt="consent")


def test_microsoft_gives_a_refresh_token_only_for_offline_access(sandbox, verifier):
    page = open_page(sandbox, MICROSOFT, asked(MICROSOFT, verifier, scope="openid Calendars.Read"))
    code = code_from(submit(sandbox, MICROSOFT, page.text, typed="alice@contoso.example"))

    tokens = exchange(sandbox, MICROSOFT, code, verifier).json()

    assert "refresh_token" not in tokens and tokens["access_token"]


def test_a_fault_takes_the_token_endpoint_down_and_it_comes_back(sandbox, verifier):
    code = granted_code(sandbox, GOOGLE, verifier, typed="alice@example.com")
    sandbox.fault("POST", f"{GOOGLE}/token", "status", status=503, retry_after=30)

    down = exchange(sandbox, GOOGLE, code, verifier)
    back = exchange(sandbox, GOOGLE, code, verifier)

    assert down.status_code == 503
    assert down.headers["retry-after"] == "30"
    assert down.json()["error"] == "temporarily_unavailable"
    assert back.status_code == 200  # the outage did not spend the code


def test_a_fault_on_the_authorize_page_shows_an_error_page(sandbox, verifier):
    sandbox.fault("GET", f"{GOOGLE}/authorize", "status", status=503)

    page = open_page(sandbox, GOOGLE, asked(GOOGLE, verifier))

    assert page.status_code == 503
    assert "Error 503: temporarily_unavailable" in page.text


def test_a_patched_fault_changes_the_token_answer(sandbox, verifier):
    code = granted_code(sandbox, GOOGLE, verifier, typed="alice@example.com")
    sandbox.fault("POST", f"{GOOGLE}/token", "patched", patch={"scope": "openid email"})

    assert exchange(sandbox, GOOGLE, code, verifier).json()["scope"] == "openid email"


def test_the_request_log_shows_the_oauth_calls_but_no_secret(sandbox, verifier):
    code = granted_code(sandbox, GOOGLE, verifier, typed="alice@example.com")
    tokens = exchange(sandbox, GOOGLE, code, verifier).json()
    who(sandbox, f"{GOOGLE}/userinfo", tokens["access_token"])
    form_secret = "GOCSPX-posted-in-the-form"
    exchange(
        sandbox, GOOGLE, code, verifier, auth=None, client_id=CLIENT_ID, client_secret=form_secret
    )
    exchange(
        sandbox,
        GOOGLE,
        "",
        "",
        grant_type="refresh_token",
        refresh_token=tokens["refresh_token"],
    )

    log = requests.get(f"{sandbox.url}/_sandbox/requests", timeout=5)

    secrets_sent = (code, verifier, SECRET, form_secret)
    for secret in (*secrets_sent, tokens["access_token"], tokens["refresh_token"]):
        assert secret not in log.text
    token_request = sandbox.requests_to("POST", f"{GOOGLE}/token")[0]
    assert token_request["form"]["grant_type"] == ["authorization_code"]
    assert token_request["form"]["code"] == "[redacted]"
    assert token_request["form"]["code_verifier"] == "[redacted]"
    assert token_request["headers"]["Authorization"] == "[redacted]"
    authorize = sandbox.requests_to("GET", f"{GOOGLE}/authorize")[0]
    assert authorize["query"]["code_challenge"] == challenge_of(verifier)  # no secret


def test_the_oauth_endpoints_answer_loopback_hosts_only(sandbox, verifier):
    page = requests.get(
        f"{sandbox.url}{GOOGLE}/authorize",
        params=asked(GOOGLE, verifier),
        headers={"Host": "evil.example"},
        timeout=5,
    )

    assert page.status_code == 403


def test_a_reset_forgets_the_codes(sandbox, verifier):
    code = granted_code(sandbox, GOOGLE, verifier, typed="alice@example.com")

    sandbox.control("POST", "reset")

    assert exchange(sandbox, GOOGLE, code, verifier).json()["error"] == "invalid_grant"


def test_authlib_runs_the_flow_with_pkce_and_client_secret_basic(sandbox):
    session = OAuth2Session(
        CLIENT_ID,
        SECRET,
        scope=f"openid email {CALENDAR_READ}",
        redirect_uri=REDIRECT,
        code_challenge_method="S256",
    )
    verifier = secrets.token_urlsafe(48)
    url, state = session.create_authorization_url(
        f"{sandbox.url}{GOOGLE}/authorize",
        code_verifier=verifier,
        access_type="offline",
        prompt="consent",
    )
    page = requests.get(url, timeout=5)
    callback = submit(sandbox, GOOGLE, page.text, typed="alice@example.com").headers["Location"]

    token = session.fetch_token(
        f"{sandbox.url}{GOOGLE}/token",
        authorization_response=callback,
        state=state,
        code_verifier=verifier,
    )

    assert token["refresh_token"].endswith(":alice@example.com")
    assert token["scope"] == f"openid email {CALENDAR_READ}"
    sent = sandbox.requests_to("POST", f"{GOOGLE}/token")[0]
    assert "Authorization" in sent["headers"] and "client_secret" not in sent["form"]


def id_token_claims(sandbox, keys_path: str, id_token: str) -> dict:
    keys = requests.get(f"{sandbox.url}{keys_path}", timeout=5).json()
    claims = JsonWebToken(["RS256"]).decode(id_token, JsonWebKey.import_key_set(keys))
    claims.validate()
    return dict(claims)


def test_google_signs_an_id_token_with_its_published_key(sandbox, verifier):
    params = asked(GOOGLE, verifier, nonce="nonce-from-the-portal")
    page = open_page(sandbox, GOOGLE, params)
    code = code_from(submit(sandbox, GOOGLE, page.text, pick="bob@example.com"))

    tokens = exchange(sandbox, GOOGLE, code, verifier).json()

    claims = id_token_claims(sandbox, "/oauth/google/certs", tokens["id_token"])
    userinfo = who(sandbox, "/oauth/google/userinfo", tokens["access_token"]).json()
    assert claims["iss"] == "https://accounts.google.com" and claims["aud"] == CLIENT_ID
    assert claims["nonce"] == "nonce-from-the-portal"
    assert claims["exp"] > time.time() > claims["iat"] - 5
    assert (claims["sub"], claims["email"], claims["email_verified"]) == (
        userinfo["sub"],
        "bob@example.com",
        True,
    )


def test_microsoft_names_the_account_by_tenant_and_object_id_with_profile_only(sandbox, verifier):
    base = f"/oauth/microsoft/{TENANT_ID}/oauth2/v2.0"
    keys = f"/oauth/microsoft/{TENANT_ID}/discovery/v2.0/keys"

    def claims(scope: str, *chosen: tuple[str, str]) -> dict:
        page = open_page(sandbox, base, asked(base, verifier, scope=scope, nonce="n-1"))
        code = code_from(
            submit(sandbox, base, page.text, pick="bob@contoso.example", chosen=chosen)
        )
        return id_token_claims(
            sandbox, keys, exchange(sandbox, base, code, verifier).json()["id_token"]
        )

    home = claims("openid email profile offline_access Calendars.Read")
    other = claims(
        "openid email profile offline_access Calendars.Read",
        ("tenant_id", "3f2504e0-4f89-11d3-9a0c-0305e82c3301"),
    )
    bare = claims("openid email offline_access Calendars.Read")

    assert home["tid"] == TENANT_ID  # an app's own tenant, by default
    assert home["iss"] == f"https://login.microsoftonline.com/{TENANT_ID}/v2.0"
    assert (home["email"], home["preferred_username"], home["nonce"]) == (
        "bob@contoso.example",
        "bob@contoso.example",
        "n-1",
    )
    # Another tenant's account claiming the same e-mail: another tid, another oid.
    assert other["tid"] == "3f2504e0-4f89-11d3-9a0c-0305e82c3301"
    assert other["iss"].startswith(f"https://login.microsoftonline.com/{other['tid']}/")
    assert other["email"] == home["email"] and other["oid"] != home["oid"]
    assert "oid" not in bare and bare["tid"] == TENANT_ID


@pytest.mark.parametrize(
    ("spoil", "broken"),
    [
        ("wrong_audience", lambda c: c["aud"] != CLIENT_ID),
        ("wrong_issuer", lambda c: c["iss"] != "https://accounts.google.com"),
        ("expired", lambda c: c["exp"] < time.time()),
        ("wrong_nonce", lambda c: c["nonce"] != "n-2"),
        ("unverified_email", lambda c: c["email_verified"] is False),
    ],
)
def test_the_consent_page_spoils_the_id_token_as_chosen(sandbox, verifier, spoil, broken):
    page = open_page(sandbox, GOOGLE, asked(GOOGLE, verifier, nonce="n-2"))
    assert f'<option value="{spoil}">' in page.text
    code = code_from(
        submit(sandbox, GOOGLE, page.text, pick="alice@example.com", chosen=(("id_token", spoil),))
    )

    id_token = exchange(sandbox, GOOGLE, code, verifier).json()["id_token"]

    keys = requests.get(f"{sandbox.url}/oauth/google/certs", timeout=5).json()
    claims = JsonWebToken(["RS256"]).decode(id_token, JsonWebKey.import_key_set(keys))
    assert broken(claims)


def test_a_bad_signature_id_token_does_not_verify(sandbox, verifier):
    page = open_page(sandbox, GOOGLE, asked(GOOGLE, verifier))
    code = code_from(
        submit(
            sandbox,
            GOOGLE,
            page.text,
            pick="alice@example.com",
            chosen=(("id_token", "bad_signature"),),
        )
    )
    id_token = exchange(sandbox, GOOGLE, code, verifier).json()["id_token"]

    keys = requests.get(f"{sandbox.url}/oauth/google/certs", timeout=5).json()
    with pytest.raises(BadSignatureError):
        JsonWebToken(["RS256"]).decode(id_token, JsonWebKey.import_key_set(keys))


def test_a_tenant_requiring_admin_consent_refuses_its_users_until_its_admin_accepts(
    sandbox, verifier
):
    tenant_path = f"/oauth/microsoft/{TENANT_ID}"
    sandbox.control("POST", f"tenants/{TENANT_ID}", {"admin_consent_required": True})
    sign_in = {
        "response_type": "code",
        "client_id": "c-1",
        "redirect_uri": REDIRECT,
        "requested_scope": "openid Calendars.Read",
        "scope": "Calendars.Read",
        "state": "s1",
        "code_challenge": challenge_of(verifier),
        "code_challenge_method": "S256",
        "email": "carol@contoso.example",
        "decision": "allow",
    }
    sign_in_url = f"{sandbox.url}{tenant_path}/oauth2/v2.0/authorize"
    refused = requests.post(sign_in_url, data=sign_in, allow_redirects=False, timeout=5)
    assert parse_qs(urlsplit(refused.headers["Location"]).query)["error_description"] == [
        "AADSTS90094: The grant requires admin permission."
    ]
    asked = {"client_id": "c-1<b>", "redirect_uri": REDIRECT, "scope": "openid", "state": "s2"}
    page = requests.get(f"{sandbox.url}{tenant_path}/v2.0/adminconsent", asked, timeout=5)
    assert "c-1&lt;b&gt;" in page.text and "c-1<b>" not in page.text

    accepted = requests.post(
        f"{sandbox.url}{tenant_path}/v2.0/adminconsent",
        data={**asked, "client_id": "c-1", "decision": "allow"},
        allow_redirects=False,
        timeout=5,
    )

    answer = parse_qs(urlsplit(accepted.headers["Location"]).query)
    assert (answer["admin_consent"], answer["tenant"], answer["state"]) == (
        ["True"],
        [TENANT_ID],
        ["s2"],
    )
    granted = requests.post(sign_in_url, data=sign_in, allow_redirects=False, timeout=5)
    assert "code" in parse_qs(urlsplit(granted.headers["Location"]).query)
    with pytest.raises(requests.HTTPError):
        sandbox.control("POST", "tenants/not-a-guid", {"admin_consent_required": True})
