"""Settings for the calendar-integration portal, read from the environment.

DEBUG is off unless set, so a deployment that forgets it is not in debug mode. With DEBUG=true
and nothing else set (scripts/dev), the embedded default runs: a SQLite file under var/,
django-q2 on its ORM broker and the local sandbox Meeting BaaS. Every variable is listed in
README.md with its default.
"""

import socket
from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.core.validators import validate_email
from django.utils.csp import CSP
from pythonjsonlogger.core import RESERVED_ATTRS

from portal import local_keys

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
if (BASE_DIR / ".env").is_file():
    environ.Env.read_env(BASE_DIR / ".env")

DEBUG = env.bool("DEBUG", default=False)
VAR_DIR = Path(env.str("PORTAL_VAR_DIR", default=str(BASE_DIR / "var")))

# With DEBUG off, every missing or invalid variable is collected and reported at once.
_problems: list[str] = []

_keys = {name: env.str(name, default="") for name in ("SECRET_KEY", "FIELD_ENCRYPTION_KEYS")}
_missing = [name for name, value in _keys.items() if not value]
if _missing and not DEBUG:
    _problems += [f"{name} is not set" for name in _missing]
elif _missing:
    _local = local_keys.load_or_create(VAR_DIR / "local-keys.env")
    _keys = {name: value or _local[name] for name, value in _keys.items()}

SECRET_KEY = _keys["SECRET_KEY"]
# Keys SECRET_KEY replaced, still taken for what they signed (sessions, messages cookies)
# while a rotation settles (README, "Rotating SECRET_KEY and FIELD_ENCRYPTION_KEYS").
SECRET_KEY_FALLBACKS = env.list("SECRET_KEY_FALLBACKS", default=[])
# Comma-separated Fernet keys: the first encrypts, every one decrypts (for rotation).
FIELD_ENCRYPTION_KEYS = [k.strip() for k in _keys["FIELD_ENCRYPTION_KEYS"].split(",") if k.strip()]
# A malformed key would otherwise pass start-up and fail on the first secret read or written.
# Only positions are named: the keys themselves never go into a message.
_bad_keys = [
    str(n) for n, key in enumerate(FIELD_ENCRYPTION_KEYS, 1) if not local_keys.is_fernet_key(key)
]
if _bad_keys:
    _problems.append(
        f"FIELD_ENCRYPTION_KEYS: key {', '.join(_bad_keys)} of {len(FIELD_ENCRYPTION_KEYS)} "
        "is not a Fernet key (32 url-safe base64-encoded bytes)"
    )

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    # Before django_q: its `qcluster` command is the portal's (calendars/cluster/).
    "calendars.cluster",
    "django_q",
    "simple_history",
    "axes",
    "calendars",
]
if DEBUG:
    # The fake Meeting BaaS (`manage.py run_sandbox`) is a development tool: production never
    # installs it.
    INSTALLED_APPS.append("sandbox")

