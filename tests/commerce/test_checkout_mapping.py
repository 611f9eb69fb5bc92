"""Shopify's checkout payload read into `CheckoutData` (pure, no database)."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from commerce import mapping
from commerce.mapping import PayloadError
from tests.fakes.store import payload

TOKEN = "bd5a8aa1ecd019dd3520ff791ee3a24c"


def test_shopifys_checkout_as_documented():
    checkout = mapping.shopify_checkout(payload("shopify/checkouts_update.json"))

    assert type(checkout) is mapping.CheckoutData
    assert (checkout.platform, checkout.token, checkout.id) == ("shopify", TOKEN, "901414060")
    assert checkout.cart_token == "Z2NwLXVzLWNlbnRyYWwxOjAxSkRSN1ZRN0NWQ0tGWTZZQjRQRjVXUEpR"
    assert (checkout.total, checkout.currency, checkout.item_count) == (Decimal("64.98"), "USD", 3)
    assert checkout.abandoned_checkout_url.startswith(
        f"https://acme-outfitters.myshopify.com/548380009/checkouts/{TOKEN}/"
    )
    assert checkout.created_at == datetime(2026, 11, 30, 15, 0, tzinfo=UTC)
    assert checkout.updated_at == datetime(2026, 11, 30, 15, 5, tzinfo=UTC)
    assert checkout.completed_at is None
    assert checkout.items[0] == mapping.CheckoutItem(
        product_id="788032119674292922",
        variant_id="757650484644203962",
        title="Example T-Shirt",
        variant_title="Medium",
        sku="example-shirt-m",
        quantity=1,
        price=Decimal("19.99"),
        image_url="",
    )
    assert checkout.items[1].variant_title == ""  # null for a product without options


def test_the_phones_in_the_order_they_are_tried_each_once():
    data = payload("shopify/checkouts_update.json")
    data["phone"] = "+1 415 555 0100"
    data["customer"]["phone"] = "+14155550100"  # the same text as the SMS marketing phone: tried once

    checkout = mapping.shopify_checkout(data)

    assert checkout.phones == (
        ("SMS marketing", "+14155550100"),
        ("checkout", "+1 415 555 0100"),
        ("billing address", "(415) 555-0100"),
    )


def test_an_address_not_entered_yet_may_be_an_empty_list():
    data = payload("shopify/checkouts_create.json")
    assert data["shipping_address"] == [] and data["billing_address"] is None

    assert mapping.shopify_checkout(data).phones == (("checkout", "+14155550100"),)


def test_a_completed_checkout_says_when():
    data = {**payload("shopify/checkouts_update.json"), "completed_at": "2026-11-30T10:14:00-05:00"}

    assert mapping.shopify_checkout(data).completed_at == datetime(2026, 11, 30, 15, 14, tzinfo=UTC)


def test_only_what_a_checkout_needs_is_required():
    checkout = mapping.shopify_checkout({"token": TOKEN})

    assert (checkout.phones, checkout.items, checkout.total, checkout.abandoned_checkout_url) == ((), (), None, "")
    assert checkout.item_count == 0


def test_a_link_that_is_not_a_web_address_is_left_out():
    data = {**payload("shopify/checkouts_create.json"), "abandoned_checkout_url": "javascript:alert(1)"}

    assert mapping.shopify_checkout(data).abandoned_checkout_url == ""


def test_the_total_falls_back_to_the_subtotal():
    data = {**payload("shopify/checkouts_create.json"), "total_price": None, "subtotal_price": "12.50"}

    assert mapping.shopify_checkout(data).total == Decimal("12.50")


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"token": ""}, "^token is missing$"),
        ({"token": "  "}, "^token is missing$"),
        ({"token": True}, "^token must be text"),
        ({"token": "a b"}, "^token must be up to 100 letters"),
        ({"token": "a" * 101}, "^token must be up to 100 letters"),
        ({"cart_token": {"id": 1}}, "^cart_token must be text"),
        ({"id": "abc"}, "^id must be a whole number id"),
        ({"line_items": [{"price": "-1"}]}, r"^line_items\[0\]\.price must be an amount from 0"),
        ({"line_items": ["shirt"]}, r"^line_items\[0\] must be a JSON object"),
        ({"billing_address": "Main St"}, "^billing_address must be a JSON object"),
        ({"created_at": "2026-11-30T10:00:00"}, "^created_at must say its UTC offset"),
        ({"completed_at": 5}, "^completed_at must be a date and time"),
    ],
)
def test_what_cannot_be_read_is_named(changes, message):
    with pytest.raises(PayloadError, match=message):
        mapping.shopify_checkout({**payload("shopify/checkouts_create.json"), **changes})


def test_the_body_must_be_an_object():
    with pytest.raises(PayloadError, match="^body must be a JSON object"):
        mapping.shopify_checkout(["token"])
