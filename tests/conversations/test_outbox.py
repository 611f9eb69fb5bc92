"""The outbox: queued texts leave through the send gate and the provider, once, at the sender's pace.

The Twilio provider is the real one (the official SDK); Twilio itself is a small fake HTTP server on
127.0.0.1 (tests/fakes/twilio.py).
"""

from datetime import UTC, datetime, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from conversations.models import Message, Subscriber
from conversations.outbox import SendRefused, message_queue, outbox_claim, outbox_reclaim_expired, outbox_send_due
from conversations.services import subscriber_opt_out
from conversations.sms.providers import TwilioProvider
from tests.factories import SubscriberFactory
from tests.fakes.twilio import Scripted, twilio_configured

pytestmark = pytest.mark.django_db


@pytest.fixture
def twilio(settings):
    with twilio_configured(settings) as fake:
        settings.PUBLIC_BASE_URL = "https://sms.example.com"
        yield fake


@pytest.fixture
def daytime(monkeypatch):
    """Noon in New York, so marketing is inside the window."""
    noon = datetime(2026, 11, 24, 17, 0, tzinfo=UTC)
    monkeypatch.setattr(timezone, "now", lambda: noon)
    return noon


@pytest.fixture
def shopper():
    return SubscriberFactory(phone="+12125550100", time_zone="America/New_York", status="subscribed")


def send(**options):
    return outbox_send_due(max_seconds=5, **options)


def test_a_text_goes_to_twilio_once_with_its_details(twilio, shopper, daytime):
    message = message_queue(subscriber=shopper, body="New arrivals in size M!", purpose="marketing")
    report = send()
    assert report.sent == 1
    [request] = twilio.requests
    form = request["form"]
    assert (form["To"], form["From"], form["Body"]) == ("+12125550100", "+18885550000", "New arrivals in size M!")
    assert form["StatusCallback"] == f"https://sms.example.com/webhooks/twilio/status/?message={message.pk}"
    assert int(form["ValidityPeriod"]) == 8 * 3600  # noon in New York: the window closes at 20:00
    message.refresh_from_db()
    assert message.status == "sent" and message.provider_message_id.startswith("SM")
    assert send().sent == 0
    assert len(twilio.requests) == 1


def test_segments_and_encoding_are_stored_and_long_texts_warn(shopper):
    short = message_queue(subscriber=shopper, body="Caf\u00e9 \u2013 20% off")
    assert (short.encoding, short.segments, short.warnings) == ("UCS-2", 1, [])
    long = message_queue(subscriber=shopper, body="a" * 500)
    assert long.segments == 4
    assert "4 segments" in long.warnings[0]


def test_bodies_are_normalised_and_checked(shopper, settings):
    message = message_queue(subscriber=shopper, body="Cafe\u0301\r\nsee you")
    assert message.body == "Caf\u00e9\nsee you"
    with pytest.raises(ValidationError, match="1600"):
        message_queue(subscriber=shopper, body="x" * 1601)
    with pytest.raises(ValidationError, match="empty"):
        message_queue(subscriber=shopper, body="  ")
    settings.SMS_SMART_ENCODING = True
    smart = message_queue(subscriber=shopper, body="\u201cHi\u201d \u2013 it\u2019s here\u2026")
    assert (smart.body, smart.encoding) == ('"Hi" - it\'s here...', "GSM-7")


def test_unsubscribed_recipients_are_refused_when_queued(shopper):
    subscriber_opt_out(subscriber=shopper, source="api")
    with pytest.raises(SendRefused, match="opted out"):
        message_queue(subscriber=shopper, body="Hello", purpose="conversational", origin="agent")
    assert not Message.objects.filter(direction="outbound").exists()


def test_a_stop_after_queueing_means_the_provider_never_sees_it(twilio, shopper, daytime):
    message = message_queue(subscriber=shopper, body="Flash sale!", purpose="marketing")
    subscriber_opt_out(subscriber=shopper, source="keyword", raw_text="STOP")
    send()
    assert twilio.requests == []
    message.refresh_from_db()
    assert message.status == "failed"


