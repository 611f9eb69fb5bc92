"""Back in stock (issue 18, item 1): requests through the API, restocks through the signed webhooks and the catalog
import, fewest-first when stock is short, expiry by the due work, and the shipped template's text through the send
gate to a fake Twilio with a tracked link."""

import io
import json
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest
from django.contrib.auth.models import Permission
from django.core.management import call_command
from rest_framework.test import APIClient

from commerce.models import BackInStockRequest, Variant
from commerce.services import back_in_stock_request
from conversations import event_types
from conversations.event_properties import KNOWN_PROPERTIES
from conversations.models import Event, Subscriber
from flows.services import flow_templates_load
from tests.commerce.conftest import START
from tests.factories import SubscriberFactory, UserFactory, api_key_for
from tests.fakes.store import payload
from tests.fakes.twilio import twilio_configured

pytestmark = pytest.mark.django_db

URL = "/api/v1/back-in-stock/"
MEDIUM = "757650484644203962"  # products_update.json's Medium variant
SMALL_ITEM = "271878346596884015"  # the Small variant's inventory item (inventory_levels_update.json)


@pytest.fixture
def client_api(db):
    """An API client holding only the permission this endpoint asks for."""
    user = UserFactory(username="store-backend")
    user.user_permissions.set(Permission.objects.filter(codename="add_backinstockrequest"))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_key_for(user)}")
    return client


class Store:
    """The Shopify product of tests/data, its stock changed through signed products/update deliveries."""

    def __init__(self, shopify, client, clock):
        self.shopify, self.client, self.clock = shopify, client, clock
        self.product = payload("shopify/products_update.json")
        self.step = 0

    def stock(self, *, medium: int, small: int = 12):
        self.product["variants"][0]["inventory_quantity"] = small
        self.product["variants"][1]["inventory_quantity"] = medium
        self.step += 1
        updated = datetime(2026, 11, 3, tzinfo=UTC) + timedelta(minutes=self.step)
        self.product["updated_at"] = updated.isoformat()
        for variant in self.product["variants"]:
            variant["updated_at"] = updated.isoformat()
        response = self.shopify.post(self.client, "products/update", self.product)
        assert response.status_code == 200


@pytest.fixture
def store(shopify, client, clock):
    store = Store(shopify, client, clock)
    store.stock(medium=0)
    return store


def ask(shoppers, *, clock, variant=MEDIUM, minutes=10):
    """Each shopper asks in turn, `minutes` apart (the first asks first)."""
    rows = []
    for shopper in shoppers:
        row, created = back_in_stock_request(
            subscriber=shopper,
            product=Variant.objects.get(external_id=variant).product,
            variant=Variant.objects.get(external_id=variant),
            source=BackInStockRequest.Source.API,
        )
        assert created
        rows.append(row)
        clock.at += timedelta(minutes=minutes)
    return rows


def told() -> list[str]:
    """The phones of the back_in_stock events, in the order they were recorded."""
    return list(
        Event.objects.filter(type=event_types.BACK_IN_STOCK).order_by("id").values_list("subscriber__phone", flat=True)
    )


# --- The API ---------------------------------------------------------------------------------------------------


