"""Only a flow started by an order's own news (order placed, shipped, out for delivery, delivered) may be
transactional: a cart or browse reminder, a keyword flow or one started by hand is marketing. Refused by the checks,
publishing, import (services and API), flow_create/flow_update and the admin form, including when the start of a
transactional flow is moved to another event."""

import json
from datetime import UTC, datetime

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from conversations import event_types
from conversations.models import Message
from conversations.services.events import event_record
from flows.checks import ERROR, flow_checks
from flows.models import Flow
from flows.services import flow_create, flow_import, flow_publish, flow_templates_load, flow_update, run_start
from tests.factories import SubscriberFactory, UserFactory

WHY = (
    "only a flow started by an order's own news (order placed, shipped, out for delivery, delivered) can be "
    "transactional"
)
CART = f"{WHY}: a cart reminder is marketing"
NIGHT_SALE = {"id": "sale", "type": "send_message", "text": "HUGE 50% OFF tonight, code NIGHT50", "next": "end"}
CONFIRMED = {
    "id": "confirmed",
    "type": "send_message",
    "text": "{{ store }}: thanks! Your order {{ event.order_number }} is confirmed. Reply STOP to opt out.",
    "next": "end",
}
END = {"id": "end", "type": "end"}
# (trigger, event_type, keywords, the end of the error)
WRONG_STARTS = [
    ("event", event_types.CART_ABANDONED, [], "a cart reminder is marketing"),
    ("event", event_types.BROWSE_ABANDONED, [], "a browsing reminder is marketing"),
    ("keyword", "", ["night"], "a flow a keyword starts is marketing"),
    ("manual", "", [], "a flow started by hand, by the API or for a segment is marketing"),
    ("opt_in", "", [], "a welcome is marketing"),
    ("event", "link_clicked", [], "a flow started by link_clicked is marketing"),
]


def start_errors(trigger, event_type, nodes=(NIGHT_SALE, END)):
    found = flow_checks(
        {"nodes": list(nodes)}, attributes={}, trigger=trigger, event_type=event_type, purpose="transactional"
    )
    return [check.message for check in found if check.level == ERROR and check.node == ""]


def test_the_transactional_events_are_an_orders_own_news():
    news = {"order_placed", "order_fulfilled", "order_out_for_delivery", "order_delivered"}
    assert news == event_types.TRANSACTIONAL_EVENTS
    assert event_types.TRANSACTIONAL_EVENTS <= event_types.KNOWN


@pytest.mark.parametrize(("trigger", "event_type", "keywords", "why"), WRONG_STARTS)
def test_the_checks_refuse_a_transactional_flow_not_started_by_an_orders_news(trigger, event_type, keywords, why):
    assert start_errors(trigger, event_type) == [f"{WHY}: {why}"]
    marketing = flow_checks(
        {"nodes": [NIGHT_SALE, END]}, attributes={}, trigger=trigger, event_type=event_type, purpose="marketing"
    )
    assert [check for check in marketing if check.level == ERROR] == []


def test_the_start_error_comes_with_the_definitions_own_errors():
    offer = {"id": "offer", "type": "send_offer", "text": "10% off: {{ offer_code }}", "code": "SAVE10"}
    found = flow_checks(
        {"nodes": [offer]}, attributes={}, trigger="event", event_type="cart_abandoned", purpose="transactional"
    )
    assert [check.node for check in found if check.level == ERROR] == ["", "offer"]
    assert found[0].message == CART


@pytest.mark.parametrize("event_type", sorted(event_types.TRANSACTIONAL_EVENTS))
def test_the_checks_allow_a_transactional_flow_on_an_orders_news(event_type):
    assert start_errors("event", event_type, nodes=(CONFIRMED, END)) == []


