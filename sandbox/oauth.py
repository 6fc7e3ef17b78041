"""Google- and Microsoft-shaped OAuth 2.0 endpoints: consent page, code for tokens, who granted.

The authorization-code flow with PKCE (S256 only), as the portal's consent links use it. Any
client id is accepted (a client secret starting with "wrong" is refused, as in accounts.py),
and the refresh token issued ends in ":<e-mail>", so the sandbox Meeting BaaS takes it as that
person's account. As the real providers do, Google issues a refresh token only for
access_type=offline, and on a second grant to the same client only with prompt=consent;
Microsoft only when offline_access is asked for.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import html
import re
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from string import Template
from urllib.parse import urlencode, urlsplit, urlunsplit

Answer = tuple[int, object]

CODE_LIFETIME = 600.0
ACCESS_TOKEN_LIFETIME = 3599
# Identity scopes: granted with any consent, so the page shows them without a checkbox.
ALWAYS_GRANTED = ("openid", "email", "profile", "offline_access")
TENANT_NAMES = ("common", "organizations", "consumers")
GUID = re.compile(r"^[0-9a-f]{8}-(?:[0-9a-f]{4}-){3}[0-9a-f]{12}$", re.IGNORECASE)
CODE_CHALLENGE = re.compile(r"[A-Za-z0-9._~-]{43,128}")  # RFC 7636 4.2
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
NO_EMAIL = "Type an e-mail address or pick an account."
CHOOSE = "Choose Allow or Cancel."
# The request parameters the consent form carries back; the scope asked for travels as
# "requested_scope", since "scope" is what the person ticked.
CARRIED = (
    "response_type",
    "client_id",
    "redirect_uri",
    "state",
    "code_challenge",
    "code_challenge_method",
    "access_type",
    "prompt",
    "include_granted_scopes",
    "login_hint",
)
# A consent page may be neither framed (clickjacking) nor load anything from elsewhere.
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
    "X-Frame-Options": "DENY",
}


class Html(str):
    """An HTML page, sent as text/html."""


class Redirect(str):
    """The location a 302 answer sends the browser to."""


class OAuthError(Exception):
    """An OAuth error answer: {"error", "error_description"}, or a page on the authorize path."""

    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.error = error
        self.description = description

    def body(self) -> dict:
        return {"error": self.error, "error_description": self.description}


@dataclass(frozen=True)
class Provider:
    name: str
    title: str
    accounts: tuple[str, ...]


GOOGLE = Provider("google", "Google", ("alice@example.com", "bob@example.com"))
MICROSOFT = Provider("microsoft", "Microsoft", ("alice@contoso.example", "bob@contoso.example"))


@dataclass(frozen=True)
class Issuer:
    """A provider at one tenant (Microsoft's, in the path): a code is valid at its issuer only."""

    provider: Provider
    tenant: str = ""

    @classmethod
    def at(cls, provider: Provider, tenant: str | None) -> Issuer:
        if tenant is None:
            return cls(provider)
        if tenant.lower() not in TENANT_NAMES and not GUID.match(tenant):
            raise OAuthError(
                400,
                "invalid_request",
                f"Tenant {tenant!r} is not common, organizations, consumers or a GUID.",
            )
        return cls(provider, tenant.lower())

    @property
    def base_path(self) -> str:
        if self.provider is GOOGLE:
            return "/oauth/google"
        return f"/oauth/microsoft/{self.tenant}/oauth2/v2.0"


@dataclass(frozen=True)
class OAuthRequest:
    query: dict[str, str]
    form: dict[str, list[str]]
    authorization: str

    def param(self, name: str) -> str:
        """A form field's value (the last one when the form sent several)."""
        return (self.form.get(name) or [""])[-1].strip()


@dataclass(frozen=True)
class AuthorizationRequest:
    """What a client asked the authorize endpoint for, checked as the provider would."""

    client_id: str
    redirect_uri: str
    scopes: tuple[str, ...]
    state: str
    code_challenge: str
    params: dict[str, str]

    @classmethod
    def parse(cls, params: Mapping[str, str]) -> AuthorizationRequest:
        def refuse(description: str) -> OAuthError:
            return OAuthError(400, "invalid_request", description)

        for name in ("response_type", "client_id", "redirect_uri", "scope", "code_challenge"):
            if not params.get(name):
                raise refuse(f"Missing required parameter: {name}")
        if params["response_type"] != "code":
            raise refuse("Only response_type=code is supported.")
        uri = urlsplit(params["redirect_uri"])
        # Printable ASCII only: the URI goes back out in a Location header.
        if (
            uri.scheme not in ("http", "https")
            or not uri.netloc
            or uri.fragment
            or not re.fullmatch(r"[!-~]+", params["redirect_uri"])
        ):
            raise refuse("redirect_uri must be an http(s) URL without a fragment.")
        if params.get("code_challenge_method") != "S256":
            raise refuse("code_challenge_method must be S256.")
        if not CODE_CHALLENGE.fullmatch(params["code_challenge"]):
            raise refuse("code_challenge must be 43 to 128 characters of A-Z a-z 0-9 - . _ ~")
        return cls(
            client_id=params["client_id"],
            redirect_uri=params["redirect_uri"],
            scopes=tuple(dict.fromkeys(params["scope"].split())),
            state=params.get("state", ""),
            code_challenge=params["code_challenge"],
            params={name: params[name] for name in CARRIED if params.get(name)},
        )

    def consent_scopes(self) -> tuple[str, ...]:
        """The scopes the person may refuse (one checkbox each)."""
        return tuple(s for s in self.scopes if s not in ALWAYS_GRANTED)

    def redirect(self, **outcome: str) -> Redirect:
        """The redirect URI with `outcome` and the state added to its query."""
        if self.state:
            outcome["state"] = self.state
        uri = urlsplit(self.redirect_uri)
        query = "&".join(part for part in (uri.query, urlencode(outcome)) if part)
        return Redirect(urlunsplit(uri._replace(query=query)))


@dataclass
class IssuedCode:
    issuer: Issuer
    client_id: str
    redirect_uri: str
    code_challenge: str
    email: str
    scopes: tuple[str, ...]
    offline: bool  # whether the exchange returns a refresh token
    expires_at: float
    used: bool = False
    access_token: str = ""


@dataclass
class AccessToken:
    provider: Provider
    email: str
    expires_at: float


@dataclass
class OAuthMemory:
    """The codes and access tokens issued, and who consented to which client. Thread-safe."""

    codes: dict[str, IssuedCode] = field(default_factory=dict)
    access_tokens: dict[str, AccessToken] = field(default_factory=dict)
    consented: set[tuple[str, str, str]] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def reset(self) -> None:
        with self.lock:
            self.codes.clear()
            self.access_tokens.clear()
            self.consented.clear()

    def issue_code(
        self, issuer: Issuer, request: AuthorizationRequest, email: str, scopes: tuple[str, ...]
    ) -> str:
        code = secrets.token_urlsafe(32)
        with self.lock:
            self.codes[code] = IssuedCode(
                issuer=issuer,
                client_id=request.client_id,
                redirect_uri=request.redirect_uri,
                code_challenge=request.code_challenge,
                email=email,
                scopes=scopes,
                offline=self._is_offline(issuer, request, email),
                expires_at=time.monotonic() + CODE_LIFETIME,
            )
        return code

    def _is_offline(self, issuer: Issuer, request: AuthorizationRequest, email: str) -> bool:
        if issuer.provider is MICROSOFT:
            return "offline_access" in request.scopes
        if request.params.get("access_type") != "offline":
            return False
        grantee = (issuer.provider.name, request.client_id, email)
        first_grant = grantee not in self.consented
        self.consented.add(grantee)
        return first_grant or "consent" in request.params.get("prompt", "").split()

    def redeem(
        self, issuer: Issuer, code: str, client_id: str, redirect_uri: str, verifier: str
    ) -> dict:
        """The token answer for `code`, which then is used; invalid_grant if it cannot be."""
        with self.lock:
            issued = self.codes.get(code)
            if issued is not None and issued.used and issued.issuer == issuer:
                # A replayed code may be a stolen one: what it bought stops working (RFC 6749).
                self.access_tokens.pop(issued.access_token, None)
            refusal = _refusal(issued, issuer, client_id, redirect_uri, verifier)
            if refusal:
                raise OAuthError(400, "invalid_grant", refusal)
            issued.used = True
            issued.access_token = secrets.token_urlsafe(32)
            self.access_tokens[issued.access_token] = AccessToken(
                issuer.provider, issued.email, time.monotonic() + ACCESS_TOKEN_LIFETIME
            )
        answer = {
            "access_token": issued.access_token,
            "token_type": "Bearer",
            "expires_in": ACCESS_TOKEN_LIFETIME,
            "scope": " ".join(issued.scopes),
        }
        if issued.offline:
            answer["refresh_token"] = f"sbx-{secrets.token_urlsafe(24)}:{issued.email}"
        return answer

    def holder(self, provider: Provider, authorization: str) -> str:
        """The e-mail of the account a bearer token was issued for."""
        scheme, _, token = authorization.partition(" ")
        with self.lock:
            held = self.access_tokens.get(token.strip()) if scheme.lower() == "bearer" else None
        if held is None or held.provider is not provider or held.expires_at < time.monotonic():
            raise OAuthError(401, "invalid_token", "The access token is missing or unknown.")
        return held.email


def _refusal(
    issued: IssuedCode | None, issuer: Issuer, client_id: str, redirect_uri: str, verifier: str
) -> str:
    if issued is None or issued.issuer != issuer:
        return "Malformed auth code."
    if issued.used:
        return "Code was already redeemed."
    if issued.expires_at < time.monotonic():
        return "Code expired."
    if issued.client_id != client_id:
        return "The code was issued to another client."
    if issued.redirect_uri != redirect_uri:
        return "redirect_uri does not match the one the code was issued for."
    digest = hashlib.sha256(verifier.encode()).digest()
    challenge = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    if not hmac.compare_digest(challenge, issued.code_challenge):
        return "Invalid code verifier."
    return ""


PAGE = Template(
    """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign in with $provider (sandbox)</title>
<style>
body { font: 15px/1.5 system-ui, sans-serif; background: #f1f3f4; color: #202124; margin: 0; }
main { max-width: 30rem; margin: 3rem auto; background: #fff; padding: 2rem;
       border: 1px solid #dadce0; border-radius: 8px; }
h1 { font-size: 1.4rem; font-weight: 500; margin-top: 0; }
fieldset { border: 0; padding: 0; margin: 0 0 1.2rem; }
legend { font-weight: 600; margin-bottom: .4rem; }
ul { list-style: none; padding: 0; } li { margin: .3rem 0; }
input[type=text] { width: 100%; box-sizing: border-box; padding: .5rem; font: inherit; }
.error { color: #b3261e; } .note { color: #5f6368; font-size: .9rem; }
button { font: inherit; padding: .5rem 1.4rem; border-radius: 4px; border: 1px solid #dadce0; }
#allow { background: #1a73e8; color: #fff; border-color: #1a73e8; }
</style></head>
<body><main>
<h1>Sign in with $provider (sandbox)</h1>
$content
</main></body></html>
"""
)

CONSENT = Template(
    """<p><strong>$client_id</strong> wants to reach your $provider account.</p>
$error
<form method="post" action="$action">
$hidden
<fieldset><legend>Choose an account</legend>
<label for="email">E-mail address</label>
<input type="text" id="email" name="email" value="$email" autocomplete="off">
<p class="note">or pick one of the sandbox's accounts (a picked one wins over a typed one):</p>
<ul>$accounts</ul>
</fieldset>
<fieldset><legend>Access asked for</legend>
<ul>$scopes</ul>
</fieldset>
<button type="submit" id="allow" name="decision" value="allow">Allow</button>
<button type="submit" id="cancel" name="decision" value="cancel">Cancel</button>
</form>
"""
)

ERROR = Template(
    """<h2 class="error">Error $status: $error</h2>
<p>$description</p>
<p class="note">The application sent a request the sandbox cannot accept.</p>
"""
)


def _render(template: str | Template, **values: object) -> Html:
    """`template` filled in with `values`, each escaped unless it already is HTML."""
    template = template if isinstance(template, Template) else Template(template)
    return Html(
        template.substitute(
            {k: v if isinstance(v, Html) else html.escape(str(v)) for k, v in values.items()}
        )
    )


def _lines(fragments: list[Html]) -> Html:
    return Html("\n".join(fragments))


def _error_page(provider: Provider, error: OAuthError) -> Answer:
    content = _render(ERROR, status=error.status, error=error.error, description=error.description)
    return error.status, _render(PAGE, provider=provider.title, content=content)


def _consent_page(
    issuer: Issuer,
    request: AuthorizationRequest,
    *,
    email: str,
    ticked: tuple[str, ...],
    error: str = "",
) -> Answer:
    hidden = [
        _render('<input type="hidden" name="$name" value="$value">', name=name, value=value)
        for name, value in (*request.params.items(), ("requested_scope", " ".join(request.scopes)))
    ]
    accounts = [
        _render(
            '<li><label><input type="radio" name="email" id="account-$n" value="$email">'
            " $email</label></li>",
            n=n,
            email=account,
        )
        for n, account in enumerate(issuer.provider.accounts, start=1)
    ]
    scopes = [
        _render('<li>$scope <span class="note">(always granted)</span></li>', scope=scope)
        for scope in request.scopes
        if scope in ALWAYS_GRANTED
    ]
    scopes += [
        _render(
            '<li><label><input type="checkbox" name="scope" id="scope-$n" value="$scope"$checked>'
            " $scope</label></li>",
            n=n,
            scope=scope,
            checked=Html(" checked" if scope in ticked else ""),
        )
        for n, scope in enumerate(request.consent_scopes(), start=1)
    ]
    content = _render(
        CONSENT,
        client_id=request.client_id,
        provider=issuer.provider.title,
        error=_render('<p class="error">$error</p>', error=error) if error else Html(""),
        action=f"{issuer.base_path}/authorize",
        hidden=_lines(hidden),
        email=email,
        accounts=_lines(accounts),
        scopes=_lines(scopes),
    )
    return 200, _render(PAGE, provider=issuer.provider.title, content=content)


def _as_page(handler: Callable[..., Answer]) -> Callable[..., Answer]:
    """The authorize endpoint answers a browser: its errors are pages, never redirects."""

    @functools.wraps(handler)
    def answer(provider: Provider, *args: object, **kwargs: object) -> Answer:
        try:
            return handler(provider, *args, **kwargs)
        except OAuthError as error:
            return _error_page(provider, error)

    return answer


def _as_json(handler: Callable[..., Answer]) -> Callable[..., Answer]:
    @functools.wraps(handler)
    def answer(*args: object, **kwargs: object) -> Answer:
        try:
            return handler(*args, **kwargs)
        except OAuthError as error:
            return error.status, error.body()

    return answer


@_as_page
def authorize_page(
    provider: Provider, memory: OAuthMemory, request: OAuthRequest, tenant: str | None = None
) -> Answer:
    issuer = Issuer.at(provider, tenant)
    asked = AuthorizationRequest.parse(request.query)
    return _consent_page(
        issuer, asked, email=request.query.get("login_hint", ""), ticked=asked.consent_scopes()
    )


@_as_page
def authorize_decision(
    provider: Provider, memory: OAuthMemory, request: OAuthRequest, tenant: str | None = None
) -> Answer:
    issuer = Issuer.at(provider, tenant)
    carried = {name: request.param(name) for name in CARRIED}
    asked = AuthorizationRequest.parse(carried | {"scope": request.param("requested_scope")})
    decision = request.param("decision")
    if decision == "cancel":
        return 302, asked.redirect(error="access_denied")
    ticked = tuple(s for s in asked.consent_scopes() if s in request.form.get("scope", []))
    # The typed address comes first in the form, a picked account after it.
    email = next((e.strip() for e in reversed(request.form.get("email", [])) if e.strip()), "")
    if decision != "allow":
        return _consent_page(issuer, asked, email=email, ticked=ticked, error=CHOOSE)
    if not EMAIL.match(email):
        return _consent_page(issuer, asked, email=email, ticked=ticked, error=NO_EMAIL)
    granted = tuple(s for s in asked.scopes if s in ALWAYS_GRANTED or s in ticked)
    code = memory.issue_code(issuer, asked, email.lower(), granted)
    return 302, asked.redirect(code=code)


def _client_id(request: OAuthRequest) -> str:
    """The client, authenticated by HTTP Basic (client_secret_basic) or in the form (_post)."""
    client_id, secret = request.param("client_id"), request.param("client_secret")
    scheme, _, credentials = request.authorization.partition(" ")
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(credentials, validate=True).decode()
        except ValueError:
            decoded = ""
        basic_id, _, secret = decoded.partition(":")
        # A client id in the form too (some clients send both) must be the same one.
        client_id = basic_id if client_id in ("", basic_id) else ""
    if not client_id or not secret or secret.startswith("wrong"):
        raise OAuthError(401, "invalid_client", "The OAuth client was not found.")
    return client_id


@_as_json
def token(
    provider: Provider, memory: OAuthMemory, request: OAuthRequest, tenant: str | None = None
) -> Answer:
    issuer = Issuer.at(provider, tenant)
    grant_type = request.param("grant_type")
    if not grant_type:
        raise OAuthError(400, "invalid_request", "Missing required parameter: grant_type")
    if grant_type != "authorization_code":
        raise OAuthError(400, "unsupported_grant_type", f"Invalid grant_type: {grant_type}")
    client_id = _client_id(request)
    for name in ("code", "redirect_uri", "code_verifier"):
        if not request.param(name):
            raise OAuthError(400, "invalid_request", f"Missing required parameter: {name}")
    answer = memory.redeem(
        issuer,
        request.param("code"),
        client_id,
        request.param("redirect_uri"),
        request.param("code_verifier"),
    )
    return 200, answer


@_as_json
def google_userinfo(memory: OAuthMemory, request: OAuthRequest) -> Answer:
    email = memory.holder(GOOGLE, request.authorization)
    sub = str(int(hashlib.sha256(email.encode()).hexdigest()[:16], 16))
    return 200, {"sub": sub, "email": email, "email_verified": True}


@_as_json
def microsoft_me(memory: OAuthMemory, request: OAuthRequest) -> Answer:
    email = memory.holder(MICROSOFT, request.authorization)
    object_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"microsoft/{email}"))
    return 200, {"id": object_id, "mail": email, "userPrincipalName": email}


