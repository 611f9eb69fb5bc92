"""The store's help desk: signed webhooks to a real (fake) help desk on 127.0.0.1, retried with backoff and
logged; and the conversations API a help desk uses to read conversations and post an agent's reply."""

import hashlib
import hmac
import json
import socket
from datetime import datetime, timedelta

import pytest
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.utils import timezone
from rest_framework.test import APIClient

from conversations import services
from conversations.helpdesk import services as helpdesk_services
from conversations.helpdesk.services import RETRY_DELAYS
from conversations.inbox import services as inbox
from conversations.models import Conversation, HelpdeskDelivery, Message, Subscriber
from flows.services import flow_templates_load, runs_process_due
from tests.factories import SubscriberFactory, UserFactory, api_key_for
from tests.fakes.helpdesk import GARBAGE, FakeHelpdesk

pytestmark = pytest.mark.django_db
PHONE = "+14155550100"
SECRET = "a-long-random-secret-shared-with-the-help-desk"


@pytest.fixture
def helpdesk(settings):
    with FakeHelpdesk(secret=SECRET) as fake:
        settings.HELPDESK_WEBHOOK_URL = fake.url
        settings.HELPDESK_WEBHOOK_SECRET = SECRET
        settings.HELPDESK_TIMEOUT_SECONDS = 5
        yield fake


@pytest.fixture
def ana(db) -> Subscriber:
    return SubscriberFactory(phone=PHONE, first_name="Ana", last_name="Lima", attributes={"size": "M"})


def inbound(subscriber: Subscriber, body: str) -> Message:
    return services.inbound_receive(from_number=subscriber.phone, to_number="+18885550000", body=body).message


def past() -> None:
    """Time passes: every waiting delivery is due again."""
    HelpdeskDelivery.objects.filter(status="pending").update(next_attempt_at=timezone.now() - timedelta(seconds=1))


# --- Webhooks ------------------------------------------------------------------------------------------------


def test_an_opened_conversation_and_each_new_text_are_queued_for_the_help_desk(helpdesk, ana):
    first = inbound(ana, "do you ship to Canada?")
    second = inbound(ana, "to Toronto")
    talk = Conversation.objects.get(subscriber=ana)
    deliveries = list(HelpdeskDelivery.objects.order_by("id"))
    assert [(d.event, d.status, d.attempts, d.conversation) for d in deliveries] == [
        ("conversation.opened", "pending", 0, talk),
        ("message.inbound", "pending", 0, talk),
        ("message.inbound", "pending", 0, talk),
    ]
    assert deliveries[1].payload["message"]["id"] == first.pk
    assert deliveries[2].payload["message"]["body"] == "to Toronto" == second.body
    assert helpdesk.received == []  # queued in the caller's transaction; the worker posts them


