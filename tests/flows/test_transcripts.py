"""Conversation transcripts through the real inbound API: texts in, replies and stored answers out."""

import json
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from conversations.models import AttributeChange, Event, Message, Subscriber, TrackedLink
from conversations.services import short_link_base
from flows.models import Flow, FlowResult, FlowRun
from flows.services import flow_publish, flow_templates_load, runs_process_due

pytestmark = pytest.mark.django_db
PHONE = "+14155550123"


@pytest.fixture(autouse=True)
def templates():
    flow_templates_load()


def text(api, body, provider_id=None):
    payload = {"from": PHONE, "to": "+18885550000", "body": body}
    if provider_id:
        payload["provider_message_id"] = provider_id
    response = api.post("/api/v1/messages/inbound/", payload, format="json")
    assert response.status_code in (200, 201), response.json()
    # The answer shows the subscriber as the flow left them.
    assert response.json()["subscriber"]["attributes"] == Subscriber.objects.get(phone=PHONE).attributes
    return [reply["body"] for reply in response.json()["replies"]]


def subscriber():
    return Subscriber.objects.get(phone=PHONE)


def run_of(flow_name):
    return FlowRun.objects.filter(subscriber__phone=PHONE, flow__name=flow_name).latest("id")


def test_the_welcome_quiz_from_start_to_offer(api):
    replies = text(api, "START")
    assert "You're in!" in replies[0]
    assert "What size do you usually wear?" in replies[1]
    assert text(api, "mediun") == [
        "Got it, medium. What's your skin type? Dry, oily, combination, normal or sensitive?"
    ]
    assert "Any diet" in text(api, "2")[0]
    assert "Who do you usually shop for?" in text(api, "vegan")[0]
    assert "Which deal" in text(api, "for my mom")[0]
    [offer] = text(api, "2")
    assert offer == "Thanks! Spend $75, save $15; spend $150, save $40. Code MORE4LESS (picked for size M)."
    assert subscriber().attributes == {
        "size": "M",
        "skin_type": "oily",
        "diet": ["vegan"],
        "gift_recipient": "parent",
        "offer_preference": "tiered",
    }
    run = run_of("Welcome quiz")
    assert run.status == "completed"
    change = AttributeChange.objects.get(subscriber=subscriber(), key="size")
    assert (change.source, change.reference) == ("flow", f"flow_run:{run.pk}")
    assert FlowResult.objects.filter(run=run).count() == 5


def test_unclear_answers_get_nudges_then_the_quiz_moves_on(api):
    text(api, "START")
    assert text(api, "idk") == ["Sorry, I didn't get that. Reply with a size like S, M, L or XL (or 1-6)."]
    assert text(api, "S and M") == ["Sorry, I didn't get that. Reply with a size like S, M, L or XL (or 1-6)."]
    assert "skin type" in text(api, "🤷")[0]
    assert "size" not in subscriber().attributes


def test_stop_mid_quiz_ends_everything(api, console):
    text(api, "START")
    text(api, "M")
    replies = text(api, "stop")
    assert len(replies) == 1 and "unsubscribed" in replies[0]
    assert run_of("Welcome quiz").status == "interrupted"
    assert text(api, "oily") == []
    assert subscriber().attributes == {"size": "M"}


def test_no_reply_for_two_days_ends_the_run_quietly_and_a_late_reply_is_not_taken(api):
    text(api, "START")
    sent_before = Message.objects.filter(direction="outbound").count()
    runs_process_due(now=timezone.now() + timedelta(days=2, minutes=1))
    run = run_of("Welcome quiz")
    assert (run.status, run.state["path"][-1]) == ("completed", "goodbye")
    assert Message.objects.filter(direction="outbound").count() == sent_before
    assert text(api, "M") == []
    assert "size" not in subscriber().attributes


def test_the_same_inbound_twice_is_answered_once(api):
    text(api, "START", provider_id="SM1")
    first = text(api, "M", provider_id="SM2")
    again = text(api, "M", provider_id="SM2")
    assert first == again
    assert Message.objects.filter(direction="inbound", body="M").count() == 1
    assert FlowResult.objects.filter(node="ask_size").count() == 1


