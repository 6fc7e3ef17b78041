"""Error reports that hide secrets even on DEBUG pages."""

from __future__ import annotations

import re

from django.http import HttpRequest
from django.views.debug import SafeExceptionReporterFilter


class SecretSafeExceptionReporterFilter(SafeExceptionReporterFilter):
    """Django cleanses posted secrets only when DEBUG is off; people enter real secrets into
    DEBUG portals too (the embedded default), so this one always does. A chat webhook's URL
    is its secret (whoever has it may post): such settings are hidden too."""

    hidden_settings = re.compile(
        "API|AUTH|TOKEN|KEY|SECRET|PASS|SIGNATURE|HTTP_COOKIE|WEBHOOK_URL", flags=re.I
    )

    def is_active(self, request: HttpRequest | None) -> bool:
        return True
