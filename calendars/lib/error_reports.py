"""Error reports that hide secrets even on DEBUG pages."""

from __future__ import annotations

from django.http import HttpRequest
from django.views.debug import SafeExceptionReporterFilter


class SecretSafeExceptionReporterFilter(SafeExceptionReporterFilter):
    """Django cleanses posted secrets only when DEBUG is off; people enter real secrets into
    DEBUG portals too (the embedded default), so this one always does."""

    def is_active(self, request: HttpRequest | None) -> bool:
        return True
