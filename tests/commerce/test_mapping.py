"""The mapping layer: a platform's payload in, Parley's records out (pure, no database)."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from commerce import mapping
from commerce.mapping import PayloadError
from tests.fakes.store import payload


def test_shopify_and_woocommerce_orders_map_to_the_same_record():
    shopify = mapping.shopify_order(payload("shopify/orders_create.json"))
    woo = mapping.woocommerce_order(payload("woocommerce/order_created.json"))

    assert type(shopify) is type(woo) is mapping.Order
    assert (shopify.id, shopify.total, shopify.currency, shopify.placed) == (
        "820982911946154508",
        Decimal("64.98"),
        "USD",
        True,
    )
    assert shopify.phones == (("billing address", "(415) 555-0100"), ("shipping address", "415.555.0100"))
    assert (woo.id, woo.total, woo.discount_codes, woo.placed) == ("727", Decimal("29.35"), ("spring5",), True)
    assert woo.phones == (("billing", "(415) 555-0100"),)  # an empty shipping phone is skipped


@pytest.mark.parametrize(
    "value, expected",
    [(820982911946154508, "820982911946154508"), ("820982911946154508", "820982911946154508"), (" 0042 ", "42")],
)
def test_ids_are_whole_numbers_as_numbers_or_text(value, expected):
    assert mapping.shopify_deleted({"id": value}).external_id == expected


@pytest.mark.parametrize("value", [-5, 1.5, "12a", True, [1], {"id": 1}, "9" * 65])
def test_other_ids_are_refused_naming_the_field(value):
    with pytest.raises(PayloadError, match=r"^id must be a whole number id"):
        mapping.shopify_deleted({"id": value})


@pytest.mark.parametrize("value", [None, "", 0, "0"])
def test_a_missing_id(value):
    with pytest.raises(PayloadError, match="^id is missing$"):
        mapping.shopify_deleted({"id": value})


@pytest.mark.parametrize(
    "value, expected", [("19.99", Decimal("19.99")), (19.99, Decimal("19.99")), (20, Decimal("20.00")), ("", None)]
)
def test_amounts(value, expected):
    assert mapping.read_money(value, "price") == expected


@pytest.mark.parametrize("value", ["free", "-1", "1e12", float("nan"), float("inf"), True, [], "NaN"])
def test_amounts_refused(value):
    with pytest.raises(PayloadError, match="^price must be"):
        mapping.read_money(value, "price")


def test_shopify_times_need_an_offset_and_woocommerces_gmt_fields_are_utc():
    order = payload("shopify/orders_create.json")
    order["created_at"] = "2026-11-30T10:15:00"
    with pytest.raises(PayloadError, match="created_at must say its UTC offset"):
        mapping.shopify_order(order)

    woo = mapping.woocommerce_order(payload("woocommerce/order_created.json"))
    assert woo.created_at == datetime(2026, 11, 30, 19, 28, 2, tzinfo=UTC)


def test_shopifys_default_title_option_means_nothing():
    product = payload("shopify/products.json")["products"][1]  # the tote: Title / Default Title

    variant = mapping.shopify_product(product).variants[0]

    assert variant.options == ()
    assert (variant.inventory_tracked, variant.inventory_quantity) == (False, 0)


def test_only_web_addresses_are_kept_as_links():
    product = payload("shopify/products_create.json")
    product["image"]["src"] = "javascript:alert(1)"
    product["images"] = []

    assert mapping.shopify_product(product).image_url == ""


def test_a_woocommerce_sale_price_keeps_the_regular_one_to_compare():
    variant = mapping.woocommerce_product(payload("woocommerce/product_created_simple.json")).variants[0]

    assert (variant.price, variant.compare_at_price) == (Decimal("19.99"), Decimal("21.99"))
    assert variant.options == (("Size", "Large"),)


def test_a_woocommerce_variation_names_its_product():
    variation = mapping.woocommerce_product(payload("woocommerce/product_updated_variation.json"))

    assert isinstance(variation, mapping.VariationData)
    assert (variation.parent_id, variation.title, variation.variant.title) == ("799", "Ship Your Idea", "Black, Medium")


def test_order_properties_are_json_numbers_for_segments():
    properties = mapping.shopify_order(payload("shopify/orders_create.json")).as_properties()

    assert isinstance(properties["total"], float)
    assert all(isinstance(item["price"], int | float) for item in properties["items"])