MIDDLEWARE = [
    "calendars.lib.request_ids.RequestIdMiddleware",
    # The database unreachable: a plain 503 page (calendars/web/outage.py).
    "calendars.web.outage.DatabaseOutageMiddleware",
    "calendars.web.unreadable_body.UnreadableBodyMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # Before authentication reads the user from an idle or too-old session.
    "calendars.lib.sessions.SessionExpiryMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Times in the viewer's own zone once the browser has named it (calendars/lib/time_zones.py).
    "calendars.lib.time_zones.ViewerTimeZoneMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    # Last, as django-axes requires: it turns a locked-out login into a clear refusal.
    "axes.middleware.AxesMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

if not DEBUG:
    # Production serves static files itself (runserver does it in development).
    MIDDLEWARE.insert(
        MIDDLEWARE.index("django.middleware.security.SecurityMiddleware") + 1,
        "whitenoise.middleware.WhiteNoiseMiddleware",
    )

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'portal.sqlite3'}"),
}
# SQLite holds one host's processes and no more: production runs on PostgreSQL unless an
# operator says otherwise (a single-host trial), rather than quietly on a file under var/.
ALLOW_SQLITE_IN_PRODUCTION = env.bool("ALLOW_SQLITE_IN_PRODUCTION", default=False)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    if not DEBUG and not ALLOW_SQLITE_IN_PRODUCTION:
        _which = "names SQLite" if env.str("DATABASE_URL", default="") else "is not set"
        _problems.append(
            f"DATABASE_URL {_which} (production runs on PostgreSQL; "
            "ALLOW_SQLITE_IN_PRODUCTION=true allows SQLite)"
        )
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    # The web process and the django-q2 cluster write at once: WAL lets readers run beside
    # the writer, IMMEDIATE takes the write lock at BEGIN (so a transaction never fails
    # half-way upgrading its lock) and the timeout makes a writer wait instead of failing.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": env.int("SQLITE_BUSY_TIMEOUT", default=30),
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    # A server that does not answer (a failover, a network partition) fails a request after
    # this long instead of holding the web or worker process for the kernel's TCP timeout.
    DATABASES["default"].setdefault("OPTIONS", {})["connect_timeout"] = env.int(
        "DATABASE_CONNECT_TIMEOUT", default=5
    )
# A task that loses its database connection is run again on a new one for this long, at most
# half of Q_TIMEOUT (calendars/lib/database.py); past it, the task fails and the sweeps or its
# schedule take the work up.
DATABASE_RETRY_SECONDS = env.float("DATABASE_RETRY_SECONDS", default=60.0)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTHENTICATION_BACKENDS = [
    # First, so a locked-out user is refused before the password is even checked.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# Login throttling: after AXES_FAILURE_LIMIT failures for one username from one address, that
# pair is locked out for AXES_COOLOFF_MINUTES.
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
# Reverse proxies in front of the portal (load balancers), each appending to X-Forwarded-For:
# the client's address is the one the outermost proxy saw (calendars/lib/client_ip.py).
TRUSTED_PROXY_COUNT = env.int("AXES_PROXY_COUNT", default=0)
if TRUSTED_PROXY_COUNT < 0:
    _problems.append(f"AXES_PROXY_COUNT is {TRUSTED_PROXY_COUNT}, not 0 or more")
AXES_CLIENT_IP_CALLABLE = "calendars.lib.client_ip.client_ip_address"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True
# One way to write a time on every page, with its zone ("2026-11-25 22:24 UTC"). The locale's
# formats would win over DATETIME_FORMAT here, so the portal's own live in a format module.
FORMAT_MODULE_PATH = ["portal.formats"]

# Content Security Policy: scripts only from the portal itself. Styles allow inline attributes,
# which Django's admin uses.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF],
    "style-src": [CSP.SELF, CSP.UNSAFE_INLINE],
    "img-src": [CSP.SELF, "data:"],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
}
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_HTTPONLY = True
# A portal holding customers' secrets signs people out after SESSION_IDLE_MINUTES without a
# request, and SESSION_COOKIE_AGE seconds after they signed in (calendars/lib/sessions.py).
SESSION_IDLE_MINUTES = env.int("SESSION_IDLE_MINUTES", default=60)
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=12 * 60 * 60)
if SESSION_IDLE_MINUTES < 1 or SESSION_COOKIE_AGE < 60:
    _problems.append(
        f"SESSION_IDLE_MINUTES ({SESSION_IDLE_MINUTES}) must be 1 or more and "
        f"SESSION_COOKIE_AGE ({SESSION_COOKIE_AGE}) 60 seconds or more"
    )
# /healthz shows its details (host, database engine, broker, errors) only with this token.
HEALTHZ_TOKEN = env.str("HEALTHZ_TOKEN", default="")
# /metrics answers only a scraper presenting this token; without one it answers nobody.
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
if METRICS_TOKEN and len(METRICS_TOKEN) < 32:
    _problems.append("METRICS_TOKEN is shorter than 32 characters")