def test_the_order_ends_the_cart_flow_before_its_offer(api):
    Subscriber.objects.create(phone=PHONE, status="subscribed", time_zone="America/New_York")
    assert api.post("/api/v1/events/", {"phone": PHONE, "type": "cart_abandoned"}, format="json").status_code == 201
    run = run_of("Cart abandonment")
    assert (run.status, run.waiting_for) == ("waiting", "event")  # the reminder went at once; the offer waits
    api.post("/api/v1/events/", {"phone": PHONE, "type": "order_placed", "idempotency_key": "o1"}, format="json")
    run.refresh_from_db()
    assert (run.status, run.state["path"][-1]) == ("completed", "ordered")
    runs_process_due(now=timezone.now() + timedelta(days=2))
    bodies = list(Message.objects.filter(direction="outbound").values_list("body", flat=True))
    assert len(bodies) == 1 and "you left something in your cart" in bodies[0]  # the reminder, and no offer


def test_without_an_order_the_cart_reminder_is_queued_as_marketing(api):
    Subscriber.objects.create(phone=PHONE, status="subscribed", time_zone="America/New_York")
    api.post("/api/v1/events/", {"phone": PHONE, "type": "cart_abandoned"}, format="json")
    reminder = Message.objects.get(direction="outbound")  # at once: the checkout already waited to be abandoned
    assert "you left something in your cart" in reminder.body  # an event without properties still reads well
    assert (reminder.purpose, reminder.origin) == ("marketing", "flow")


def test_events_are_stored_once_and_unknown_phones_are_a_clear_404(api):
    Subscriber.objects.create(phone=PHONE, status="subscribed", time_zone="America/New_York")
    payload = {
        "phone": "(415) 555-0123",
        "type": "order_placed",
        "properties": {"total": 42},
        "idempotency_key": "order-1",
    }
    assert api.post("/api/v1/events/", payload, format="json").status_code == 201
    assert api.post("/api/v1/events/", payload, format="json").status_code == 200
    assert subscriber().events.count() == 1
    missing = api.post("/api/v1/events/", {**payload, "phone": "+12125550199", "idempotency_key": "x"}, format="json")
    assert missing.status_code == 404
    assert "no subscriber has the number +12125550199" in missing.json()["detail"]
    bad = api.post("/api/v1/events/", {**payload, "phone": "12"}, format="json")
    assert bad.status_code == 400 and "phone" in bad.json()


def test_another_flows_keyword_mid_run_starts_that_flow(api):
    text(api, "START")
    [question] = text(api, "gift!")
    assert question.startswith("Happy to help! Who is the gift for?")
    assert run_of("Welcome quiz").status == "interrupted"
    assert text(api, "my wife") == ["And your budget, roughly? (e.g. 50)"]
    [gifts] = text(api, "about $80")
    code = gifts.rsplit("/l/", 1)[-1]
    assert gifts == f"Here are our favourite gifts for partner: {short_link_base()}{code}"
    assert TrackedLink.objects.get(code=code).url == "https://shop.example.com/gifts"  # tracked, like a campaign's
    assert subscriber().attributes["gift_recipient"] == "partner"
    assert FlowResult.objects.get(node="budget").value == 80


def test_the_gift_finder_keyword_works_for_a_new_number_too(api):
    [question] = text(api, "Gifts")
    assert "Who is the gift for?" in question
    assert subscriber().status == "pending"  # a keyword flow is no consent to marketing


def test_a_low_feedback_score_goes_to_a_person(api):
    Subscriber.objects.create(phone=PHONE, status="subscribed", time_zone="America/New_York", first_name="Lee")
    api.post("/api/v1/events/", {"phone": PHONE, "type": "order_placed", "idempotency_key": "o9"}, format="json")
    later = timezone.now() + timedelta(days=3, minutes=1)
    runs_process_due(now=later)
    poll = Message.objects.get(direction="outbound")
    assert poll.body.startswith("Hi Lee! How happy are you with your order")
    Subscriber.objects.filter(phone=PHONE).update(last_inbound_at=timezone.now())
    # A score with a comment after it is the score; the comment stays with the answer for the agent.
    assert text(api, "2, 3") == ["Just reply a number from 1 to 5."]  # two scores: ask again
    replies = text(api, "2 - it arrived broken")
    assert replies == ["We're sorry to hear that. Someone from our team will text you shortly to make it right."]
    assert FlowResult.objects.get(node="score", category="2").raw_text == "2 - it arrived broken"
    handoff = subscriber().events.get(type="agent_handoff")
    assert handoff.properties["note"] == "low score after an order: please follow up"


