"""The public pages a customer's person sees: the link, the provider's round trip, the end;
and, for an admin consent link, the page its Microsoft administrator sees (admin_consent.py).

No admin login: the link's token is the authority, and the OAuth `state`, PKCE verifier and
OpenID `nonce` live in the person's session, so a callback is accepted only in the browser that
started it, once. Pages name the company, the customer and the account, never an id or a secret.
"""

from __future__ import annotations

import logging
import time

from django.conf import settings
from django.db.models import F
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_variables
from django.views.decorators.http import require_GET

from calendars.consent import admin_consent, flow, grants, links
from calendars.consent.providers import PROVIDERS
from calendars.models import ConsentLink, OAuthApp

logger = logging.getLogger(__name__)
FLOW_KEY = "consent_flow"
# The links this browser session has opened: a link's opening counts once per session.
OPENED_KEY = "consent_opened"
# The link and app of this session's last attempt that can be tried again ("Try again").
RETRY_KEY = "consent_retry"
# This session's last completed grant: its callback, reloaded, says it is already done.
DONE_KEY = "consent_done"
# The `error` codes an authorization endpoint may send back: RFC 6749 (4.1.2.1), OpenID
# Connect Core (3.1.2.6) and those Google and Microsoft document. The parameter is written by
# whoever holds the link, so anything else is not repeated to staff.
OAUTH_ERRORS = frozenset(
    {
        "invalid_request",
        "unauthorized_client",
        "access_denied",
        "unsupported_response_type",
        "invalid_scope",
        "server_error",
        "temporarily_unavailable",
        "interaction_required",
        "login_required",
        "account_selection_required",
        "consent_required",
        "invalid_request_uri",
        "invalid_request_object",
        "request_not_supported",
        "request_uri_not_supported",
        "registration_not_supported",
        "admin_policy_enforced",
        "disallowed_useragent",
        "org_internal",
        "invalid_client",
        "deleted_client",
        "redirect_uri_mismatch",
        "invalid_resource",
    }
)
# How long a person may spend at the provider before the callback is refused.
FLOW_SECONDS = 30 * 60
GONE = {
    "revoked": "This link has been withdrawn.",
    "used": "This link has already been used.",
    "expired": "This link has expired.",
}


def _page(request: HttpRequest, template: str, status: int = 200, **context) -> HttpResponse:
    context.setdefault("company", settings.PORTAL_COMPANY_NAME)
    context.setdefault("contact", settings.PORTAL_CONTACT_EMAIL)
    response = render(request, f"consent/{template}", context, status=status)
    response["X-Robots-Tag"] = "noindex"
    return response


def _problem(request: HttpRequest, title: str, message: str, status: int, **context):
    return _page(request, "problem.html", status, title=title, message=message, **context)


def _unusable(request: HttpRequest, link: ConsentLink | None) -> HttpResponse:
    if link is None:
        return _problem(
            request,
            "Link not recognised",
            "This link is not one we know. Check that it was copied whole, or ask for a new one.",
            404,
        )
    return _problem(
        request,
        GONE[link.state],
        f"Please ask {settings.PORTAL_COMPANY_NAME} for a new link.",
        410,
    )


@never_cache
@require_GET
def open_link(request: HttpRequest, token: str) -> HttpResponse:
    link = links.find(token)
    if link is None or not link.is_usable:
        return _unusable(request, link)
    opened = request.session.get(OPENED_KEY, [])
    if link.pk not in opened:
        request.session[OPENED_KEY] = [*opened[-49:], link.pk]
        ConsentLink.objects.filter(pk=link.pk).update(
            opened_count=F("opened_count") + 1, last_opened_at=timezone.now()
        )
    apps = sorted(link.oauth_apps.all(), key=lambda app: app.provider)
    if link.kind == ConsentLink.Kind.ADMIN_CONSENT:
        return _page(request, "admin_consent.html", link=link, token=token, **_asked(apps[0]))
    return _page(
        request,
        "link.html",
        link=link,
        token=token,
        providers=[PROVIDERS[app.provider] for app in apps],
        account=link.credential.account_email if link.credential else "",
        writes=any(app.needs_calendar_write for app in apps),
    )