def test_deliveries_are_posted_signed_with_the_shared_secret(helpdesk, ana):
    message = inbound(ana, "do you ship to Canada?")
    talk = Conversation.objects.get(subscriber=ana)
    assert helpdesk_services.helpdesk_deliver_due() == 2

    opened, texted = helpdesk.received
    for request in (opened, texted):
        expected = "sha256=" + hmac.new(SECRET.encode(), request["raw"], hashlib.sha256).hexdigest()
        assert request["headers"]["X-Parley-Signature"] == expected
        assert request["signature_ok"]
        assert request["headers"]["Content-Type"] == "application/json"
        assert request["path"] == "/hooks/parley"
    subscriber = {
        "id": ana.pk,
        "phone": PHONE,
        "first_name": "Ana",
        "last_name": "Lima",
        "status": "subscribed",
        "attributes": {"size": "M"},
    }
    first, second = HelpdeskDelivery.objects.order_by("id")
    assert opened["headers"]["X-Parley-Event"] == "conversation.opened"
    assert opened["headers"]["X-Parley-Delivery"] == str(first.pk)
    # The time of the attempt is signed with the rest, so that the help desk can refuse a late replay.
    for request in (opened, texted):
        sent_at = datetime.fromisoformat(json.loads(request["raw"])["sent_at"])
        assert abs(timezone.now() - sent_at) < timedelta(minutes=1)
    assert {k: v for k, v in json.loads(opened["raw"]).items() if k != "sent_at"} == {
        "delivery": first.pk,
        "event": "conversation.opened",
        "conversation": {"id": talk.pk, "status": "open", "subscriber": subscriber},
        "reason": "inbound",
        "note": "",
    }
    assert texted["headers"]["X-Parley-Event"] == "message.inbound"
    assert {k: v for k, v in json.loads(texted["raw"]).items() if k != "sent_at"} == {
        "delivery": second.pk,
        "event": "message.inbound",
        "conversation": {"id": talk.pk, "status": "open", "subscriber": subscriber},
        "message": {
            "id": message.pk,
            "direction": "inbound",
            "body": "do you ship to Canada?",
            "media_urls": [],
            "created_at": message.created_at.isoformat(),
        },
    }
    for delivery in HelpdeskDelivery.objects.all():
        assert (delivery.status, delivery.attempts, delivery.last_status_code, delivery.last_error) == (
            "delivered",
            1,
            200,
            "",
        )
        assert delivery.delivered_at is not None
    assert helpdesk_services.helpdesk_deliver_due() == 0  # delivered once
    assert len(helpdesk.received) == 2


def test_a_hand_off_tells_the_help_desk_why(helpdesk):
    flow_templates_load()
    lee = SubscriberFactory(phone=PHONE, first_name="Lee")
    services.event_record(phone=PHONE, type="order_placed")
    runs_process_due(now=timezone.now() + timedelta(days=3, minutes=1))
    inbound(lee, "1")
    helpdesk_services.helpdesk_deliver_due()
    [opened] = [request["json"] for request in helpdesk.received if request["json"]["event"] == "conversation.opened"]
    assert (opened["reason"], opened["note"]) == (
        "handoff",
        "Post-purchase feedback: low score after an order: please follow up",
    )


def test_a_text_that_reopens_a_pending_conversation_is_sent_with_its_new_status(helpdesk, ana):
    inbound(ana, "do you ship to Canada?")
    talk = Conversation.objects.get(subscriber=ana)
    inbox.conversation_set_status(conversation=talk, status="pending")
    inbound(ana, "hello? still there?")
    helpdesk_services.helpdesk_deliver_due()
    last = helpdesk.received[-1]["json"]
    assert last["message"]["body"] == "hello? still there?"
    assert last["conversation"]["status"] == "open"
    assert Conversation.objects.get(pk=talk.pk).status == "open"


def test_a_failed_call_is_retried_a_minute_later_and_logged(helpdesk, ana):
    helpdesk.next_statuses = [500, 200]
    inbox.conversation_open(subscriber=ana, reason="agent")
    delivery = HelpdeskDelivery.objects.get()

    before = timezone.now()
    assert helpdesk_services.helpdesk_deliver_due() == 0
    after = timezone.now()
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code, delivery.last_error) == (
        "pending",
        1,
        500,
        "HTTP 500",
    )
    assert before + timedelta(minutes=1) <= delivery.next_attempt_at <= after + timedelta(minutes=1)
    assert helpdesk_services.helpdesk_deliver_due() == 0  # not due yet: nothing is posted
    assert len(helpdesk.received) == 1

    past()
    assert helpdesk_services.helpdesk_deliver_due() == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code, delivery.last_error) == (
        "delivered",
        2,
        200,
        "",
    )
    assert len(helpdesk.received) == 2
    assert helpdesk.received[0]["raw"] == helpdesk.received[1]["raw"]  # the same delivery, the same body


def test_a_redirect_is_a_failed_attempt_not_a_delivery(helpdesk, ana):
    helpdesk.next_statuses = [302]
    inbox.conversation_open(subscriber=ana, reason="agent")
    assert helpdesk_services.helpdesk_deliver_due() == 0
    delivery = HelpdeskDelivery.objects.get()
    assert (delivery.status, delivery.last_status_code, delivery.attempts) == ("pending", 302, 1)
    assert len(helpdesk.received) == 1  # the redirect was not followed as a GET without the body


