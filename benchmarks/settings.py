"""Settings of the benchmark server: production-like, plus the baseline view and a reply-queueing handler."""

from config.settings.base import *  # noqa: F403

DEBUG = False
SECRET_KEY = "benchmark-only-key-not-secret"
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
ROOT_URLCONF = "benchmarks.urls"
SMS_KICK_WORKER = False
LOGGING = {"version": 1, "disable_existing_loggers": False, "root": {"level": "WARNING"}}
