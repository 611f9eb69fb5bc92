"""Settings for `make test`: the same as dev, faster hashing, no real provider."""

import copy
import os
import tempfile

from .base import *  # noqa: F403
from .base import DATABASES, LOGGING, env

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


def logging_with_capture(config: dict, path: str) -> dict:
    """`config` that also writes every record, down to DEBUG, to `path`, through the same filters and formatters.

    tests/conftest.py scans that file for personal data at the end of a run; worker processes started by tests
    find it in PARLEY_LOG_CAPTURE and write there too. The root logger goes down to DEBUG, as with LOG_LEVEL=DEBUG;
    the loggers the configuration pins (django at INFO, the SQL log at WARNING) stay pinned, and the console
    prints what it printed before.
    """
    config = copy.deepcopy(config)
    handlers = config["handlers"]
    for name, handler in list(handlers.items()):
        handler.setdefault("level", config["root"].get("level", "WARNING"))
        same = {key: value for key, value in handler.items() if key not in ("class", "stream", "level")}
        handlers[f"{name}-capture"] = {**same, "class": "logging.FileHandler", "filename": path, "encoding": "utf-8"}
    config["root"]["level"] = "DEBUG"
    for logger in [config["root"], *config.get("loggers", {}).values()]:
        logger["handlers"] = [*logger.get("handlers", []), *(f"{name}-capture" for name in logger.get("handlers", []))]
    return config


if env("PARLEY_LOG_CAPTURE"):
    LOGGING = logging_with_capture(LOGGING, env("PARLEY_LOG_CAPTURE"))
