"""Shopify checkouts through the webhook URL: checkout_started at first sight, cart_abandoned once after the delay,
never for a checkout an order completed."""

import io
import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.models import F
from django.test import Client
from django.utils import timezone

from commerce.models import Checkout, WebhookDelivery
from commerce.services import checkouts_abandon_due
from conversations.models import Event, Message, Subscriber
from flows.models import FlowRun
from flows.services import flow_templates_load, runs_process_due
from tests.fakes.store import payload

pytestmark = pytest.mark.django_db

Outcome = WebhookDelivery.Outcome
TOKEN = "bd5a8aa1ecd019dd3520ff791ee3a24c"  # the checkout_token of tests/data/shopify/orders_create.json too
RECOVERY_URL = f"https://acme-outfitters.myshopify.com/548380009/checkouts/{TOKEN}/recover?key=5b1a0c3e9d7f2e64"


def checkout_payload(name="checkouts_create", *, minutes_ago=0, **changes) -> dict:
    """A fixture as the shopper last changed it `minutes_ago` (the fixtures' own updated_at is days in the past)."""
    data = payload(f"shopify/{name}.json")
    data["updated_at"] = (timezone.now() - timedelta(minutes=minutes_ago)).isoformat()
    return {**data, **changes}


def time_passes(minutes):
    """The shopper's last change to every checkout moves `minutes` into the past."""
    Checkout.objects.update(touched_at=F("touched_at") - timedelta(minutes=minutes))


def process_due():
    """`manage.py process_due`, as the worker runs it every minute."""
    call_command("process_due", stdout=io.StringIO())


def events(type):
    return Event.objects.filter(type=type)


def test_a_checkout_for_a_subscriber_is_kept_and_records_checkout_started(client, shopify, subscriber):
    response = shopify.post(client, "checkouts/create", payload("shopify/checkouts_create.json"))

    assert response.status_code == 200
    started = events("checkout_started").get()
    assert started.subscriber == subscriber
    assert started.idempotency_key == f"shopify:checkout:{TOKEN}:started"
    assert started.occurred_at == datetime(2026, 11, 30, 15, 0, tzinfo=UTC)  # the checkout's created_at
    assert started.properties == {
        "checkout_token": TOKEN,
        "url": RECOVERY_URL,
        "abandoned_checkout_url": RECOVERY_URL,
        "total": 69.97,
        "currency": "USD",
        "item_count": 3,
        "items": [
            {
                "product_id": "788032119674292922",
                "variant_id": "757650484644203962",
                "title": "Example T-Shirt",
                "variant_title": "Medium",
                "sku": "example-shirt-m",
                "quantity": 1,
                "price": 19.99,
                "url": "",  # the catalog does not know the product (yet)
                "image_url": "",
            },
            {
                "product_id": "632910392",
                "variant_id": "808950810",
                "title": "Canvas Tote",
                "variant_title": "",
                "sku": "TOTE-1",
                "quantity": 2,
                "price": 24.99,
                "url": "",
                "image_url": "",
            },
        ],
        "platform": "shopify",
    }
    checkout = Checkout.objects.get()
    assert (checkout.token, checkout.phone, checkout.state) == (TOKEN, "+14155550100", "waiting")
    assert checkout.properties == started.properties
    assert checkout.touched_at == datetime(2026, 11, 30, 15, 0, tzinfo=UTC)
    delivery = WebhookDelivery.objects.get()
    assert (delivery.outcome, delivery.resource_id) == (Outcome.PROCESSED, "901414060")
    assert f"checkout_started recorded (event {started.pk})" in delivery.detail


def test_items_link_to_their_product_pages_when_the_catalog_knows_them(client, shopify, subscriber):
    shopify.post(client, "products/create", payload("shopify/products_create.json"))

    shopify.post(client, "checkouts/create", payload("shopify/checkouts_create.json"))

    shirt, tote = events("checkout_started").get().properties["items"]
    assert shirt["url"] == "https://acme-outfitters.myshopify.com/products/example-t-shirt"
    assert shirt["image_url"] == "https://cdn.shopify.com/s/files/1/0005/4838/0009/products/example-t-shirt.jpg?v=1"
    assert (tote["url"], tote["image_url"]) == ("", "")


