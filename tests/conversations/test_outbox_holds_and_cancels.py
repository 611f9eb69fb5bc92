"""The outbox's named services: hold, release, cancel, and the one cancel rule (conversations/outbox/__init__.py).

The rule: a cancel takes back every chosen text that has not been handed to the provider (queued, held, or claimed
and not yet stamped), never a stamped one (it may be at the provider) nor an opt-out confirmation. After a STOP,
nothing but the confirmation reaches the provider.
"""

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from conversations.models import Message, Subscriber
from conversations.outbox import (
    HELD_FOREVER,
    message_queue,
    messages_cancel,
    messages_hold,
    messages_queue_select,
    messages_release,
    outbox_claim,
    outbox_send_due,
)
from conversations.outbox.sending import SendReport, _deliver, _record_sent, _stamp
from conversations.services import inbound_receive
from conversations.sms.providers import TwilioProvider
from tests.factories import SubscriberFactory
from tests.fakes.twilio import twilio_configured

pytestmark = pytest.mark.django_db
FLOW = Message.Origin.FLOW
RUN = 41  # a flow run's id: the origin id of its texts


@pytest.fixture
def twilio(settings):
    with twilio_configured(settings) as fake:
        yield fake


@pytest.fixture
def daytime(monkeypatch):
    noon = datetime(2026, 11, 24, 17, 0, tzinfo=UTC)  # noon in New York: marketing may go
    monkeypatch.setattr(timezone, "now", lambda: noon)
    return noon


@pytest.fixture
def shopper():
    return SubscriberFactory(phone="+12125550100", time_zone="America/New_York", status="subscribed")


def text(shopper, body, **options):
    return message_queue(subscriber=shopper, body=body, origin=FLOW, origin_id=RUN, purpose="system", **options)


def states(*messages):
    for message in messages:
        message.refresh_from_db()
    return [(m.body, m.status, m.error_code) for m in messages]


def test_after_a_stop_only_the_confirmation_reaches_the_provider(twilio, shopper, daytime):
    claimed_text = text(shopper, "claimed by a worker, waiting for its slot")
    [claimed] = outbox_claim(limit=1)
    queued = text(shopper, "queued")
    held = text(shopper, "held while an agent talks")
    messages_hold(origin=FLOW, origin_ids=[RUN], reason="held: an agent is talking with them")
    later = text(shopper, "due tomorrow", not_before=daytime + timedelta(days=1))

    result = inbound_receive(from_number=shopper.phone, to_number="+18885550000", body="STOP")

    [confirmation] = result.replies
    assert confirmation.purpose == Message.Purpose.OPT_OUT_CONFIRMATION
    # What a campaign's fan-out queues in bulk after the STOP is refused when the worker claims it.
    bulk = messages_queue_select(
        columns={
            "subscriber_id": ("s.id", []),
            "sender": ("%s", ["+18885550000"]),
            "body": ("%s", ["a campaign text queued in bulk after the STOP"]),
            "media_urls": ("%s", ["[]"]),
            "segments": ("1", []),
            "encoding": ("%s", ["GSM-7"]),
            "origin": ("%s", [Message.Origin.CAMPAIGN]),
            "origin_id": ("s.id", []),
            "purpose": ("%s", [Message.Purpose.MARKETING]),
            "not_before": ("NULL", []),
        },
        source=f"{Subscriber._meta.db_table} s WHERE s.id = %s",
        source_params=[shopper.pk],
    )
    assert bulk == 1
    messages_release(origin=FLOW, origin_ids=[RUN])
    _deliver(claimed, TwilioProvider(), SendReport())  # the worker that claimed a text before the STOP goes on
    outbox_send_due(max_seconds=5)
    outbox_send_due(max_seconds=5)

    assert [request["form"]["Body"] for request in twilio.requests] == [confirmation.body]
    assert states(claimed_text, queued, held, later) == [
        ("claimed by a worker, waiting for its slot", "failed", "gate:opted_out"),
        ("queued", "failed", "gate:opted_out"),
        ("held while an agent talks", "failed", "gate:opted_out"),
        ("due tomorrow", "failed", "gate:opted_out"),
    ]
    assert Message.objects.get(origin=Message.Origin.CAMPAIGN).status == "failed"


