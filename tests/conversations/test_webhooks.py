"""Twilio's webhooks: signed requests only, stored once, delivery reports that only move forward."""

import pytest
from twilio.request_validator import RequestValidator

from conversations.models import Message, Subscriber
from conversations.services import message_status_report
from tests.factories import MessageFactory, SubscriberFactory

pytestmark = pytest.mark.django_db
TOKEN = "test-auth-token"
INBOUND = "/webhooks/twilio/sms/"
STATUS = "/webhooks/twilio/status/"


@pytest.fixture(autouse=True)
def twilio_settings(settings):
    settings.TWILIO_AUTH_TOKEN = TOKEN
    settings.PUBLIC_BASE_URL = ""


def signed_post(client, path, params, *, token=TOKEN, url=None, **extra):
    url = url or f"http://testserver{path}"
    signature = RequestValidator(token).compute_signature(url, params)
    return client.post(path, params, HTTP_X_TWILIO_SIGNATURE=signature, **extra)


def inbound_params(**overrides):
    return {
        "From": "+14155550123",
        "To": "+18885550000",
        "Body": "START",
        "MessageSid": "SM" + "a" * 32,
        "NumMedia": "0",
        "AccountSid": "AC" + "0" * 32,
        **overrides,
    }


def test_the_documented_signature_vector_holds():
    params = {
        "CallSid": "CA1234567890ABCDE",
        "Caller": "+12349013030",
        "Digits": "1234",
        "From": "+12349013030",
        "To": "+18005551212",
    }
    validator = RequestValidator("12345")
    assert validator.validate("https://mycompany.com/myapp.php?foo=1&bar=2", params, "0/KCTR6DLpKmkAf8muzZqo1nDgQ=")
    assert not validator.validate("http://mycompany.com/myapp.php?foo=1&bar=2", params, "0/KCTR6DLpKmkAf8muzZqo1nDgQ=")


def test_a_signed_text_is_stored_processed_and_answered_with_empty_twiml(client):
    response = signed_post(client, INBOUND, inbound_params())
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/xml")
    assert response.content.decode().endswith("<Response/>")
    subscriber = Subscriber.objects.get()
    assert subscriber.status == "subscribed"
    assert Message.objects.filter(direction="outbound", in_reply_to__isnull=False).count() == 1


@pytest.mark.parametrize("signature", [None, "", "not-a-signature", "0/KCTR6DLpKmkAf8muzZqo1nDgQ="])
def test_unsigned_or_badly_signed_webhooks_are_refused_and_store_nothing(client, signature):
    headers = {} if signature is None else {"HTTP_X_TWILIO_SIGNATURE": signature}
    response = client.post(INBOUND, inbound_params(), **headers)
    assert response.status_code == 403
    assert not Message.objects.exists() and not Subscriber.objects.exists()


def test_a_signature_with_another_token_or_a_tampered_body_is_refused(client):
    assert signed_post(client, INBOUND, inbound_params(), token="someone-else").status_code == 403
    signature = RequestValidator(TOKEN).compute_signature(f"http://testserver{INBOUND}", inbound_params())
    tampered = client.post(INBOUND, inbound_params(Body="STOP"), HTTP_X_TWILIO_SIGNATURE=signature)
    assert tampered.status_code == 403
    assert not Message.objects.exists()


def test_the_public_base_url_rebuilds_the_signed_url_behind_a_proxy(client, settings):
    settings.PUBLIC_BASE_URL = "https://sms.example.com"
    url = f"https://sms.example.com{INBOUND}?store=1"
    assert signed_post(client, INBOUND + "?store=1", inbound_params(), url=url).status_code == 200
    internal = signed_post(
        client, INBOUND + "?store=1", inbound_params(MessageSid="SM2"), url=f"http://testserver{INBOUND}?store=1"
    )
    assert internal.status_code == 403


def test_the_previous_token_still_works_during_a_rotation(client, settings):
    settings.TWILIO_AUTH_TOKEN_PREVIOUS = "old-token"
    assert signed_post(client, INBOUND, inbound_params(), token="old-token").status_code == 200
    settings.TWILIO_AUTH_TOKEN_PREVIOUS = ""
    assert signed_post(client, INBOUND, inbound_params(MessageSid="SM3"), token="old-token").status_code == 403


def test_the_same_message_sid_twice_leaves_one_row(client):
    assert signed_post(client, INBOUND, inbound_params()).status_code == 200
    assert signed_post(client, INBOUND, inbound_params()).status_code == 200
    assert Message.objects.filter(direction="inbound").count() == 1
    assert Message.objects.filter(direction="outbound").count() == 1


def test_media_urls_are_kept(client):
    params = inbound_params(
        Body="", NumMedia="2", MediaUrl0="https://api.twilio.com/a.jpg", MediaUrl1="https://api.twilio.com/b.jpg"
    )
    assert signed_post(client, INBOUND, params).status_code == 200
    assert Message.objects.get(direction="inbound").media_urls == [
        "https://api.twilio.com/a.jpg",
        "https://api.twilio.com/b.jpg",
    ]


def test_a_webhook_from_a_malformed_number_is_refused_without_storing(client):
    response = signed_post(client, INBOUND, inbound_params(From="12"))
    assert response.status_code == 400
    assert not Message.objects.exists()


def test_webhooks_take_only_post(client):
    assert client.get(INBOUND).status_code == 405


@pytest.fixture
def sent_message():
    return MessageFactory(subscriber=SubscriberFactory(), status="sent", provider_message_id="SMabc")


def report(client, status, sid="SMabc", **params):
    return signed_post(client, STATUS, {"MessageSid": sid, "MessageStatus": status, **params})


def test_status_callbacks_move_forward_only(client, sent_message):
    assert report(client, "delivered").status_code == 204
    sent_message.refresh_from_db()
    assert sent_message.status == "delivered" and sent_message.delivered_at is not None
    report(client, "sent")  # late and out of order
    report(client, "sending")
    sent_message.refresh_from_db()
    assert sent_message.status == "delivered"


def test_undelivered_keeps_the_error_code_and_21610_unsubscribes(client, sent_message):
    report(client, "undelivered", ErrorCode="21610")
    sent_message.refresh_from_db()
    assert (sent_message.status, sent_message.error_code) == ("undelivered", "21610")
    sent_message.subscriber.refresh_from_db()
    assert sent_message.subscriber.status == "unsubscribed"
    assert sent_message.subscriber.consent_events.get().source == "provider"


def test_status_callbacks_are_signed_too(client, sent_message):
    response = client.post(STATUS, {"MessageSid": "SMabc", "MessageStatus": "failed"})
    assert response.status_code == 403
    sent_message.refresh_from_db()
    assert sent_message.status == "sent"


def test_a_report_finds_a_message_whose_sid_was_never_recorded(sent_message):
    lost = MessageFactory(
        subscriber=sent_message.subscriber, status="failed", error_code="worker_lost", provider_message_id=None
    )
    message_status_report(provider_message_id="SMlost", provider_status="delivered", message_id=lost.pk)
    lost.refresh_from_db()
    assert (lost.status, lost.provider_message_id) == ("delivered", "SMlost")


def test_unknown_sids_are_ignored(client):
    assert report(client, "delivered", sid="SMunknown").status_code == 204
