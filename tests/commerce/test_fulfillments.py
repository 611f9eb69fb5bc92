"""Order updates: shipments from the store become order_fulfilled / order_out_for_delivery / order_delivered
events, and the shipped "Order updates" flows text them at once, with the tracking link, through the send gate's
transactional purpose (any hour, no caps; never after STOP)."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from commerce import mapping
from commerce.models import WebhookDelivery
from conversations.models import Event, Message
from conversations.outbox import outbox_send_due
from conversations.phones import normalize_phone
from conversations.services import subscriber_opt_out
from flows.models import Flow, FlowRun
from flows.services import flow_templates_load
from tests.factories import MessageFactory, SubscriberFactory
from tests.fakes.store import payload

Outcome = WebhookDelivery.Outcome
TRACKING = "https://www.ups.com/track?loc=en_US&tracknum=1Z2345E20300000000"
# 03:00 in San Francisco, where the shopper's (415) number is: deep in quiet hours.
NIGHT = datetime(2026, 12, 1, 11, 0, tzinfo=UTC)


# --- The mapping (pure) -----------------------------------------------------------------------------------------


def test_a_shopify_fulfillment_is_read_with_its_tracking_and_items():
    fulfillment = mapping.shopify_fulfillment(payload("shopify/fulfillments_create.json"))
    assert (fulfillment.stage, fulfillment.status) == (mapping.FULFILLED, "success")
    assert fulfillment.phones == ()  # not the destination's: the parcel's recipient may not be the buyer
    assert fulfillment.as_properties() == {
        "order_id": "820982911946154508",
        "order_number": "#9999",
        "fulfillment_id": "255858046",
        "status": "success",
        "tracking_company": "UPS",
        "tracking_number": "1Z2345E20300000000",
        "tracking_url": TRACKING,
        "url": TRACKING,
        "items": [
            {
                "product_id": "788032119674292922",
                "variant_id": "757650484644203962",
                "title": "Example T-Shirt",
                "variant_title": "Medium",
                "sku": "example-shirt-m",
                "quantity": 1,
                "price": 19.99,
            }
        ],
        "platform": "shopify",
    }


@pytest.mark.parametrize(
    ("status", "shipment_status", "stage"),
    [
        ("success", None, mapping.FULFILLED),
        ("success", "confirmed", mapping.FULFILLED),
        ("success", "in_transit", mapping.FULFILLED),
        ("success", "out_for_delivery", mapping.OUT_FOR_DELIVERY),
        ("success", "delivered", mapping.DELIVERED),
        ("success", "failure", ""),
        ("success", "attempted_delivery", ""),
        ("pending", None, ""),
        ("cancelled", None, ""),
    ],
)
def test_the_stage_follows_the_fulfillment_and_shipment_status(status, shipment_status, stage):
    data = {**payload("shopify/fulfillments_create.json"), "status": status, "shipment_status": shipment_status}
    assert mapping.shopify_fulfillment(data).stage == stage


def test_tracking_numbers_and_urls_lists_are_used_when_the_single_fields_are_empty():
    data = {**payload("shopify/fulfillments_create.json"), "tracking_number": None, "tracking_url": None}
    fulfillment = mapping.shopify_fulfillment(data)
    assert (fulfillment.tracking_number, fulfillment.tracking_url) == ("1Z2345E20300000000", TRACKING)


def test_orders_fulfilled_reads_each_fulfillment_and_falls_back_to_the_order_status_page():
    data = payload("shopify/orders_fulfilled.json")
    data["fulfillments"][0].update(tracking_url=None, tracking_urls=[])
    [fulfillment] = mapping.shopify_order_fulfillments(data)
    properties = fulfillment.as_properties()
    assert properties["tracking_url"] == ""
    assert properties["url"] == data["order_status_url"]
    assert properties["order_number"] == "#9999"
    assert fulfillment.phones[0] == ("billing address", "(415) 555-0100")


@pytest.mark.parametrize(
    ("data", "where"),
    [
        ({"order_id": 820982911946154508, "status": "success"}, "id is missing"),
        ({"id": 1, "status": "success"}, "order_id is missing"),
        ({"id": 1, "order_id": 2, "status": "success", "tracking_numbers": "1Z"}, "tracking_numbers must be a list"),
        ({"id": 1, "order_id": 2, "status": "success", "line_items": [{"quantity": "many"}]}, "line_items[0].quantity"),
    ],
)
def test_a_fulfillment_not_shaped_as_documented_names_the_field(data, where):
    with pytest.raises(mapping.PayloadError, match=re.escape(where)):
        mapping.shopify_fulfillment(data)


def test_a_completed_woocommerce_order_is_a_shipment_with_the_tracking_plugins_link():
    fulfillment = mapping.woocommerce_fulfillment(payload("woocommerce/order_updated_completed.json"))
    assert (fulfillment.stage, fulfillment.id, fulfillment.order_number) == (mapping.FULFILLED, "727", "727")
    assert fulfillment.tracking_company == "usps"
    assert fulfillment.tracking_url == (
        "https://tools.usps.com/go/TrackConfirmAction_input?qtc_tLabels1=9400111899223197428490"
    )


def test_a_custom_tracking_link_wins_and_unreadable_tracking_meta_is_left_out():
    data = payload("woocommerce/order_updated_completed.json")
    [item] = data["meta_data"][1]["value"]
    item.update(custom_tracking_provider="Dropp", custom_tracking_link="https://dropp.is/track/DR157")
    fulfillment = mapping.woocommerce_fulfillment(data)
    assert (fulfillment.tracking_company, fulfillment.tracking_url) == ("Dropp", "https://dropp.is/track/DR157")
    data["meta_data"][1]["value"] = "a:1:{i:0;a:0:{}}"  # serialised PHP a plugin left as text
    assert mapping.woocommerce_fulfillment(data).tracking_url == ""
    processing = {**data, "status": "processing"}
    assert mapping.woocommerce_fulfillment(processing).stage == ""


# --- Webhooks, events and texts ---------------------------------------------------------------------------------


@pytest.fixture
def night(monkeypatch):
    monkeypatch.setattr(timezone, "now", lambda: NIGHT)
    return NIGHT


@pytest.fixture
def order_updates(db):
    flow_templates_load()
    return Flow.objects.filter(purpose=Flow.Purpose.TRANSACTIONAL)


def texts(twilio) -> list[str]:
    outbox_send_due(max_seconds=5)
    return [form["Body"] for form in twilio.sent]


def delivery(topic: str) -> WebhookDelivery:
    return WebhookDelivery.objects.filter(topic=topic).order_by("-id").first()


@pytest.mark.django_db
def test_a_shipment_at_3am_is_texted_at_once_with_its_tracking_link(
    client, shopify, subscriber, twilio, night, order_updates
):
    assert shopify.post(client, "orders/create", payload("shopify/orders_create.json")).status_code == 200
    # The order started the post-purchase poll, which waits three days: the order update does not wait for it.
    assert FlowRun.objects.live().filter(subscriber=subscriber).exists()

    response = shopify.post(client, "fulfillments/create", payload("shopify/fulfillments_create.json"))

    assert response.status_code == 200
    assert delivery("fulfillments/create").outcome == Outcome.PROCESSED
    event = Event.objects.get(type="order_fulfilled")
    assert event.subscriber == subscriber
    assert event.idempotency_key == "shopify:fulfillment:255858046:fulfilled"
    assert (event.properties["url"], event.properties["order_number"]) == (TRACKING, "#9999")
    message = Message.objects.get(purpose=Message.Purpose.TRANSACTIONAL)
    assert (message.not_before, message.hold_reason) == (None, "")
    assert texts(twilio) == [
        f"Acme Outfitters: your order #9999 is on its way! Track it: {TRACKING} Reply STOP to opt out."
    ]
    assert "ValidityPeriod" not in twilio.sent[0]


@pytest.mark.django_db
def test_each_stage_of_a_shipment_is_texted_once_whatever_is_delivered_again(
    client, shopify, subscriber, twilio, night, order_updates
):
    shopify.post(client, "orders/create", payload("shopify/orders_create.json"))
    created = payload("shopify/fulfillments_create.json")
    shopify.post(client, "fulfillments/create", created)
    shopify.post(client, "fulfillments/create", created)  # the same fulfillment under another delivery id
    shopify.post(client, "fulfillments/update", {**created, "shipment_status": "in_transit"})  # no new stage
    shopify.post(client, "orders/fulfilled", payload("shopify/orders_fulfilled.json"))  # the same shipment again
    assert delivery("orders/fulfilled").outcome == Outcome.IGNORED
    assert "recorded already" in delivery("orders/fulfilled").detail

    shopify.post(client, "fulfillments/update", payload("shopify/fulfillments_update.json"))
    shopify.post(client, "fulfillments/update", payload("shopify/fulfillments_update.json"))
    shopify.post(client, "fulfillments/update", {**created, "shipment_status": "delivered"})

    assert list(Event.objects.exclude(type="order_placed").order_by("id").values_list("type", flat=True)) == [
        "order_fulfilled",
        "order_out_for_delivery",
        "order_delivered",
    ]
    sent = texts(twilio)
    assert len(sent) == 3
    assert "is on its way" in sent[0]
    assert sent[1].startswith("Acme Outfitters: your order #9999 is out for delivery today. Track it: https://www.ups")
    assert "was delivered" in sent[2]


@pytest.mark.django_db
def test_order_updates_are_not_held_by_the_marketing_caps(client, shopify, subscriber, twilio, night, order_updates):
    for hours in (1, 2, 3):
        MessageFactory(
            subscriber=subscriber,
            purpose=Message.Purpose.MARKETING,
            status=Message.Status.DELIVERED,
            sent_at=NIGHT - timedelta(hours=hours),
        )
    assert Message.objects.counting_toward_caps().filter(subscriber=subscriber).count() == 3  # the cap is full
    shopify.post(client, "orders/create", payload("shopify/orders_create.json"))
    shopify.post(client, "fulfillments/create", payload("shopify/fulfillments_create.json"))
    assert len(texts(twilio)) == 1


@pytest.mark.django_db
def test_a_subscriber_who_said_stop_gets_no_order_update(client, shopify, subscriber, twilio, night, order_updates):
    shopify.post(client, "orders/create", payload("shopify/orders_create.json"))
    subscriber_opt_out(subscriber=subscriber, source="sms", raw_text="STOP")
    shopify.post(client, "fulfillments/create", payload("shopify/fulfillments_create.json"))
    shopify.post(client, "fulfillments/update", payload("shopify/fulfillments_update.json"))
    assert Event.objects.filter(type__in=["order_fulfilled", "order_out_for_delivery"]).count() == 2  # recorded
    assert not Message.objects.filter(purpose=Message.Purpose.TRANSACTIONAL).exists()
    assert texts(twilio) == []


@pytest.mark.django_db
def test_a_shipment_of_an_unknown_order_is_ignored_with_the_reason(client, shopify, twilio, night, order_updates):
    SubscriberFactory(phone="+12125550100")
    response = shopify.post(client, "fulfillments/create", payload("shopify/fulfillments_create.json"))
    assert response.status_code == 200
    recorded = delivery("fulfillments/create")
    assert recorded.outcome == Outcome.IGNORED
    assert recorded.detail == (
        "order 820982911946154508 is unknown (no order_placed event) and the shipment names no buyer's phone"
    )
    assert not Event.objects.exists()
    assert texts(twilio) == []


@pytest.mark.django_db
def test_a_shipment_is_never_texted_to_the_number_it_is_delivered_to_when_that_is_not_the_buyer(
    client, shopify, subscriber, twilio, night, order_updates
):
    """A gift: the parcel goes to a subscriber (its destination's phone), but Parley never saw the order, so
    nobody is told; the recipient must not learn of it by text."""
    shipment = payload("shopify/fulfillments_create.json")
    assert normalize_phone(shipment["destination"]["phone"]) == subscriber.phone

    shopify.post(client, "fulfillments/create", shipment)

    assert delivery("fulfillments/create").outcome == Outcome.IGNORED
    assert not Event.objects.filter(type="order_fulfilled").exists()
    assert texts(twilio) == []


@pytest.mark.django_db
def test_orders_fulfilled_falls_back_to_the_buyers_phones_not_the_shipping_address(
    client, shopify, subscriber, twilio, night, order_updates
):
    order = payload("shopify/orders_fulfilled.json")
    order["phone"] = order["customer"]["phone"] = order["billing_address"]["phone"] = None
    order["shipping_address"]["phone"] = subscriber.phone

    shopify.post(client, "orders/fulfilled", order)
    assert not Event.objects.filter(type="order_fulfilled").exists()

    order["billing_address"]["phone"] = subscriber.phone
    order["id"] += 1
    shopify.post(client, "orders/fulfilled", order)
    assert Event.objects.get(type="order_fulfilled").subscriber == subscriber


@pytest.mark.django_db
def test_a_fulfillment_that_is_not_shipped_yet_is_ignored(client, shopify, subscriber, order_updates):
    shopify.post(client, "fulfillments/create", {**payload("shopify/fulfillments_create.json"), "status": "pending"})
    recorded = delivery("fulfillments/create")
    assert (recorded.outcome, recorded.detail) == (Outcome.IGNORED, "the shipment is pending: no order update")


@pytest.mark.django_db
def test_a_malformed_fulfillment_is_rejected_naming_the_field_and_changes_nothing(client, shopify, subscriber):
    data = {**payload("shopify/fulfillments_create.json"), "tracking_numbers": "1Z2345"}
    response = shopify.post(client, "fulfillments/create", data)
    assert response.status_code == 400
    assert "tracking_numbers must be a list" in response.json()["detail"]
    assert delivery("fulfillments/create").outcome == Outcome.REJECTED
    assert not Event.objects.exists()


@pytest.mark.django_db
def test_a_completed_woocommerce_order_is_placed_and_shipped_and_texted_with_its_link(
    client, woo, subscriber, twilio, night, order_updates
):
    response = woo.post(client, "order.updated", payload("woocommerce/order_updated_completed.json"))

    assert response.status_code == 200
    assert delivery("order.updated").outcome == Outcome.PROCESSED
    placed, shipped = Event.objects.order_by("id")
    assert (placed.type, placed.idempotency_key) == ("order_placed", "woocommerce:order:727")
    assert (shipped.type, shipped.idempotency_key) == (
        "order_fulfilled",
        "woocommerce:fulfillment:727:fulfilled:9400111899223197428490",
    )
    link = "https://tools.usps.com/go/TrackConfirmAction_input?qtc_tLabels1=9400111899223197428490"
    assert shipped.properties["url"] == link
    [text] = texts(twilio)
    assert link in text and "your order 727 is on its way" in text

    woo.post(client, "order.updated", payload("woocommerce/order_updated_completed.json"))  # saved again
    assert Event.objects.count() == 2
    assert delivery("order.updated").outcome == Outcome.IGNORED


@pytest.mark.django_db
def test_a_woocommerce_order_updated_to_processing_still_only_places_the_order(client, woo, subscriber, order_updates):
    data = {**payload("woocommerce/order_updated_completed.json"), "status": "processing"}
    woo.post(client, "order.updated", data)
    assert list(Event.objects.values_list("type", flat=True)) == ["order_placed"]
    assert delivery("order.updated").outcome == Outcome.PROCESSED


@pytest.mark.django_db
def test_a_tracking_number_added_after_a_woocommerce_order_is_completed_is_texted_too(
    client, woo, subscriber, twilio, night, order_updates
):
    completed = payload("woocommerce/order_updated_completed.json")
    untracked = {**completed, "meta_data": [m for m in completed["meta_data"] if "tracking" not in m["key"]]}

    woo.post(client, "order.updated", untracked)
    woo.post(client, "order.updated", completed)  # the Shipment Tracking plugin adds the number
    woo.post(client, "order.updated", completed)  # and the order is saved again

    assert Event.objects.filter(type="order_fulfilled").count() == 2
    first, second = texts(twilio)
    assert "on its way" in first and "usps.com" not in first
    assert "https://tools.usps.com/go/TrackConfirmAction_input?qtc_tLabels1=9400111899223197428490" in second