@pytest.mark.django_db
class TestServices:
    def test_the_shipped_order_updates_flows_load_and_publish(self):
        flow_templates_load()
        updates = Flow.objects.filter(purpose=Flow.Purpose.TRANSACTIONAL)
        assert sorted(updates.values_list("event_type", "status")) == [
            ("order_delivered", "active"),
            ("order_fulfilled", "active"),
            ("order_out_for_delivery", "active"),
        ]
        for flow in updates:
            assert flow_publish(flow=flow).number == 2  # publishing again is still allowed

    def test_an_order_placed_confirmation_flow_may_be_transactional(self):
        flow = flow_create(
            fields={
                "name": "Order confirmation",
                "trigger": "event",
                "event_type": event_types.ORDER_PLACED,
                "purpose": Flow.Purpose.TRANSACTIONAL,
                "draft": {"nodes": [CONFIRMED, END]},
            }
        )
        assert flow_publish(flow=flow).number == 1
        assert start_errors(flow.trigger, flow.event_type, nodes=(CONFIRMED, END)) == []

    @pytest.mark.parametrize(("trigger", "event_type", "keywords", "why"), WRONG_STARTS)
    def test_create_refuses_a_transactional_flow_not_started_by_an_orders_news(
        self, trigger, event_type, keywords, why
    ):
        fields = {"name": "Night sale", "trigger": trigger, "event_type": event_type, "keywords": keywords}
        with pytest.raises(ValidationError) as refused:
            flow_create(fields={**fields, "purpose": Flow.Purpose.TRANSACTIONAL, "draft": {"nodes": [NIGHT_SALE, END]}})
        assert refused.value.message_dict == {"purpose": [f"{WHY}: {why}"]}
        assert not Flow.objects.exists()

    @pytest.mark.parametrize(("trigger", "event_type", "keywords", "why"), WRONG_STARTS)
    def test_publish_refuses_a_transactional_flow_not_started_by_an_orders_news(
        self, trigger, event_type, keywords, why
    ):
        flow = flow_create(
            fields={
                "name": "Night sale",
                "trigger": trigger,
                "event_type": event_type,
                "keywords": keywords,
                "draft": {"nodes": [NIGHT_SALE, END]},
            }
        )
        # Saved transactional past the services (a row from before this rule, a script): publishing still refuses.
        Flow.objects.filter(pk=flow.pk).update(purpose=Flow.Purpose.TRANSACTIONAL)
        flow.refresh_from_db()
        with pytest.raises(ValidationError) as refused:
            flow_publish(flow=flow)
        assert refused.value.message_dict == {"purpose": [f"{WHY}: {why}"]}
        assert not flow.versions.exists()
        flow.refresh_from_db()
        assert flow.status == Flow.Status.DRAFT

    def test_a_cart_reminder_cannot_be_made_transactional(self):
        flow = flow_create(
            fields={
                "name": "Cart",
                "trigger": "event",
                "event_type": "cart_abandoned",
                "draft": {"nodes": [NIGHT_SALE, END]},
            }
        )
        flow_publish(flow=flow)
        with pytest.raises(ValidationError) as refused:
            flow_update(flow=flow, changes={"purpose": Flow.Purpose.TRANSACTIONAL})
        assert refused.value.message_dict == {"purpose": [CART]}
        flow.refresh_from_db()
        assert flow.purpose == Flow.Purpose.MARKETING

    @pytest.mark.parametrize(
        ("changes", "field", "why"),
        [
            ({"event_type": "cart_abandoned"}, "event_type", "a cart reminder is marketing"),
            ({"event_type": "checkout_started"}, "event_type", "a cart reminder is marketing"),
            ({"trigger": "keyword", "keywords": ["ship"]}, "trigger", "a flow a keyword starts is marketing"),
            (
                {"trigger": "manual", "event_type": ""},
                "event_type",
                "a flow started by hand, by the API or for a segment is marketing",
            ),
        ],
    )
    def test_moving_an_order_updates_start_to_another_event_is_refused(self, changes, field, why):
        flow_templates_load()
        flow = Flow.objects.get(name="Order updates: shipped")
        with pytest.raises(ValidationError) as refused:
            flow_update(flow=flow, changes=changes)
        assert refused.value.message_dict == {field: [f"{WHY}: {why}"]}
        flow.refresh_from_db()
        assert (flow.trigger, flow.event_type, flow.purpose) == ("event", "order_fulfilled", "transactional")

    def test_moving_an_order_update_to_another_orders_news_or_making_it_marketing_first_is_allowed(self):
        flow_templates_load()
        flow = Flow.objects.get(name="Order updates: shipped")
        flow_update(flow=flow, changes={"event_type": event_types.ORDER_PLACED})
        assert flow.event_type == "order_placed"
        flow_update(flow=flow, changes={"purpose": Flow.Purpose.MARKETING, "event_type": "cart_abandoned"})
        flow.refresh_from_db()
        assert (flow.purpose, flow.event_type) == ("marketing", "cart_abandoned")

    @pytest.mark.parametrize(("trigger", "event_type", "keywords", "why"), WRONG_STARTS)
    def test_import_refuses_a_transactional_flow_not_started_by_an_orders_news(
        self, trigger, event_type, keywords, why
    ):
        document = {
            "name": "Night sale",
            "trigger": trigger,
            "event_type": event_type,
            "keywords": keywords,
            "purpose": "transactional",
            "definition": {"nodes": [NIGHT_SALE, END]},
        }
        with pytest.raises(ValidationError) as refused:
            flow_import(data=document)
        assert refused.value.message_dict == {"purpose": [f"{WHY}: {why}"]}
        assert not Flow.objects.exists()

    def test_import_cannot_move_an_order_update_to_a_cart_reminder(self):
        flow_templates_load()
        flow = Flow.objects.get(name="Order updates: shipped")
        document = {
            "name": flow.name,
            "trigger": "event",
            "event_type": "cart_abandoned",
            "purpose": "transactional",
            "definition": {"nodes": [NIGHT_SALE, END]},
        }
        with pytest.raises(ValidationError) as refused:
            flow_import(data=document)
        assert refused.value.message_dict == {"purpose": [CART]}
        flow.refresh_from_db()
        assert (flow.event_type, flow.draft["nodes"][0]["id"]) == ("order_fulfilled", "shipped")


