"""Two requests that create the same unique thing at the same moment: the second gets the answer it would get if
it came later (409 for a taken number, 400 for a taken segment name), never a server error.

The first creation is held open in a transaction in another thread while the second request runs, so the
second one's own check cannot see the first row yet and only the database's unique index stops it.
"""

import threading
import time

import pytest
from django.db import connection, transaction
from rest_framework.test import APIClient

from conversations import services
from conversations.models import Subscriber
from segments.models import Segment
from segments.services import segment_create

pytestmark = pytest.mark.django_db(transaction=True)


def while_held_open(create, request):
    """Run `create` in a transaction that stays open until `request()` has been sent and had time to block."""
    created, release, errors = threading.Event(), threading.Event(), []

    def first():
        try:
            with transaction.atomic():
                create()
                created.set()
                release.wait(10)
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)
            created.set()
        finally:
            connection.close()

    holder = threading.Thread(target=first)
    holder.start()
    assert created.wait(10)
    answers = []

    def second():
        try:
            answers.append(request())
        finally:
            connection.close()

    asker = threading.Thread(target=second)
    asker.start()
    time.sleep(0.5)  # let the second request reach the database and wait on the first one's lock
    release.set()
    holder.join(10)
    asker.join(20)
    assert not errors and answers, errors
    return answers[0]


@pytest.fixture
def client(api_user):
    client = APIClient(raise_request_exception=False)
    client.force_authenticate(api_user)
    return client


@pytest.mark.parametrize("typed", ["+1 (415) 555-0177", "4155550177"])
def test_the_same_phone_created_twice_at_once_answers_409(client, typed):
    response = while_held_open(
        lambda: services.subscriber_create(phone="+14155550177"),
        lambda: client.post("/api/v1/subscribers/", {"phone": typed}, format="json"),
    )
    assert response.status_code == 409, response.content
    assert "phone" in response.json()
    assert Subscriber.objects.filter(phone="+14155550177").count() == 1


@pytest.mark.parametrize(("first", "second"), [("Big spenders", "Big spenders"), ("VIP list", "vip LIST")])
def test_the_same_segment_name_created_twice_at_once_answers_400(client, first, second):
    response = while_held_open(
        lambda: segment_create(name=first, rules={"tag": "vip"}),
        lambda: client.post("/api/v1/segments/", {"name": second, "rules": {"tag": "gift"}}, format="json"),
    )
    assert response.status_code == 400, response.content
    assert "already a segment" in response.json()["name"][0]
    assert Segment.objects.filter(name__iexact=first).count() == 1


def test_a_rename_onto_a_name_taken_at_the_same_moment_answers_400(client):
    other = segment_create(name="Winter", rules={"tag": "vip"})
    response = while_held_open(
        lambda: segment_create(name="Summer buyers", rules={"tag": "vip"}),
        lambda: client.patch(f"/api/v1/segments/{other.pk}/", {"name": "summer BUYERS"}, format="json"),
    )
    assert response.status_code == 400, response.content
    other.refresh_from_db()
    assert other.name == "Winter"
