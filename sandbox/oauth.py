"""Google- and Microsoft-shaped OAuth 2.0 endpoints: consent page, code for tokens, who granted.

The authorization-code flow with PKCE (S256 only), as the portal's consent links use it. Any
client id is accepted (a client secret starting with "wrong" is refused, as in accounts.py),
and the refresh token issued ends in ":<e-mail>", so the sandbox Meeting BaaS takes it as that
person's account. As the real providers do, Google issues a refresh token only for
access_type=offline, and on a second grant to the same client only with prompt=consent;
Microsoft only when offline_access is asked for.

With `openid`, the token answer carries an ID token, RS256-signed with a key each provider
generates when the sandbox starts and publishes as a JSON Web Key Set (Google's `certs`,
Microsoft's `discovery/v2.0/keys`): Google's names the account by `sub` with `email` and
`email_verified`, Microsoft's by its tenant and object ids (`tid`, and `oid` with `profile`),
the issuer being that tenant's. The consent page can play the attacks a client must resist: a
Microsoft account of another tenant claiming any e-mail address (the "nOAuth" attack), an
unverified Google e-mail, and ID tokens spoiled one way each (ID_TOKEN_VARIANTS).

A Microsoft tenant can be told to require admin consent (the control API's
/_sandbox/tenants/{tenant}): its accounts' Allow then comes back as Microsoft's "Need admin
approval" refusal (access_denied, AADSTS90094) until an administrator accepts the client at the
tenant's admin consent page (/oauth/microsoft/{tenant}/v2.0/adminconsent), which answers the
client with admin_consent=True and the tenant's id, as Microsoft's does.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import html
import json
import re
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from string import Template
from urllib.parse import urlencode, urlsplit, urlunsplit

from authlib.jose import JsonWebKey, JsonWebToken

Answer = tuple[int, object]

CODE_LIFETIME = 600.0
ACCESS_TOKEN_LIFETIME = 3599
ID_TOKEN_LIFETIME = 3600
# The tenant of the sandbox's Microsoft accounts (contoso), and Microsoft's for personal ones.
HOME_TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
CONSUMER_TENANT = "9188040d-6c67-4c5b-b112-36a304b66dad"
# What the consent page's "ID token" choice does to the token, to play an attack on a client.
ID_TOKEN_VARIANTS = {
    "valid": "as issued",
    "bad_signature": "claims changed after signing",
    "wrong_audience": "issued to another client",
    "wrong_issuer": "another issuer (Microsoft: another tenant's than its tid)",
    "expired": "expired an hour ago",
    "wrong_nonce": "another nonce than the client sent",
    "unverified_email": "email_verified: false (Google)",
}
SIGNER = JsonWebToken(["RS256"])
# Identity scopes: granted with any consent, so the page shows them without a checkbox.
ALWAYS_GRANTED = ("openid", "email", "profile", "offline_access")
TENANT_NAMES = ("common", "organizations", "consumers")
GUID = re.compile(r"^[0-9a-f]{8}-(?:[0-9a-f]{4}-){3}[0-9a-f]{12}$", re.IGNORECASE)
CODE_CHALLENGE = re.compile(r"[A-Za-z0-9._~-]{43,128}")  # RFC 7636 4.2
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
NO_EMAIL = "Type an e-mail address or pick an account."
NO_TENANT = "The account's tenant id must be a GUID."
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
    "nonce",
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
        _check_redirect_uri(params["redirect_uri"])
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
        return _redirect(self.redirect_uri, self.state, outcome)


def _check_redirect_uri(redirect_uri: str) -> None:
    uri = urlsplit(redirect_uri)
    # Printable ASCII only: the URI goes back out in a Location header.
    if (
        uri.scheme not in ("http", "https")
        or not uri.netloc
        or uri.fragment
        or not re.fullmatch(r"[!-~]+", redirect_uri)
    ):
        raise OAuthError(
            400, "invalid_request", "redirect_uri must be an http(s) URL without a fragment."
        )


def _redirect(redirect_uri: str, state: str, outcome: dict[str, str]) -> Redirect:
    """The redirect URI with `outcome` and the state added to its query."""
    if state:
        outcome["state"] = state
    uri = urlsplit(redirect_uri)
    query = "&".join(part for part in (uri.query, urlencode(outcome)) if part)
    return Redirect(urlunsplit(uri._replace(query=query)))


@dataclass(frozen=True)
class Account:
    """Who granted: an e-mail address; for Microsoft, an account of one tenant (whose
    administrator sets its e-mail: another tenant's account may claim the same one)."""

    email: str
    tenant_id: str = ""
    email_verified: bool = True

    @property
    def google_sub(self) -> str:
        return str(int(hashlib.sha256(self.email.encode()).hexdigest()[:16], 16))

    @property
    def object_id(self) -> str:
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"microsoft/{self.tenant_id}/{self.email}"))


