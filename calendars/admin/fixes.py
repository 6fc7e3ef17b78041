"""The fix buttons of an integration's or a credential's page.

Each button posts the list action it names to its model's changelist, for the one object the
page shows, so it leads to the same confirmation page, under the same permission check, as
selecting that object in the list: a role that may not run an action gets no button, and a
direct post of the action is refused by the list.
"""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest
from django.urls import reverse

from calendars.actions.integrations import disconnected_on_purpose
from calendars.consent import links
from calendars.models import Credential, Integration, OAuthApp
from calendars.queries.diagnosis import Fix, Remedies
from calendars.queries.fixes import ACTED_ON, FixButton


def fix_buttons(
    admin_site: admin.AdminSite,
    request: HttpRequest,
    remedies: Remedies,
    *,
    credential: Credential,
    integration: Integration | None = None,
) -> list[FixButton]:
    """The remedies the person signed in may run, the recommended one first."""
    targets = {Integration: integration, Credential: credential, OAuthApp: credential.oauth_app}
    page_model = Integration if integration is not None else Credential
    fixes = [(remedies.recommended, True)] if remedies.recommended else []
    fixes += [(fix, False) for fix in remedies.others]
    buttons = []
    for fix, recommended in fixes:
        model = ACTED_ON[fix]
        target = targets[model]
        allowed = admin_site.get_model_admin(model).get_actions(request)
        if target is None or fix.value not in allowed:
            continue
        if fix is Fix.RECREATE and not _may_connect_again(request, target):
            continue
        waiting = (
            links.waiting_by_credential([credential.pk]).get(credential.pk)
            if fix is Fix.RECONSENT_LINK
            else None
        )
        buttons.append(
            FixButton(
                label=str(allowed[fix.value].description),
                changelist_url=reverse(f"admin:calendars_{model._meta.model_name}_changelist"),
                action=fix.value,
                pk=target.pk,
                recommended=recommended,
                on="" if model is page_model else f"on its {model._meta.verbose_name}",
                waiting=waiting,
            )
        )
    return buttons


def _may_connect_again(request: HttpRequest, integration: Integration) -> bool:
    """Connecting again what an Admin disconnected on purpose is the Admin role's: the action
    refuses it to the others, so they are not offered a button that can only fail."""
    return request.user.has_perm("calendars.disconnect_integration") or not disconnected_on_purpose(
        integration.raw_calendar
    )
