"""The portal's URLs, and the plain admin site (bench/plain_admin.py) under /plain/."""

from django.urls import path

from bench.plain_admin import site
from portal.urls import handler403, urlpatterns

urlpatterns = [path("plain/", site.urls), *urlpatterns]

__all__ = ["handler403", "urlpatterns"]