def test_a_checkout_left_for_the_delay_becomes_one_cart_abandoned_with_its_recovery_link(client, shopify, subscriber):
    shopify.post(client, "checkouts/create", checkout_payload())
    process_due()
    assert not events("cart_abandoned").exists()  # just begun

    time_passes(29)
    process_due()
    assert not events("cart_abandoned").exists()

    time_passes(2)
    process_due()
    process_due()  # again: still one

    abandoned = events("cart_abandoned").get()
    assert abandoned.subscriber == subscriber
    assert abandoned.idempotency_key == f"shopify:checkout:{TOKEN}:abandoned"
    assert abandoned.properties == events("checkout_started").get().properties
    assert abandoned.properties["url"] == abandoned.properties["abandoned_checkout_url"] == RECOVERY_URL
    assert (abandoned.properties["total"], abandoned.properties["item_count"]) == (69.97, 3)
    checkout = Checkout.objects.get()
    assert checkout.state == "abandoned"
    assert checkout.note == f"cart_abandoned recorded (event {abandoned.pk})"


def test_the_delay_is_the_setting(client, shopify, subscriber, settings):
    settings.CHECKOUT_ABANDONED_MINUTES = 0
    shopify.post(client, "checkouts/create", checkout_payload())

    assert checkouts_abandon_due() == 1
    assert events("cart_abandoned").count() == 1
    assert checkouts_abandon_due() == 0


def test_the_delay_counts_from_the_last_update(client, shopify, subscriber):
    shopify.post(client, "checkouts/create", checkout_payload(minutes_ago=45))
    shopify.post(client, "checkouts/update", checkout_payload("checkouts_update", minutes_ago=10))

    process_due()
    assert not events("cart_abandoned").exists()

    time_passes(21)
    process_due()
    abandoned = events("cart_abandoned").get()
    assert (abandoned.properties["total"], abandoned.properties["currency"]) == (64.98, "USD")  # the update's
    assert events("checkout_started").count() == 1


def test_an_older_update_arriving_late_changes_nothing(client, shopify, subscriber):
    shopify.post(client, "checkouts/update", payload("shopify/checkouts_update.json"))  # 10:05

    late = shopify.post(client, "checkouts/create", payload("shopify/checkouts_create.json"))  # 10:00

    assert late.status_code == 200
    assert WebhookDelivery.objects.order_by("id").last().outcome == Outcome.IGNORED
    assert "an older version of checkout" in WebhookDelivery.objects.order_by("id").last().detail
    checkout = Checkout.objects.get()
    assert (checkout.properties["total"], checkout.platform_updated_at) == (
        64.98,
        datetime(2026, 11, 30, 15, 5, tzinfo=UTC),
    )


def test_an_order_for_the_checkout_before_the_delay_means_it_is_never_abandoned(client, shopify, subscriber):
    shopify.post(client, "checkouts/create", checkout_payload())
    shopify.post(client, "orders/create", payload("shopify/orders_create.json"))  # its checkout_token

    time_passes(60 * 24)
    process_due()

    assert not events("cart_abandoned").exists()
    checkout = Checkout.objects.get()
    assert (checkout.state, checkout.order_id) == ("completed", "820982911946154508")
    assert checkout.completed_at == datetime(2026, 11, 30, 15, 15, tzinfo=UTC)  # the order's created_at
    assert events("order_placed").count() == 1


def test_an_order_that_arrives_before_its_checkout_still_completes_it(client, shopify, subscriber):
    shopify.post(client, "orders/create", payload("shopify/orders_create.json"))
    shopify.post(client, "checkouts/update", checkout_payload("checkouts_update"))

    time_passes(60)
    process_due()

    assert not events("cart_abandoned").exists()
    checkout = Checkout.objects.get()
    assert (checkout.state, checkout.order_id, checkout.phone) == ("completed", "820982911946154508", "+14155550100")


def test_an_order_from_a_number_no_subscriber_has_still_completes_its_checkout(client, shopify, db):
    shopify.post(client, "checkouts/create", checkout_payload())
    order = payload("shopify/orders_create.json")
    order["billing_address"]["phone"] = order["shipping_address"]["phone"] = None

    shopify.post(client, "orders/create", order)

    assert Checkout.objects.get().state == "completed"


