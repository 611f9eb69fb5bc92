"""Transactional flows (order updates): their texts carry the transactional purpose, and they may sell nothing:
no send_offer, no {{ offer_code }}, no link to a sale or an offer (the checks, publishing, import and the admin)."""

import json

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from conversations.inbox.services import conversation_open
from conversations.models import Conversation, Event, Message
from conversations.services import event_record
from flows.checks import ERROR, flow_checks
from flows.models import Flow, FlowRun
from flows.services import flow_create, flow_import, flow_publish, flow_templates_load, flow_update
from tests.conftest import load_data
from tests.factories import UserFactory

ATTRIBUTES = {item["key"]: item for item in load_data("attributes.json")}
OFFER = {"id": "offer", "type": "send_offer", "text": "Here is 10% off: {{ offer_code }}", "code": "SAVE10"}
SHIPPED = {"id": "shipped", "type": "send_message", "text": "Your order is on its way: {{ event.url }}"}
END = {"id": "end", "type": "end"}


def errors(nodes, purpose):
    definition = {"nodes": nodes}
    found = flow_checks(
        definition, attributes=ATTRIBUTES, trigger="event", event_type="order_fulfilled", purpose=purpose
    )
    return [(check.node, check.message) for check in found if check.level == ERROR]


def test_a_send_offer_node_is_refused_in_a_transactional_flow_only():
    nodes = [{**SHIPPED, "next": "offer"}, {**OFFER, "next": "end"}, END]
    assert errors(nodes, "transactional") == [
        (
            "offer",
            "a transactional flow (order updates) may not send an offer: take this node out, or make the flow "
            "marketing",
        )
    ]
    assert errors(nodes, "marketing") == []


def test_an_offer_code_or_a_selling_link_in_a_transactional_text_is_refused():
    nodes = [
        {**SHIPPED, "text": "Shipped! Next time use {{ offer_code }}", "next": "more"},
        {
            "id": "more",
            "type": "send_message",
            "text": "Our sale: https://shop.example.com/collections/sale",
            "next": "end",
        },
        END,
    ]
    assert errors(nodes, "transactional") == [
        ("shipped", "a transactional flow may not text an offer code ({{ offer_code }})"),
        (
            "more",
            "a transactional flow may not link to a sale or an offer (https://shop.example.com/collections/sale): "
            "link to the order or its tracking instead",
        ),
    ]


def test_a_transactional_flow_is_not_told_its_first_text_is_marketing():
    nodes = [{**SHIPPED, "next": "end"}, END]
    definition = {"nodes": nodes}
    options = {"attributes": ATTRIBUTES, "trigger": "event", "event_type": "order_fulfilled"}
    assert any("marketing" in check.message for check in flow_checks(definition, **options))
    assert flow_checks(definition, **options, purpose="transactional") == []


@pytest.mark.django_db
class TestServices:
    def test_publishing_refuses_an_offer_in_a_transactional_flow(self):
        flow = flow_create(
            fields={"name": "Shipped", "trigger": "event", "event_type": "order_fulfilled", "draft": {"nodes": [END]}}
        )
        Flow.objects.filter(pk=flow.pk).update(
            purpose=Flow.Purpose.TRANSACTIONAL, draft={"nodes": [{**SHIPPED, "next": "offer"}, OFFER]}
        )
        flow.refresh_from_db()
        with pytest.raises(ValidationError) as refused:
            flow_publish(flow=flow)
        assert refused.value.message_dict["definition"] == [
            "node offer: a transactional flow (order updates) may not send an offer: take this node out, or make "
            "the flow marketing"
        ]
        assert not flow.versions.exists()

    def test_a_published_flow_with_an_offer_cannot_be_made_transactional(self):
        flow = flow_create(
            fields={"name": "Thanks", "trigger": "event", "event_type": "order_fulfilled", "draft": {"nodes": [OFFER]}}
        )
        flow_publish(flow=flow)
        with pytest.raises(ValidationError) as refused:
            flow_update(flow=flow, changes={"purpose": Flow.Purpose.TRANSACTIONAL})
        assert "may not send an offer" in refused.value.message_dict["purpose"][0]
        flow.refresh_from_db()
        assert flow.purpose == Flow.Purpose.MARKETING

    def test_an_imported_transactional_flow_with_an_offer_is_refused(self):
        document = {"name": "Shipped", "trigger": "event", "event_type": "order_fulfilled", "purpose": "transactional"}
        with pytest.raises(ValidationError) as refused:
            flow_import(data={**document, "definition": {"nodes": [OFFER]}})
        assert "may not send an offer" in refused.value.message_dict["definition"][0]
        with pytest.raises(ValidationError) as unknown:
            flow_import(data={**document, "purpose": "urgent", "definition": {"nodes": [END]}})
        assert unknown.value.message_dict["purpose"] == [
            "purpose must be one of marketing, transactional (got 'urgent')"
        ]
        assert not Flow.objects.exists()

    def test_the_shipped_order_updates_flows_are_transactional_and_sound(self):
        flow_templates_load()
        updates = Flow.objects.filter(name__startswith="Order updates")
        assert sorted(updates.values_list("event_type", "purpose", "status")) == [
            ("order_delivered", "transactional", "active"),
            ("order_fulfilled", "transactional", "active"),
            ("order_out_for_delivery", "transactional", "active"),
        ]
        for flow in updates:
            found = flow_checks(
                flow.draft, attributes={}, trigger=flow.trigger, event_type=flow.event_type, purpose=flow.purpose
            )
            assert found == [], flow.name

    def test_a_transactional_flows_texts_carry_the_transactional_purpose(self, subscriber):
        flow_templates_load()
        event_record(
            subscriber=subscriber,
            type="order_out_for_delivery",
            properties={"order_number": "#1001", "url": "https://www.ups.com/track?tracknum=1Z"},
        )
        message = Message.objects.get(subscriber=subscriber)
        assert message.purpose == Message.Purpose.TRANSACTIONAL
        assert "your order #1001 is out for delivery today. Track it: https://www.ups.com/track?tracknum=1Z" in (
            message.body
        )
        assert Event.objects.count() == 1


