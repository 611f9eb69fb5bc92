"""Inbound texts through the API: stored first, compliance keywords, replies through the outbox."""

import pytest

from conversations.models import ConsentEvent, Message, Subscriber
from conversations.outbox import message_queue
from conversations.services import Inbound
from tests.factories import SubscriberFactory

pytestmark = pytest.mark.django_db
URL = "/api/v1/messages/inbound/"
NEW = "+14155550123"


def text(api, body, phone=NEW, **extra):
    return api.post(URL, {"from": phone, "to": "+18885550000", "body": body, **extra}, format="json")


def test_start_from_a_new_number_subscribes_and_confirms(api, console, settings):
    response = text(api, "START")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["subscriber"]["status"] == "subscribed"
    assert body["message"]["direction"] == "inbound" and body["message"]["body"] == "START"
    [reply] = body["replies"]
    assert reply["status"] == "queued"
    assert "You're in!" in reply["body"] and "Reply HELP for help, STOP to cancel." in reply["body"]
    consent = ConsentEvent.objects.get()
    assert (consent.kind, consent.source, consent.raw_text, consent.phone) == ("opt_in", "keyword", "START", NEW)
    assert consent.details["message_id"] == body["message"]["id"]
    console.send_due()
    assert f"[sms] to {NEW} from +18885550000" in console.printed
    assert settings.PARLEY_STORE_NAME in console.printed
    assert Message.objects.get(pk=reply["id"]).status == "sent"


def test_a_signup_keyword_subscribes(api, settings):
    settings.SMS_SIGNUP_KEYWORDS = ["JOIN", "VIP"]
    assert text(api, "vip!").json()["subscriber"]["status"] == "subscribed"
    assert text(api, "Join", phone="+14155550124").json()["subscriber"]["status"] == "subscribed"


def test_other_text_from_a_new_number_makes_a_pending_subscriber_and_no_reply(api):
    body = text(api, "hi, do you ship to Canada?").json()
    assert body["subscriber"]["status"] == "pending"
    assert body["replies"] == []
    assert Subscriber.objects.get().last_inbound_at is not None


def test_stop_unsubscribes_with_exactly_one_confirmation_and_nothing_after(api, console):
    text(api, "START")
    console.send_due()
    subscriber = Subscriber.objects.get()
    waiting = message_queue(subscriber=subscriber, body="20% off today!", purpose="marketing")

    response = text(api, "Stop texting me please")
    assert response.json()["subscriber"]["status"] == "unsubscribed"
    [confirmation] = response.json()["replies"]
    assert "unsubscribed" in confirmation["body"] and "START" in confirmation["body"]
    waiting.refresh_from_db()
    assert (waiting.status, waiting.error_code) == ("failed", "gate:opted_out")
    assert "rule" in str(ConsentEvent.objects.filter(kind="opt_out").get().details)

    assert text(api, "STOP").json()["replies"] == []  # a second STOP: no second confirmation
    assert ConsentEvent.objects.filter(kind="opt_out").count() == 1
    assert text(api, "HELP").json()["replies"] == []  # never texted again but the one confirmation
    assert text(api, "what?").json()["replies"] == []

    console.send_due()
    printed = console.printed
    assert printed.count("You are unsubscribed") == 1
    assert "20% off" not in printed
    later = Subscriber.objects.get()
    with pytest.raises(Exception, match="opted out"):
        message_queue(subscriber=later, body="We miss you", purpose="marketing")


@pytest.mark.parametrize("body", ["stop by the store tomorrow", "Can't stop buying your stuff", "END of season sale?"])
def test_conversation_that_mentions_stop_does_not_unsubscribe(api, body):
    SubscriberFactory(phone=NEW, status="subscribed")
    response = text(api, body)
    assert response.json()["subscriber"]["status"] == "subscribed"
    assert not ConsentEvent.objects.exists()


@pytest.mark.parametrize("word", ["START", "unstop", "Yes"])
def test_start_unstop_yes_resubscribe_after_an_opt_out(api, word):
    SubscriberFactory(phone=NEW, status="unsubscribed")
    response = text(api, word)
    assert response.json()["subscriber"]["status"] == "subscribed"
    assert "You're in!" in response.json()["replies"][0]["body"]
    assert ConsentEvent.objects.get().kind == "opt_in"


def test_yes_from_a_subscriber_is_an_answer_not_a_keyword(api, settings):
    settings.INBOUND_HANDLERS = ["tests.conversations.test_inbound.echo_handler"]
    SubscriberFactory(phone=NEW, status="subscribed")
    response = text(api, "yes")
    assert [reply["body"] for reply in response.json()["replies"]] == ["echo: yes"]
    assert not ConsentEvent.objects.exists()


