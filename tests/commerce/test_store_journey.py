"""The store connection end to end, as issue 17's "Done when" walks it: one shopper, one store, real services.

A campaign text the shopper clicks; a Shopify checkout with their phone; the delay passing; the cart flow's
reminder linking to that checkout; the order that ends the reminder and is credited to the campaign, delivered
twice; a forged post; the shipment texted at 3 a.m.; a variant back in stock. Every webhook is signed as Shopify
signs it and every text goes through the send gate to a fake Twilio.
"""

import io
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest
from django.core.management import call_command

from campaigns import services as campaigns
from campaigns.models import Attribution
from commerce.models import Variant
from conversations.models import Event, Tag
from flows.models import FlowRun
from flows.services import flow_templates_load
from segments.services import segment_create
from tests.commerce.conftest import START
from tests.fakes.store import payload

pytestmark = pytest.mark.django_db


def process_due():
    """What the worker does every minute: flow waits, the abandonment, the outbox."""
    call_command("process_due", stdout=io.StringIO())


def texts(twilio) -> list[str]:
    return [form["Body"] for form in twilio.sent]


def links_in(text: str) -> list[str]:
    return [word.rstrip(".,!") for word in text.split() if word.startswith(("http://", "https://"))]


def follow(client, link: str) -> str:
    """Where a link in a text takes the shopper: through Parley's short link when it is one."""
    if "/l/" not in link:
        return link
    response = client.get(urlsplit(link).path, HTTP_USER_AGENT="Mozilla/5.0 (iPhone; CPU iPhone OS 18_0)")
    assert response.status_code == 302
    return response["Location"]


def test_checkout_to_reminder_to_order_to_shipment(clock, client, admin_client, shopify, subscriber, twilio):
    flow_templates_load()
    subscriber.tags.add(Tag.objects.create(name="vip"))
    vips = segment_create(name="VIPs", rules={"all": [{"tag": "vip"}]})
    campaign = campaigns.campaign_save(
        data={
            "name": "Winter sale",
            "link_url": "https://acme-outfitters.example/winter",
            "variants": [{"body": "Acme Outfitters: the winter sale is on {{ link }}", "weight": 100}],
            "include_segments": [vips.pk],
        }
    )
    campaigns.campaign_send(campaign=campaign)
    process_due()
    (campaign_text,) = texts(twilio)
    follow(client, links_in(campaign_text)[0])  # the shopper clicks the campaign's link

    # The shopper starts a checkout and walks away.
    checkout = payload("shopify/checkouts_create.json")
    checkout.update(phone=subscriber.phone, created_at=START.isoformat(), updated_at=START.isoformat())
    assert shopify.post(client, "checkouts/create", checkout).status_code == 200
    assert Event.objects.filter(type="checkout_started", subscriber=subscriber).count() == 1
    process_due()
    assert not Event.objects.filter(type="cart_abandoned").exists()  # not before the delay

    clock.at += timedelta(minutes=31)
    process_due()

    assert Event.objects.filter(type="cart_abandoned", subscriber=subscriber).count() == 1
    run = FlowRun.objects.get(subscriber=subscriber, flow__name="Cart abandonment")
    reminder = texts(twilio)[-1]
    assert len(texts(twilio)) == 2
    destinations = [follow(client, link) for link in links_in(reminder)]
    assert any(where.startswith(checkout["abandoned_checkout_url"]) for where in destinations), reminder

    # The order for that checkout ends the reminder and is the campaign's revenue, however often it arrives.
    clock.at += timedelta(minutes=20)
    order = payload("shopify/orders_create.json")
    order.update(phone=subscriber.phone, checkout_token=checkout["token"], created_at=clock.at.isoformat())
    first = shopify.post(client, "orders/create", order)
    again = shopify.post(client, "orders/create", order)  # a retry of another delivery of the same order
    paid = shopify.post(client, "orders/paid", order)

    assert [first.status_code, again.status_code, paid.status_code] == [200, 200, 200]
    assert Event.objects.filter(type="order_placed", subscriber=subscriber).count() == 1
    attribution = Attribution.objects.get()
    assert (attribution.campaign, attribution.touch) == (campaign, "click")
    assert str(attribution.revenue) == order["total_price"]
    run.refresh_from_db()
    assert run.status == "completed"
    clock.at += timedelta(days=2)
    process_due()
    assert len(texts(twilio)) == 2  # no offer after the order

    # A post nobody signed changes nothing.
    forged = shopify.post(client, "orders/create", order, **{"X-Shopify-Hmac-Sha256": None})
    assert forged.status_code == 401

    # The parcel ships at 3 a.m. in the shopper's zone: an order update goes at once, with its tracking link.
    clock.at = datetime(2027, 1, 8, 8, 0, tzinfo=UTC)  # 03:00 in New York
    shipment = payload("shopify/fulfillments_create.json")
    shipment["order_id"] = order["id"]
    assert shopify.post(client, "fulfillments/create", shipment).status_code == 200
    process_due()
    update = texts(twilio)[-1]
    assert len(texts(twilio)) == 3
    assert shipment["tracking_url"] in update

    # A variant sold out, then five arrive: the catalog shows it in stock.
    product = payload("shopify/products_update.json")
    product["variants"][0]["inventory_quantity"] = 0
    shopify.post(client, "products/update", product)
    variant_id = str(product["variants"][0]["id"])
    assert not Variant.objects.get(external_id=variant_id).in_stock
    product["variants"][0]["inventory_quantity"] = 5
    product["updated_at"] = (clock.at + timedelta(minutes=1)).isoformat()
    shopify.post(client, "products/update", product)
    variant = Variant.objects.get(external_id=variant_id)
    assert (variant.in_stock, variant.inventory_quantity) == (True, 5)
    listed = admin_client.get(f"/admin/commerce/variant/?q={product['variants'][0]['sku']}")
    assert listed.status_code == 200 and variant in listed.context["cl"].result_list