# How often each process adds what it counted (Meeting BaaS calls, webhooks, bots) to the
# totals /metrics reads (calendars/metrics/totals.py); 0: never (the tests write them by hand).
METRICS_FLUSH_SECONDS = env.float("METRICS_FLUSH_SECONDS", default=10.0)
if METRICS_FLUSH_SECONDS < 0:
    _problems.append(f"METRICS_FLUSH_SECONDS is {METRICS_FLUSH_SECONDS}, not 0 or more")

if not DEBUG:
    # Served over HTTPS only (README: Running in production).
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    # A load balancer's health check probes over plain HTTP and does not follow redirects.
    SECURE_REDIRECT_EXEMPT = [r"^healthz(/|/live|/ready)?$"]
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31_536_000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
    SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    if env.bool("TRUST_X_FORWARDED_PROTO", default=False):
        # Only behind a proxy that sets this header itself (and strips a client's).
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

DEFAULT_EXCEPTION_REPORTER_FILTER = "calendars.lib.error_reports.SecretSafeExceptionReporterFilter"

# History is append-only: nobody reverts a record to an old version through the portal.
SIMPLE_HISTORY_REVERT_DISABLED = True

STATIC_URL = "static/"
# Where `collectstatic` (the release step) writes the static files WhiteNoise serves.
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(BASE_DIR / "staticfiles")))
# WhiteNoise serves the static files; in production from hashed, compressed copies made by
# `collectstatic` (the release step).
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# --- Meeting BaaS -------------------------------------------------------------------------
# With DEBUG on and no API key, the portal talks to the local sandbox (manage.py run_sandbox).
# USE_SANDBOX=true has a production-configured portal talk to it too: a staging set-up, the
# sandbox run on the same host by `python -m sandbox` (README, "Staging with the sandbox").
SANDBOX_PORT = env.int("SANDBOX_PORT", default=8765)
SANDBOX_API_KEY = env.str("SANDBOX_API_KEY", default="sandbox-key")
MEETINGBAAS_API_KEY = env.str("MEETINGBAAS_API_KEY", default="")
USE_SANDBOX = env.bool("USE_SANDBOX", default=DEBUG and not MEETINGBAAS_API_KEY)
if USE_SANDBOX:
    # Never a real key sent to the sandbox.
    MEETINGBAAS_API_KEY = SANDBOX_API_KEY
elif not MEETINGBAAS_API_KEY:
    _problems.append("MEETINGBAAS_API_KEY is not set")
MEETINGBAAS_BASE_URL = env.str(
    "MEETINGBAAS_BASE_URL",
    default=f"http://127.0.0.1:{SANDBOX_PORT}" if USE_SANDBOX else "https://api.meetingbaas.com",
)
MEETINGBAAS_API_VERSION = env.str("MEETINGBAAS_API_VERSION", default="v2")
if MEETINGBAAS_API_VERSION not in ("v1", "v2"):
    _problems.append(f"MEETINGBAAS_API_VERSION is {MEETINGBAAS_API_VERSION!r}, not 'v2' or 'v1'")
