"""The management commands `make run` uses, on an empty (freshly migrated) database."""

import io
import re

import pytest
from django.contrib.auth import authenticate
from django.core.management import CommandError, call_command

from conversations.demo import WORLD_SHOPPERS
from conversations.models import AttributeChange, ConsentEvent, Conversation, Event, Message, Subscriber
from conversations.services import attributes_validate
from conversations.sms.encoding import count_segments

pytestmark = pytest.mark.django_db


def run(*args, **kwargs) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, **kwargs)
    return out.getvalue()


def test_seed_demo_makes_realistic_valid_data_and_is_idempotent():
    assert "250 subscriber(s) added" in run("seed_demo", "--subscribers", "250")
    abroad = len(WORLD_SHOPPERS)  # the shoppers in London and Sydney, whose daytime covers the US night
    assert Subscriber.objects.count() == 250 + abroad
    assert (
        Subscriber.objects.filter(phone__in=[row[0] for row in WORLD_SHOPPERS], status="subscribed").count() == abroad
    )
    statuses = dict.fromkeys(Subscriber.Status.values, 0)
    for subscriber in Subscriber.objects.all():
        statuses[subscriber.status] += 1
        assert attributes_validate(subscriber.attributes) == subscriber.attributes
        if subscriber.status != Subscriber.Status.PENDING:
            assert subscriber.consent_events.filter(kind="opt_in").exists()
    assert all(count > 0 for count in statuses.values()), statuses
    assert ConsentEvent.objects.filter(kind="opt_out").count() == statuses["unsubscribed"]
    assert AttributeChange.objects.exists() and Event.objects.exists()
    message = Message.objects.filter(direction="outbound").first()
    assert (message.segments, message.encoding) == (
        count_segments(message.body).segments,
        count_segments(message.body).encoding,
    )

    # The inbox has something to show: three open conversations with subscribed shoppers, a question unread.
    opened = Conversation.objects.select_related("subscriber")
    assert [(c.status, c.unread, c.subscriber.status) for c in opened] == [("open", 1, "subscribed")] * 3

    counts = (Subscriber.objects.count(), Message.objects.count(), ConsentEvent.objects.count())
    assert "0 subscriber(s) added, 250 already there" in run("seed_demo", "--subscribers", "250")
    assert (Subscriber.objects.count(), Message.objects.count(), ConsentEvent.objects.count()) == counts
    assert Conversation.objects.count() == 3
    run("seed_demo", "--subscribers", "260")
    assert Subscriber.objects.count() == 260 + abroad


def test_seed_demo_refuses_to_seed_beside_a_real_provider(settings):
    settings.SMS_PROVIDER = "twilio"
    with pytest.raises(CommandError, match="could be real phones"):
        run("seed_demo")
    assert not Subscriber.objects.exists()


def test_ensure_admin_prints_a_login_that_works_and_keeps_it(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    first = run("ensure_admin")
    username, password = re.search(r"Admin login: (\S+) / (\S+)", first).groups()
    assert authenticate(username=username, password=password).is_superuser
    assert run("ensure_admin") == first
    assert (tmp_path / "admin-password").read_text().strip() == password


def test_ensure_admin_also_prints_a_demo_agent_who_can_use_the_inbox_only(settings, tmp_path, client):
    settings.VAR_DIR = tmp_path
    printed = run("ensure_admin")
    username, password = re.search(r"Agent login \(inbox at /inbox/\): (\S+) / (\S+)", printed).groups()
    agent = authenticate(username=username, password=password)
    assert agent.has_perm("conversations.use_inbox") and not agent.is_staff
    assert client.login(username=username, password=password)
    assert client.get("/inbox/").status_code == 200
    assert client.get("/admin/").status_code == 302  # not staff: no admin


def test_health(client):
    assert client.get("/healthz").json()["status"] == "ok"


def test_ensure_admin_never_resets_a_changed_password(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    run("ensure_admin")
    from django.contrib.auth import get_user_model

    admin = get_user_model().objects.get(username="admin")
    admin.set_password("my-own-choice-1234")
    admin.save()
    assert "password was changed" in run("ensure_admin")
    assert authenticate(username="admin", password="my-own-choice-1234")