@dataclass
class IssuedCode:
    issuer: Issuer
    client_id: str
    redirect_uri: str
    code_challenge: str
    account: Account
    scopes: tuple[str, ...]
    offline: bool  # whether the exchange returns a refresh token
    expires_at: float
    nonce: str = ""
    variant: str = "valid"
    used: bool = False
    access_token: str = ""


@dataclass
class AccessToken:
    provider: Provider
    account: Account
    expires_at: float


def _signing_keys() -> dict[str, object]:
    return {
        provider.name: JsonWebKey.generate_key("RSA", 2048, is_private=True)
        for provider in (GOOGLE, MICROSOFT)
    }


@dataclass
class OAuthMemory:
    """The codes and access tokens issued, and who consented to which client. Thread-safe."""

    codes: dict[str, IssuedCode] = field(default_factory=dict)
    access_tokens: dict[str, AccessToken] = field(default_factory=dict)
    consented: set[tuple[str, str, str]] = field(default_factory=set)
    # Microsoft tenants whose users may not consent alone, and the clients their admins approved.
    admin_only: set[str] = field(default_factory=set)
    admin_approved: set[tuple[str, str]] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)
    # One key per provider for the sandbox's life (a reset keeps them, as a provider would).
    keys: dict[str, object] = field(default_factory=_signing_keys)

    def reset(self) -> None:
        with self.lock:
            self.codes.clear()
            self.access_tokens.clear()
            self.consented.clear()
            self.admin_only.clear()
            self.admin_approved.clear()

    def require_admin_consent(self, tenant: str, required: bool) -> dict:
        """Tell a tenant (a GUID) whether its users need their administrator's approval."""
        if not GUID.match(tenant):
            raise OAuthError(400, "invalid_request", NO_TENANT)
        tenant = tenant.lower()
        with self.lock:
            (self.admin_only.add if required else self.admin_only.discard)(tenant)
            approved = sorted(client for t, client in self.admin_approved if t == tenant)
        return {"tenant": tenant, "admin_consent_required": required, "approved_clients": approved}

    def needs_admin(self, tenant: str, client_id: str) -> bool:
        with self.lock:
            return tenant in self.admin_only and (tenant, client_id) not in self.admin_approved

    def approve(self, tenant: str, client_id: str) -> None:
        with self.lock:
            self.admin_approved.add((tenant, client_id))

    def issue_code(
        self,
        issuer: Issuer,
        request: AuthorizationRequest,
        account: Account,
        scopes: tuple[str, ...],
        variant: str = "valid",
    ) -> str:
        code = secrets.token_urlsafe(32)
        with self.lock:
            self.codes[code] = IssuedCode(
                issuer=issuer,
                client_id=request.client_id,
                redirect_uri=request.redirect_uri,
                code_challenge=request.code_challenge,
                account=account,
                scopes=scopes,
                offline=self._is_offline(issuer, request, account.email),
                expires_at=time.monotonic() + CODE_LIFETIME,
                nonce=request.params.get("nonce", ""),
                variant=variant,
            )
        return code

    def public_keys(self, provider: Provider) -> dict:
        """The provider's JSON Web Key Set: its public signing key."""
        key = self.keys[provider.name]
        return {"keys": [key.as_dict(is_private=False, kid=_kid(key), use="sig", alg="RS256")]}

    def id_token(self, issued: IssuedCode) -> str:
        """The ID token of a grant, signed by its provider's key (spoiled as the page chose)."""
        now = int(time.time())
        claims = {"aud": issued.client_id, "iat": now, "exp": now + ID_TOKEN_LIFETIME}
        if issued.nonce:
            claims["nonce"] = issued.nonce
        claims |= _who(issued)
        variant = issued.variant
        if variant == "wrong_audience":
            claims["aud"] = "another-client-id"
        elif variant == "wrong_issuer":
            other = str(uuid.uuid4())
            google = issued.issuer.provider is GOOGLE
            claims["iss"] = "https://accounts.example" if google else _microsoft_issuer(other)
        elif variant == "expired":
            claims |= {"iat": now - 2 * ID_TOKEN_LIFETIME, "exp": now - ID_TOKEN_LIFETIME}
        elif variant == "wrong_nonce":
            claims["nonce"] = secrets.token_urlsafe(16)
        key = self.keys[issued.issuer.provider.name]
        header = {"alg": "RS256", "typ": "JWT", "kid": _kid(key)}
        signed = SIGNER.encode(header, claims, key).decode()
        if variant != "bad_signature":
            return signed
        head, _, signature = signed.split(".")
        changed = json.dumps({**claims, "iat": now + 1}).encode()
        body = base64.urlsafe_b64encode(changed).rstrip(b"=").decode()
        return f"{head}.{body}.{signature}"

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
                issuer.provider, issued.account, time.monotonic() + ACCESS_TOKEN_LIFETIME
            )
        answer = {
            "access_token": issued.access_token,
            "token_type": "Bearer",
            "expires_in": ACCESS_TOKEN_LIFETIME,
            "scope": " ".join(issued.scopes),
        }
        if issued.offline:
            answer["refresh_token"] = f"sbx-{secrets.token_urlsafe(24)}:{issued.account.email}"
        if "openid" in issued.scopes:
            answer["id_token"] = self.id_token(issued)
        return answer

    def holder(self, provider: Provider, authorization: str) -> Account:
        """The account a bearer token was issued for."""
        scheme, _, token = authorization.partition(" ")
        with self.lock:
            held = self.access_tokens.get(token.strip()) if scheme.lower() == "bearer" else None
        if held is None or held.provider is not provider or held.expires_at < time.monotonic():
            raise OAuthError(401, "invalid_token", "The access token is missing or unknown.")
        return held.account