MEETINGBAAS_CONNECT_TIMEOUT = env.float("MEETINGBAAS_CONNECT_TIMEOUT", default=3.05)
MEETINGBAAS_TIMEOUT = env.float("MEETINGBAAS_TIMEOUT", default=10.0)
MEETINGBAAS_MAX_RETRIES = env.int("MEETINGBAAS_MAX_RETRIES", default=3)
MEETINGBAAS_MAX_RETRY_WAIT = env.float("MEETINGBAAS_MAX_RETRY_WAIT", default=5.0)
# The first retry's wait; each next one waits twice as long (up to MEETINGBAAS_MAX_RETRY_WAIT).
MEETINGBAAS_RETRY_BACKOFF = env.float("MEETINGBAAS_RETRY_BACKOFF", default=0.5)
# Write calls per second per process: the team's limit divided by the processes that call.
MEETINGBAAS_WRITE_RATE = env.float("MEETINGBAAS_WRITE_RATE", default=5.0)
# After this many calls in a row get no answer (or a 5xx), from any process, Meeting BaaS is
# taken as unreachable: one probe call per MEETINGBAAS_OUTAGE_PROBE_SECONDS until it answers
# (calendars/outage/). 0 switches the breaker off.
MEETINGBAAS_OUTAGE_FAILURES = env.int("MEETINGBAAS_OUTAGE_FAILURES", default=5)
MEETINGBAAS_OUTAGE_PROBE_SECONDS = env.float("MEETINGBAAS_OUTAGE_PROBE_SECONDS", default=30.0)
if MEETINGBAAS_OUTAGE_FAILURES < 0 or MEETINGBAAS_OUTAGE_PROBE_SECONDS <= 0:
    _problems.append(
        "MEETINGBAAS_OUTAGE_FAILURES must be 0 or more and "
        "MEETINGBAAS_OUTAGE_PROBE_SECONDS more than 0"
    )
# The plan's limits (Meeting BaaS' plans: 75, 300, 1,000 or 3,000 bots a day; 2, 10, 100 or
# 1,000+ calendar connections). Unset (0): no cap is known, and the pages say so instead of
# warning; Meeting BaaS still refuses past its own (HTTP 429).
MEETINGBAAS_BOTS_PER_DAY = env.int("MEETINGBAAS_BOTS_PER_DAY", default=0)
MEETINGBAAS_MAX_CALENDARS = env.int("MEETINGBAAS_MAX_CALENDARS", default=0)
if MEETINGBAAS_BOTS_PER_DAY < 0 or MEETINGBAAS_MAX_CALENDARS < 0:
    _problems.append("MEETINGBAAS_BOTS_PER_DAY and MEETINGBAAS_MAX_CALENDARS must be 0 or more")

# Svix endpoint secrets (whsec_...) for v2 webhooks; several during a rotation.
SANDBOX_WEBHOOK_SECRET = env.str(
    "SANDBOX_WEBHOOK_SECRET", default="whsec_c2FuZGJveC13ZWJob29rLXNlY3JldC1ub3QtcmVhbA=="
)
MEETINGBAAS_WEBHOOK_SECRET = env.list("MEETINGBAAS_WEBHOOK_SECRET", default=[])
# The default secret is public (it is in this file): only a debug run takes it unasked.
if USE_SANDBOX and DEBUG and not MEETINGBAAS_WEBHOOK_SECRET:
    MEETINGBAAS_WEBHOOK_SECRET = [SANDBOX_WEBHOOK_SECRET]
WEBHOOK_MAX_BODY_BYTES = env.int("WEBHOOK_MAX_BODY_BYTES", default=1_000_000)
# Which API versions' webhooks the receiver takes; a version switched off is answered 403.
# v1 deliveries carry only the API key, so they are taken by default only when new
# integrations are made with v1 (set it true while v1 integrations remain after a move to v2).
MEETINGBAAS_WEBHOOKS_V2 = env.bool("MEETINGBAAS_WEBHOOKS_V2", default=True)
MEETINGBAAS_WEBHOOKS_V1 = env.bool(
    "MEETINGBAAS_WEBHOOKS_V1", default=MEETINGBAAS_API_VERSION == "v1"
)
# A remote time (API answer or webhook) further ahead than this is taken as now.
MEETINGBAAS_CLOCK_SKEW_SECONDS = env.int("MEETINGBAAS_CLOCK_SKEW_SECONDS", default=300)
if MEETINGBAAS_CLOCK_SKEW_SECONDS < 0:
    _problems.append(
        f"MEETINGBAAS_CLOCK_SKEW_SECONDS is {MEETINGBAAS_CLOCK_SKEW_SECONDS}, not 0 or more"
    )

