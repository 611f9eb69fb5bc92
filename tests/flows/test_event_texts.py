"""Flow texts read the properties of the event that started the run: {{ event.url }}, {{ event.items.0.title }}.

The engine (pure) renders them from the run's state; the services keep the starting event's properties on the run;
the flow checks refuse them in a flow no event starts and warn on a property the event type is not known to carry;
campaign texts refuse them; the simulator tries a flow with a sample event the store may edit.
"""

import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import Permission
from django.core.exceptions import ValidationError

from campaigns.models import Campaign
from campaigns.services import parse as campaign_text_parse
from conversations import event_types
from conversations.event_properties import KNOWN_PROPERTIES, sample_properties, unknown_property
from conversations.inbox.services import conversation_close, conversation_open
from conversations.models import Conversation, Event, Message, TrackedLink
from conversations.services import event_record, short_link_base
from flows import engine
from flows.checks import ERROR, WARNING, flow_checks
from flows.models import Flow, FlowRun
from flows.services import flow_create, flow_publish, flow_templates_load, runs_process_due
from tests.conftest import load_data
from tests.factories import SubscriberFactory, UserFactory

NOW = datetime(2026, 11, 24, 17, 0, tzinfo=UTC)
ATTRIBUTES = {item["key"]: item for item in load_data("attributes.json")}
CHECKOUT = {
    "checkout_token": "c0ffee",
    "url": "https://shop.example.com/checkouts/c0ffee/recover",
    "abandoned_checkout_url": "https://shop.example.com/checkouts/c0ffee/recover",
    "total": 54.5,
    "currency": "USD",
    "item_count": 2,
    "items": [{"title": "Linen shirt", "quantity": 1}, {"title": "Canvas tote", "quantity": 1}],
    "platform": "shopify",
}
REMINDER = (
    'You left {{ event.items.0.title|default:"something" }} ({{ event.total }} {{ event.currency }}): '
    "{{ event.url }} Reply STOP to opt out"
)
CART_FLOW = {
    "nodes": [
        {"id": "reminder", "type": "send_message", "text": REMINDER, "next": "wait"},
        {
            "id": "wait",
            "type": "wait_for_event",
            "event": "order_placed",
            "within_minutes": 60,
            "next": "thanks",
            "timeout_next": "again",
        },
        {"id": "again", "type": "send_message", "text": "Still there? {{ event.url }}", "next": "end"},
        {"id": "thanks", "type": "send_message", "text": "Thanks! Order {{ event.order_number }}", "next": "end"},
        {"id": "end", "type": "end"},
    ]
}


BROWSER = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148"


def short_links(body: str) -> list[str]:
    return re.findall(re.escape(short_link_base()) + r"(\w+)", body)


def opened(client, code: str, user_agent: str = BROWSER) -> str:
    """Where the short link `code` leads (its 302), opened as a person on a phone would."""
    response = client.get(f"/l/{code}", HTTP_USER_AGENT=user_agent)
    assert response.status_code == 302, response.status_code
    return response["Location"]


def sent(outcome: engine.Outcome) -> list[str]:
    return [effect.text for effect in outcome.effects if isinstance(effect, engine.Send)]


# --- The engine (pure) -------------------------------------------------------------------------------------------


def test_a_run_started_by_an_event_reads_its_properties(context):
    outcome = engine.step(CART_FLOW, engine.new_state(event=CHECKOUT), engine.Start(NOW), context)
    assert sent(outcome) == [
        "You left Linen shirt (54.5 USD): https://shop.example.com/checkouts/c0ffee/recover Reply STOP to opt out"
    ]
    assert outcome.state["event"] == CHECKOUT  # kept for the run's later texts


def test_later_texts_read_the_starting_event_and_an_awaited_event_does_not_replace_it(context):
    started = engine.step(CART_FLOW, engine.new_state(event=CHECKOUT), engine.Start(NOW), context)
    later = engine.step(CART_FLOW, started.state, engine.Timeout(NOW + timedelta(minutes=61)), context)
    assert sent(later) == ["Still there? https://shop.example.com/checkouts/c0ffee/recover"]
    order = engine.Event("order_placed", NOW, {"order_number": "1001"})
    ordered = engine.step(CART_FLOW, started.state, order, context)
    assert sent(ordered) == ["Thanks! Order "]  # the checkout carries no order number


def test_without_an_event_texts_fall_back_to_their_defaults(context):
    """Runs started before runs kept their event, and events posted without properties, read as empty."""
    before = engine.new_state()
    assert "event" not in before
    outcome = engine.step(CART_FLOW, before, engine.Start(NOW), context)
    assert sent(outcome) == ["You left something ( ):  Reply STOP to opt out"]


# --- The checks (pure) ------------------------------------------------------------------------------------------


