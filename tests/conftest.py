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
