"""Django settings: one file, every deployment difference comes from the environment.

CREDITPLAN_DATABASE_URL  sqlite:///path or postgresql://user:pass@host:port/db (default: SQLite in ./var)
CREDITPLAN_DEVELOPMENT   1 on a developer's machine and in the demo: keys not configured are made once, at random,
                         and kept in var/development-keys.json (mode 0600); the deploy checks stay quiet about them
CREDITPLAN_SECRET_KEY    Django secret; required outside development mode
CREDITPLAN_PII_KEY       urlsafe base64 32-byte key(s) encrypting ID and phone numbers and documents;
                         comma-separated, newest first, to rotate keys. Required outside development mode
CREDITPLAN_LEDGER_SIGNING_KEY  base64 raw Ed25519 key signing tree heads; required outside development mode
CREDITPLAN_DEBUG         1 shows Django's debug pages (default 0; never on a server)
CREDITPLAN_HTTPS         1 when served over HTTPS: secure cookies, redirect to https, HSTS
CREDITPLAN_BEHIND_PROXY  1 behind a reverse proxy that sets X-Forwarded-Proto and X-Forwarded-For
CREDITPLAN_DATA_DIR      where the public credit data sets live (default ../shared/data)
CREDITPLAN_DOCUMENT_DIR  where uploaded documents are stored, encrypted (default var/documents)
CREDITPLAN_RISK_DIR      where risk monitoring keeps the book's daily snapshots (default var/risk)
CREDITPLAN_RISK_AFTER_CLOSE  indicators (default) | snapshot | off: what risk monitoring does after each close
CREDITPLAN_BACKDATE_DAYS  days a payment may be back-dated without the back-dating authority (default 3)

Nothing here refuses to load: `creditplan check --deploy` reports what is missing or unsafe, and `creditplan
serve` and the WSGI application refuse to start without the keys (creditplan.web.checks).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import dj_database_url

from creditplan.core.crypto import development_keys

BASE_DIR = Path(__file__).resolve().parent
VAR_DIR = Path(os.environ.get("CREDITPLAN_VAR_DIR", Path.cwd() / "var"))


def _flag(name: str, default: str = "0") -> bool:
    return os.environ.get(name, default).strip().lower() in ("1", "true", "yes", "on")


def _keys(environ: Mapping[str, str], development: bool, key_file: Path) -> dict[str, Any]:
    """SECRET_KEY, PII_KEYS and LEDGER_SIGNING_KEY from the environment; in development mode the ones not
    configured come from the machine's development key file (made on first use). Outside development a key
    not configured stays empty: nothing is ever derived from a string in the repository."""
    secret = environ.get("CREDITPLAN_SECRET_KEY", "").strip()
    pii = [k.strip() for k in environ.get("CREDITPLAN_PII_KEY", "").split(",") if k.strip()]
    signing = environ.get("CREDITPLAN_LEDGER_SIGNING_KEY", "").strip()
    if development and not (secret and pii and signing):
        generated = development_keys(key_file)
        secret = secret or generated["secret_key"]
        pii = pii or [generated["pii_key"]]
        signing = signing or generated["ledger_signing_key"]
    return {"SECRET_KEY": secret, "PII_KEYS": pii, "LEDGER_SIGNING_KEY": signing}


# Development mode: a developer's machine or the demo (`make demo` turns it on). It is not DEBUG: the demo shows
# no debug pages. Other modules read it as getattr(settings, "DEVELOPMENT", False).
DEVELOPMENT = _flag("CREDITPLAN_DEVELOPMENT")
DEBUG = _flag("CREDITPLAN_DEBUG")
DEVELOPMENT_KEY_FILE = Path(os.environ.get("CREDITPLAN_DEVELOPMENT_KEY_FILE", VAR_DIR / "development-keys.json"))
_configured_keys = _keys(os.environ, DEVELOPMENT, DEVELOPMENT_KEY_FILE)
SECRET_KEY: str = _configured_keys["SECRET_KEY"]  # empty when not configured: `creditplan serve` refuses to start
PII_KEYS: list[str] = _configured_keys["PII_KEYS"]
LEDGER_SIGNING_KEY: str = _configured_keys["LEDGER_SIGNING_KEY"]
DATA_DIR = Path(os.environ.get("CREDITPLAN_DATA_DIR", Path.cwd().parent / "shared" / "data"))
# application documents (encrypted, content-addressed), beside the SQLite database by default
DOCUMENT_DIR = Path(os.environ.get("CREDITPLAN_DOCUMENT_DIR", VAR_DIR / "documents"))
DOCUMENT_MAX_BYTES = int(os.environ.get("CREDITPLAN_DOCUMENT_MAX_BYTES", 10 * 1024 * 1024))
# risk monitoring (docs/risk.md, "Running the indicators"): the book's daily snapshots are kept as Parquet files under
# RISK_DIR/snapshots/<date>/; after each date's close the snapshot is taken and the indicators computed
# ("indicators"), the snapshot only ("snapshot"), or nothing ("off")
RISK_DIR = Path(os.environ.get("CREDITPLAN_RISK_DIR", VAR_DIR / "risk"))
RISK_AFTER_CLOSE = os.environ.get("CREDITPLAN_RISK_AFTER_CLOSE", "indicators").strip().lower()
# expected credit loss (docs/ecl.md): loan-months out of a state before the observed transition matrix shapes PD curves
RISK_ECL_MIN_TRANSITIONS = int(os.environ.get("CREDITPLAN_RISK_ECL_MIN_TRANSITIONS", "1000"))
# loans (docs/loans.md, issue 18): a payment's value date more than this many days back needs loan.backdate
BACKDATE_DAYS = int(os.environ.get("CREDITPLAN_BACKDATE_DAYS", "3"))

# Request bodies are capped before they are read (creditplan.web.middleware.RequestSizeLimitMiddleware): an upload
# (multipart) may carry a document plus the form around it, any other request what Django itself would accept.
DATA_UPLOAD_MAX_MEMORY_SIZE = int(os.environ.get("CREDITPLAN_REQUEST_MAX_BYTES", 2_621_440))
UPLOAD_REQUEST_MAX_BYTES = DOCUMENT_MAX_BYTES + 1024 * 1024
# paths with a larger limit of their own (prefix → bytes): bank files may be 64 MiB
REQUEST_MAX_BYTES_BY_PATH = {"/api/v1/loans/bank-files": 65 * 1024 * 1024}

ALLOWED_HOSTS = [h for h in os.environ.get("CREDITPLAN_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver").split(",") if h]
CSRF_TRUSTED_ORIGINS = [o for o in os.environ.get("CREDITPLAN_CSRF_ORIGINS", "").split(",") if o]
CSRF_FAILURE_VIEW = "creditplan.web.error_views.csrf_failure"  # an expired form said in the reader's language

# HTTPS (CREDITPLAN_HTTPS=1 on a server reached over https): cookies only over TLS, plain http redirected (except
# the health probe), and HSTS, one year with sub-domains and preload unless told otherwise.
HTTPS = _flag("CREDITPLAN_HTTPS")
if HTTPS:
    SECURE_SSL_REDIRECT = True
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
    SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = int(os.environ.get("CREDITPLAN_HSTS_SECONDS", 365 * 24 * 3600))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = _flag("CREDITPLAN_HSTS_INCLUDE_SUBDOMAINS", "1")
    SECURE_HSTS_PRELOAD = _flag("CREDITPLAN_HSTS_PRELOAD", "1")
# Behind a reverse proxy that terminates TLS: trust its X-Forwarded-Proto (https) and the address it appends to
# X-Forwarded-For (log-in throttling counts attempts per client address). Never set it without such a proxy.
BEHIND_PROXY = _flag("CREDITPLAN_BEHIND_PROXY")
if BEHIND_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "ninja",  # the API docs' Swagger UI from the package's static files, not a CDN (/api/v1/docs offline)
    "creditplan.common",
    "creditplan.org",
    "creditplan.customers",
    "creditplan.ledger",
    "creditplan.scoring",
    "creditplan.plans",
    "creditplan.lines",
    "creditplan.loans",
    "creditplan.decisions",
    "creditplan.origination",
    "creditplan.documents",
    "creditplan.integration",
    "creditplan.risk",
    "creditplan.web",
]

MIDDLEWARE = [
    "creditplan.web.middleware.RequestSizeLimitMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "creditplan.org.middleware.PasswordChangeRequiredMiddleware",  # a temporary password opens only /org/password/
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "creditplan.web.middleware.ErrorPageMiddleware",
]

ROOT_URLCONF = "creditplan.urls"
WSGI_APPLICATION = "creditplan.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "creditplan.web.context.navigation",
            ],
        },
    }
]


def _database(url: str) -> dj_database_url.DBConfig:
    config = dj_database_url.parse(url, conn_max_age=60)
    if config["ENGINE"].endswith("sqlite3"):
        if config["NAME"] and config["NAME"] != ":memory:":
            Path(config["NAME"]).parent.mkdir(parents=True, exist_ok=True)
        # WAL lets readers run beside the one writer; IMMEDIATE takes the write lock at BEGIN so two
        # writers queue on busy_timeout instead of failing with "database is locked" mid-transaction.
        config["OPTIONS"] = {
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 30,
        }
        config["CONN_MAX_AGE"] = 0
    else:
        config["CONN_HEALTH_CHECKS"] = True
        # Server-side parameter binding lets psycopg prepare the statements a decision runs every time (after
        # five uses), so PostgreSQL stops re-planning them: the hot paths are a handful of fixed statements.
        # Django leaves psycopg's prepared statements off unless prepare_threshold is set (for connection poolers
        # in transaction mode): CREDITPLAN_DB_PREPARE_THRESHOLD=off behind such a pooler.
        threshold = os.environ.get("CREDITPLAN_DB_PREPARE_THRESHOLD", "5").strip().lower()
        config.setdefault("OPTIONS", {})["server_side_binding"] = True
        config["OPTIONS"]["prepare_threshold"] = None if threshold in ("", "off", "none") else int(threshold)
    config["ATOMIC_REQUESTS"] = False
    return config


_default_db = f"sqlite:///{VAR_DIR / 'creditplan.sqlite3'}"
DATABASES = {"default": _database(os.environ.get("CREDITPLAN_DATABASE_URL", _default_db))}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "org.User"
LOGIN_URL = "web:login"
LOGIN_REDIRECT_URL = "web:home"
LOGOUT_REDIRECT_URL = "web:login"
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 8}},
]
SESSION_COOKIE_AGE = int(os.environ.get("CREDITPLAN_SESSION_SECONDS", 8 * 3600))
API_TOKEN_HOURS = int(os.environ.get("CREDITPLAN_API_TOKEN_HOURS", 12))
# Log-in throttling (org/throttle.py, pages and POST /api/v1/auth/token alike): after `free` failed log-ins in a
# row for one user name (from anywhere) or from one address (for any name), each further failure locks that name
# or address for `base_seconds`, doubled each time, at most `max_seconds`; a success clears the user's count and
# `window_seconds` without a failure clears either. Checked before the password is, so a refused try costs nothing.
LOGIN_THROTTLE = {
    "user": {"free": 5, "base_seconds": 2, "max_seconds": 15 * 60, "window_seconds": 24 * 3600},
    "address": {"free": 20, "base_seconds": 2, "max_seconds": 15 * 60, "window_seconds": 3600},
}

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "web" / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG or DEVELOPMENT  # production: static files collected once (collectstatic)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("CREDITPLAN_LOG_LEVEL", "WARNING")},
}
FORMAT_MODULE_PATH = ["creditplan.web.formats"]