def test_a_checkout_shopify_says_is_completed_is_never_abandoned(client, shopify, subscriber):
    shopify.post(client, "checkouts/create", checkout_payload())
    shopify.post(
        client, "checkouts/update", checkout_payload("checkouts_update", completed_at=timezone.now().isoformat())
    )

    time_passes(60)
    process_due()

    assert not events("cart_abandoned").exists()
    assert Checkout.objects.get().state == "completed"


def test_duplicate_deliveries_change_nothing(client, shopify, subscriber):
    data = checkout_payload()
    shopify.post(client, "checkouts/create", data, webhook_id="w-1")
    repeat = shopify.post(client, "checkouts/create", data, webhook_id="w-1")  # Shopify's retry
    again = shopify.post(client, "checkouts/create", data)  # the same checkout under another delivery id

    assert (repeat.status_code, again.status_code) == (200, 200)
    assert list(WebhookDelivery.objects.order_by("id").values_list("outcome", flat=True)) == [
        Outcome.PROCESSED,
        Outcome.DUPLICATE,
        Outcome.IGNORED,
    ]
    assert events("checkout_started").count() == 1
    time_passes(31)
    process_due()
    shopify.post(client, "checkouts/create", data)  # long after: still nothing new
    process_due()
    assert events("cart_abandoned").count() == 1
    assert Checkout.objects.get().state == "abandoned"


@pytest.mark.parametrize(
    "changes, reason",
    [
        ({"token": None}, "token is missing"),
        ({"token": "../../etc/passwd"}, "token must be up to 100 letters, digits and -_.:="),
        ({"token": ["bd5a"]}, "token must be text such as"),
        ({"line_items": "a shirt"}, "line_items must be a list (got text)"),
        ({"line_items": [{"quantity": "two"}]}, "line_items[0].quantity must be a whole number"),
        ({"total_price": "free"}, "total_price must be an amount such as 19.99"),
        ({"updated_at": "yesterday"}, "updated_at must be a date and time"),
        ({"customer": "Ana"}, "customer must be a JSON object (got text)"),
        ({"currency": "dollars"}, "currency must be a three-letter currency code"),
    ],
)
def test_a_malformed_checkout_is_refused_with_the_reason_and_recorded(client, shopify, subscriber, changes, reason):
    response = shopify.post(client, "checkouts/create", checkout_payload(**changes))

    assert response.status_code == 400
    assert reason in response.json()["detail"]
    delivery = WebhookDelivery.objects.get()
    assert delivery.outcome == Outcome.REJECTED
    assert delivery.detail.startswith("the checkouts/create payload cannot be read: ")
    assert not Checkout.objects.exists()
    assert not Event.objects.exists()


def test_a_checkout_body_that_is_not_json_is_refused(client, shopify, subscriber):
    response = shopify.post(client, "checkouts/update", b'{"token": "bd5a8aa1ecd019dd3520ff791ee3a24c",')

    assert response.status_code == 400
    assert WebhookDelivery.objects.get().outcome == Outcome.REJECTED
    assert not Checkout.objects.exists()


def test_a_checkout_from_a_number_no_subscriber_has_makes_no_subscriber(client, shopify, db):
    response = shopify.post(client, "checkouts/create", checkout_payload())

    assert response.status_code == 200
    assert not Subscriber.objects.exists()
    assert not Event.objects.exists()
    checkout = Checkout.objects.get()
    assert checkout.phone == "+14155550100"  # kept: the shopper may sign up before the delay is over
    assert "no subscriber has its phone number (none is made)" in WebhookDelivery.objects.get().detail

    time_passes(31)
    process_due()

    assert not Subscriber.objects.exists()
    assert not Event.objects.exists()
    checkout.refresh_from_db()
    assert checkout.state == "abandoned"
    assert checkout.note == "called abandoned; no subscriber has its phone number, so no cart_abandoned event"


def test_a_phone_that_does_not_parse_is_kept_as_the_reason_and_the_checkout_never_waits(client, shopify, subscriber):
    data = checkout_payload(phone="call me")
    data["customer"]["phone"] = "555"

    response = shopify.post(client, "checkouts/create", data)

    assert response.status_code == 200
    checkout = Checkout.objects.get()
    assert (checkout.phone, checkout.state) == ("", "no phone")
    assert checkout.phone_problem == (
        "the checkout phone is not a valid phone number: it is not a phone number. "
        "the customer phone is not a valid phone number: it has the wrong number of digits"
    )
    assert checkout.phone_problem in WebhookDelivery.objects.get().detail
    assert "call me" not in WebhookDelivery.objects.get().detail
    time_passes(60)
    process_due()
    assert not Event.objects.exists()


