"""Twilio's webhooks: signed requests only, stored once, delivery reports that only move forward."""

import hashlib
from urllib.parse import quote, urlencode

import pytest
from django.http import QueryDict
from twilio.request_validator import RequestValidator

from conversations.models import Message, Subscriber
from conversations.outbox import message_status_report
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
    url = url or f"http://testserver{quote(path, safe='/?=&%')}"  # as Twilio calls it: percent-encoded
    signature = RequestValidator(token).compute_signature(url, params)
    return client.post(path, params, HTTP_X_TWILIO_SIGNATURE=signature, **extra)


def sid(seed: str, prefix: str = "SM") -> str:
    """A sid in Twilio's form (two letters and 32 hex digits), different for each seed."""
    return prefix + hashlib.md5(seed.encode()).hexdigest()


def inbound_params(**overrides):
    """What Twilio posts for an incoming SMS, with the parameters its documentation lists."""
    message_sid = overrides.pop("MessageSid", sid("first"))
    return {
        "ToCountry": "US",
        "ToState": "CA",
        "SmsMessageSid": message_sid,
        "NumMedia": "0",
        "ToCity": "SAN FRANCISCO",
        "FromZip": "94105",
        "SmsSid": message_sid,
        "FromState": "CA",
        "SmsStatus": "received",
        "FromCity": "SAN FRANCISCO",
        "Body": "START",
        "FromCountry": "US",
        "To": "+18885550000",
        "ToZip": "94016",
        "NumSegments": "1",
        "MessageSid": message_sid,
        "AccountSid": "AC" + "0" * 32,
        "From": "+14155550123",
        "ApiVersion": "2010-04-01",
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
        client, INBOUND + "?store=1", inbound_params(MessageSid=sid("2")), url=f"http://testserver{INBOUND}?store=1"
    )
    assert internal.status_code == 403


def test_the_previous_token_still_works_during_a_rotation(client, settings):
    settings.TWILIO_AUTH_TOKEN_PREVIOUS = "old-token"
    assert signed_post(client, INBOUND, inbound_params(), token="old-token").status_code == 200
    settings.TWILIO_AUTH_TOKEN_PREVIOUS = ""
    assert signed_post(client, INBOUND, inbound_params(MessageSid=sid("3")), token="old-token").status_code == 403


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
    return MessageFactory(subscriber=SubscriberFactory(), status="sent", provider_message_id=SENT_SID)


SENT_SID = sid("sent")


def status_params(status, message_sid=SENT_SID, **params):
    """What Twilio posts to a status callback."""
    return {
        "AccountSid": "AC" + "0" * 32,
        "ApiVersion": "2010-04-01",
        "From": "+18885550000",
        "To": "+14155550188",
        "MessageSid": message_sid,
        "SmsSid": message_sid,
        "MessageStatus": status,
        "SmsStatus": status,
        **params,
    }


def report(client, status, sid=SENT_SID, path=STATUS, **params):
    return signed_post(client, path, status_params(status, sid, **params))


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
    response = client.post(STATUS, status_params("failed"))
    assert response.status_code == 403
    sent_message.refresh_from_db()
    assert sent_message.status == "sent"


def test_a_report_finds_a_message_whose_sid_was_never_recorded(sent_message):
    lost = MessageFactory(
        subscriber=sent_message.subscriber, status="failed", error_code="worker_lost", provider_message_id=None
    )
    lost.attempted_at = lost.created_at
    lost.save()
    message_status_report(provider_message_id=sid("lost"), provider_status="delivered", message_id=lost.pk)
    lost.refresh_from_db()
    assert (lost.status, lost.provider_message_id) == ("delivered", sid("lost"))


def test_unknown_sids_are_ignored(client):
    assert report(client, "delivered", sid=sid("unknown")).status_code == 204


# --- Re-split replays: the signature joins names and values with no separator ---------------------------------