@pytest.mark.django_db
def test_the_api_import_refuses_a_transactional_cart_reminder(api):
    document = {
        "name": "Night sale",
        "trigger": "event",
        "event_type": "cart_abandoned",
        "purpose": "transactional",
        "definition": {"nodes": [NIGHT_SALE, END]},
    }
    response = api.post("/api/v1/flows/import/", document, format="json")
    assert response.status_code == 400
    assert response.json()["purpose"] == [CART]
    assert not Flow.objects.filter(name="Night sale").exists()


@pytest.mark.django_db
def test_the_api_cannot_publish_a_transactional_cart_reminder_saved_past_the_services(api):
    flow = flow_create(
        fields={
            "name": "Cart",
            "trigger": "event",
            "event_type": "cart_abandoned",
            "draft": {"nodes": [NIGHT_SALE, END]},
        }
    )
    Flow.objects.filter(pk=flow.pk).update(purpose=Flow.Purpose.TRANSACTIONAL)
    response = api.post(f"/api/v1/flows/{flow.pk}/publish/")
    assert response.status_code == 400
    assert response.json()["purpose"] == [CART]
    assert not flow.versions.exists()


@pytest.mark.django_db
class TestAdmin:
    @pytest.fixture
    def staff_client(self, client):
        client.force_login(UserFactory(username="staff", is_staff=True, is_superuser=True))
        flow_templates_load()
        return client

    def form(self, flow=None, **values):
        base = {
            "name": "Night sale",
            "trigger": "event",
            "keywords": "[]",
            "event_type": "cart_abandoned",
            "event_filter": "{}",
            "reentry": "always",
            "reentry_days": "0",
            "purpose": "marketing",
            "draft": json.dumps({"nodes": [NIGHT_SALE, END]}),
            "launches-TOTAL_FORMS": "0",
            "launches-INITIAL_FORMS": "0",
        }
        if flow is not None:
            base.update(
                name=flow.name,
                trigger=flow.trigger,
                keywords=json.dumps(flow.keywords),
                event_type=flow.event_type,
                event_filter=json.dumps(flow.event_filter),
                reentry=flow.reentry,
                reentry_days=str(flow.reentry_days),
                purpose=flow.purpose,
                draft=json.dumps(flow.draft),
            )
        return {**base, **values}

    @staticmethod
    def errors(response, field):
        return [str(error) for error in response.context["adminform"].form.errors.get(field, [])]

    @pytest.mark.parametrize(
        ("values", "why"),
        [
            ({}, "a cart reminder is marketing"),
            ({"trigger": "keyword", "keywords": '["night"]', "event_type": ""}, "a flow a keyword starts is marketing"),
            (
                {"trigger": "manual", "event_type": ""},
                "a flow started by hand, by the API or for a segment is marketing",
            ),
        ],
    )
    def test_a_new_transactional_flow_not_started_by_an_orders_news_is_refused(self, staff_client, values, why):
        response = staff_client.post(reverse("admin:flows_flow_add"), self.form(**values, purpose="transactional"))
        assert response.status_code == 200
        assert self.errors(response, "purpose") == [f"{WHY}: {why}"]
        assert not Flow.objects.filter(name="Night sale").exists()

    def test_the_cart_reminder_cannot_be_made_transactional_on_its_page(self, staff_client):
        flow = Flow.objects.get(name="Cart abandonment")
        response = staff_client.post(
            reverse("admin:flows_flow_change", args=[flow.pk]), self.form(flow, purpose="transactional")
        )
        assert response.status_code == 200
        assert CART in self.errors(response, "purpose")
        flow.refresh_from_db()
        assert flow.purpose == Flow.Purpose.MARKETING

    def test_an_order_updates_event_cannot_be_moved_to_cart_abandoned_on_its_page(self, staff_client):
        flow = Flow.objects.get(name="Order updates: shipped")
        response = staff_client.post(
            reverse("admin:flows_flow_change", args=[flow.pk]), self.form(flow, event_type="cart_abandoned")
        )
        assert response.status_code == 200
        assert self.errors(response, "event_type") == [CART]
        flow.refresh_from_db()
        assert (flow.event_type, flow.purpose) == ("order_fulfilled", "transactional")

    def test_an_order_placed_confirmation_may_be_made_transactional_on_the_page(self, staff_client):
        values = {"name": "Order confirmation", "event_type": "order_placed", "purpose": "transactional"}
        response = staff_client.post(
            reverse("admin:flows_flow_add"), self.form(**values, draft=json.dumps({"nodes": [CONFIRMED, END]}))
        )
        assert response.status_code == 302
        flow = Flow.objects.get(name="Order confirmation")
        assert (flow.trigger, flow.event_type, flow.purpose) == ("event", "order_placed", "transactional")
        shipped = Flow.objects.get(name="Order updates: shipped")
        response = staff_client.post(
            reverse("admin:flows_flow_change", args=[shipped.pk]), self.form(shipped, event_type="order_delivered")
        )
        assert response.status_code == 302
        shipped.refresh_from_db()
        assert shipped.event_type == "order_delivered"