def test_a_checkout_without_a_phone_waits_for_the_update_that_brings_one(client, shopify, subscriber):
    shopify.post(client, "checkouts/create", checkout_payload(phone=None))
    assert Checkout.objects.get().phone_problem == "the checkout holds no phone number"
    assert not Event.objects.exists()

    shopify.post(client, "checkouts/update", checkout_payload("checkouts_update"))  # the shopper typed it now

    assert events("checkout_started").count() == 1
    time_passes(31)
    process_due()
    assert events("cart_abandoned").count() == 1


def test_the_number_of_a_subscriber_is_kept_before_another_number_the_checkout_holds(client, shopify, subscriber):
    data = checkout_payload("checkouts_update", sms_marketing_phone="+1 312-555-0123")

    shopify.post(client, "checkouts/update", data)

    assert Checkout.objects.get().phone == "+14155550100"
    assert events("checkout_started").get().subscriber == subscriber


# --- The cart flow and the send gate ---------------------------------------------------------------------------


def outbound(subscriber):
    return Message.objects.filter(subscriber=subscriber, direction="outbound")


def test_cart_abandoned_starts_the_cart_flow_and_the_order_ends_it(client, shopify, subscriber):
    flow_templates_load()
    shopify.post(client, "checkouts/create", checkout_payload())
    time_passes(31)

    process_due()

    run = FlowRun.objects.get(subscriber=subscriber, flow__name="Cart abandonment")
    assert run.trigger == "event"
    assert (run.status, run.waiting_for) == ("waiting", "event")  # for the order
    texts_before_the_order = outbound(subscriber).count()

    shopify.post(client, "orders/create", payload("shopify/orders_create.json"))

    run.refresh_from_db()
    assert (run.status, run.current_node) == ("completed", "ordered")
    runs_process_due(now=timezone.now() + timedelta(days=2))
    assert outbound(subscriber).count() == texts_before_the_order  # no reminder or offer after the order


def test_without_an_order_the_cart_flow_texts_the_shopper(client, shopify, subscriber):
    flow_templates_load()
    shopify.post(client, "checkouts/create", checkout_payload())
    time_passes(31)
    process_due()

    runs_process_due(now=timezone.now() + timedelta(minutes=61))

    assert outbound(subscriber).filter(origin="flow").exists()


def test_a_subscriber_who_said_stop_gets_the_event_and_no_text(client, api, shopify, subscriber, console):
    flow_templates_load()
    response = api.post(
        "/api/v1/messages/inbound/", {"from": subscriber.phone, "to": "+18885550000", "body": "STOP"}, format="json"
    )
    assert response.status_code == 201
    console.send_due()  # the one confirmation
    sent_before = Message.objects.filter(direction="outbound", status="sent").count()

    shopify.post(client, "checkouts/create", checkout_payload())
    time_passes(31)
    process_due()
    runs_process_due(now=timezone.now() + timedelta(days=2))
    console.send_due()

    assert events("checkout_started").count() == events("cart_abandoned").count() == 1
    assert events("cart_abandoned").get().subscriber == subscriber
    assert Subscriber.objects.get().status == Subscriber.Status.UNSUBSCRIBED
    assert Message.objects.filter(direction="outbound", status="sent").count() == sent_before == 1
    assert not Message.objects.filter(direction="outbound", origin="flow").exclude(status="failed").exists()
    assert console.printed.count("[sms] to") == 1


def test_the_abandonment_is_due_work(settings):
    assert "commerce.services.checkouts_abandon_due" in settings.DUE_WORK
    assert settings.CHECKOUT_ABANDONED_MINUTES == 30


@pytest.mark.django_db(transaction=True)
def test_two_workers_calling_checkouts_abandoned_at_once_record_one_event_each(shopify, subscriber):
    for index in range(3):
        data = checkout_payload(token=f"{TOKEN[:-1]}{index}")
        shopify.post(Client(), "checkouts/create", data)
    time_passes(31)
    barrier, errors = threading.Barrier(2), []

    def worker():
        try:
            barrier.wait(10)
            checkouts_abandon_due()
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert not errors, errors
    assert events("cart_abandoned").count() == 3
    assert sorted(events("cart_abandoned").values_list("idempotency_key", flat=True)) == [
        f"shopify:checkout:{TOKEN[:-1]}{index}:abandoned" for index in range(3)
    ]
    assert not Checkout.objects.waiting().exists()