def test_the_backoff_grows_and_after_six_failed_attempts_the_delivery_has_failed(helpdesk, ana):
    helpdesk.next_statuses = [503] * 6
    inbox.conversation_open(subscriber=ana, reason="agent")
    delivery = HelpdeskDelivery.objects.get()
    waits = []
    for attempt in range(1, 7):
        past()
        started = timezone.now()
        assert helpdesk_services.helpdesk_deliver_due() == 0
        delivery.refresh_from_db()
        assert (delivery.attempts, delivery.last_status_code, delivery.last_error) == (attempt, 503, "HTTP 503")
        if attempt < 6:
            assert delivery.status == "pending"
            waits.append(delivery.next_attempt_at - started)
    assert [round(wait.total_seconds() / 60) for wait in waits] == [1, 5, 30, 120, 360]
    assert [round(delay.total_seconds() / 60) for delay in RETRY_DELAYS] == [1, 5, 30, 120, 360]
    assert delivery.status == "failed" and delivery.delivered_at is None
    past()
    assert helpdesk_services.helpdesk_deliver_due() == 0
    assert len(helpdesk.received) == 6  # never tried again


def test_a_help_desk_that_cannot_be_reached_is_logged_and_retried(settings, ana):
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]  # nobody listens here once the socket is closed
    settings.HELPDESK_WEBHOOK_URL = f"http://127.0.0.1:{port}/hooks"
    settings.HELPDESK_WEBHOOK_SECRET = SECRET
    inbox.conversation_open(subscriber=ana, reason="agent")
    assert helpdesk_services.helpdesk_deliver_due() == 0
    delivery = HelpdeskDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("pending", 1, None)
    assert "refused" in delivery.last_error.lower()


def test_a_delivery_signed_with_another_secret_is_refused_by_the_help_desk(helpdesk, settings, ana):
    settings.HELPDESK_WEBHOOK_SECRET = "not-the-secret-the-help-desk-has"
    inbox.conversation_open(subscriber=ana, reason="agent")
    assert helpdesk_services.helpdesk_deliver_due() == 0
    assert not helpdesk.received[0]["signature_ok"]
    delivery = HelpdeskDelivery.objects.get()
    assert (delivery.status, delivery.last_status_code) == ("pending", 401)


def test_without_a_help_desk_nothing_is_queued(settings, ana):
    settings.HELPDESK_WEBHOOK_URL = ""
    inbound(ana, "do you ship to Canada?")
    inbound(ana, "to Toronto")
    assert Conversation.objects.get(subscriber=ana).unread == 2
    assert not HelpdeskDelivery.objects.exists()
    assert helpdesk_services.helpdesk_deliver_due() == 0


def test_the_system_check_refuses_an_unsigned_help_desk(settings):
    settings.HELPDESK_WEBHOOK_URL = "https://helpdesk.example.com/hooks/parley"
    settings.HELPDESK_WEBHOOK_SECRET = ""
    with pytest.raises(SystemCheckError, match="parley.E001"):
        call_command("check")
    settings.HELPDESK_WEBHOOK_SECRET = SECRET
    call_command("check")  # no error


# --- The API a help desk calls ----------------------------------------------------------------------------------


@pytest.fixture
def desk_user(db):
    user = UserFactory(username="helpdesk")
    user.user_permissions.set(Permission.objects.filter(codename__in=["view_conversation", "add_message"]))
    return user


@pytest.fixture
def desk(desk_user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_key_for(desk_user)}")
    return client


@pytest.fixture
def talk(ana) -> Conversation:
    inbound(ana, "do you ship to Canada?")
    return Conversation.objects.get(subscriber=ana)


