"""What a fix button is, and which model's list action applies each fix: shared by the admin's
pages (an integration's, a credential's) and the home page's lanes, below both."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import models

from calendars.models import ConsentLink, Credential, Integration, OAuthApp
from calendars.queries.diagnosis import Fix

# The model whose list action applies each fix.
ACTED_ON: dict[Fix, type[models.Model]] = {
    Fix.RESYNC: Integration,
    Fix.RESUBSCRIBE: Integration,
    Fix.RECREATE: Integration,
    Fix.DISCONNECT: Integration,
    Fix.RECONSENT_LINK: Credential,
    Fix.REPLACE_REFRESH_TOKEN: Credential,
    Fix.LIST_RAW_CALENDARS: Credential,
    Fix.ROTATE_CLIENT_SECRET: OAuthApp,
}


@dataclass(frozen=True)
class FixButton:
    label: str  # the list action's description, so both read the same
    changelist_url: str
    action: str
    pk: int
    recommended: bool
    on: str  # what it acts on when that is not the page's object ("its credential"), or ""
    # A re-consent link already waiting for the owner: shown instead of a button for a second.
    waiting: ConsentLink | None = None