# --- The admin ---------------------------------------------------------------------------------------------------


@pytest.fixture
def checkouts(client, shopify, subscriber):
    """Five checkouts: waiting, abandoned, completed by an order, without a phone, from an unknown number."""
    for index in range(5):
        data = checkout_payload(token=f"{TOKEN[:-1]}{index}")
        if index == 3:
            data["phone"] = None
        if index == 4:
            data["phone"] = "+13125550123"
        shopify.post(client, "checkouts/create", data)
    Checkout.objects.filter(token=f"{TOKEN[:-1]}1").update(touched_at=timezone.now() - timedelta(hours=1))
    checkouts_abandon_due()
    order = payload("shopify/orders_create.json")
    order["checkout_token"] = f"{TOKEN[:-1]}2"
    shopify.post(client, "orders/create", order)
    return Checkout.objects.order_by("token")


@pytest.mark.parametrize(
    "query, states",
    [
        ("", ["waiting", "abandoned", "completed", "no phone", "waiting"]),
        ("?state=waiting", ["waiting", "waiting"]),
        ("?state=abandoned", ["abandoned"]),
        ("?state=completed", ["completed"]),
        ("?state=no_phone", ["no phone"]),
        (f"?q={TOKEN[:-1]}2", ["completed"]),
        ("?q=no-such-token", []),
    ],
)
def test_the_admin_lists_checkouts_by_state_and_finds_one_by_token(
    admin_client, checkouts, django_assert_max_num_queries, query, states
):
    with django_assert_max_num_queries(12):
        response = admin_client.get(f"/admin/commerce/checkout/{query}")

    assert response.status_code == 200
    listed = sorted(response.context["cl"].result_list, key=lambda checkout: checkout.token)
    assert [checkout.state for checkout in listed] == states


def test_the_admins_checkout_page_shows_it_and_changes_nothing(admin_client, checkouts):
    abandoned = checkouts.get(token=f"{TOKEN[:-1]}1")

    page = admin_client.get(f"/admin/commerce/checkout/{abandoned.pk}/change/")
    posted = admin_client.post(f"/admin/commerce/checkout/{abandoned.pk}/change/", {"phone": "+13125550123"})

    assert page.status_code == 200
    assert RECOVERY_URL in page.content.decode()  # the fixture's link, whatever the token
    assert posted.status_code == 403
    assert Checkout.objects.get(pk=abandoned.pk).phone == "+14155550100"
    assert admin_client.get("/admin/commerce/checkout/add/").status_code == 403


@pytest.mark.django_db(transaction=True)
def test_checkouts_create_and_update_at_once_make_one_checkout(shopify, subscriber):
    answers, barrier, errors = [], threading.Barrier(2), []

    def post(topic, data):
        try:
            barrier.wait(10)
            answers.append(shopify.post(Client(), topic, data).status_code)
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)
        finally:
            connection.close()

    threads = [
        threading.Thread(target=post, args=("checkouts/create", checkout_payload(minutes_ago=5))),
        threading.Thread(target=post, args=("checkouts/update", checkout_payload("checkouts_update"))),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert not errors, errors
    assert answers == [200, 200]
    checkout = Checkout.objects.get()
    assert checkout.properties["total"] == 64.98  # the newer version, whichever came first
    assert events("checkout_started").count() == 1


def test_a_gifts_recipient_never_gets_the_buyers_cart(client, shopify, subscriber):
    """The shipping address's phone is whoever receives the parcel: never texted the buyer's checkout."""
    data = checkout_payload(phone=None, sms_marketing_phone=None)
    data["customer"] = {"id": 1, "phone": None}
    data["shipping_address"] = {"first_name": "Ana", "phone": subscriber.phone}

    shopify.post(client, "checkouts/create", data)
    time_passes(31)
    process_due()

    assert not events("checkout_started").exists() and not events("cart_abandoned").exists()
    assert Checkout.objects.get().phone == ""