def _kid(key: object) -> str:
    return key.thumbprint()


def _microsoft_issuer(tenant_id: str) -> str:
    return f"https://login.microsoftonline.com/{tenant_id}/v2.0"


def _who(issued: IssuedCode) -> dict:
    """The claims naming the account, as each provider writes them."""
    account = issued.account
    if issued.issuer.provider is GOOGLE:
        return {
            "iss": "https://accounts.google.com",
            "sub": account.google_sub,
            "email": account.email,
            "email_verified": account.email_verified,
        }
    # Microsoft's `sub` is pairwise (per app); `oid` comes with the profile scope only.
    pairwise = f"{account.object_id}/{issued.client_id}".encode()
    claims = {
        "iss": _microsoft_issuer(account.tenant_id),
        "tid": account.tenant_id,
        "sub": base64.urlsafe_b64encode(hashlib.sha256(pairwise).digest()[:24]).decode(),
        "email": account.email,
        "ver": "2.0",
    }
    if "profile" in issued.scopes:
        claims |= {"oid": account.object_id, "preferred_username": account.email}
    return claims


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
input[type=text], select { width: 100%; box-sizing: border-box; padding: .5rem; font: inherit; }
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
<fieldset><legend>Sandbox: play an attack</legend>
$tenant
<label for="id-token">ID token</label>
<select id="id-token" name="id_token">$variants</select>
</fieldset>
<button type="submit" id="allow" name="decision" value="allow">Allow</button>
<button type="submit" id="cancel" name="decision" value="cancel">Cancel</button>
</form>
"""
)

TENANT = Template(
    """<label for="tenant">The account's directory (tenant) id</label>
