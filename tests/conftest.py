import json
from pathlib import Path

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from .factories import SubscriberFactory, UserFactory

DATA = Path(__file__).parent / "data"


def load_data(name: str):
    """A test vector file from tests/data (a copy of the design's shared test data)."""
    return json.loads((DATA / name).read_text())


@pytest.fixture
def api_user(db):
    return UserFactory(username="api-client")


@pytest.fixture
def api(api_user):
    client = APIClient()
    token = Token.objects.create(user=api_user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


@pytest.fixture
def subscriber(db):
    return SubscriberFactory(phone="+14155550100", first_name="Ana", last_name="Lima")