def test_a_cancel_takes_back_what_has_not_left_and_leaves_a_stamped_text_to_its_worker(twilio, shopper, daytime):
    stamped_text, claimed_text = text(shopper, "stamped"), text(shopper, "claimed")
    stamped, claimed = outbox_claim(limit=2)
    assert _stamp(stamped, daytime)  # handed over: the provider may have it from now on
    queued = text(shopper, "queued")
    held = text(shopper, "held")
    messages_hold(origin=FLOW, origin_ids=[RUN], reason="paused")
    other_run = message_queue(subscriber=shopper, body="another run's", origin=FLOW, origin_id=RUN + 1)

    cancelled = messages_cancel(origin=FLOW, origin_ids=[RUN], code="flow_ended", reason="cancelled: the run ended")

    assert cancelled == 3
    assert states(stamped_text, claimed_text, queued, held, other_run) == [
        ("stamped", "sending", ""),
        ("claimed", "failed", "flow_ended"),
        ("queued", "failed", "flow_ended"),
        ("held", "failed", "flow_ended"),
        ("another run's", "queued", ""),
    ]
    assert (held.not_before, held.hold_reason, claimed_text.claimed_until) == (None, "", None)
    # The claimed text's worker finds it cancelled at its stamp and sends nothing; the stamped one is recorded.
    _deliver(claimed, TwilioProvider(), SendReport())
    assert twilio.requests == []
    _record_sent(stamped, "SM" + "1" * 32, daytime)
    assert states(stamped_text, claimed_text) == [("stamped", "sent", ""), ("claimed", "failed", "flow_ended")]


def test_a_cancel_only_takes_texts_queued_before_a_moment_when_asked(shopper, daytime, monkeypatch):
    earlier = text(shopper, "the reminder queued earlier")
    monkeypatch.setattr(timezone, "now", lambda: daytime + timedelta(seconds=1))
    last_words = text(shopper, "the run's last words")
    messages_cancel(origin=FLOW, origin_ids=[RUN], queued_before=daytime + timedelta(seconds=1), code="x", reason="x")
    assert states(earlier, last_words) == [
        ("the reminder queued earlier", "failed", "x"),
        ("the run's last words", "queued", ""),
    ]


def test_an_opt_out_confirmation_is_never_cancelled(shopper, daytime):
    result = inbound_receive(from_number=shopper.phone, to_number="+18885550000", body="STOP")
    [confirmation] = result.replies
    assert messages_cancel(subscriber=shopper, code="gate:opted_out", reason="again") == 0
    assert states(confirmation) == [(confirmation.body, "queued", "")]


def test_a_held_text_waits_until_released_and_a_release_leaves_other_waiting_texts_alone(shopper, daytime):
    held = text(shopper, "held")
    assert messages_hold(origin=FLOW, origin_ids=[RUN], reason="paused") == 1
    held.refresh_from_db()
    assert (held.status, held.not_before, held.hold_reason) == ("queued", HELD_FOREVER, "paused")
    assert outbox_claim(limit=10) == []
    tomorrow = daytime + timedelta(days=1)
    waiting = text(shopper, "waits for tomorrow", not_before=tomorrow)

    assert messages_release(origin=FLOW, origin_ids=[RUN], due_at=daytime) == 1

    held.refresh_from_db()
    waiting.refresh_from_db()
    assert (held.not_before, held.hold_reason, waiting.not_before) == (daytime, "", tomorrow)
    assert [m.pk for m in outbox_claim(limit=10)] == [held.pk]


def test_a_release_by_zone_gives_each_subscriber_the_time_of_their_zone(daytime):
    east = SubscriberFactory(phone="+12125550101", time_zone="America/New_York", status="subscribed")
    west = SubscriberFactory(phone="+14155550102", time_zone="America/Los_Angeles", status="subscribed")
    texts = [text(east, "east"), text(west, "west")]
    messages_hold(origin=FLOW, origin_ids=[RUN], reason="paused")
    due = {"America/New_York": daytime + timedelta(hours=1), "America/Los_Angeles": daytime + timedelta(hours=4)}
    assert messages_release(origin=FLOW, origin_ids=[RUN], due_in_zone=due.get) == 2
    for message in texts:
        message.refresh_from_db()
    assert [m.not_before for m in texts] == [due["America/New_York"], due["America/Los_Angeles"]]


def test_the_services_name_the_texts_they_change(shopper):
    with pytest.raises(ValueError, match="name the texts"):
        messages_cancel(code="x", reason="every text of the store")
    with pytest.raises(ValueError, match="the columns must be exactly"):
        messages_queue_select(columns={"body": ("%s", ["hi"])}, source="x", source_params=[])