@pytest.mark.django_db
class TestAdmin:
    @pytest.fixture
    def staff_client(self, client):
        client.force_login(UserFactory(username="staff", is_staff=True, is_superuser=True))
        flow_templates_load()
        return client

    def form(self, flow, **changes):
        return {
            "name": flow.name,
            "trigger": flow.trigger,
            "keywords": json.dumps(flow.keywords),
            "event_type": flow.event_type,
            "event_filter": json.dumps(flow.event_filter),
            "reentry": flow.reentry,
            "reentry_days": str(flow.reentry_days),
            "purpose": flow.purpose,
            "draft": json.dumps(flow.draft),
            "launches-TOTAL_FORMS": "0",
            "launches-INITIAL_FORMS": "0",
            **changes,
        }

    def test_the_flows_page_shows_the_purpose_and_staff_set_it(self, staff_client):
        flow = Flow.objects.get(name="Order updates: shipped")
        url = reverse("admin:flows_flow_change", args=[flow.pk])
        page = staff_client.get(url).content.decode()
        assert '<option value="transactional" selected>' in page
        response = staff_client.post(url, self.form(flow, purpose="marketing"))
        assert response.status_code == 302
        flow.refresh_from_db()
        assert flow.purpose == Flow.Purpose.MARKETING
        listing = staff_client.get(reverse("admin:flows_flow_changelist") + "?purpose__exact=transactional")
        assert "Order updates: delivered" in listing.content.decode()

    def test_a_flow_with_an_offer_cannot_be_made_transactional_on_its_page(self, staff_client):
        flow = Flow.objects.get(name="Welcome quiz")  # ends with an offer chosen by the answers
        url = reverse("admin:flows_flow_change", args=[flow.pk])
        response = staff_client.post(url, self.form(flow, purpose="transactional"))
        assert response.status_code == 200
        assert "may not send an offer" in response.content.decode()
        flow.refresh_from_db()
        assert flow.purpose == Flow.Purpose.MARKETING


@pytest.mark.django_db
def test_a_transactional_flow_that_waits_follows_the_one_live_run_rule(subscriber):
    waiting = {"id": "wait", "type": "wait", "minutes": 60, "next": "shipped"}
    slow = flow_create(
        fields={
            "name": "Slow update",
            "trigger": "event",
            "event_type": "order_fulfilled",
            "purpose": Flow.Purpose.TRANSACTIONAL,
            "draft": {"nodes": [waiting, {**SHIPPED, "next": "end"}, END]},
        }
    )
    flow_publish(flow=slow)
    conversation_open(subscriber=subscriber, reason=Conversation.Reason.AGENT)  # a person is talking with them
    event_record(subscriber=subscriber, type="order_fulfilled", properties={"url": "https://www.ups.com/track?n=1"})
    # Not run beside (it would wait): made paused, to begin when the conversation closes, as any flow would be.
    [run] = FlowRun.objects.all()
    assert (run.status, run.paused_at is not None, run.state.get("deferred_start")) == ("active", True, True)
    assert not Message.objects.exists()