def test_a_high_feedback_score_asks_what_they_loved(api):
    Subscriber.objects.create(phone=PHONE, status="subscribed", time_zone="America/New_York")
    api.post("/api/v1/events/", {"phone": PHONE, "type": "order_placed"}, format="json")
    runs_process_due(now=timezone.now() + timedelta(days=3, minutes=1))
    assert text(api, "5!") == ["Yay! What did you love most?"]
    assert text(api, "the linen shirt fits perfectly") == ["Thank you for the feedback!"]
    assert FlowResult.objects.get(node="what_you_loved").value == "the linen shirt fits perfectly"


def test_an_event_while_in_a_run_does_not_start_another(api):
    text(api, "START")
    api.post("/api/v1/events/", {"phone": PHONE, "type": "cart_abandoned"}, format="json")
    assert run_of("Welcome quiz").status == "waiting"
    assert not FlowRun.objects.filter(flow__name="Cart abandonment").exists()


def test_multiple_answers_emoji_and_numbers_in_the_quiz(api):
    text(api, "START")
    text(api, "Large 👍")
    text(api, "#5")
    text(api, "GF and dairy free")
    assert subscriber().attributes == {"size": "L", "skin_type": "sensitive", "diet": ["gluten_free", "dairy_free"]}


def test_help_mid_quiz_is_answered_and_the_quiz_waits(api):
    text(api, "START")
    [help_text] = text(api, "HELP")
    assert "Reply STOP to cancel" in help_text
    assert "skin type" in text(api, "XL")[0]


def test_publishing_refuses_a_broken_definition_and_a_taken_keyword():
    from django.core.exceptions import ValidationError

    broken = Flow.objects.create(
        name="Broken",
        draft={"nodes": [{"id": "q", "type": "ask_question", "text": "Size?", "attribute": "size", "next": "nowhere"}]},
    )
    with pytest.raises(ValidationError, match="node q: next: no node has the id 'nowhere'"):
        flow_publish(flow=broken)
    first = Flow.objects.create(
        name="A", trigger="keyword", keywords=["deals"], draft={"nodes": [{"id": "e", "type": "end"}]}
    )
    flow_publish(flow=first)
    second = Flow.objects.create(
        name="B", trigger="keyword", keywords=["DEALS"], draft={"nodes": [{"id": "e", "type": "end"}]}
    )
    with pytest.raises(ValidationError, match="already starts the active flow 'A'"):
        flow_publish(flow=second)


def test_a_run_keeps_its_version_when_a_new_one_is_published(api):
    text(api, "START")
    quiz = Flow.objects.get(name="Welcome quiz")
    definition = quiz.draft
    definition["nodes"][1]["text"] = "NEW skin question?"
    flow_publish(flow=quiz, definition=definition)
    assert "What's your skin type?" in text(api, "M")[0]  # the run stays on version 1


def test_process_due_command_runs_waits_and_the_outbox(api, capsys):
    call_command("process_due")
    assert "runs_process_due" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("answers", "expected"),
    [
        (
            ["lrg", "greasy", "veggie", "me", "percent"],
            {
                "size": "L",
                "skin_type": "oily",
                "diet": ["vegetarian"],
                "gift_recipient": "myself",
                "offer_preference": "percent_off",
            },
        ),
        (
            ["Extra Large!!", "combo", "none", "my husband", "3"],
            {
                "size": "XL",
                "skin_type": "combination",
                "diet": ["none"],
                "gift_recipient": "partner",
                "offer_preference": "free_shipping",
            },
        ),
        (
            ["small 🙂", "5", "1 and 3", "kids", "tiered"],
            {
                "size": "S",
                "skin_type": "sensitive",
                "diet": ["vegan", "gluten_free"],
                "gift_recipient": "child",
                "offer_preference": "tiered",
            },
        ),
        (
            ["2xl", "dry i think", "plant based", "a friend", "spend more save more"],
            {
                "size": "XXL",
                "skin_type": "dry",
                "diet": ["vegan"],
                "gift_recipient": "friend",
                "offer_preference": "tiered",
            },
        ),
        (
            ["the second one", "Normal.", "keto", "my dad", "% off"],
            {
                "size": "S",
                "skin_type": "normal",
                "diet": ["keto"],
                "gift_recipient": "parent",
                "offer_preference": "percent_off",
            },
        ),
    ],
)
def test_whole_quizzes_in_the_words_shoppers_use(api, answers, expected):
    text(api, "START")
    for answer in answers:
        assert text(api, answer), f"no reply to {answer!r}"
    assert subscriber().attributes == expected
    assert run_of("Welcome quiz").status == "completed"