<input type="text" id="tenant" name="tenant_id" value="$tenant" autocomplete="off">
<p class="note">Another tenant's account may claim any e-mail address: its administrator
sets it.</p>
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
    tenant: str = "",
    variant: str = "valid",
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
    variants = [
        _render(
            '<option value="$value"$selected>$label</option>',
            value=value,
            label=label,
            selected=Html(" selected" if value == variant else ""),
        )
        for value, label in _variants(issuer.provider).items()
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
        tenant=_render(TENANT, tenant=tenant or _home_tenant(issuer))
        if issuer.provider is MICROSOFT
        else Html(""),
        variants=_lines(variants),
    )
    return 200, _render(PAGE, provider=issuer.provider.title, content=content)


def _variants(provider: Provider) -> dict[str, str]:
    if provider is GOOGLE:
        return ID_TOKEN_VARIANTS
    return {k: v for k, v in ID_TOKEN_VARIANTS.items() if k != "unverified_email"}


def _home_tenant(issuer: Issuer) -> str:
    """The tenant an account signing in at this issuer belongs to, unless the page says."""
    if GUID.match(issuer.tenant):
        return issuer.tenant
    return CONSUMER_TENANT if issuer.tenant == "consumers" else HOME_TENANT


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
    tenant = request.param("tenant_id").lower() if issuer.provider is MICROSOFT else ""
    variant = request.param("id_token") or "valid"
    if variant not in _variants(issuer.provider):
        variant = "valid"
    again = functools.partial(
        _consent_page, issuer, asked, email=email, ticked=ticked, tenant=tenant, variant=variant
    )
    if decision != "allow":
        return again(error=CHOOSE)
    if not EMAIL.match(email):
        return again(error=NO_EMAIL)
    if tenant and not GUID.match(tenant):
        return again(error=NO_TENANT)
    account = Account(
        email.lower(),
        tenant_id=(tenant or _home_tenant(issuer)) if issuer.provider is MICROSOFT else "",
        email_verified=variant != "unverified_email",
    )
    if issuer.provider is MICROSOFT and memory.needs_admin(account.tenant_id, asked.client_id):
        # Microsoft's "Need admin approval", left through "Back to the application".
        return 302, asked.redirect(
            error="access_denied",
            error_description="AADSTS90094: The grant requires admin permission.",
        )
    granted = tuple(s for s in asked.scopes if s in ALWAYS_GRANTED or s in ticked)
    code = memory.issue_code(issuer, asked, account, granted, variant)
    return 302, asked.redirect(code=code)


ADMIN_CONSENT = Template(
    """<p><strong>$client_id</strong> asks an administrator to approve, for the whole
organisation, access to:</p>
<ul>$scopes</ul>
<form method="post" action="$action">
$hidden
<fieldset><legend>Sign in as an administrator</legend>
<label for="email">E-mail address</label>
<input type="text" id="email" name="email" value="" autocomplete="off">
$tenant
</fieldset>
<button type="submit" id="allow" name="decision" value="allow">Accept</button>
<button type="submit" id="cancel" name="decision" value="cancel">Cancel</button>
</form>
"""
)
ADMIN_CARRIED = ("client_id", "redirect_uri", "state", "scope")