STATUS_REFRESH_MINUTES = env.int("STATUS_REFRESH_MINUTES", default=10)
# How this process names itself in heartbeats and bulk-job records (one name per host).
NODE_NAME = env.str("NODE_NAME", default=socket.gethostname())
STUCK_SYNCING_MINUTES = env.int("STUCK_SYNCING_MINUTES", default=30)
# The hourly check renews (v2) push subscriptions lapsing within this many hours.
SUBSCRIPTION_RENEW_HOURS = env.int("SUBSCRIPTION_RENEW_HOURS", default=24)
# Every V1_HEALTH_MINUTES (0: never) one POST /calendars/resync_all finds the v1 calendars
# Meeting BaaS can no longer sync (v1 carries no status; only that answer names them). Its cost:
# it asks Meeting BaaS to resync every v1 calendar of the team with its provider, each time.
# It runs only while v1 integrations exist.
V1_HEALTH_MINUTES = env.int("V1_HEALTH_MINUTES", default=60)
# Grants, client secrets and push subscriptions breaking within this many days are listed as
# "Expiring soon" on the dashboard.
EXPIRY_WARNING_DAYS = env.int("EXPIRY_WARNING_DAYS", default=7)
if EXPIRY_WARNING_DAYS < 0:
    _problems.append(f"EXPIRY_WARNING_DAYS is {EXPIRY_WARNING_DAYS}, not 0 or more")

# --- Meetings and bots (issue 16) ----------------------------------------------------------
# The portal mirrors each active integration's meetings from a day behind to this many days
# ahead, re-listing every calendar's window every MEETINGS_SYNC_MINUTES (spread over them).
MEETINGS_WINDOW_DAYS = env.int("MEETINGS_WINDOW_DAYS", default=14)
MEETINGS_SYNC_MINUTES = env.int("MEETINGS_SYNC_MINUTES", default=30)
# Past meetings (with their outcomes) are kept this many days after they began, then pruned.
MEETINGS_HISTORY_DAYS = env.int("MEETINGS_HISTORY_DAYS", default=90)
# "Meetings at risk" looks this far ahead; a calendar Meeting BaaS last synced longer ago than
# MEETINGS_SYNC_STALE_HOURS puts its meetings at risk.
AT_RISK_HOURS = env.int("AT_RISK_HOURS", default=24)
MEETINGS_SYNC_STALE_HOURS = env.int("MEETINGS_SYNC_STALE_HOURS", default=6)
# The hosts a bot's callback URL may name (exactly; HTTPS only). Empty: no callbacks, so no
# one can have a customer's recordings sent where an admin did not allow.
BOT_CALLBACK_HOSTS = frozenset(h.lower() for h in env.list("BOT_CALLBACK_HOSTS", default=[]))
if (
    min(
        MEETINGS_WINDOW_DAYS,
        MEETINGS_SYNC_MINUTES,
        AT_RISK_HOURS,
        MEETINGS_SYNC_STALE_HOURS,
        MEETINGS_HISTORY_DAYS,
    )
    < 1
):
    _problems.append(
        "MEETINGS_WINDOW_DAYS, MEETINGS_SYNC_MINUTES, AT_RISK_HOURS, MEETINGS_SYNC_STALE_HOURS "
        "and MEETINGS_HISTORY_DAYS must each be 1 or more"
    )

# --- Consent links ------------------------------------------------------------------------
# Customers grant calendar access through a link (calendars/consent/). The provider sends the
# person back to PORTAL_PUBLIC_URL + /connect/callback/, which must be registered as a redirect
# URI of each OAuth app; it is never taken from the request. A debug run's default names this
# machine at the port the portal binds to (PORT, read by scripts/dev and portal/gunicorn.py):
# the admin warns that customers elsewhere cannot open such links.
_port = env.str("PORT", default="8000")
PORTAL_PUBLIC_URL = env.str(
    "PORTAL_PUBLIC_URL", default=f"http://127.0.0.1:{_port}" if DEBUG else ""
).rstrip("/")
PORTAL_COMPANY_NAME = env.str("PORTAL_COMPANY_NAME", default="Our company")
# Where the customer's person writes with a question (shown on the consent pages and e-mails).
PORTAL_CONTACT_EMAIL = env.str("PORTAL_CONTACT_EMAIL", default="").strip()
try:
    if PORTAL_CONTACT_EMAIL:
        validate_email(PORTAL_CONTACT_EMAIL)
