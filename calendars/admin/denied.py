"""The page a person sees when their role does not allow what they asked for (HTTP 403)."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from calendars.roles import role_of


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """An admin page naming the person's role, with the way back, instead of a bare "403"."""
    user = request.user
    if not user.is_authenticated:
        role = None
    elif user.is_superuser:
        role = "superuser"
    else:
        role = role_of(user)
    context = {
        **admin.site.each_context(request),
        "title": "Not allowed for your role",
        "role": role,
        "signed_in": user.is_authenticated,
    }
    response = TemplateResponse(request, "403.html", context, status=403)
    # Rendered here: Django's exception handling does not render a TemplateResponse for us.
    return response.render()
