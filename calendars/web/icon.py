"""GET /favicon.ico: the portal's icon, where browsers and crawlers look for it by themselves
(the pages name it too); a 404 on every page otherwise."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponseRedirect
from django.templatetags.static import static
from django.views.decorators.http import require_GET


@require_GET
def favicon(request: HttpRequest) -> HttpResponseRedirect:
    return HttpResponseRedirect(static("calendars/favicon.svg"))
