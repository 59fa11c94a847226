"""Tollgate settings, read from the environment (see README for every variable)."""

import warnings
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

from accounts.sso import sso_providers_from_env

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()

DEBUG = env.bool("DJANGO_DEBUG", default=False)

SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY must be set when DJANGO_DEBUG is off. "
            "Generate one with: python -c 'import secrets; print(secrets.token_urlsafe(50))'"
        )
    SECRET_KEY = "django-insecure-dev-only-key-do-not-use-in-production"

# Local addresses always work, so `DJANGO_DEBUG=0 make run` still serves on localhost.
ALLOWED_HOSTS = ["localhost", "127.0.0.1", "[::1]", *env.list("DJANGO_ALLOWED_HOSTS", default=[])]
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])
CSRF_FAILURE_VIEW = "portal.views.csrf_failure"  # a styled page in the reader's language

# Switched on only for deployments behind TLS; plain http on localhost must keep working.
if env.bool("DJANGO_HTTPS", default=False):
    SECURE_SSL_REDIRECT = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = env.int("DJANGO_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.humanize",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "channels",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "allauth.socialaccount",
    "allauth.socialaccount.providers.openid_connect",
    "allauth.socialaccount.providers.github",
    "allauth.socialaccount.providers.google",
    "keys",
    "accounts",
    "teams",
    "usage",
    "requestlog",
    "apigateway",
    "gateway",
    "webhooks",
    "chat",
    "portal",  # its management commands (model_source for `make run`'s banner) and the cache table's hook
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "portal.middleware.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "portal.middleware.AuditContextMiddleware",
    "portal.middleware.StaffTwoFactorMiddleware",
    "portal.middleware.SecurityHeadersMiddleware",
]

ROOT_URLCONF = "portal.urls"
ASGI_APPLICATION = "portal.asgi.application"

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
                "django.template.context_processors.i18n",
                "portal.context_processors.site",
            ],
        },
    },
]


def _database(url: str) -> dict:
    scheme = url.split("://", 1)[0] if "://" in url else ""
    if scheme not in environ.Env.DB_SCHEMES:
        raise ImproperlyConfigured(
            f"DATABASE_URL must look like postgres://user@host:5432/name or sqlite:////path/db.sqlite3; "
            f"got scheme {scheme or '(none)'!r}"
        )
    try:
        config = environ.Env.db_url_config(url)
    except Exception as exc:  # the library raises several types; users need one clear message
        raise ImproperlyConfigured(f"DATABASE_URL is not a valid database URL ({exc})") from exc
    if config["ENGINE"] == "django.db.backends.sqlite3":
        # WAL lets the gateway's writes and page reads overlap; IMMEDIATE avoids lock upgrades.
        config["OPTIONS"] = {
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
        }
        # A file (not :memory:) so that live servers started by the tests share it.
        config["TEST"] = {"NAME": str(BASE_DIR / ".test-db.sqlite3")}
    # A connection kept from before a database restart is checked before use, not failed on: no
    # spurious error once the database is back.
    config["CONN_HEALTH_CHECKS"] = True
    return config


DATABASES = {"default": _database(env.str("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"))}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"


def redis_channel_layer(url: str) -> dict:
    """The channel layer on Redis at `url`, with reads that outlast its blocking pop."""
    # channels_redis waits on BZPOPMIN for 5 s, and redis-py 8 times a read out after 5 s by default:
    # with the defaults, every idle consumer's receive raised and its socket closed with 1011.
    host = {
        "address": url,
        "socket_timeout": 30,
        "socket_connect_timeout": 5,
        "socket_keepalive": True,
        # A pooled connection idle past this is pinged before use, so one Redis restart costs no error.
        "health_check_interval": 15,
    }
    return {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": [host]}}


REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
    CHANNEL_LAYERS = {"default": redis_channel_layer(REDIS_URL)}
else:
    # allauth keeps log-in limits and used TOTP codes in the default cache: in the database, every
    # process shares them (a local-memory cache let 4 workers take 4 times the failed log-ins).
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "tollgate_cache",
            "OPTIONS": {"MAX_ENTRIES": 100_000},
        }
    }
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]

LANGUAGE_CODE = "en"
# Pages follow Accept-Language or the switch in the header (/i18n/setlang/); the API's bodies stay English.
LANGUAGES = [("en", "English"), ("th", "ไทย")]
LOCALE_PATHS = [BASE_DIR / "locale"]
# Per-language date formats for the tables (English keeps 2026-11-24; Thai reads 24 พ.ย. 2026).
FORMAT_MODULE_PATH = ["portal.formats"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
# Serve straight from the source folders, so DJANGO_DEBUG=0 works without collectstatic.
WHITENOISE_USE_FINDERS = True
warnings.filterwarnings("ignore", message="No directory at")

LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "/"

# django-allauth
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_EMAIL_VERIFICATION = env.str("ACCOUNT_EMAIL_VERIFICATION", default="optional")
ACCOUNT_LOGOUT_ON_GET = False
ACCOUNT_SESSION_REMEMBER = True

# Two-factor (allauth.mfa at /accounts/2fa/): TOTP with recovery codes, opt-in for users.
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = "Tollgate"
# With REQUIRE_STAFF_MFA=1, staff must enrol in two-factor before they reach the admin.
REQUIRE_STAFF_MFA = env.bool("REQUIRE_STAFF_MFA", default=False)

# Single sign-on: providers from the environment (docs/configuration.md), or SocialApps in the admin.
SOCIALACCOUNT_PROVIDERS = sso_providers_from_env(env)
SOCIALACCOUNT_ADAPTER = "accounts.sso_adapter.SocialAccountAdapter"  # "false" from a provider is not verified
# A provider's verified address signs in to the local account holding it, and connects the two; an
# unverified one never does (allauth wipes the password of an account that had the address unverified).
SOCIALACCOUNT_EMAIL_AUTHENTICATION = True
SOCIALACCOUNT_EMAIL_AUTHENTICATION_AUTO_CONNECT = True
# A log-in with a provider starts only from a POST (the buttons are forms); no provider tokens are kept.
SOCIALACCOUNT_LOGIN_ON_GET = False
SOCIALACCOUNT_STORE_TOKENS = False

EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="tollgate@localhost")

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework.authentication.SessionAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PARSER_CLASSES": [
        "keys.parsers.SafeJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Tollgate API",
    "DESCRIPTION": "Plans and API keys for Tollgate's OpenAI-compatible gateway.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI served from this site, not a CDN: the docs work offline and behind strict firewalls.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# Tollgate