def test_a_stop_between_claim_and_send_is_still_honoured(twilio, shopper, daytime):
    message = message_queue(subscriber=shopper, body="Flash sale!", purpose="marketing")
    [claimed] = outbox_claim(limit=10)
    # The subscriber says STOP while the worker waits for the send slot.
    Subscriber.objects.filter(pk=shopper.pk).update(status="unsubscribed")
    from conversations.outbox.sending import SendReport, _deliver

    _deliver(claimed, TwilioProvider(), SendReport())
    assert twilio.requests == []
    message.refresh_from_db()
    assert (message.status, message.error_code) == ("failed", "gate:opted_out")


def test_marketing_at_night_is_held_until_morning_not_dropped(twilio, shopper, monkeypatch):
    night = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)  # 22:00 in New York
    monkeypatch.setattr(timezone, "now", lambda: night)
    message = message_queue(subscriber=shopper, body="Midnight deal", purpose="marketing")
    assert message.not_before == datetime(2026, 11, 25, 14, 0, tzinfo=UTC)
    assert "quiet hours" in message.hold_reason
    assert send().sent == 0
    morning = datetime(2026, 11, 25, 14, 0, 1, tzinfo=UTC)
    monkeypatch.setattr(timezone, "now", lambda: morning)
    assert send().sent == 1
    assert len(twilio.requests) == 1


def test_the_fourth_marketing_text_in_a_day_waits(twilio, shopper, daytime):
    for index in range(4):
        message_queue(subscriber=shopper, body=f"Deal {index}", purpose="marketing")
    report = send()
    assert (report.sent, report.held) == (3, 1)
    held = Message.objects.get(body="Deal 3")
    assert held.status == "queued" and held.not_before > daytime
    assert "frequency cap" in held.hold_reason


def test_replies_to_their_own_text_go_at_night(twilio, shopper, monkeypatch):
    night = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)
    monkeypatch.setattr(timezone, "now", lambda: night)
    Subscriber.objects.filter(pk=shopper.pk).update(last_inbound_at=night - timedelta(minutes=1))
    shopper.refresh_from_db()
    message_queue(subscriber=shopper, body="Yes, we ship to Canada!", purpose="conversational", origin="agent")
    assert send().sent == 1


@pytest.mark.parametrize("code", [21610, 21211, 21614, 30005])
def test_permanent_errors_fail_without_retry(twilio, shopper, daytime, code):
    twilio.errors_by_to[shopper.phone] = Scripted(400, code, "scripted")
    message = message_queue(subscriber=shopper, body="Hi", purpose="marketing")
    report = send()
    assert (report.failed, report.retried, len(twilio.requests)) == (1, 0, 1)
    message.refresh_from_db()
    assert (message.status, message.error_code) == ("failed", str(code))
    shopper.refresh_from_db()
    assert (shopper.status == "unsubscribed") is (code == 21610)


@pytest.mark.parametrize("answer", [Scripted(500, None), Scripted(503, None), Scripted(429, 20429)])
def test_transient_errors_retry_with_backoff_up_to_a_limit(twilio, shopper, daytime, monkeypatch, settings, answer):
    settings.SMS_MAX_ATTEMPTS = 3
    twilio.errors_by_to[shopper.phone] = answer
    message = message_queue(subscriber=shopper, body="Hi", purpose="marketing")
    assert send().retried == 1
    message.refresh_from_db()
    assert message.status == "queued" and message.not_before == daytime + timedelta(seconds=30)
    assert send().sent == 0  # not due yet: backoff
    for minutes in (1, 10):
        later = daytime + timedelta(minutes=minutes)
        monkeypatch.setattr(timezone, "now", lambda later=later: later)
        send()
    message.refresh_from_db()
    assert (message.status, message.attempts, len(twilio.requests)) == ("failed", 3, 3)


def test_a_retry_succeeds_when_twilio_recovers(twilio, shopper, daytime, monkeypatch):
    twilio.next_answers.append(Scripted(503))
    message = message_queue(subscriber=shopper, body="Hi", purpose="marketing")
    send()
    monkeypatch.setattr(timezone, "now", lambda: daytime + timedelta(minutes=1))
    send()
    message.refresh_from_db()
    assert (message.status, message.attempts, len(twilio.requests)) == ("sent", 2, 2)