def test_the_offer_follows_the_preference(api):
    text(api, "START")
    for answer in ["M", "oily", "none", "me"]:
        text(api, answer)
    assert text(api, "free shipping") == ["Thanks! Free shipping on your next order with SHIPFREE."]


def test_the_quiz_is_given_once(api):
    text(api, "START")
    text(api, "stop")
    replies = text(api, "START")
    assert len(replies) == 1 and "You're in!" in replies[0]  # resubscribed, but the quiz is not repeated
    assert FlowRun.objects.filter(flow__name="Welcome quiz").count() == 1


def test_a_reply_during_a_wait_is_not_taken_by_the_flow(api):
    Subscriber.objects.create(phone=PHONE, status="subscribed", time_zone="America/New_York")
    api.post("/api/v1/events/", {"phone": PHONE, "type": "cart_abandoned"}, format="json")
    assert text(api, "do you have this in blue?") == []
    assert run_of("Cart abandonment").status == "waiting"


def test_a_worker_that_was_down_catches_up_once(api):
    Subscriber.objects.create(phone=PHONE, status="subscribed", time_zone="America/New_York")
    api.post("/api/v1/events/", {"phone": PHONE, "type": "cart_abandoned"}, format="json")
    much_later = timezone.now() + timedelta(days=3)  # the day's wait for an order was due long ago
    assert runs_process_due(now=much_later) == 1
    assert runs_process_due(now=much_later) == 0  # a second pass finds nothing: no text twice
    bodies = list(Message.objects.filter(direction="outbound").order_by("id").values_list("body", flat=True))
    assert len(bodies) == 2 and "you left something in your cart" in bodies[0] and "10% off" in bodies[1]
    assert run_of("Cart abandonment").status == "completed"


def test_the_start_api_starts_a_flow_for_phones(api):
    gift = Flow.objects.get(name="Gift finder")
    Subscriber.objects.create(phone=PHONE, status="subscribed", time_zone="America/New_York")
    Subscriber.objects.create(phone="+12125550100", status="unsubscribed", time_zone="America/New_York")
    response = api.post(
        f"/api/v1/flows/{gift.pk}/start/",
        {"phones": ["(415) 555-0123", "+12125550100", "12", "+13125550100"]},
        format="json",
    )
    assert response.status_code == 200
    body = response.json()
    assert body["started"] == [PHONE]
    assert set(body["skipped"]) == {"+12125550100", "12", "+13125550100"}
    message = Message.objects.get(direction="outbound")
    assert message.purpose == "marketing"  # the store speaks first


def test_a_wait_until_a_local_time(api):
    morning = Flow.objects.create(
        name="Morning",
        trigger="manual",
        draft={
            "nodes": [
                {"id": "w", "type": "wait", "until_local_time": "10:00", "next": "hi"},
                {"id": "hi", "type": "send_message", "text": "Good morning!"},
            ]
        },
    )
    flow_publish(flow=morning)
    shopper = Subscriber.objects.create(phone=PHONE, status="subscribed", time_zone="America/Los_Angeles")
    from flows.services import run_start

    run = run_start(flow=morning, subscriber=shopper, trigger="api")
    run.refresh_from_db()
    assert run.wake_at.astimezone(__import__("zoneinfo").ZoneInfo("America/Los_Angeles")).hour == 10


def test_starting_flows_through_the_api_needs_permission(api, api_user):
    from django.contrib.auth.models import Permission

    api_user.user_permissions.remove(Permission.objects.get(codename="add_flowrun"))
    gift = Flow.objects.get(name="Gift finder")
    assert api.post(f"/api/v1/flows/{gift.pk}/start/", {"phones": [PHONE]}, format="json").status_code == 403
    assert not FlowRun.objects.exists()