@never_cache
@require_GET
def start(request: HttpRequest, token: str, provider: str) -> HttpResponse:
    """Send the person to the provider's consent screen (a GET link: a form's redirect to
    another site would be blocked by the page's form-action policy)."""
    link = links.find(token)
    if link is None or not link.is_usable:
        return _unusable(request, link)
    app = link.oauth_apps.filter(provider=provider).first()
    if app is None:
        raise Http404("No such provider for this link")
    return _begin(request, link, app)


@never_cache
@require_GET
def retry(request: HttpRequest) -> HttpResponse:
    """The page's "Try again" after a cancelled or failed attempt: the same link, through the
    same app, while the link still works."""
    last = request.session.pop(RETRY_KEY, None)
    link = ConsentLink.objects.filter(pk=last["link"]).first() if last else None
    if link is None or not link.is_usable:
        return _unusable(request, link)
    app = link.oauth_apps.filter(pk=last["app"]).first()
    if app is None:  # removed from the link, or deleted, since
        return _unusable(request, None)
    return _begin(request, link, app)


def _asked(app: OAuthApp) -> dict:
    """What the administrator is asked to approve, as the page words it."""
    provider = PROVIDERS[app.provider]
    return {
        "provider": provider,
        "writes": app.needs_calendar_write,
        "calendar_scopes": provider.calendar_scopes(app),
    }


def _begin(request: HttpRequest, link: ConsentLink, app: OAuthApp) -> HttpResponse:
    if link.kind == ConsentLink.Kind.ADMIN_CONSENT:
        started = admin_consent.begin(link, app)
        request.session[FLOW_KEY] = {
            "link": link.pk,
            "app": app.pk,
            "state": started.state,
            "admin": True,
            "at": int(time.time()),
        }
        return HttpResponseRedirect(started.url)
    hint = link.credential.account_email if link.credential else ""
    started = flow.begin(app, login_hint=hint)
    request.session[FLOW_KEY] = {
        "link": link.pk,
        "app": app.pk,
        "state": started.state,
        "verifier": started.code_verifier,
        "nonce": started.nonce,
        "at": int(time.time()),
    }
    return HttpResponseRedirect(started.url)


@never_cache
@require_GET
@sensitive_variables("started", "granted", "code")
def callback(request: HttpRequest) -> HttpResponse:
    # Popped at once: a callback is taken once, whatever its outcome.
    started = request.session.pop(FLOW_KEY, None)
    given_state = request.GET.get("state", "")
    if started and not flow.state_matches(started["state"], given_state):
        # Someone else's callback, or a forged one, in a browser that had started a sign-in.
        stray = ConsentLink.objects.filter(pk=started["link"]).first()
        if stray is not None and stray.is_usable:
            grants.record(
                stray, ConsentLink.Outcome.PROVIDER_ERROR, "The callback's state did not match."
            )
        started = None
    done = request.session.get(DONE_KEY)
    if not started and done and flow.state_matches(done["state"], given_state):
        return _page(request, "done.html", message=done["message"], already=True)
    if not started:
        return _problem(
            request,
            "This sign-in cannot be completed",
            "It was already completed, or started in another browser. Open your link again "
            "in this browser to start over.",
            400,
        )
    link = ConsentLink.objects.select_related("customer").get(pk=started["link"])
    if not link.is_usable:
        return _unusable(request, link)
    app = OAuthApp.objects.filter(pk=started["app"]).first()
    if app is None:  # removed while the person was at the provider
        grants.record(link, ConsentLink.Outcome.PROVIDER_ERROR, "The OAuth app no longer exists.")
        return _unusable(request, None)
    request.session[RETRY_KEY] = {"link": link.pk, "app": app.pk}
    if time.time() - started["at"] > FLOW_SECONDS:
        grants.record(link, ConsentLink.Outcome.PROVIDER_ERROR, "The sign-in took too long.")
        return _retry(request, "The sign-in took too long", "Please try again.")
    error = request.GET.get("error", "")
    if started.get("admin"):
        return _administrator_answered(request, link, app, given_state)
    if error:
        return _refused(request, link, app, error)
    try:
        granted = flow.finish(
            app,
            code=request.GET.get("code", ""),
            code_verifier=started["verifier"],
            nonce=started.get("nonce", ""),
        )
    except flow.FlowError as exc:
        grants.record(link, ConsentLink.Outcome.PROVIDER_ERROR, str(exc))
        logger.warning("consent link %s: provider error: %s", link.pk, exc)
        return _retry(
            request,
            "We could not complete the sign-in",
            f"{PROVIDERS[app.provider].label} did not let us finish. Nothing was changed; "
            "please open your link again in a few minutes.",
        )
    result = grants.accept(link.pk, app, granted)
    logger.info("consent link %s: %s", link.pk, result.outcome)
    if result.can_retry:
        return _retry(request, "Access was not granted", result.message)
    if result.outcome in (ConsentLink.Outcome.CONNECTED, ConsentLink.Outcome.RECONSENTED):
        request.session.pop(RETRY_KEY, None)
        request.session[DONE_KEY] = {"state": given_state, "message": result.message}
        return _page(request, "done.html", message=result.message)
    return _problem(request, "This link cannot be used", result.message, 410)