# --- Sending: only a run its order event started is transactional ----------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("trigger", ["manual", "flow", "keyword"])
def test_an_order_updates_flow_started_any_other_way_sends_marketing_under_its_rules(monkeypatch, trigger):
    """Started by hand, for a segment or by another flow, an order update's text is marketing: at 06:00 in the
    shopper's zone it waits for the morning like any marketing text."""
    monkeypatch.setattr(timezone, "now", lambda: datetime(2026, 12, 1, 11, 0, tzinfo=UTC))  # 06:00 in New York
    flow_templates_load()
    shipped = Flow.objects.get(name="Order updates: shipped")
    shopper = SubscriberFactory(phone="+14155550170")

    run_start(flow=shipped, subscriber=shopper, trigger=trigger)

    (text,) = Message.objects.filter(subscriber=shopper, direction="outbound")
    assert text.purpose == Message.Purpose.MARKETING
    assert text.not_before is not None  # held for the marketing window


@pytest.mark.django_db
def test_an_order_updates_flow_started_by_its_event_sends_transactional_texts_at_once(monkeypatch):
    monkeypatch.setattr(timezone, "now", lambda: datetime(2026, 12, 1, 11, 0, tzinfo=UTC))
    flow_templates_load()
    shopper = SubscriberFactory(phone="+14155550171")

    event_record(subscriber=shopper, type=event_types.ORDER_FULFILLED, properties={"order_number": "#1"})

    (text,) = Message.objects.filter(subscriber=shopper, direction="outbound")
    assert (text.purpose, text.not_before) == (Message.Purpose.TRANSACTIONAL, None)
