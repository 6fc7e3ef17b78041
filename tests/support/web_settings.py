"""The portal's production settings, for a test's gunicorn: static files served unhashed.

Production serves hashed copies made by `collectstatic` (the release step), which a test run
does not make; everything else is as deployed.
"""

from portal.settings import *  # noqa: F403
from portal.settings import STORAGES

STORAGES = {
    **STORAGES,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