except ValidationError:
    _problems.append(f"PORTAL_CONTACT_EMAIL ({PORTAL_CONTACT_EMAIL!r}) is not an e-mail address")
# Where the owners' replies to re-consent outreach go (its Reply-To); PORTAL_CONTACT_EMAIL's.
PORTAL_SUPPORT_EMAIL = env.str("PORTAL_SUPPORT_EMAIL", default=PORTAL_CONTACT_EMAIL).strip()
try:
    if PORTAL_SUPPORT_EMAIL:
        validate_email(PORTAL_SUPPORT_EMAIL)
except ValidationError:
    _problems.append(f"PORTAL_SUPPORT_EMAIL ({PORTAL_SUPPORT_EMAIL!r}) is not an e-mail address")
# Automatic re-consent outreach (calendars/consent/outreach.py): reminders this many days after
# the first e-mail, then the credential goes back to support a day after the last; at most so
# many e-mails to one customer's people in 24 hours.
OUTREACH_REMINDER_DAYS = sorted(env.list("OUTREACH_REMINDER_DAYS", cast=int, default=[1, 3, 6]))
OUTREACH_MAX_PER_CUSTOMER_DAY = env.int("OUTREACH_MAX_PER_CUSTOMER_DAY", default=20)
if any(day < 1 for day in OUTREACH_REMINDER_DAYS) or OUTREACH_MAX_PER_CUSTOMER_DAY < 1:
    _problems.append("OUTREACH_REMINDER_DAYS and OUTREACH_MAX_PER_CUSTOMER_DAY must be 1 or more")
# Support told what broke (calendars/notify/): e-mail addresses and/or a Slack- or
# Teams-compatible incoming webhook; neither set, nothing is sent. The webhook's URL is a
# secret (it lets anyone post): it is never shown or logged.
SUPPORT_NOTIFY_EMAIL = env.list("SUPPORT_NOTIFY_EMAIL", default=[])
SUPPORT_NOTIFY_WEBHOOK_URL = env.str("SUPPORT_NOTIFY_WEBHOOK_URL", default="")
WEBHOOK_SILENCE_MINUTES = env.int("WEBHOOK_SILENCE_MINUTES", default=60)
if WEBHOOK_SILENCE_MINUTES < 1:
    _problems.append(f"WEBHOOK_SILENCE_MINUTES is {WEBHOOK_SILENCE_MINUTES}, not 1 or more")
CONSENT_LINK_DAYS = env.int("CONSENT_LINK_DAYS", default=7)
if CONSENT_LINK_DAYS < 1:
    _problems.append(f"CONSENT_LINK_DAYS is {CONSENT_LINK_DAYS}, not 1 or more")
