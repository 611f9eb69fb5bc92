"""Production settings: secure defaults, nothing insecure unless the environment asks.

Production needs two variables and has a default for everything else (README, "Run it in production"):
SECRET_KEY, and PUBLIC_BASE_URL, Parley's own https address, which also gives the hosts it answers on and the
short links' address unless ALLOWED_HOSTS or SHORT_LINK_BASE_URL say otherwise.
"""

from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import PUBLIC_BASE_URL, SHORT_LINK_BASE_URL, env, env_bool, env_list

REQUIRED = {
    "SECRET_KEY": "a long random string (50 characters or more), kept secret",
    "PUBLIC_BASE_URL": "Parley's public https address, e.g. https://parley.example.com",
}
_missing = [name for name in REQUIRED if not env(name)]
if _missing:
    raise ImproperlyConfigured(
        f"Set {' and '.join(_missing)} in the environment: production needs "
        + "; ".join(f"{name}, {REQUIRED[name]}" for name in _missing)
        + " (README, Run it in production)."
    )
_public = urlsplit(PUBLIC_BASE_URL)
if _public.scheme not in ("http", "https") or not _public.hostname:
    raise ImproperlyConfigured(
        f"PUBLIC_BASE_URL must be an address like https://parley.example.com, not {PUBLIC_BASE_URL!r}"
    )

# The hosts Parley answers on: its own and the short links' (clicks come to /l/<code> there).
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS") or list(
    dict.fromkeys(host for url in (PUBLIC_BASE_URL, SHORT_LINK_BASE_URL) if (host := urlsplit(url).hostname))
)

DEBUG = env_bool("DEBUG", False)
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_HSTS_SECONDS = int(env("SECURE_HSTS_SECONDS", "31536000"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
# Only trust X-Forwarded-Proto when a TLS-terminating proxy you control sets it.
if env_bool("TRUST_PROXY_SSL_HEADER", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
