"""Orders from the store become one `order_placed` event for the subscriber with the order's phone."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from urllib.parse import urlsplit

import pytest
from django.utils import timezone

from campaigns import services as campaign_services
from campaigns.fanout import campaigns_fanout_due
from campaigns.models import Attribution
from campaigns.selectors import campaign_stats
from commerce.models import WebhookDelivery
from conversations.models import Event, Message, Subscriber, Tag
from segments.services import segment_create
from tests.factories import SubscriberFactory
from tests.fakes.store import payload

pytestmark = pytest.mark.django_db

Outcome = WebhookDelivery.Outcome


def test_an_order_for_a_subscriber_is_one_order_placed_event_with_its_details(client, shopify, subscriber):
    response = shopify.post(client, "orders/create", payload("shopify/orders_create.json"))

    assert response.status_code == 200
    event = Event.objects.get()
    assert event.subscriber == subscriber  # found by the billing address's "(415) 555-0100"
    assert event.type == "order_placed"
    assert event.idempotency_key == "shopify:order:820982911946154508"
    assert event.occurred_at == datetime(2026, 11, 30, 15, 15, tzinfo=UTC)
    assert event.properties == {
        "order_id": "820982911946154508",
        "order_number": "#9999",
        "total": 64.98,
        "currency": "USD",
        "items": [
            {
                "product_id": "788032119674292922",
                "variant_id": "757650484644203962",
                "title": "Example T-Shirt",
                "variant_title": "Medium",
                "sku": "example-shirt-m",
                "quantity": 1,
                "price": 19.99,
            },
            {
                "product_id": "632910392",
                "variant_id": "808950810",
                "title": "Canvas Tote",
                "variant_title": "",
                "sku": "TOTE-1",
                "quantity": 2,
                "price": 24.99,
            },
        ],
        "discount_codes": ["WELCOME10"],
        "checkout_token": "bd5a8aa1ecd019dd3520ff791ee3a24c",
        "platform": "shopify",
    }


def test_the_same_order_delivered_twice_counts_once(client, shopify, subscriber):
    shopify.post(client, "orders/create", payload("shopify/orders_create.json"))
    shopify.post(client, "orders/create", payload("shopify/orders_create.json"))  # a new delivery id, same order

    assert Event.objects.filter(type="order_placed").count() == 1
    assert list(WebhookDelivery.objects.order_by("id").values_list("outcome", flat=True)) == ["processed", "ignored"]
    assert WebhookDelivery.objects.order_by("id").last().detail.startswith("the order was recorded already")


def test_orders_create_then_orders_paid_for_one_order_counts_once(client, shopify, subscriber):
    shopify.post(client, "orders/create", payload("shopify/orders_create.json"))
    paid = shopify.post(client, "orders/paid", payload("shopify/orders_paid.json"))

    assert paid.status_code == 200
    assert Event.objects.count() == 1


def test_orders_paid_alone_records_the_order(client, shopify, subscriber):
    shopify.post(client, "orders/paid", payload("shopify/orders_paid.json"))

    assert Event.objects.get().idempotency_key == "shopify:order:820982911946154508"


def test_the_first_phone_that_belongs_to_a_subscriber_is_used(client, shopify, subscriber):
    other = SubscriberFactory(phone="+13125550123")
    order = payload("shopify/orders_create.json")
    order["phone"] = "+1 312-555-0123"  # the order's own phone comes first

    shopify.post(client, "orders/create", order)

    assert Event.objects.get().subscriber == other


def test_an_order_from_an_unknown_phone_makes_no_subscriber(client, shopify, db):
    response = shopify.post(client, "orders/create", payload("shopify/orders_create.json"))

    assert response.status_code == 200
    assert not Subscriber.objects.exists()
    assert not Event.objects.exists()
    delivery = WebhookDelivery.objects.get()
    assert (delivery.outcome, delivery.detail) == (Outcome.IGNORED, "no subscriber has the order's phone number")


def test_a_phone_that_does_not_parse_is_recorded_with_the_reason(client, shopify, db):
    order = payload("shopify/orders_create.json")
    order["billing_address"]["phone"] = "555"
    order["shipping_address"]["phone"] = "call me"

    response = shopify.post(client, "orders/create", order)

    assert response.status_code == 200
    delivery = WebhookDelivery.objects.get()
    assert delivery.outcome == Outcome.IGNORED
    assert delivery.detail == (
        "the billing address phone is not a valid phone number: it has the wrong number of digits. "
        "the shipping address phone is not a valid phone number: it is not a phone number."
    )
    assert not Subscriber.objects.exists()


def test_an_order_without_a_phone_is_ignored_with_that_reason(client, shopify, db):
    order = payload("shopify/orders_create.json")
    order["billing_address"]["phone"] = order["shipping_address"]["phone"] = None

    shopify.post(client, "orders/create", order)

    assert WebhookDelivery.objects.get().detail == "the order holds no phone number"


def test_an_opted_out_subscribers_order_is_still_recorded(client, shopify, subscriber):
    """An event is what they did, not a text to them: segments and revenue still count it."""
    Subscriber.objects.filter(pk=subscriber.pk).update(status=Subscriber.Status.UNSUBSCRIBED)

    shopify.post(client, "orders/create", payload("shopify/orders_create.json"))

    assert Event.objects.get().subscriber == subscriber
    assert Subscriber.objects.get().status == Subscriber.Status.UNSUBSCRIBED


# --- WooCommerce ---------------------------------------------------------------------------------------------


def test_a_woocommerce_order_processing_is_an_order_placed(client, woo, subscriber):
    response = woo.post(client, "order.created", payload("woocommerce/order_created.json"))

    assert response.status_code == 200
    event = Event.objects.get()
    assert event.subscriber == subscriber
    assert event.idempotency_key == "woocommerce:order:727"
    assert event.occurred_at == datetime(2026, 11, 30, 19, 28, 2, tzinfo=UTC)  # date_created_gmt
    properties = event.properties
    assert (properties["total"], properties["currency"], properties["platform"]) == (29.35, "USD", "woocommerce")
    assert properties["discount_codes"] == ["spring5"]
    assert properties["items"][1] == {
        "product_id": "799",
        "variant_id": "733",
        "title": "Ship Your Idea - Black, M",
        "variant_title": "Black, M",
        "sku": "Bar3",
        "quantity": 1,
        "price": 12,
    }
    assert properties["items"][0]["variant_id"] == ""  # variation_id 0: a simple product


def test_a_pending_woocommerce_order_counts_once_it_is_processing(client, woo, subscriber):
    created = woo.post(client, "order.created", payload("woocommerce/order_created_pending.json"))

    assert created.status_code == 200
    assert not Event.objects.exists()
    assert WebhookDelivery.objects.get().detail == "the order is pending; it counts once it is paid"

    woo.post(client, "order.updated", payload("woocommerce/order_created.json"))  # now processing
    completed = {**payload("woocommerce/order_created.json"), "status": "completed"}
    woo.post(client, "order.updated", completed)

    assert Event.objects.filter(type="order_placed").count() == 1  # (completed is also order_fulfilled, once)


@pytest.mark.parametrize("status", ["on-hold", "cancelled", "refunded", "failed", "checkout-draft"])
def test_woocommerce_orders_in_other_states_are_not_counted(client, woo, subscriber, status):
    woo.post(client, "order.updated", {**payload("woocommerce/order_created.json"), "status": status})

    assert not Event.objects.exists()
    assert WebhookDelivery.objects.get().outcome == Outcome.IGNORED


# --- Campaign revenue ----------------------------------------------------------------------------------------

DAYTIME = datetime(2027, 1, 5, 18, 0, tzinfo=UTC)


@pytest.fixture
def clicked_campaign(client, subscriber, console, settings, monkeypatch):
    """A campaign texted to the subscriber, whose link they opened (the clock stopped at a weekday afternoon)."""
    monkeypatch.setattr(timezone, "now", lambda: DAYTIME)
    Tag.objects.create(name="vip").subscribers.add(subscriber)
    everyone = segment_create(name="VIPs", rules={"all": [{"tag": "vip"}]})
    campaign = campaign_services.campaign_save(
        data={
            "name": "New tees",
            "link_url": "https://shop.example/tees",
            "variants": [{"body": "New tees are in {{ link }}", "weight": 100}],
            "include_segments": [everyone.pk],
        }
    )
    campaign_services.campaign_send(campaign=campaign)
    campaigns_fanout_due()
    console.send_due()
    text = Message.objects.get(origin="campaign")
    link = next(word for word in text.body.split() if "/l/" in word)
    assert client.get(urlsplit(link).path, HTTP_USER_AGENT="Mozilla/5.0 (iPhone)").status_code == 302
    return campaign


def test_a_webhook_order_is_credited_to_the_campaign_like_one_posted_to_the_api(client, shopify, clicked_campaign):
    order = payload("shopify/orders_create.json")
    order["created_at"] = (DAYTIME + timedelta(hours=1)).isoformat()

    shopify.post(client, "orders/create", order)
    shopify.post(client, "orders/paid", order)  # the same order again: still one order, one credit

    attribution = Attribution.objects.get()
    assert (attribution.campaign, attribution.touch) == (clicked_campaign, "click")
    assert (attribution.revenue, attribution.currency) == (Decimal("64.98"), "USD")
    stats = campaign_stats(clicked_campaign)
    assert stats["orders"] == 1 and stats["revenue"] == Decimal("64.98")