# Seconds to wait for the providers' token and user endpoints.
OAUTH_TIMEOUT = env.float("OAUTH_TIMEOUT", default=10.0)
# The providers' endpoints; with the sandbox, its fake Google and Microsoft. Microsoft's carry
# the OAuth app's tenant in place of {tenant}.
_oauth = f"http://127.0.0.1:{SANDBOX_PORT}/oauth" if USE_SANDBOX else None
GOOGLE_OAUTH_AUTHORIZE_URL = env.str(
    "GOOGLE_OAUTH_AUTHORIZE_URL",
    default=f"{_oauth}/google/authorize"
    if _oauth
    else "https://accounts.google.com/o/oauth2/v2/auth",
)
GOOGLE_OAUTH_TOKEN_URL = env.str(
    "GOOGLE_OAUTH_TOKEN_URL",
    default=f"{_oauth}/google/token" if _oauth else "https://oauth2.googleapis.com/token",
)
GOOGLE_OAUTH_USERINFO_URL = env.str(
    "GOOGLE_OAUTH_USERINFO_URL",
    default=f"{_oauth}/google/userinfo"
    if _oauth
    else "https://openidconnect.googleapis.com/v1/userinfo",
)
# The keys that sign each provider's ID tokens (JSON Web Key Sets), which prove who granted.
GOOGLE_OAUTH_JWKS_URL = env.str(
    "GOOGLE_OAUTH_JWKS_URL",
    default=f"{_oauth}/google/certs" if _oauth else "https://www.googleapis.com/oauth2/v3/certs",
)
_microsoft = f"{_oauth}/microsoft" if _oauth else "https://login.microsoftonline.com"
MICROSOFT_OAUTH_AUTHORIZE_URL = env.str(
    "MICROSOFT_OAUTH_AUTHORIZE_URL", default=f"{_microsoft}/{{tenant}}/oauth2/v2.0/authorize"
)
MICROSOFT_OAUTH_TOKEN_URL = env.str(
    "MICROSOFT_OAUTH_TOKEN_URL", default=f"{_microsoft}/{{tenant}}/oauth2/v2.0/token"
)
MICROSOFT_OAUTH_JWKS_URL = env.str(
    "MICROSOFT_OAUTH_JWKS_URL", default=f"{_microsoft}/{{tenant}}/discovery/v2.0/keys"
)
# Where a customer's IT administrator approves the app for their whole organisation (a tenant
# whose policy lets no user consent alone).
MICROSOFT_OAUTH_ADMIN_CONSENT_URL = env.str(
    "MICROSOFT_OAUTH_ADMIN_CONSENT_URL", default=f"{_microsoft}/{{tenant}}/v2.0/adminconsent"
)
# Microsoft's OpenID Connect userinfo answers with the e-mail for the openid and email scopes
# alone (Graph's /me would need User.Read too); the sandbox answers like /me.
MICROSOFT_OAUTH_USERINFO_URL = env.str(
    "MICROSOFT_OAUTH_USERINFO_URL",
    default=f"{_oauth}/microsoft/v1.0/me"
    if _oauth
    else "https://graph.microsoft.com/oidc/userinfo",
)
# Links can be sent by e-mail: printed on the console in the embedded default, SMTP in
# production (EMAIL_URL, e.g. smtp+tls://user:password@mail.example.com:587). Without it in
# production there is no mailer, and the portal offers links to copy only.
_email_url = env.str("EMAIL_URL", default="consolemail://" if DEBUG else "")
_email = environ.Env.email_url_config(_email_url) if _email_url else {}
_smtp = {
    "host": _email.get("EMAIL_HOST"),
    "port": _email.get("EMAIL_PORT"),
    "username": _email.get("EMAIL_HOST_USER"),
    "password": _email.get("EMAIL_HOST_PASSWORD"),
    "use_tls": _email.get("EMAIL_USE_TLS", False),
    "use_ssl": _email.get("EMAIL_USE_SSL", False),
    "timeout": env.float("EMAIL_TIMEOUT", default=10.0),
}
MAILERS = (
    {
        "default": {
            "BACKEND": _email["EMAIL_BACKEND"],
            "OPTIONS": _smtp if _email["EMAIL_BACKEND"].endswith("smtp.EmailBackend") else {},
        }
    }
    if _email.get("EMAIL_BACKEND")
    else {}
)
if not MAILERS:
    # Deliberate: without EMAIL_URL the portal sends no e-mail (consent links are copied by hand).
    SILENCED_SYSTEM_CHECKS = ["mail.W001"]
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="portal@localhost")