def test_an_unanswered_request_is_never_sent_again(twilio, shopper, daytime):
    twilio.next_answers.append(Scripted(201, delay=2.0))  # longer than the 1 s client timeout
    message = message_queue(subscriber=shopper, body="Hi", purpose="marketing")
    report = send()
    assert report.failed == 1
    message.refresh_from_db()
    assert (message.status, message.error_code) == ("failed", "no_answer")
    assert send().sent == 0
    assert len(twilio.requests) == 1


def test_an_unreachable_twilio_is_retried(settings, shopper, daytime):
    settings.SMS_PROVIDER = "twilio"
    settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN = "AC" + "0" * 32, "secret"
    settings.TWILIO_API_BASE_URL = "http://127.0.0.1:9"  # nothing listens on the discard port
    message = message_queue(subscriber=shopper, body="Hi", purpose="marketing")
    assert send().retried == 1
    message.refresh_from_db()
    assert (message.status, message.error_code) == ("queued", "connection")


def test_a_dead_workers_lease_returns_unsent_texts_and_fails_handed_over_ones(shopper, daytime):
    untouched = message_queue(subscriber=shopper, body="one")
    handed = message_queue(subscriber=shopper, body="two")
    outbox_claim(limit=10)
    Message.objects.filter(pk=handed.pk).update(attempted_at=daytime)
    assert outbox_reclaim_expired(now=daytime + timedelta(seconds=1)) == 0  # the lease still runs
    assert outbox_reclaim_expired(now=daytime + timedelta(seconds=30)) == 2  # a few seconds, not minutes
    untouched.refresh_from_db()
    handed.refresh_from_db()
    assert untouched.status == "queued"
    assert (handed.status, handed.error_code) == ("failed", "worker_lost")


def test_the_console_provider_prints_and_marks_sent(console, shopper, daytime):
    message = message_queue(subscriber=shopper, body="Hello from the console", purpose="marketing")
    console.send_due()
    assert "Hello from the console" in console.printed
    message.refresh_from_db()
    assert message.status == "sent"
    shopper.refresh_from_db()
    assert shopper.last_outbound_at is not None


def test_a_text_being_sent_by_another_worker_counts_toward_the_cap(shopper, daytime):
    for index in range(2):
        Message.objects.create(
            subscriber=shopper,
            direction="outbound",
            body=f"earlier {index}",
            status="sent",
            purpose="marketing",
            origin="campaign",
            sent_at=daytime - timedelta(hours=2),
        )
    message_queue(subscriber=shopper, body="third", purpose="marketing")
    message_queue(subscriber=shopper, body="fourth", purpose="marketing")
    assert [m.body for m in outbox_claim(limit=1)] == ["third"]  # now sending, not yet sent
    assert outbox_claim(limit=1) == []
    assert Message.objects.get(body="fourth").hold_reason.startswith("frequency cap")


def test_marketing_that_reaches_the_provider_after_the_window_closed_waits_for_morning(twilio, shopper, monkeypatch):
    evening = datetime(2026, 11, 25, 0, 59, 59, tzinfo=UTC)  # 19:59:59 in New York
    monkeypatch.setattr(timezone, "now", lambda: evening)
    message = message_queue(subscriber=shopper, body="Last call!", purpose="marketing")
    [claimed] = outbox_claim(limit=1)
    later = evening + timedelta(seconds=2)  # the worker got to it at 20:00:01
    monkeypatch.setattr(timezone, "now", lambda: later)
    from conversations.outbox.sending import SendReport, _deliver

    _deliver(claimed, TwilioProvider(), SendReport())
    assert twilio.requests == []
    message.refresh_from_db()
    assert (message.status, message.not_before) == ("queued", datetime(2026, 11, 25, 14, 0, tzinfo=UTC))


def test_a_worker_whose_lease_ran_out_leaves_the_text_to_the_worker_that_took_it_over(twilio, shopper, daytime):
    from conversations.outbox.sending import SendReport, _deliver

    message_queue(subscriber=shopper, body="only once", purpose="marketing")
    [slow] = outbox_claim(limit=1)  # worker A, then stalls past its lease
    outbox_reclaim_expired(now=daytime + timedelta(minutes=10))
    [fast] = outbox_claim(limit=1)  # worker B takes it over
    _deliver(fast, TwilioProvider(), SendReport())
    _deliver(slow, TwilioProvider(), SendReport())  # A wakes up
    assert [form["Body"] for form in twilio.sent] == ["only once"]
    assert Message.objects.get(body="only once").status == "sent"