def test_a_subscribed_shopper_asks_for_a_sold_out_variant_by_id_or_sku(client_api, store, subscriber):
    response = client_api.post(URL, {"phone": "(415) 555-0100", "variant": MEDIUM}, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["phone"] == "+14155550100"
    assert (body["variant"], body["sku"], body["variant_title"]) == (MEDIUM, "example-shirt-m", "Medium")
    assert (body["source"], body["status"], body["notified_at"]) == ("api", "waiting", None)
    requested = datetime.fromisoformat(body["requested_at"])
    assert datetime.fromisoformat(body["expires_at"]) - requested == timedelta(days=90)

    # Asking again (here by SKU) answers with the request already waiting.
    again = client_api.post(URL, {"phone": "+14155550100", "variant": "example-shirt-m"}, format="json")
    assert again.status_code == 200 and again.json()["id"] == body["id"]
    assert BackInStockRequest.objects.count() == 1


@pytest.mark.parametrize(
    ("data", "field", "words"),
    [
        ({"phone": "+14155550100", "variant": "999"}, "variant", "no variant in the catalog"),
        ({"phone": "+14155550100", "variant": "example-shirt-s"}, "variant", "in stock now"),
        ({"phone": "+14155550100", "variant": 757650484644203962}, "variant", "Not a valid string"),
        ({"phone": "+14155550100"}, "variant", "required"),
        ({"phone": "not a phone", "variant": MEDIUM}, "phone", ""),
        ({"phone": "+14155550199", "variant": MEDIUM}, "phone", "no subscriber has this number"),
        ({"phone": "+14155550111", "variant": MEDIUM}, "phone", "not subscribed"),
    ],
)
def test_bad_requests_name_the_field(client_api, store, subscriber, data, field, words):
    SubscriberFactory(phone="+14155550111", status=Subscriber.Status.UNSUBSCRIBED)
    response = client_api.post(URL, data, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert words in " ".join(response.json()[field])
    assert not BackInStockRequest.objects.exists()


def test_the_endpoint_needs_its_permission(api, store, subscriber):
    response = api.post(URL, {"phone": "+14155550100", "variant": MEDIUM}, format="json")
    assert response.status_code == 403
    assert APIClient().post(URL, {"phone": "+14155550100", "variant": MEDIUM}, format="json").status_code == 401


# --- Restocks --------------------------------------------------------------------------------------------------


def test_three_waiting_and_two_in_stock_tells_the_two_oldest_and_the_third_at_the_next_restock(store, clock):
    first, second, third = SubscriberFactory.create_batch(3)
    ask([first, second, third], clock=clock)

    store.stock(medium=2)
    assert told() == [first.phone, second.phone]
    assert BackInStockRequest.objects.get(subscriber=third).status == "waiting"
    event = Event.objects.filter(type=event_types.BACK_IN_STOCK).first()
    assert event.properties == {
        "product_id": "788032119674292922",
        "variant_id": MEDIUM,
        "title": "Example T-Shirt",
        "variant_title": "Medium",
        "url": event.properties["url"],
        "image_url": "https://cdn.shopify.com/s/files/1/0005/4838/0009/products/example-t-shirt.jpg?v=1",
        "price": 19.99,
        "platform": "shopify",
    }
    assert event.properties["url"].endswith("/products/example-t-shirt")
    assert set(event.properties) == set(KNOWN_PROPERTIES[event_types.BACK_IN_STOCK])

    store.stock(medium=5)  # more arrive while in stock: not a restock, nobody new is told
    assert len(told()) == 2
    store.stock(medium=0)
    store.stock(medium=3)
    assert told() == [first.phone, second.phone, third.phone]
    assert set(BackInStockRequest.objects.values_list("status", flat=True)) == {"notified"}

    store.stock(medium=0)
    store.stock(medium=4)  # all told already: each request is told once
    assert len(told()) == 3


def test_a_request_without_a_size_is_told_when_any_variant_is_back(store, clock):
    shopper = SubscriberFactory()
    product = Variant.objects.get(external_id=MEDIUM).product
    back_in_stock_request(subscriber=shopper, product=product, variant=None, source="flow")
    store.stock(medium=1)
    assert told() == [shopper.phone]
    assert Event.objects.get(type=event_types.BACK_IN_STOCK).properties["variant_title"] == "Medium"


def test_inventory_levels_update_restocks_a_variant(shopify, client, store, clock):
    store.stock(medium=0, small=0)
    shopper = SubscriberFactory()
    ask([shopper], clock=clock, variant="642667041472713922")
    level = payload("shopify/inventory_levels_update.json")
    level["available"] = 1
    level["updated_at"] = "2026-11-04T08:00:00-05:00"
    assert shopify.post(client, "inventory_levels/update", level).status_code == 200
    assert told() == [shopper.phone]
    assert Event.objects.get(type=event_types.BACK_IN_STOCK).properties["variant_title"] == "Small"


def test_the_catalog_import_restocks_too(store, clock, tmp_path):
    shopper = SubscriberFactory()
    ask([shopper], clock=clock)
    catalog = {"products": [store.product]}
    catalog["products"][0]["variants"][1]["inventory_quantity"] = 7
    catalog["products"][0]["updated_at"] = "2026-12-01T00:00:00+00:00"
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps(catalog))
    call_command("import_catalog", str(path), stdout=io.StringIO())
    assert told() == [shopper.phone]


# --- Expiry ----------------------------------------------------------------------------------------------------


def test_requests_expire_after_ninety_days_and_are_not_told(store, clock):
    old, recent = SubscriberFactory.create_batch(2)
    ask([old], clock=clock)
    clock.at += timedelta(days=30)
    ask([recent], clock=clock)
    clock.at = START + timedelta(days=90, minutes=5)
    call_command("process_due", stdout=io.StringIO())
    statuses = dict(BackInStockRequest.objects.values_list("subscriber__phone", "status"))
    assert statuses == {old.phone: "expired", recent.phone: "waiting"}

    # An expired request may be asked again; a restock tells the waiting ones only.
    store.stock(medium=10)
    assert told() == [recent.phone]


def test_a_request_past_its_date_is_not_told_even_before_the_sweep(store, clock):
    shopper = SubscriberFactory()
    ask([shopper], clock=clock)
    clock.at += timedelta(days=91)
    store.stock(medium=3)
    assert told() == []


# --- The shipped template, through the send gate --------------------------------------------------------------


def test_the_template_texts_the_product_and_size_with_a_tracked_link(store, clock, client, settings):
    flow_templates_load()
    shopper = SubscriberFactory(first_name="Ana")
    stopped = SubscriberFactory()
    ask([shopper, stopped], clock=clock)
    stopped.status = Subscriber.Status.UNSUBSCRIBED  # said STOP after asking
    stopped.save()
    with twilio_configured(settings) as twilio:
        store.stock(medium=5)
        call_command("process_due", stdout=io.StringIO())
        sent = [(form["To"], form["Body"]) for form in twilio.sent]
    assert [to for to, _ in sent] == [shopper.phone]
    text = sent[0][1]
    assert text.startswith("Good news, Ana: Example T-Shirt in Medium is back in stock.")
    assert text.endswith("Reply STOP to opt out")
    link = next(word for word in text.split() if word.startswith(("http://", "https://")))
    assert "/l/" in link
    response = client.get(urlsplit(link).path, HTTP_USER_AGENT="Mozilla/5.0 (iPhone; CPU iPhone OS 18_0)")
    assert response.status_code == 302
    assert response["Location"].startswith(Event.objects.filter(type="back_in_stock").first().properties["url"])


# --- The admin -------------------------------------------------------------------------------------------------


def test_the_admin_counts_the_waiting_requests_per_product(clock, admin_client, store):
    ask(SubscriberFactory.create_batch(3), clock=clock)
    products = admin_client.get("/admin/commerce/product/")
    assert products.status_code == 200
    row = products.context["cl"].result_list[0]
    assert (row.waiting_total, row.variant_total) == (3, 2)
    listed = admin_client.get(f"/admin/commerce/backinstockrequest/?product__id__exact={row.pk}&status__exact=waiting")
    assert listed.status_code == 200
    assert len(listed.context["cl"].result_list) == 3