@pytest.mark.parametrize("properties", [{"note": "a\u0000b"}, {"\ud800": 1}, {"items": [{"name": "\udfff"}]}])
def test_event_properties_postgres_cannot_store_are_refused(api, properties):
    Subscriber.objects.create(phone=PHONE, status="subscribed", time_zone="America/New_York")
    body = json.dumps({"phone": PHONE, "type": "order_placed", "properties": properties})  # \u escapes, as sent
    response = api.post("/api/v1/events/", body, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["field"].startswith("body.properties")  # refused at the door, naming the place
    assert not Event.objects.exists()


def test_a_reminder_held_overnight_is_cancelled_when_the_order_comes(api, monkeypatch):
    from datetime import UTC, datetime

    night = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)  # 21:00 in New York
    monkeypatch.setattr(timezone, "now", lambda: night)
    Subscriber.objects.create(phone=PHONE, status="subscribed", time_zone="America/New_York")
    api.post("/api/v1/events/", {"phone": PHONE, "type": "cart_abandoned"}, format="json")
    runs_process_due(now=night + timedelta(minutes=61))
    reminder = Message.objects.get(direction="outbound")
    # held until 09:00 in both of its zones (a 415 number in a New York profile: Los Angeles opens last)
    assert reminder.status == "queued" and reminder.not_before.hour == 17
    later = night + timedelta(minutes=90)
    monkeypatch.setattr(timezone, "now", lambda: later)
    api.post("/api/v1/events/", {"phone": PHONE, "type": "order_placed"}, format="json")
    reminder.refresh_from_db()
    assert (reminder.status, reminder.error_code) == ("failed", "flow_ended")


def test_the_time_to_answer_starts_when_a_held_question_is_sent(api, monkeypatch):
    from datetime import UTC, datetime

    from flows.services import run_start

    night = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)  # 22:00 in New York
    monkeypatch.setattr(timezone, "now", lambda: night)
    poll = Flow.objects.create(
        name="Poll",
        trigger="manual",
        draft={
            "nodes": [
                {
                    "id": "q",
                    "type": "ask_question",
                    "answer_type": "yes_no",
                    "text": "Did it fit?",
                    "no_reply": {"after_minutes": 60, "next": "nudge"},
                },
                {"id": "nudge", "type": "send_message", "text": "No worries!"},
            ]
        },
    )
    flow_publish(flow=poll)
    shopper = Subscriber.objects.create(phone=PHONE, status="subscribed", time_zone="America/New_York")
    run = run_start(flow=poll, subscriber=shopper, trigger="api")
    run.refresh_from_db()
    question = Message.objects.get(body="Did it fit?")
    assert run.wake_at == question.not_before + timedelta(minutes=60)  # 10:00, not 23:00
    assert runs_process_due(now=night + timedelta(hours=2)) == 0


def test_a_question_without_a_no_reply_path_still_expires():
    from flows import engine as flow_engine
    from tests.flows.conftest import NOW

    outcome = flow_engine.step(
        {"nodes": [{"id": "q", "type": "ask_question", "answer_type": "text", "text": "Anything else?"}]},
        None,
        flow_engine.Start(NOW),
        flow_engine.Context(),
    )
    assert outcome.state["wake_at"] == (NOW + timedelta(days=7)).isoformat()


def test_a_failing_receiver_never_undoes_a_stop_or_loses_an_event(api):
    from conversations import signals

    def broken(**kwargs):
        raise RuntimeError("a receiver fell over")

    signals.subscriber_opted_out.connect(broken, dispatch_uid="test-broken-opt-out")
    signals.event_recorded.connect(broken, dispatch_uid="test-broken-event")
    try:
        text(api, "START")
        assert "unsubscribed" in text(api, "STOP")[0]
        assert subscriber().status == "unsubscribed"
        response = api.post("/api/v1/events/", {"phone": PHONE, "type": "order_placed"}, format="json")
        assert response.status_code == 201
        assert subscriber().events.filter(type="order_placed").exists()
    finally:
        signals.subscriber_opted_out.disconnect(dispatch_uid="test-broken-opt-out")
        signals.event_recorded.disconnect(dispatch_uid="test-broken-event")