KEYS_BACKEND = env.str("KEYS_BACKEND", default="local")
LLM_BASE_URL = env.str("LLM_BASE_URL", default="")
LLM_API_KEY = env.str("LLM_API_KEY", default="")
LLM_MODEL = env.str("LLM_MODEL", default="")
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
# Traces of every call by OTLP/HTTP to <endpoint>/v1/traces; unset: nothing is traced.
OTEL_EXPORTER_OTLP_ENDPOINT = env.str("OTEL_EXPORTER_OTLP_ENDPOINT", default="")
OTEL_SERVICE_NAME = env.str("OTEL_SERVICE_NAME", default="tollgate")
# The one currency of prices, budgets and spend (a label: Tollgate never converts).
TOLLGATE_CURRENCY = env.str("TOLLGATE_CURRENCY", default="USD")
# Where each process spools what it has not yet written, for a live one to replay if it is killed.
TOLLGATE_SPOOL_DIR = env.str("TOLLGATE_SPOOL_DIR", default="")
PROMETHEUS_MULTIPROC_DIR = env.str("PROMETHEUS_MULTIPROC_DIR", default="")
LLM_TIMEOUT = env.float("LLM_TIMEOUT", default=120.0)
LLM_MAX_CONCURRENT = env.int("LLM_MAX_CONCURRENT", default=0)
# Largest request body for every route outside /v1 (which caps its own): 413 past it, read or not.
MAX_REQUEST_BODY = env.int("MAX_REQUEST_BODY", default=2_621_440)
# Upstream keys read from the environment must be in variables named with this prefix.
UPSTREAM_KEY_ENV_PREFIX = env.str("UPSTREAM_KEY_ENV_PREFIX", default="TOLLGATE_UPSTREAM_")
# Catalogue upstreams on loopback or private addresses (e.g. Ollama on this machine): on by default only in debug.
UPSTREAM_ALLOW_PRIVATE = env.bool("UPSTREAM_ALLOW_PRIVATE", default=DEBUG)
# How long each process keeps its copy of the model catalogue before reading it again.
GATEWAY_CATALOGUE_SECONDS = env.float("GATEWAY_CATALOGUE_SECONDS", default=2.0)
# The request log: days kept, and whether it stores the client's address.
REQUEST_LOG_DAYS = env.int("REQUEST_LOG_DAYS", default=30)
REQUEST_LOG_IP = env.bool("REQUEST_LOG_IP", default=True)
# Proxies (CIDRs) whose X-Forwarded-For is believed: only then is a client's address not the peer's.
TRUSTED_PROXIES = env.list("TRUSTED_PROXIES", default=[])
KEYS_PLAN_MODELS = "gateway.catalogue.plan_models"  # key scopes name only models a plan grants
# Webhooks: loopback and private addresses only when allowed (the default only in debug), and their timing.
WEBHOOK_ALLOW_PRIVATE = env.bool("WEBHOOK_ALLOW_PRIVATE", default=DEBUG)
WEBHOOK_TIMEOUT = env.float("WEBHOOK_TIMEOUT", default=5.0)
WEBHOOK_BACKOFF_SECONDS = env.float("WEBHOOK_BACKOFF_SECONDS", default=2.0)
AWS_REGION = env.str("AWS_REGION", default=env.str("AWS_DEFAULT_REGION", default=""))
AWS_API_GATEWAY_API_ID = env.str("AWS_API_GATEWAY_API_ID", default="")
AWS_API_GATEWAY_STAGE = env.str("AWS_API_GATEWAY_STAGE", default="")
AWS_API_GATEWAY_URL = env.str("AWS_API_GATEWAY_URL", default="")

LOG_FORMAT = env.str("LOG_FORMAT", default="text")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "request_id": {"()": "portal.logs.RequestIdFilter"},
        "strip_query": {"()": "portal.logs.StripQueryFilter"},
    },
    "formatters": {
        "text": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
        "json": {"()": "portal.logs.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "filters": ["request_id"],
            "formatter": "json" if LOG_FORMAT == "json" else "text",
        }
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # uvicorn's own access log holds the full path: no query strings there (the seed's /query).
        "uvicorn.access": {"filters": ["strip_query"]},
    },
}
