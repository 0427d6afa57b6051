"""Django settings: one file, every deployment difference comes from the environment.

CREDITPLAN_DATABASE_URL  sqlite:///path or postgresql://user:pass@host:port/db (default: SQLite in ./var)
CREDITPLAN_SECRET_KEY    Django secret (a fixed development key is used when absent and DEBUG is on)
CREDITPLAN_PII_KEY       urlsafe base64 32-byte key(s) for encrypting ID and phone numbers; comma-separated,
                         newest first, to rotate keys. Derived from the secret key in development.
CREDITPLAN_DEBUG         1/0
CREDITPLAN_DATA_DIR      where the public credit data sets live (default ../shared/data)
CREDITPLAN_DOCUMENT_DIR  where uploaded documents are stored, encrypted (default var/documents)
"""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent
VAR_DIR = Path(os.environ.get("CREDITPLAN_VAR_DIR", Path.cwd() / "var"))

DEBUG = os.environ.get("CREDITPLAN_DEBUG", "1") == "1"
SECRET_KEY = os.environ.get("CREDITPLAN_SECRET_KEY") or (
    "dev-insecure-creditplan-key-change-me-in-production-0123456789" if DEBUG else ""
)
if not SECRET_KEY:
    raise RuntimeError("CREDITPLAN_SECRET_KEY must be set when CREDITPLAN_DEBUG=0")
PII_KEYS = [k.strip() for k in os.environ.get("CREDITPLAN_PII_KEY", "").split(",") if k.strip()]
DATA_DIR = Path(os.environ.get("CREDITPLAN_DATA_DIR", Path.cwd().parent / "shared" / "data"))
# application documents (encrypted, content-addressed), beside the SQLite database by default
DOCUMENT_DIR = Path(os.environ.get("CREDITPLAN_DOCUMENT_DIR", VAR_DIR / "documents"))
DOCUMENT_MAX_BYTES = int(os.environ.get("CREDITPLAN_DOCUMENT_MAX_BYTES", 10 * 1024 * 1024))

ALLOWED_HOSTS = [h for h in os.environ.get("CREDITPLAN_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver").split(",") if h]
CSRF_TRUSTED_ORIGINS = [o for o in os.environ.get("CREDITPLAN_CSRF_ORIGINS", "").split(",") if o]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "creditplan.org",
    "creditplan.customers",
    "creditplan.ledger",
    "creditplan.scoring",
    "creditplan.plans",
    "creditplan.loans",
    "creditplan.decisions",
    "creditplan.origination",
    "creditplan.documents",
    "creditplan.integration",
    "creditplan.web",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
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


def _database(url: str) -> dict:
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
WHITENOISE_AUTOREFRESH = DEBUG

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("CREDITPLAN_LOG_LEVEL", "WARNING")},
}
FORMAT_MODULE_PATH = ["creditplan.web.formats"]