def test_help_gets_the_help_text_even_mid_conversation(api, settings):
    SubscriberFactory(phone=NEW, status="subscribed")
    [reply] = text(api, "help!").json()["replies"]
    assert settings.SMS_HELP_CONTACT in reply["body"] and "STOP" in reply["body"]
    assert ConsentEvent.objects.get().kind == "help"


def echo_handler(inbound: Inbound) -> bool:
    inbound.reply(f"echo: {inbound.text}")
    return True


def never_handler(inbound: Inbound) -> bool:
    return False


def test_other_text_goes_down_the_handler_chain(api, settings):
    settings.INBOUND_HANDLERS = [
        "tests.conversations.test_inbound.never_handler",
        "tests.conversations.test_inbound.echo_handler",
    ]
    SubscriberFactory(phone=NEW, status="subscribed")
    response = text(api, "M")
    assert [reply["body"] for reply in response.json()["replies"]] == ["echo: M"]
    reply = Message.objects.get(body="echo: M")
    assert reply.in_reply_to_id == response.json()["message"]["id"]
    assert reply.purpose == "conversational"


def test_the_same_provider_id_is_processed_once(api):
    first = text(api, "START", provider_message_id="SM123")
    again = text(api, "START", provider_message_id="SM123")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    assert Message.objects.filter(direction="inbound").count() == 1
    assert Message.objects.filter(direction="outbound").count() == 1
    assert ConsentEvent.objects.count() == 1


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"from": "12", "body": "hi"}, "from"),
        ({"from": "not a phone", "body": "hi"}, "from"),
        ({"body": "hi"}, "from"),
        ({"from": NEW}, "body"),
        ({"from": NEW, "body": "   "}, "body"),
        ({"from": NEW, "body": "hi", "media_urls": ["not a url"]}, "media_urls"),
    ],
)
def test_bad_input_is_refused_and_nothing_is_stored(api, payload, field):
    response = api.post(URL, payload, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert not Message.objects.exists() and not Subscriber.objects.exists()


def test_media_without_a_body_is_stored(api):
    response = text(api, "", media_urls=["https://example.com/photo.jpg"])
    assert response.status_code == 201
    assert response.json()["message"]["media_urls"] == ["https://example.com/photo.jpg"]


def test_inbound_needs_a_token_with_permission_to_add_messages(api, api_user):
    from django.contrib.auth.models import Permission
    from rest_framework.test import APIClient

    assert APIClient().post(URL, {"from": NEW, "body": "hi"}, format="json").status_code == 401
    api_user.user_permissions.remove(Permission.objects.get(codename="add_message"))
    assert text(api, "hi").status_code == 403
    assert not Message.objects.exists()


def broken_handler(inbound: Inbound) -> bool:
    inbound.reply("half an answer")
    raise RuntimeError("the flow engine fell over")


def test_a_text_whose_processing_fails_is_kept_and_processed_on_the_retry(settings):
    from conversations.services import inbound_receive

    settings.INBOUND_HANDLERS = ["tests.conversations.test_inbound.broken_handler"]
    SubscriberFactory(phone=NEW, status="subscribed")
    with pytest.raises(RuntimeError, match="fell over"):
        inbound_receive(from_number=NEW, body="M", provider_message_id="SMretry")
    stored = Message.objects.get(direction="inbound")
    assert (stored.body, stored.processed_at) == ("M", None)
    assert not Message.objects.filter(direction="outbound").exists()  # the half answer was rolled back

    settings.INBOUND_HANDLERS = ["tests.conversations.test_inbound.echo_handler"]
    result = inbound_receive(from_number=NEW, body="M", provider_message_id="SMretry")
    assert [reply.body for reply in result.replies] == ["echo: M"]
    assert Message.objects.filter(direction="inbound").count() == 1
    stored.refresh_from_db()
    assert stored.processed_at is not None
    again = inbound_receive(from_number=NEW, body="M", provider_message_id="SMretry")
    assert (again.created, [reply.body for reply in again.replies]) == (False, ["echo: M"])


def test_the_sweep_processes_a_failed_text_again_a_few_times(settings):
    from datetime import timedelta

    from django.utils import timezone

    from conversations.services import inbound_process_pending, inbound_receive

    settings.INBOUND_HANDLERS = ["tests.conversations.test_inbound.broken_handler"]
    SubscriberFactory(phone=NEW, status="subscribed")
    with pytest.raises(RuntimeError):
        inbound_receive(from_number=NEW, body="M")  # no provider id: nobody will send it again
    later = timezone.now() + timedelta(minutes=1)
    assert inbound_process_pending(now=later) == 0  # still broken: counted, not lost
    assert Message.objects.get(direction="inbound").attempts == 2
    settings.INBOUND_HANDLERS = ["tests.conversations.test_inbound.echo_handler"]
    assert inbound_process_pending(now=later) == 1
    assert Message.objects.get(direction="outbound").body == "echo: M"
    assert inbound_process_pending(now=later) == 0