def test_the_help_desk_posts_an_agents_reply(desk, desk_user, talk):
    response = desk.post(f"/api/v1/conversations/{talk.pk}/messages/", {"body": "Yes, 5-8 days!"}, format="json")
    assert response.status_code == 201, response.json()
    reply = Message.objects.get(pk=response.json()["id"])
    assert (reply.direction, reply.status, reply.body) == ("outbound", "queued", "Yes, 5-8 days!")
    assert (reply.origin, reply.origin_id, reply.sent_by, reply.purpose) == (
        "agent",
        talk.pk,
        desk_user,
        "conversational",
    )
    assert reply.in_reply_to == Message.objects.get(direction="inbound")
    assert response.json()["body"] == "Yes, 5-8 days!"
    assert Conversation.objects.get(pk=talk.pk).unread == 0


def test_a_reply_to_an_opted_out_shopper_is_a_422_with_the_reason(desk, talk):
    inbound(talk.subscriber, "STOP")
    before = Message.objects.count()
    response = desk.post(f"/api/v1/conversations/{talk.pk}/messages/", {"body": "Sorry!"}, format="json")
    assert response.status_code == 422
    assert response.json() == {
        "detail": f"{PHONE} has opted out; nothing may be sent to them",
        "code": "opted_out",
    }
    assert Message.objects.count() == before


@pytest.mark.parametrize("payload", [{"body": ""}, {"body": "   "}, {}, {"body": 42}])
def test_an_empty_reply_is_a_400(desk, talk, payload):
    response = desk.post(f"/api/v1/conversations/{talk.pk}/messages/", payload, format="json")
    assert response.status_code == 400
    assert "body" in response.json()
    assert not Message.objects.filter(direction="outbound").exists()


def test_a_reply_to_a_missing_conversation_is_a_404(desk, talk):
    response = desk.post("/api/v1/conversations/999999/messages/", {"body": "Hi"}, format="json")
    assert response.status_code == 404


def test_the_help_desk_lists_and_reads_conversations(desk, talk, ana):
    bo = SubscriberFactory(phone="+12125550101", first_name="Bo")
    inbound(bo, "where is my parcel")
    inbox.conversation_close(conversation=Conversation.objects.get(subscriber=bo))
    listed = desk.get("/api/v1/conversations/")
    assert listed.status_code == 200
    rows = listed.json()["results"]
    assert [row["subscriber"]["phone"] for row in rows] == ["+12125550101", PHONE]  # newest first
    assert desk.get("/api/v1/conversations/", {"status": "open"}).json()["results"][0]["id"] == talk.pk
    assert len(desk.get("/api/v1/conversations/", {"status": "closed"}).json()["results"]) == 1
    assert desk.get("/api/v1/conversations/", {"status": "everything"}).status_code == 400
    one = desk.get(f"/api/v1/conversations/{talk.pk}/").json()
    assert one["subscriber"] == {
        "id": ana.pk,
        "phone": PHONE,
        "first_name": "Ana",
        "last_name": "Lima",
        "status": "subscribed",
        "attributes": {"size": "M"},
    }
    assert (one["status"], one["unread"], one["reason"], one["assignee"]) == ("open", 1, "inbound", None)
    assert desk.get("/api/v1/conversations/999999/").status_code == 404


def test_an_answer_that_is_not_http_is_logged_and_the_rest_still_go(helpdesk, ana):
    helpdesk.next_statuses = [GARBAGE]
    inbox.conversation_open(subscriber=ana, reason="agent")
    bo = SubscriberFactory(phone="+12125550101", first_name="Bo")
    inbox.conversation_open(subscriber=bo, reason="agent")
    assert helpdesk_services.helpdesk_deliver_due() == 1  # the second one is delivered all the same
    broken, fine = HelpdeskDelivery.objects.order_by("id")
    assert (broken.status, broken.attempts, broken.last_status_code) == ("pending", 1, None)
    assert broken.last_error
    assert broken.next_attempt_at - timezone.now() < timedelta(minutes=1, seconds=5)  # the backoff, not the lease
    assert (fine.status, fine.attempts) == ("delivered", 1)