def resplits(params: dict) -> list[dict]:
    """Every request that moves the boundary between two neighbouring parameters (in signing order) and so keeps
    the signature: a value may take in the next name's first letters, a name may lose its end to its value…"""
    names = sorted(params)
    forged = []
    for index in range(len(names) - 1):
        first, second = names[index], names[index + 1]
        joined = params[first] + second + params[second]
        for a in range(len(joined) + 1):
            for b in range(a + 1, len(joined) + 1):
                name = joined[a:b]
                if (params[first], second, params[second]) == (joined[:a], name, joined[b:]):
                    continue  # the original
                if name in params and name not in (first, second):
                    continue
                candidate = {k: v for k, v in params.items() if k not in (first, second)}
                candidate[first], candidate[name] = joined[:a], joined[b:]
                forged.append(candidate)
    return forged


def signature_of(params, url=f"http://testserver{INBOUND}"):
    return RequestValidator(TOKEN).compute_signature(url, params)


def test_every_re_split_of_a_signed_text_keeps_the_signature_and_is_refused():
    from conversations.sms.twilio_params import inbound_problem

    original = inbound_params(Body="START please")
    forged = [f for f in resplits(original) if signature_of(f) == signature_of(original)]
    assert len(forged) > 400  # the attack is real: these all carry Twilio's valid signature
    accepted = [f for f in forged if inbound_problem(f) is None]
    assert accepted == []
    assert inbound_problem(original) is None


def test_a_re_split_replay_of_start_after_stop_is_refused_and_the_number_stays_unsubscribed(client):
    start = inbound_params(Body="Start", MessageSid=sid("start"))
    assert signed_post(client, INBOUND, start).status_code == 200
    assert signed_post(client, INBOUND, inbound_params(Body="stop", MessageSid=sid("stop"))).status_code == 200
    subscriber = Subscriber.objects.get()
    assert subscriber.status == "unsubscribed"
    texts = Message.objects.count()

    # "MessageSid" + sid re-split as "MessageSi" + "d" + sid, and the older names dropped the same way.
    replay = {k: v for k, v in start.items() if k not in ("MessageSid", "SmsSid", "SmsMessageSid")}
    replay.update({"MessageSi": "d" + start["MessageSid"], "SmsMessageSi": "d" + start["SmsMessageSid"]})
    replay["SmsSi"] = "d" + start["SmsSid"]
    assert signature_of(replay) == signature_of(start)
    response = client.post(INBOUND, replay, HTTP_X_TWILIO_SIGNATURE=signature_of(start))
    assert response.status_code == 400
    assert "MessageSi" in response.content.decode()
    # The exact request again is a duplicate of the stored START: nothing happens either.
    assert signed_post(client, INBOUND, start).status_code == 200
    subscriber.refresh_from_db()
    assert subscriber.status == "unsubscribed"
    assert Message.objects.count() == texts


def test_a_body_crafted_to_hold_forged_parameters_cannot_be_re_split_into_another_text():
    """The shopper writes the body: it may spell out `From…MessageSid…`, but the real sid that follows must then
    be taken in by some later parameter, and none of Twilio's later parameters can hold it."""
    from conversations.sms.twilio_params import inbound_problem

    fake = sid("fake")
    original = inbound_params(Body=f"hiFrom+14155550999MessageSid{fake}SmsMessageSid{fake}SmsSid{fake}ToCity")
    forged = [f for f in resplits(original) if signature_of(f) == signature_of(original)]
    assert [f for f in forged if inbound_problem(f) is None and f["MessageSid"] != original["MessageSid"]] == []


@pytest.mark.parametrize(
    "change",
    [
        {"MessageSid": None, "SmsSid": None, "SmsMessageSid": None},  # no sid at all
        {"MessageSid": "SM123"},  # not Twilio's form
        {"SmsSid": sid("other")},  # the older names disagree
        {"AccountSid": None},
        {"Unknown": "1"},  # a parameter Twilio does not send
        {"NumSegments": "1From+14155550111"},
        {"ToCity": "SAN JOSE2"},
    ],
)
def test_signed_texts_that_twilio_would_not_send_are_refused_and_store_nothing(client, change):
    params = {k: v for k, v in {**inbound_params(), **change}.items() if v is not None}
    assert signed_post(client, INBOUND, params).status_code == 400
    assert not Message.objects.exists() and not Subscriber.objects.exists()