def _administrator_answered(
    request: HttpRequest, link: ConsentLink, app: OAuthApp, state: str
) -> HttpResponse:
    """Microsoft's answer to an admin consent link: approved (for which tenant) or not."""
    result = admin_consent.finish(link, app, request.GET, said=_said(request.GET.get("error", "")))
    logger.info("consent link %s: %s", link.pk, result.outcome)
    if result.can_retry:
        return _retry(request, "Access was not approved", result.message)
    if result.outcome == ConsentLink.Outcome.ADMIN_APPROVED:
        request.session.pop(RETRY_KEY, None)
        request.session[DONE_KEY] = {"state": state, "message": result.message}
        return _page(request, "done.html", message=result.message, heading="Approved")
    return _problem(request, "This link cannot be used", result.message, 410)


def _said(error: str) -> str:
    return f"with error {error}" if error in OAUTH_ERRORS else "(unknown reason)"


def _refused(request: HttpRequest, link: ConsentLink, app: OAuthApp, error: str) -> HttpResponse:
    reason = admin_consent.needs_admin(app, error, request.GET.get("error_description", ""))
    if reason:
        return _needs_admin(request, link, app, reason)
    if error == "access_denied":
        grants.record(link, ConsentLink.Outcome.DENIED, "The person cancelled at the provider.")
        return _retry(
            request,
            "You cancelled",
            "Nothing was changed. If you change your mind, try again.",
        )
    grants.record(link, ConsentLink.Outcome.PROVIDER_ERROR, f"The provider refused {_said(error)}.")
    return _retry(
        request,
        "We could not complete the sign-in",
        "The provider reported a problem. Nothing was changed; please open your link again.",
    )


def _needs_admin(
    request: HttpRequest, link: ConsentLink, app: OAuthApp, reason: str
) -> HttpResponse:
    """The person's organisation lets only an administrator approve: the link stays usable,
    and the person gets an admin consent link to forward to their IT administrator."""
    new = links.create_admin_consent_link(
        link.customer, app, credential=link.credential, for_link=link, acting_user=None
    )
    grants.record(
        link,
        ConsentLink.Outcome.NEEDS_ADMIN,
        f"Microsoft requires the organisation's administrator to approve ({reason}); admin "
        f"consent link {new.link.pk} was given to the person for them.",
    )
    return _page(
        request, "needs_admin.html", 400, title="Your administrator must approve first", new=new
    )


def _retry(request: HttpRequest, title: str, message: str) -> HttpResponse:
    # The session's RETRY_KEY names the link and app "Try again" starts over with.
    return _problem(request, title, message, 400, can_retry=True)
