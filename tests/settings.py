"""Test settings: the portal's own, with tasks run inline and a file-backed test database.

django-q2 reads Q_CLUSTER once, on import, so `sync` is set here rather than with
override_settings. The SQLite test database is a file (not shared-cache memory) so that
threads and a django-q2 cluster process see the same data with real locking.
"""

import os

# The suite runs the embedded default (DEBUG on, the sandbox, generated local keys), as do the
# processes it starts (clusters, gunicorn), which inherit this environment. DEBUG is off
# unless set, so it is set here unless the caller chose.
os.environ.setdefault("DEBUG", "true")

from pathlib import Path

from portal.settings import *  # noqa: F403
from portal.settings import DATABASES, Q_CLUSTER, VAR_DIR

Q_CLUSTER = {**Q_CLUSTER, "sync": True}

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file (processes the tests start share it) named after the database, so that passes
    # run side by side on databases of their own (scripts/test) never share one.
    named = Path(DATABASES["default"]["NAME"]).stem
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-{named}.sqlite3")}

else:
    # Threads of the live server must not keep connections that block dropping the test database.
    DATABASES["default"]["CONN_MAX_AGE"] = 0

MEETINGBAAS_TIMEOUT = 2.0
MEETINGBAAS_MAX_RETRY_WAIT = 1.0
# The sandbox answers (or refuses) at once: half a second before each retry only made the suite
# wait (the transport's own tests set their waits).
MEETINGBAAS_RETRY_BACKOFF = 0.02
MEETINGBAAS_WRITE_RATE = 50.0  # tests of the limiter set the team's real 5 per second
# Each test writes the metrics totals it needs itself (calendars/metrics/totals.flush), inside
# its own transaction; a background writer would commit them past the test's rollback.
METRICS_FLUSH_SECONDS = 0
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# A second secret stands for the one being rotated out.
MEETINGBAAS_WEBHOOK_SECRET = [
    "whsec_dGVzdC13ZWJob29rLXNlY3JldC1udW1iZXItb25l",
    "whsec_b2xkLXdlYmhvb2stc2VjcmV0LWJlaW5nLXJvdGF0ZWQ=",
]

# A fix is looked at again every FIX_CHECK_INTERVAL_SECONDS until FIX_CHECK_SECONDS: the sandbox
# answers in milliseconds, so a second between looks and five of them only made the suite wait.
FIX_CHECK_SECONDS = 2.0
FIX_CHECK_INTERVAL_SECONDS = 0.1