def test_a_repeated_parameter_is_refused(client):
    params = inbound_params()
    url = f"http://testserver{INBOUND}"
    body = urlencode(params) + "&Body=STOP"
    signature = RequestValidator(TOKEN).compute_signature(url, QueryDict(body))
    response = client.post(
        INBOUND, body, content_type="application/x-www-form-urlencoded", HTTP_X_TWILIO_SIGNATURE=signature
    )
    assert response.status_code == 400
    assert not Message.objects.exists()


def test_the_account_sid_must_be_the_stores_when_configured(client, settings):
    settings.TWILIO_ACCOUNT_SID = "AC" + "1" * 32
    assert signed_post(client, INBOUND, inbound_params()).status_code == 400
    assert signed_post(client, INBOUND, inbound_params(AccountSid="AC" + "1" * 32)).status_code == 200


def test_a_parameter_twilio_adds_later_can_be_allowed_by_the_store(client, settings):
    assert signed_post(client, INBOUND, inbound_params(ChannelMetadata="{}")).status_code == 400
    settings.TWILIO_EXTRA_WEBHOOK_PARAMETERS = ["ChannelMetadata"]
    assert signed_post(client, INBOUND, inbound_params(ChannelMetadata="{}")).status_code == 200


def test_a_re_split_status_callback_is_refused_and_changes_nothing(client, sent_message):
    params = status_params("delivered")
    forged = [f for f in resplits(params) if signature_of(f, STATUS) == signature_of(params, STATUS)]
    from conversations.sms.twilio_params import status_problem

    assert forged and [f for f in forged if status_problem(f) is None] == []
    replay = {k: v for k, v in params.items() if k not in ("MessageSid", "SmsSid")}
    replay.update({"MessageSi": "d" + params["MessageSid"], "SmsSi": "d" + params["SmsSid"]})
    response = client.post(STATUS, replay, HTTP_X_TWILIO_SIGNATURE=signature_of(params, f"http://testserver{STATUS}"))
    assert response.status_code == 400
    sent_message.refresh_from_db()
    assert sent_message.status == "sent"


def test_a_signed_status_never_delivers_a_text_that_was_not_handed_to_the_provider(client, sent_message):
    queued = MessageFactory(subscriber=sent_message.subscriber, status="queued", provider_message_id=None)
    path = f"{STATUS}?message={queued.pk}"
    assert report(client, "delivered", sid=sid("made-up"), path=path).status_code == 204
    queued.refresh_from_db()
    assert (queued.status, queued.provider_message_id, queued.delivered_at) == ("queued", None, None)
    # Nor another text's: the report names a sid, and the id in the URL only helps when no sid was recorded.
    path = f"{STATUS}?message={sent_message.pk}"
    assert report(client, "delivered", sid=sid("made-up"), path=path).status_code == 204
    sent_message.refresh_from_db()
    assert (sent_message.status, sent_message.provider_message_id) == ("sent", SENT_SID)


@pytest.mark.parametrize("message", ["²", "9" * 40, "-1", "1e3", "١"])
def test_odd_message_ids_in_a_status_url_are_ignored(client, sent_message, message):
    assert report(client, "delivered", path=f"{STATUS}?message={quote(message)}").status_code == 204
    sent_message.refresh_from_db()
    assert sent_message.status == "delivered"


def test_real_values_in_other_scripts_and_alphanumeric_senders_are_accepted(client, sent_message):
    params = inbound_params(FromCity="MONTRÉAL", FromState="QC", FromCountry="CA", FromZip="H2X 1Y4")
    assert signed_post(client, INBOUND, params).status_code == 200
    assert report(client, "delivered", From="Acme24").status_code == 204
    sent_message.refresh_from_db()
    assert sent_message.status == "delivered"
