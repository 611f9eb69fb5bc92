import json
from pathlib import Path

import pytest
from django.contrib.auth.models import Permission
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from .factories import SubscriberFactory, UserFactory

DATA = Path(__file__).parent / "data"


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
    token = Token.objects.create(user=api_user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
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
        from conversations.services import outbox_send_due

        return outbox_send_due(max_seconds=5, provider=self.provider)


@pytest.fixture
def console(settings):
    settings.SMS_SENDER_MPS = 1000  # tests do not wait for the pace of a real long code
    return RecordingConsole()
