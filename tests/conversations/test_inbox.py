"""The inbox's rules, through the real inbound API and the services: who gets a shopper's text, and what
automation does while a person is talking with them."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from conversations import outbox
from conversations.inbox import services as inbox
from conversations.models import ConsentEvent, Conversation, Message, Subscriber
from flows.models import FlowRun
from flows.services import flow_templates_load, runs_process_due
from tests.factories import SubscriberFactory, UserFactory

pytestmark = pytest.mark.django_db
URL = "/api/v1/messages/inbound/"
PHONE = "+14155550123"


def text(api, body, phone=PHONE) -> list[str]:
    """The shopper texts the store; the bodies of the replies queued in answer."""
    response = api.post(URL, {"from": phone, "to": "+18885550000", "body": body}, format="json")
    assert response.status_code == 201, response.json()
    return [reply["body"] for reply in response.json()["replies"]]


def shopper(**fields) -> Subscriber:
    return SubscriberFactory(phone=PHONE, first_name="Lee", time_zone="America/Los_Angeles", **fields)


def conversation() -> Conversation:
    return Conversation.objects.get(subscriber__phone=PHONE)


def run_of(flow_name: str) -> FlowRun:
    return FlowRun.objects.filter(subscriber__phone=PHONE, flow__name=flow_name).latest("id")


@pytest.fixture
def flows():
    flow_templates_load()


# --- Who gets the text ---------------------------------------------------------------------------------------


def test_a_text_nothing_handles_opens_a_conversation_with_one_unread(api, flows):
    shopper()
    assert text(api, "hi, where is my order #1042") == []  # a person answers, not a robot
    opened = conversation()
    assert (opened.status, opened.reason, opened.unread) == ("open", "inbound", 1)
    assert opened.assignee is None
    assert opened.last_message_at == Message.objects.get(direction="inbound").created_at
    assert not FlowRun.objects.exists()


def test_further_texts_land_in_the_conversation_and_flows_never_see_them(api, flows):
    shopper()
    text(api, "hi, where is my order #1042")
    assert text(api, "GIFT") == []  # the gift finder's keyword starts nothing while a person is talking
    assert text(api, "M") == []
    assert text(api, "START") == []  # already subscribed: nothing to confirm
    current = conversation()
    assert current.unread == 3  # START is a keyword: answered (here with nothing), not an agent's to read
    assert not FlowRun.objects.exists()
    newest = Message.objects.filter(direction="inbound").order_by("-id")[1]
    assert current.last_message_at == newest.created_at
    assert Conversation.objects.count() == 1


def test_a_pending_conversation_opens_again_when_the_shopper_writes(api):
    shopper()
    text(api, "can I return a gift?")
    inbox.conversation_set_status(conversation=conversation(), status="pending")
    text(api, "order 1042")
    assert (conversation().status, conversation().unread) == ("open", 2)


def test_stop_still_opts_out_during_a_conversation_and_the_confirmation_is_sent(api, console):
    shopper()
    text(api, "hi, where is my order #1042")
    [confirmation] = text(api, "STOP")
    assert "unsubscribed" in confirmation
    subscriber = Subscriber.objects.get(phone=PHONE)
    assert subscriber.status == "unsubscribed"
    assert ConsentEvent.objects.get(kind="opt_out").source == "keyword"
    report = console.send_due()
    assert report.sent == 1
    assert f"[sms] to {PHONE}" in console.printed and "unsubscribed" in console.printed
    assert Message.objects.get(purpose="opt_out_confirmation").status == "sent"


def test_a_closed_conversation_opens_again_on_the_next_unhandled_text(api):
    shopper()
    text(api, "hello?")
    inbox.conversation_close(conversation=conversation())
    assert (conversation().status, conversation().unread) == ("closed", 0)
    text(api, "me again, about my return")
    reopened = conversation()
    assert (reopened.status, reopened.unread, reopened.closed_at) == ("open", 1, None)
    assert Conversation.objects.count() == 1  # one thread per shopper


# --- Flows pause while a person talks ------------------------------------------------------------------------


def test_a_question_mid_quiz_goes_to_the_inbox_and_the_run_pauses(api, flows):
    replies = text(api, "START")
    assert "What size do you usually wear?" in replies[1]
    run = run_of("Welcome quiz")
    assert (run.status, run.waiting_for) == ("waiting", "reply") and run.wake_at is not None

    assert text(api, "do you ship to Canada?") == []  # no nudge about sizes: the question is for a person
    opened = conversation()
    assert (opened.status, opened.reason, opened.unread) == ("open", "inbound", 1)
    run.refresh_from_db()
    assert run.paused_at is not None and run.wake_at is None
    assert (run.status, run.current_node) == ("waiting", "ask_size")
    assert "size" not in Subscriber.objects.get(phone=PHONE).attributes


def test_a_paused_run_does_not_time_out(api, flows):
    text(api, "START")
    text(api, "do you ship to Canada?")
    outbound_before = Message.objects.filter(direction="outbound").count()
    assert runs_process_due(now=timezone.now() + timedelta(days=5)) == 0
    run = run_of("Welcome quiz")
    assert (run.status, run.current_node, run.paused_at is not None) == ("waiting", "ask_size", True)
    assert Message.objects.filter(direction="outbound").count() == outbound_before


def test_closing_the_conversation_resumes_the_run_with_the_time_it_had_left(api, flows, settings):
    settings.INBOX_CLOSE_RESUMES_FLOWS = True
    text(api, "START")
    # The shopper let the size question sit for almost two days: ten minutes are left to answer it.
    run = run_of("Welcome quiz")
    left = timezone.now() + timedelta(minutes=10)
    FlowRun.objects.filter(pk=run.pk).update(wake_at=left, state={**run.state, "wake_at": left.isoformat()})
    text(api, "do you ship to Canada?")
    runs_process_due(now=timezone.now() + timedelta(days=3))

    inbox.conversation_close(conversation=conversation())
    closed_at = conversation().closed_at
    run.refresh_from_db()
    assert run.paused_at is None and run.status == "waiting"
    assert abs(run.wake_at - (closed_at + timedelta(minutes=10))) < timedelta(seconds=5)
    # The quiz goes on where it was.
    assert text(api, "M") == ["Got it, medium. What's your skin type? Dry, oily, combination, normal or sensitive?"]
    assert Subscriber.objects.get(phone=PHONE).attributes == {"size": "M"}


def test_a_resumed_run_times_out_when_its_remaining_time_is_up(api, flows, settings):
    settings.INBOX_CLOSE_RESUMES_FLOWS = True
    text(api, "START")
    run = run_of("Welcome quiz")
    left = timezone.now() + timedelta(minutes=10)
    FlowRun.objects.filter(pk=run.pk).update(wake_at=left, state={**run.state, "wake_at": left.isoformat()})
    text(api, "do you ship to Canada?")
    inbox.conversation_close(conversation=conversation())
    assert runs_process_due(now=timezone.now() + timedelta(minutes=9)) == 0
    assert runs_process_due(now=timezone.now() + timedelta(minutes=11)) == 1
    run.refresh_from_db()
    assert (run.status, run.state["path"][-1]) == ("completed", "goodbye")


def test_closing_ends_the_run_when_the_setting_says_so(api, flows, settings):
    settings.INBOX_CLOSE_RESUMES_FLOWS = False
    text(api, "START")
    text(api, "do you ship to Canada?")
    inbox.conversation_close(conversation=conversation())
    run = run_of("Welcome quiz")
    assert run.status == "interrupted" and run.wake_at is None
    assert "conversation" in run.end_reason
    # The next text is no answer to the quiz any more: it goes to a person.
    assert text(api, "M") == []
    assert "size" not in Subscriber.objects.get(phone=PHONE).attributes
    assert (conversation().status, conversation().unread) == ("open", 1)


def test_an_event_a_paused_run_waits_for_is_held_and_applied_when_it_resumes(api, flows, settings):
    settings.INBOX_CLOSE_RESUMES_FLOWS = True
    shopper()
    assert api.post("/api/v1/events/", {"phone": PHONE, "type": "cart_abandoned"}, format="json").status_code == 201
    run = run_of("Cart abandonment")
    assert (run.status, run.waiting_for) == ("waiting", "event")

    text(api, "is my cart saved?")
    run.refresh_from_db()
    assert run.paused_at is not None and run.wake_at is None
    ordered = api.post(
        "/api/v1/events/", {"phone": PHONE, "type": "order_placed", "idempotency_key": "o1"}, format="json"
    )
    assert ordered.status_code == 201
    run.refresh_from_db()
    assert run.status == "waiting"  # held, not applied while a person talks
    assert [held["type"] for held in run.state["held_events"]] == ["order_placed"]
    assert not FlowRun.objects.filter(flow__name="Post-purchase feedback").exists()  # no flow starts either
    runs_process_due(now=timezone.now() + timedelta(days=2))
    offers = Message.objects.filter(direction="outbound", origin="flow", body__contains="10% off")
    assert not offers.exists()

    inbox.conversation_close(conversation=conversation())
    run.refresh_from_db()
    assert (run.status, run.state["path"][-1]) == ("completed", "ordered")
    assert "held_events" not in run.state
    runs_process_due(now=timezone.now() + timedelta(days=2))
    assert not offers.exists()  # no cart offer after the order


def test_a_run_triggered_while_a_conversation_is_live_begins_when_it_closes(api, flows):
    shopper()
    text(api, "hi, question about sizes")
    assert api.post("/api/v1/events/", {"phone": PHONE, "type": "cart_abandoned"}, format="json").status_code == 201
    run = FlowRun.objects.get(flow__name="Cart abandonment")
    assert run.paused_at is not None and run.current_node == "" and run.wake_at is None
    assert not Message.objects.filter(direction="outbound").exists()  # nothing while a person talks

    inbox.conversation_close(conversation=conversation())
    run.refresh_from_db()
    assert run.paused_at is None and run.status == "waiting" and run.wake_at is not None  # its first wait began


def test_start_during_a_conversation_subscribes_and_the_welcome_quiz_waits_for_it_to_close(api, flows):
    Subscriber.objects.create(phone=PHONE, status="pending", time_zone="America/New_York")
    text(api, "a question before I join?")
    replies = text(api, "START")
    assert len(replies) == 1 and "You're in!" in replies[0]  # the confirmation, and no quiz yet
    inbox.conversation_close(conversation=conversation())
    assert Message.objects.filter(body__contains="What size do you usually wear?").exists()


def test_an_agent_starting_a_conversation_pauses_the_shoppers_run(api, flows):
    text(api, "START")
    agent = UserFactory(username="agent")
    started = inbox.conversation_open(
        subscriber=Subscriber.objects.get(phone=PHONE), reason=Conversation.Reason.AGENT, by=agent
    )
    assert (started.reason, started.assignee, started.unread) == ("agent", agent, 0)
    assert run_of("Welcome quiz").paused_at is not None
    assert text(api, "M") == []  # their answer goes to the agent, not the quiz
    assert conversation().unread == 1


def test_a_low_feedback_score_hands_off_to_a_conversation_with_the_note(api, flows):
    shopper()
    api.post("/api/v1/events/", {"phone": PHONE, "type": "order_placed", "idempotency_key": "o9"}, format="json")
    runs_process_due(now=timezone.now() + timedelta(days=3, minutes=1))
    assert Message.objects.get(direction="outbound").body.startswith("Hi Lee! How happy are you with your order")

    assert text(api, "2 - it arrived broken") == [
        "We're sorry to hear that. Someone from our team will text you shortly to make it right."
    ]
    handed = conversation()
    assert (handed.status, handed.reason) == ("open", "handoff")
    assert handed.handoff_note == "Post-purchase feedback: low score after an order: please follow up"
    assert handed.unread == 1  # the score no agent has seen yet
    # What they write next is for the agent.
    assert text(api, "the box was crushed too") == []
    assert conversation().unread == 2
    assert FlowRun.objects.get(flow__name="Post-purchase feedback").status == "completed"


# --- Agent replies through the send gate ----------------------------------------------------------------------


def test_an_agents_reply_to_an_unsubscribed_shopper_is_refused(api):
    shopper()
    text(api, "hi, where is my order #1042")
    text(api, "STOP")
    agent = UserFactory(username="agent")
    before = Message.objects.count()
    with pytest.raises(outbox.SendRefused) as refused:
        inbox.conversation_reply(conversation=conversation(), body="Sorry to see you go!", user=agent)
    assert refused.value.code == "opted_out"
    assert "opted out" in refused.value.reason
    assert Message.objects.count() == before


NIGHT_CANDIDATES = [
    "Pacific/Honolulu",
    "America/Los_Angeles",
    "America/New_York",
    "America/Sao_Paulo",
    "Europe/London",
    "Europe/Athens",
    "Asia/Dubai",
    "Asia/Kolkata",
    "Asia/Bangkok",
    "Asia/Tokyo",
    "Australia/Sydney",
    "Pacific/Auckland",
]


def a_zone_where_it_is_night() -> str:
    """A zone where it is now between midnight and 5 am (the candidates are at most 3 hours apart)."""
    now = timezone.now()
    return next(zone for zone in NIGHT_CANDIDATES if now.astimezone(ZoneInfo(zone)).hour < 5)


# 02:00 in Los Angeles, the zone of the shopper's (415) number: night there, whatever the hour the tests run at.
# (A zone picked by the clock among others far from the number's own area could leave no send window at all.)
NIGHT_IN_LOS_ANGELES = datetime(2027, 1, 5, 10, 0, tzinfo=UTC)


@pytest.fixture
def night(monkeypatch):
    monkeypatch.setattr(timezone, "now", lambda: NIGHT_IN_LOS_ANGELES)


def test_an_agents_reply_within_a_day_of_their_text_goes_out_at_night(night, api):
    shopper()
    Subscriber.objects.filter(phone=PHONE).update(time_zone="America/Los_Angeles")
    text(api, "do you ship to Canada?")
    agent = UserFactory(username="agent")
    subscriber = Subscriber.objects.get(phone=PHONE)
    # It is night where they are: the store's own marketing would wait for the morning…
    marketing = outbox.message_queue(subscriber=subscriber, body="20% off today", purpose="marketing")
    assert marketing.not_before is not None and "quiet hours" in marketing.hold_reason
    # …but the agent's reply to their text goes now.
    reply = inbox.conversation_reply(conversation=conversation(), body="Yes, 5-8 days!", user=agent)
    assert (reply.purpose, reply.origin, reply.sent_by) == ("conversational", "agent", agent)
    assert (reply.not_before, reply.hold_reason) == (None, "")
    assert reply.in_reply_to == Message.objects.get(direction="inbound")
    assert conversation().unread == 0


def test_an_agents_text_a_day_after_theirs_waits_for_the_morning(night, api):
    shopper()
    Subscriber.objects.filter(phone=PHONE).update(time_zone="America/Los_Angeles")
    text(api, "do you ship to Canada?")
    Subscriber.objects.filter(phone=PHONE).update(last_inbound_at=timezone.now() - timedelta(hours=25))
    reply = inbox.conversation_reply(conversation=conversation(), body="Still need help?")
    assert reply.purpose == "conversational"
    assert reply.not_before is not None and reply.not_before > timezone.now()
    assert "quiet hours" in reply.hold_reason


def test_texts_a_flow_queued_wait_while_a_person_talks_and_go_when_it_closes(api, flows):
    shopper()
    api.post("/api/v1/events/", {"phone": PHONE, "type": "cart_abandoned"}, format="json")
    run = run_of("Cart abandonment")
    reminder = Message.objects.create(
        subscriber=run.subscriber,
        direction="outbound",
        body="Your cart misses you",
        status="queued",
        origin="flow",
        origin_id=run.pk,
    )
    text(api, "do you ship to Canada?")
    reminder.refresh_from_db()
    assert reminder.status == "queued" and reminder.not_before.year == 9999 and "agent" in reminder.hold_reason
    inbox.conversation_close(conversation=conversation())
    reminder.refresh_from_db()
    assert reminder.not_before.year == timezone.now().year and reminder.hold_reason == ""


def test_the_minute_check_sets_right_runs_a_race_left_paused_or_running(api, flows):
    from flows.services import runs_pause_check

    shopper()
    api.post("/api/v1/events/", {"phone": PHONE, "type": "cart_abandoned"}, format="json")
    text(api, "a question?")
    # The conversation closes without its signal (a failed receiver): the run would stay paused forever.
    Conversation.objects.update(status="closed")
    assert runs_pause_check() == "resumed 1, paused 0"
    assert run_of("Cart abandonment").paused_at is None
    # And the other way round: a live conversation, a run that is not paused.
    Conversation.objects.update(status="open")
    assert runs_pause_check() == "resumed 0, paused 1"
    assert run_of("Cart abandonment").paused_at is not None


def test_a_reply_in_a_closed_conversation_opens_it_again(api, flows):
    shopper()
    text(api, "hello?")
    inbox.conversation_close(conversation=conversation())
    inbox.conversation_reply(conversation=conversation(), body="Hi Lee, still there?")
    assert conversation().status == "open"
