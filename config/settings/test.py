"""Settings for `make test`: the same as dev, faster hashing, no real provider."""

import os
import tempfile

from .base import *  # noqa: F403
from .base import DATABASES, env

DEBUG = False
SECRET_KEY = "test-only-insecure-key"
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
SMS_PROVIDER = env("SMS_PROVIDER", "console")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_AUTOREFRESH = True
WHITENOISE_USE_FINDERS = True

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Each test run gets its own database file (never the dev one); a file, not memory, so that
    # tests can start worker processes against it.
    DATABASES["default"]["TEST"] = {"NAME": os.path.join(tempfile.gettempdir(), f"parley-test-{os.getpid()}.sqlite3")}

# Tests call the outbox worker directly; no background task is enqueued.
SMS_KICK_WORKER = False