@dataclass(frozen=True)
class AdminConsentRequest:
    """What a client asked the admin consent endpoint for."""

    params: dict[str, str]

    @classmethod
    def parse(cls, params: Mapping[str, str]) -> AdminConsentRequest:
        for name in ("client_id", "redirect_uri", "scope"):
            if not params.get(name):
                raise OAuthError(400, "invalid_request", f"Missing required parameter: {name}")
        _check_redirect_uri(params["redirect_uri"])
        return cls({name: params[name] for name in ADMIN_CARRIED if params.get(name)})

    def redirect(self, **outcome: str) -> Redirect:
        return _redirect(self.params["redirect_uri"], self.params.get("state", ""), outcome)


@_as_page
def admin_consent_page(
    provider: Provider, memory: OAuthMemory, request: OAuthRequest, tenant: str | None = None
) -> Answer:
    issuer = Issuer.at(provider, tenant)
    asked = AdminConsentRequest.parse(request.query)
    hidden = [
        _render('<input type="hidden" name="$name" value="$value">', name=name, value=value)
        for name, value in asked.params.items()
    ]
    scopes = [_render("<li>$scope</li>", scope=scope) for scope in asked.params["scope"].split()]
    content = _render(
        ADMIN_CONSENT,
        client_id=asked.params["client_id"],
        scopes=_lines(scopes),
        action=f"/oauth/microsoft/{issuer.tenant}/v2.0/adminconsent",
        hidden=_lines(hidden),
        tenant=_render(TENANT, tenant=_home_tenant(issuer)),
    )
    return 200, _render(PAGE, provider=provider.title, content=content)


@_as_page
def admin_consent_decision(
    provider: Provider, memory: OAuthMemory, request: OAuthRequest, tenant: str | None = None
) -> Answer:
    issuer = Issuer.at(provider, tenant)
    asked = AdminConsentRequest.parse({name: request.param(name) for name in ADMIN_CARRIED})
    if request.param("decision") != "allow":
        return 302, asked.redirect(
            error="access_denied",
            error_description="AADSTS65004: User declined to consent to access the app.",
        )
    tenant_id = (request.param("tenant_id") or _home_tenant(issuer)).lower()
    if not GUID.match(tenant_id):
        raise OAuthError(400, "invalid_request", NO_TENANT)
    memory.approve(tenant_id, asked.params["client_id"])
    return 302, asked.redirect(admin_consent="True", tenant=tenant_id, scope=asked.params["scope"])


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
    account = memory.holder(GOOGLE, request.authorization)
    return 200, {
        "sub": account.google_sub,
        "email": account.email,
        "email_verified": account.email_verified,
    }


@_as_json
def microsoft_me(memory: OAuthMemory, request: OAuthRequest) -> Answer:
    account = memory.holder(MICROSOFT, request.authorization)
    return 200, {"id": account.object_id, "mail": account.email, "userPrincipalName": account.email}


@_as_json
def signing_keys(
    provider: Provider, memory: OAuthMemory, request: OAuthRequest, tenant: str | None = None
) -> Answer:
    Issuer.at(provider, tenant)  # a bad tenant is refused, as at the other endpoints
    return 200, memory.public_keys(provider)


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
    ("GET", "/oauth/google/certs", functools.partial(signing_keys, GOOGLE)),
    ("GET", f"{MICROSOFT_BASE}/authorize", functools.partial(authorize_page, MICROSOFT)),
    ("POST", f"{MICROSOFT_BASE}/authorize", functools.partial(authorize_decision, MICROSOFT)),
    ("POST", f"{MICROSOFT_BASE}/token", functools.partial(token, MICROSOFT)),
    ("GET", "/oauth/microsoft/v1.0/me", microsoft_me),
    (
        "GET",
        "/oauth/microsoft/{tenant}/v2.0/adminconsent",
        functools.partial(admin_consent_page, MICROSOFT),
    ),
    (
        "POST",
        "/oauth/microsoft/{tenant}/v2.0/adminconsent",
        functools.partial(admin_consent_decision, MICROSOFT),
    ),
    (
        "GET",
        "/oauth/microsoft/{tenant}/discovery/v2.0/keys",
        functools.partial(signing_keys, MICROSOFT),
    ),
]