def checks(definition, **options):
    return [
        (check.level, check.node, check.message)
        for check in flow_checks(definition, attributes=ATTRIBUTES, **options)
        if "event" in check.message
    ]


def test_event_properties_in_a_flow_no_event_starts_are_refused():
    found = checks(CART_FLOW, trigger="manual")
    assert (
        ERROR,
        "reminder",
        "{{ event.url }}: no event starts this flow (its trigger is manual), so there are no event properties to "
        "read; start it with an event, or take the variable out",
    ) in found
    assert {node for _, node, _ in found} == {"reminder", "again", "thanks"}


def test_a_property_the_event_type_is_not_known_to_carry_is_a_warning():
    found = checks(CART_FLOW, trigger="event", event_type=event_types.CART_ABANDONED)
    assert found == [
        (
            WARNING,
            "thanks",
            "{{ event.order_number }} may be empty: a cart_abandoned event is not known to carry 'order_number' "
            f"(it carries {', '.join(KNOWN_PROPERTIES[event_types.CART_ABANDONED])})",
        )
    ]
    typo = {"nodes": [{"id": "hi", "type": "send_message", "text": "{{ event.items.0.titel }}", "next": None}]}
    assert checks(typo, trigger="event", event_type=event_types.CART_ABANDONED)[0][2].startswith(
        "{{ event.items.0.titel }} may be empty: an item of items is not known to carry 'titel'"
    )
    # A store's own event type: Parley cannot know what it carries, so it says nothing.
    assert checks(CART_FLOW, trigger="event", event_type="quiz_finished") == []


def test_every_known_event_type_has_a_sample_with_only_known_properties():
    for event_type, known in KNOWN_PROPERTIES.items():
        sample = sample_properties(event_type)
        assert sample and set(sample) <= set(known), event_type
        assert all(unknown_property(event_type, (name,)) is None for name in sample)
    assert sample_properties("quiz_finished") == {}


# --- Runs through the real services (both databases) ------------------------------------------------------------


def cart_flow(definition=CART_FLOW, trigger=Flow.Trigger.EVENT) -> Flow:
    flow = flow_create(
        fields={
            "name": "Cart with its link",
            "trigger": trigger,
            "event_type": event_types.CART_ABANDONED if trigger == Flow.Trigger.EVENT else "",
            "draft": definition,
        }
    )
    flow_publish(flow=flow)
    return flow


@pytest.mark.django_db
def test_an_event_started_flow_texts_the_checkouts_own_link_and_item(client):
    cart_flow()
    shopper = SubscriberFactory(phone="+14155550123", status="subscribed")
    event_record(subscriber=shopper, type=event_types.CART_ABANDONED, properties=CHECKOUT, idempotency_key="k1")
    reminder = Message.objects.get(subscriber=shopper, direction="outbound")
    assert reminder.body.startswith(f"You left Linen shirt (54.5 USD): {short_link_base()}")
    (code,) = short_links(reminder.body)
    assert opened(client, code).startswith(CHECKOUT["url"] + "?utm_source=parley&utm_medium=sms")
    run = FlowRun.objects.get(subscriber=shopper)
    assert run.state["event"]["url"] == CHECKOUT["url"]
    runs_process_due(now=run.wake_at + timedelta(seconds=1))
    later = Message.objects.filter(subscriber=shopper, direction="outbound").latest("id")
    (again,) = short_links(later.body)
    assert later.body == f"Still there? {short_link_base()}{again}"
    assert opened(client, again).startswith(CHECKOUT["url"])


@pytest.mark.django_db
def test_a_run_started_before_runs_kept_their_event_goes_on_with_defaults():
    cart_flow()
    shopper = SubscriberFactory(phone="+14155550124", status="subscribed")
    event_record(subscriber=shopper, type=event_types.CART_ABANDONED, properties=CHECKOUT, idempotency_key="k2")
    run = FlowRun.objects.get(subscriber=shopper)
    old_state = {key: value for key, value in run.state.items() if key != "event"}
    FlowRun.objects.filter(pk=run.pk).update(state=old_state)
    runs_process_due(now=run.wake_at + timedelta(seconds=1))
    later = Message.objects.filter(subscriber=shopper, direction="outbound").latest("id")
    assert later.body == "Still there? "


@pytest.mark.django_db
def test_a_run_started_while_an_agent_talks_keeps_its_event_for_when_it_begins(settings):
    settings.INBOX_CLOSE_RESUMES_FLOWS = True
    cart_flow()
    shopper = SubscriberFactory(phone="+14155550131", status="subscribed")
    talk = conversation_open(subscriber=shopper, reason=Conversation.Reason.AGENT)
    event_record(subscriber=shopper, type=event_types.CART_ABANDONED, properties=CHECKOUT, idempotency_key="k3")
    assert not Message.objects.filter(subscriber=shopper, direction="outbound").exists()  # not while they talk
    conversation_close(conversation=talk)
    reminder = Message.objects.get(subscriber=shopper, direction="outbound")
    assert reminder.body.startswith("You left Linen shirt (54.5 USD): ")


