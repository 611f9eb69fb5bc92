import json
import logging
import logging.config
import os
from pathlib import Path

import pytest
from django.contrib.auth.models import Permission
from rest_framework.test import APIClient

from .factories import SubscriberFactory, UserFactory, api_key_for

DATA = Path(__file__).parent / "data"
LOG_CAPTURE = "PARLEY_LOG_CAPTURE"
LEAKS, OURS = pytest.StashKey[list](), pytest.StashKey[bool]()


def pytest_sessionstart(session):
    """Capture what Parley's LOGGING emits during the run, at every level, in this process and in the workers
    tests start (they read the file's name from the environment); scanned for personal data at the end."""
    from django.conf import settings

    from config.settings.test import logging_with_capture

    session.config.stash[OURS] = not os.environ.get(LOG_CAPTURE)
    if session.config.stash[OURS]:  # when set before the run, the settings capture there already
        path = Path(settings.VAR_DIR) / "test-logs" / f"{os.getpid()}.log"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("")
        os.environ[LOG_CAPTURE] = str(path)
        settings.LOGGING = logging_with_capture(settings.LOGGING, str(path))  # django.setup() in a test keeps it
        logging.config.dictConfig(settings.LOGGING)
    # Test tools, not Parley: factory_boy and Faker describe the test data they make at DEBUG.
    for name in ("factory", "faker"):
        logging.getLogger(name).setLevel(logging.INFO)


def pytest_sessionfinish(session, exitstatus):
    from .logscan import leaks

    path = Path(os.environ.get(LOG_CAPTURE, ""))
    session.config.stash[LEAKS] = found = leaks(path.read_text(encoding="utf-8")) if path.is_file() else []
    if found:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    elif session.config.stash.get(OURS, False):
        path.unlink(missing_ok=True)  # kept only to be read when something leaked


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    found = config.stash.get(LEAKS, [])
    if found:
        terminalreporter.section("personal data in the logs", sep="=", red=True, bold=True)
        terminalreporter.line(f"{len(found)} line(s) of {os.environ.get(LOG_CAPTURE)} hold personal data:")
        for line in found[:50]:
            terminalreporter.line(line)


def load_data(name: str):
    """A test vector file from tests/data (a copy of the design's shared test data)."""
    return json.loads((DATA / name).read_text())


API_PERMISSIONS = [
    "view_subscriber",
    "add_subscriber",
    "change_subscriber",
    "delete_subscriber",
    "view_attributedefinition",
    "view_message",
    "add_message",
    "add_event",
    "view_flow",
    "add_flowrun",
    "add_flow",
    "change_flow",
    "view_segment",
    "add_segment",
    "change_segment",
    "delete_segment",
    "view_campaign",
    "add_campaign",
    "change_campaign",
    "delete_campaign",
    "send_campaign",
]


@pytest.fixture
def api_user(db):
    """An API client's user with exactly the permissions the API asks for."""
    user = UserFactory(username="api-client")
    user.user_permissions.set(Permission.objects.filter(codename__in=API_PERMISSIONS))
    return user


@pytest.fixture
def api(api_user):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_key_for(api_user)}")
    return client


@pytest.fixture
def subscriber(db):
    return SubscriberFactory(phone="+14155550100", first_name="Ana", last_name="Lima")


class RecordingConsole:
    """The console provider, writing to a buffer the test can read."""

    def __init__(self):
        import io

        from conversations.sms.providers import ConsoleProvider

        self.buffer = io.StringIO()
        self.provider = ConsoleProvider(stream=self.buffer)

    @property
    def printed(self) -> str:
        return self.buffer.getvalue()

    def send_due(self):
        from conversations.outbox import outbox_send_due

        return outbox_send_due(max_seconds=5, provider=self.provider)


@pytest.fixture
def console(settings):
    settings.SMS_SENDER_MPS = 1000  # tests do not wait for the pace of a real long code
    return RecordingConsole()