# --- django-q2 ----------------------------------------------------------------------------
# A bulk job's task works this long, then queues the rest: well inside Q_TIMEOUT.
BULK_TASK_SECONDS = env.int("BULK_TASK_SECONDS", default=60)
# Tasks working on one bulk job side by side, on any cluster (each holds a worker while it
# runs). One leaves the default single cluster a worker free for webhooks and refreshes.
BULK_LANES = env.int("BULK_LANES", default=1)
# --- Fix checks (issue 14, s1) ---
# A bulk fix's item counts as fixed only when its integration reaches the status the fix aims
# at; Meeting BaaS needs a moment, so the item is refreshed every FIX_CHECK_INTERVAL_SECONDS
# for up to FIX_CHECK_SECONDS (at most half of BULK_TASK_SECONDS) before it is "did not fix".
FIX_CHECK_SECONDS = env.float("FIX_CHECK_SECONDS", default=5.0)
FIX_CHECK_INTERVAL_SECONDS = env.float("FIX_CHECK_INTERVAL_SECONDS", default=1.0)
if FIX_CHECK_SECONDS < 0 or FIX_CHECK_INTERVAL_SECONDS <= 0:
    _problems.append(
        f"FIX_CHECK_SECONDS ({FIX_CHECK_SECONDS}) must be 0 or more and "
        f"FIX_CHECK_INTERVAL_SECONDS ({FIX_CHECK_INTERVAL_SECONDS}) more than 0"
    )
# --- end of fix checks ---
# timeout must stay well below retry, or a slow task is delivered again while it still runs.
_workers = env.int("Q_WORKERS", default=2)
Q_CLUSTER = {
    "name": env.str("Q_CLUSTER_NAME", default="portal"),
    "workers": _workers,
    "timeout": env.int("Q_TIMEOUT", default=120),
    "retry": env.int("Q_RETRY", default=300),
    "max_attempts": 3,
    "catch_up": False,
    "save_limit": 1000,
    "ack_failures": True,
    # Take no more tasks than the workers can start: with Redis, a task a cluster has taken
    # but not started dies with it.
    "queue_limit": _workers,
}
if not 0 < BULK_TASK_SECONDS < Q_CLUSTER["timeout"] < Q_CLUSTER["retry"]:
    _problems.append(
        f"BULK_TASK_SECONDS ({BULK_TASK_SECONDS}) < Q_TIMEOUT ({Q_CLUSTER['timeout']}) "
        f"< Q_RETRY ({Q_CLUSTER['retry']}) does not hold"
    )
if DATABASE_RETRY_SECONDS < 0:
    _problems.append(f"DATABASE_RETRY_SECONDS is {DATABASE_RETRY_SECONDS}, not 0 or more")
if BULK_LANES < 1:
    _problems.append(f"BULK_LANES is {BULK_LANES}, not 1 or more")
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"

# JSON lines in production (LOG_FORMAT=json), readable lines on a developer's machine; every
# line carries the request id, which follows a request into the tasks it queues.
LOG_FORMAT = env.str("LOG_FORMAT", default="plain" if DEBUG else "json")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "request_id": {"()": "calendars.lib.request_ids.RequestIdFilter"},
        "redact": {"()": "calendars.lib.log_redaction.RedactingFilter"},
    },
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s [%(request_id)s] %(name)s %(message)s"},
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": ["asctime", "levelname", "name", "message", "request_id"],
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
            # Django's request lines carry the request, whose text is its path (a consent
            # link's token): the message names the path, redacted.
            "reserved_attrs": [*RESERVED_ATTRS, "request"],
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["request_id", "redact"],
        }
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    # Django's loggers and the development server's request lines reach the root's handler,
    # and so its redaction: Django's own handlers for them (on with DEBUG) write paths, consent
    # tokens included, as they came.
    "loggers": {
        name: {"handlers": [], "level": "INFO", "propagate": True}
        for name in ("django", "django.server")
    },
}

if _problems:
    raise ImproperlyConfigured(
        "The portal cannot start: "
        + "; ".join(_problems)
        + ". See README.md, Configuration. Generate an encryption key with: "
        'python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"'
    )