@pytest.mark.django_db
def test_publishing_refuses_event_properties_in_a_flow_no_event_starts():
    with pytest.raises(ValidationError) as refused:
        cart_flow(trigger=Flow.Trigger.MANUAL)
    assert "node reminder: {{ event.url }}: no event starts this flow (its trigger is manual)" in str(refused.value)
    assert not Flow.objects.get(name="Cart with its link").versions.exists()


@pytest.mark.django_db
def test_a_campaign_text_refuses_event_properties():
    campaign = Campaign(name="Sale", link_url="https://shop.example.com/sale")
    with pytest.raises(ValidationError) as refused:
        campaign_text_parse("Your cart: {{ event.url }}", campaign, specs={})
    assert refused.value.messages == [
        "unknown variable {{ event.url }}: event properties exist only in a text sent for an event (a flow an "
        "event starts); a campaign goes to a segment and has no event"
    ]


# --- The simulator page -----------------------------------------------------------------------------------------


@pytest.fixture
def staff(client, db):
    user = UserFactory(is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename__in=["view_flow", "change_flow"]))
    client.force_login(user)
    return client


def simulate(staff, flow, **data):
    response = staff.post(f"/flows/{flow.pk}/simulator/", data, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    return response.content.decode()


def test_the_simulator_starts_an_event_flow_with_a_sample_event_the_store_may_edit(staff):
    flow = cart_flow()
    page = simulate(staff, flow, action="reset")
    sample = sample_properties(event_types.CART_ABANDONED)
    assert f"You left {sample['items'][0]['title']} (48.0 USD): {sample['url']}" in page
    assert "Sample cart_abandoned event" in page and 'name="event_properties"' in page
    edited = json.dumps({"url": "https://shop.example.com/c/mine", "items": [{"title": "Wool socks"}]})
    page = simulate(staff, flow, action="reset", event_properties=edited)
    assert "You left Wool socks ( ): https://shop.example.com/c/mine" in page
    assert "https://shop.example.com/c/mine" in page.split('name="event_properties"')[1]  # the box keeps the edit
    page = simulate(staff, flow, action="reset", event_properties="[1, 2")
    assert "Not started: the sample event is not JSON (JSONDecodeError)." in page
    assert not Message.objects.exists()


def test_the_simulator_offers_no_sample_event_to_a_flow_no_event_starts(staff):
    flow = cart_flow(definition={"nodes": [{"id": "hi", "type": "send_message", "text": "Hi", "next": None}]})
    Flow.objects.filter(pk=flow.pk).update(trigger=Flow.Trigger.MANUAL, event_type="")
    assert 'name="event_properties"' not in simulate(staff, Flow.objects.get(pk=flow.pk), action="reset")


# --- The shipped cart and browse templates ------------------------------------------------------------------------

PRODUCT = {
    "product_id": "632910392",
    "title": "IPod Nano - 8GB",
    "url": "https://shop.example.com/products/ipod-nano",
    "price": 199.0,
}


@pytest.mark.django_db
def test_the_cart_template_reminds_at_once_with_the_shoppers_own_checkout(client):
    flow_templates_load()
    shopper = SubscriberFactory(phone="+14155550125", first_name="Ana", status="subscribed")
    event_record(subscriber=shopper, type=event_types.CART_ABANDONED, properties=CHECKOUT, idempotency_key="c1")
    (reminder,) = Message.objects.filter(subscriber=shopper, direction="outbound")
    assert reminder.body.startswith(f"Ana, you left Linen shirt in your cart. It's saved for you: {short_link_base()}")
    (code,) = short_links(reminder.body)
    assert opened(client, code).startswith(CHECKOUT["url"] + "?utm_source=parley&utm_medium=sms&utm_campaign=cart")


@pytest.mark.django_db
def test_the_cart_template_reads_well_for_an_event_without_properties():
    flow_templates_load()
    shopper = SubscriberFactory(phone="+14155550126", first_name="", status="subscribed")
    event_record(subscriber=shopper, type=event_types.CART_ABANDONED, properties={"items": 3}, idempotency_key="c2")
    (reminder,) = Message.objects.filter(subscriber=shopper, direction="outbound")
    assert reminder.body.startswith(f"Hi, you left something in your cart. It's saved for you: {short_link_base()}")
    assert TrackedLink.objects.get(subscriber=shopper).url == "https://shop.example.com/cart"


@pytest.mark.django_db
def test_the_browse_template_names_and_links_the_viewed_product(client):
    flow_templates_load()
    shopper = SubscriberFactory(phone="+14155550127", first_name="Ana", status="subscribed")
    # browse_abandoned comes after BROWSE_ABANDONED_MINUTES without a checkout or an order: the nudge goes at once.
    event_record(subscriber=shopper, type=event_types.BROWSE_ABANDONED, properties=PRODUCT, idempotency_key="b1")
    (nudge,) = Message.objects.filter(subscriber=shopper, direction="outbound")
    assert nudge.body.startswith(f"Still thinking about IPod Nano - 8GB, Ana? Have another look: {short_link_base()}")
    (code,) = short_links(nudge.body)
    assert opened(client, code).startswith(PRODUCT["url"])


# --- Tracked links in flow texts ---------------------------------------------------------------------------------

LINKS_FLOW = {
    "nodes": [
        {
            "id": "news",
            "type": "send_message",
            "text": "New in: https://shop.example.com/new and your cart {{ event.url }} (again: https://shop.example.com/new)",
            "next": None,
        }
    ]
}


@pytest.mark.django_db
def test_each_link_of_a_flow_text_is_a_tracked_link_and_a_click_records_link_clicked(client):
    flow = cart_flow(definition=LINKS_FLOW)
    shopper = SubscriberFactory(phone="+14155550128", status="subscribed")
    event_record(subscriber=shopper, type=event_types.CART_ABANDONED, properties=CHECKOUT, idempotency_key="t1")
    text = Message.objects.get(subscriber=shopper, direction="outbound")
    new, cart, new_again = short_links(text.body)
    assert new == new_again and new != cart  # one short link per different link
    assert "shop.example.com" not in text.body
    run = FlowRun.objects.get(subscriber=shopper)

    assert opened(client, cart) == (
        CHECKOUT["url"] + "?utm_source=parley&utm_medium=sms&utm_campaign=cart-with-its-link"
    )
    click = Event.objects.get(subscriber=shopper, type=event_types.LINK_CLICKED)
    assert click.properties == {"flow": flow.pk, "run": run.pk, "node": "news", "url": CHECKOUT["url"]}
    assert TrackedLink.objects.get(code=cart).clicks == 1


@pytest.mark.django_db
def test_a_link_preview_bot_is_sent_on_but_not_counted_and_an_unknown_code_is_a_404(client):
    cart_flow(definition=LINKS_FLOW)
    shopper = SubscriberFactory(phone="+14155550129", status="subscribed")
    event_record(subscriber=shopper, type=event_types.CART_ABANDONED, properties=CHECKOUT, idempotency_key="t2")
    code = short_links(Message.objects.get(subscriber=shopper, direction="outbound").body)[0]
    assert opened(client, code, user_agent="facebookexternalhit/1.1").startswith("https://shop.example.com/new?")
    assert client.head(f"/l/{code}", HTTP_USER_AGENT=BROWSER).status_code == 302
    assert not Event.objects.filter(type=event_types.LINK_CLICKED).exists()
    assert TrackedLink.objects.get(code=code).clicks == 0
    assert client.get("/l/Nosuchcode", HTTP_USER_AGENT=BROWSER).status_code == 404


@pytest.mark.django_db
def test_a_transactional_flow_keeps_its_links_as_written_for_the_send_gate():
    flow = cart_flow(definition=LINKS_FLOW)
    # An order update's flow (the services refuse a transactional cart flow; set here past them, as a row).
    Flow.objects.filter(pk=flow.pk).update(purpose=Flow.Purpose.TRANSACTIONAL, event_type=event_types.ORDER_FULFILLED)
    shopper = SubscriberFactory(phone="+14155550130", status="subscribed")
    event_record(subscriber=shopper, type=event_types.ORDER_FULFILLED, properties=CHECKOUT, idempotency_key="t3")
    text = Message.objects.get(subscriber=shopper, direction="outbound")
    assert CHECKOUT["url"] in text.body and not TrackedLink.objects.exists()


@pytest.mark.django_db
def test_a_cart_flow_saved_as_transactional_past_the_checks_still_sends_marketing():
    flow = cart_flow(definition=LINKS_FLOW)
    Flow.objects.filter(pk=flow.pk).update(purpose=Flow.Purpose.TRANSACTIONAL)  # a row from before the rule
    shopper = SubscriberFactory(phone="+14155550131", status="subscribed")
    event_record(subscriber=shopper, type=event_types.CART_ABANDONED, properties=CHECKOUT, idempotency_key="t4")
    text = Message.objects.get(subscriber=shopper, direction="outbound")
    assert text.purpose == Message.Purpose.MARKETING and TrackedLink.objects.exists()