def unavailable(path: str, status: int) -> Answer:
    """An injected outage, shaped as the endpoint at `path` answers errors."""
    error = OAuthError(status, "temporarily_unavailable", "Injected fault")
    if path.endswith("/authorize"):
        return _error_page(MICROSOFT if path.startswith("/oauth/microsoft/") else GOOGLE, error)
    return status, error.body()


MICROSOFT_BASE = "/oauth/microsoft/{tenant}/oauth2/v2.0"
ROUTES: list[tuple[str, str, Callable[..., Answer]]] = [
    ("GET", "/oauth/google/authorize", functools.partial(authorize_page, GOOGLE)),
    ("POST", "/oauth/google/authorize", functools.partial(authorize_decision, GOOGLE)),
    ("POST", "/oauth/google/token", functools.partial(token, GOOGLE)),
    ("GET", "/oauth/google/userinfo", google_userinfo),
    ("GET", f"{MICROSOFT_BASE}/authorize", functools.partial(authorize_page, MICROSOFT)),
    ("POST", f"{MICROSOFT_BASE}/authorize", functools.partial(authorize_decision, MICROSOFT)),
    ("POST", f"{MICROSOFT_BASE}/token", functools.partial(token, MICROSOFT)),
    ("GET", "/oauth/microsoft/v1.0/me", microsoft_me),
]
