"""The catalog follows the store: products, variants, prices, stock and what each option means."""

from decimal import Decimal

import pytest

from commerce.models import Product, Variant, WebhookDelivery
from commerce.options import choice_attributes, fold, match_options
from conversations.models import AttributeDefinition
from tests.fakes.store import payload

pytestmark = pytest.mark.django_db


def medium(product: Product) -> Variant:
    return product.variants.get(title="Medium")


def test_products_create_makes_the_product_and_its_variants(client, shopify):
    response = shopify.post(client, "products/create", payload("shopify/products_create.json"))

    assert response.status_code == 200
    product = Product.objects.get()
    assert (product.platform, product.external_id, product.title) == (
        "shopify",
        "788032119674292922",
        "Example T-Shirt",
    )
    assert product.handle == "example-t-shirt"
    assert product.url == "https://acme-outfitters.myshopify.com/products/example-t-shirt"
    assert product.image_url.startswith("https://cdn.shopify.com/")
    assert (product.status, product.vendor, product.product_type) == ("active", "Acme", "Shirts")
    small, medium_ = product.variants.order_by("position")
    assert (small.title, small.sku, small.price, small.compare_at_price) == (
        "Small",
        "example-shirt-s",
        Decimal("19.99"),
        Decimal("24.99"),
    )
    assert small.options == [{"name": "Size", "value": "Small"}]
    assert (small.inventory_quantity, small.in_stock) == (12, True)
    assert (medium_.inventory_quantity, medium_.in_stock) == (0, False)
    assert small.inventory_item_id == "271878346596884015"


def test_a_product_update_taking_a_variant_from_0_to_5_shows_it_in_stock(client, shopify, admin_client):
    shopify.post(client, "products/create", payload("shopify/products_create.json"))
    assert not medium(Product.objects.get()).in_stock

    shopify.post(client, "products/update", payload("shopify/products_update.json"))

    variant = medium(Product.objects.get())
    assert (variant.inventory_quantity, variant.in_stock) == (5, True)
    listed = admin_client.get("/admin/commerce/variant/?in_stock=yes")
    assert b"example-shirt-m" in listed.content


def test_the_storefront_address_names_product_pages_when_set(client, shopify, settings):
    settings.COMMERCE_STORE_URL = "https://shop.example.com/"

    shopify.post(client, "products/create", payload("shopify/products_create.json"))

    assert Product.objects.get().url == "https://shop.example.com/products/example-t-shirt"


def test_an_older_product_delivery_does_not_overwrite_a_newer_one(client, shopify):
    shopify.post(client, "products/update", payload("shopify/products_update.json"))

    response = shopify.post(client, "products/create", payload("shopify/products_create.json"))  # arrives late

    assert response.status_code == 200
    assert medium(Product.objects.get()).inventory_quantity == 5
    assert WebhookDelivery.objects.order_by("id").last().detail == "an older version of the product than the one stored"


def test_a_variant_gone_from_the_product_is_removed(client, shopify):
    shopify.post(client, "products/create", payload("shopify/products_create.json"))
    update = payload("shopify/products_update.json")
    update["variants"] = update["variants"][:1]

    shopify.post(client, "products/update", update)

    assert list(Product.objects.get().variants.values_list("title", flat=True)) == ["Small"]


def test_products_delete_archives_the_product(client, shopify):
    shopify.post(client, "products/create", payload("shopify/products_create.json"))

    response = shopify.post(client, "products/delete", payload("shopify/products_delete.json"))

    assert response.status_code == 200
    product = Product.objects.get()
    assert product.status == Product.Status.ARCHIVED
    assert product.variants.count() == 2  # orders and events still name them


def test_deleting_a_product_not_in_the_catalog_is_ignored(client, shopify):
    shopify.post(client, "products/delete", payload("shopify/products_delete.json"))

    delivery = WebhookDelivery.objects.get()
    assert (delivery.outcome, delivery.detail) == ("ignored", "the product is not in the catalog")


def test_an_inventory_level_update_sets_the_variants_stock(client, shopify):
    shopify.post(client, "products/create", payload("shopify/products_create.json"))

    response = shopify.post(client, "inventory_levels/update", payload("shopify/inventory_levels_update.json"))

    assert response.status_code == 200
    small = Product.objects.get().variants.get(title="Small")
    assert (small.inventory_quantity, small.in_stock) == (0, False)
    assert small.inventory_levels == {"24826418": 0}


def test_stock_at_several_locations_is_summed(client, shopify):
    shopify.post(client, "products/create", payload("shopify/products_create.json"))
    level = payload("shopify/inventory_levels_update.json")

    shopify.post(client, "inventory_levels/update", {**level, "available": 3})
    shopify.post(client, "inventory_levels/update", {**level, "location_id": 99, "available": 4})
    shopify.post(client, "inventory_levels/update", {**level, "available": 1})

    small = Product.objects.get().variants.get(title="Small")
    assert small.inventory_quantity == 5
    assert small.inventory_levels == {"24826418": 1, "99": 4}


def test_a_stock_level_newer_than_the_product_description_is_kept(client, shopify):
    shopify.post(client, "products/create", payload("shopify/products_create.json"))
    shopify.post(client, "inventory_levels/update", payload("shopify/inventory_levels_update.json"))  # 3 Nov: 0

    stale = payload("shopify/products_update.json")  # 2 Nov: still says 12
    shopify.post(client, "products/update", stale)

    assert Product.objects.get().variants.get(title="Small").inventory_quantity == 0


def test_a_stock_level_for_an_unknown_item_is_ignored(client, shopify):
    shopify.post(client, "inventory_levels/update", payload("shopify/inventory_levels_update.json"))

    assert WebhookDelivery.objects.get().detail == "no variant in the catalog has this inventory item"


def test_selling_when_out_of_stock_counts_as_in_stock(client, shopify):
    product = payload("shopify/products_create.json")
    product["variants"][1]["inventory_policy"] = "continue"

    shopify.post(client, "products/create", product)

    assert medium(Product.objects.get()).in_stock


def test_a_variant_whose_stock_is_not_counted_is_in_stock(client, shopify):
    product = payload("shopify/products_create.json")
    product["variants"][1]["inventory_management"] = None

    shopify.post(client, "products/create", product)

    assert medium(Product.objects.get()).in_stock


# --- What options mean ------------------------------------------------------------------------------------------


def test_variant_options_are_matched_to_the_size_attribute(client, shopify):
    shopify.post(client, "products/create", payload("shopify/products_create.json"))

    product = Product.objects.get()
    assert product.variants.get(title="Small").attributes == {"size": "S"}
    assert medium(product).attributes == {"size": "M"}


@pytest.mark.parametrize(
    "options, expected",
    [
        ([("Size", "Medium")], {"size": "M"}),
        ([("size", "med")], {"size": "M"}),
        ([("Clothing size", "X-Large")], {"size": "XL"}),  # the attribute's label names it too
        ([("Size", "x large")], {"size": "XL"}),  # spaces and hyphens do not matter
        ([("Size", "2XL")], {"size": "XXL"}),
        ([("Size", "Huge")], {}),
        ([("Color", "Black"), ("Size", "L")], {"size": "L"}),
        ([("Title", "Default Title")], {}),
        ([("Variant", "Small")], {"size": "S"}),  # no attribute named: the value alone, when only one means it
    ],
)
def test_option_matching(db, options, expected):
    attributes = choice_attributes(AttributeDefinition.objects.filter(type__in=AttributeDefinition.CHOICE_TYPES))

    assert match_options(options, attributes) == expected


def test_a_value_meaning_options_of_two_attributes_is_not_guessed(db):
    AttributeDefinition.objects.create(
        key="cup_size",
        label="Cup size",
        type="single_choice",
        options=[{"value": "S", "label": "Small", "synonyms": []}],
    )
    attributes = choice_attributes(AttributeDefinition.objects.filter(type__in=AttributeDefinition.CHOICE_TYPES))

    assert match_options([("Variant", "Small")], attributes) == {}
    assert match_options([("Cup size", "Small")], attributes) == {"cup_size": "S"}


def test_fold():
    assert fold("X-Large") == fold("x large") == fold("XLarge") == "xlarge"
    assert fold("Été") == "ete"


# --- WooCommerce ---------------------------------------------------------------------------------------------


def test_a_woocommerce_simple_product_is_its_own_variant(client, woo):
    woo.post(client, "product.created", payload("woocommerce/product_created_simple.json"))

    product = Product.objects.get()
    assert (product.platform, product.external_id, product.title) == ("woocommerce", "794", "Premium Quality")
    assert product.url == "https://example.com/product/premium-quality-19/"
    variant = product.variants.get()
    assert (variant.external_id, variant.sku, variant.price, variant.compare_at_price) == (
        "794",
        "PQ-19",
        Decimal("19.99"),
        Decimal("21.99"),
    )
    assert (variant.inventory_quantity, variant.in_stock) == (3, True)
    assert variant.attributes == {"size": "L"}


def test_a_woocommerce_variable_product_and_its_variation(client, woo):
    woo.post(client, "product.updated", payload("woocommerce/product_updated_variable.json"))
    woo.post(client, "product.updated", payload("woocommerce/product_updated_variation.json"))

    product = Product.objects.get()
    assert product.title == "Ship Your Idea"
    variation = product.variants.get()
    assert (variation.external_id, variation.sku, variation.price) == ("733", "SYI-BLK-M", Decimal("9.00"))
    assert variation.options == [{"name": "Color", "value": "Black"}, {"name": "Size", "value": "Medium"}]
    assert variation.attributes == {"size": "M"}
    assert (variation.inventory_quantity, variation.in_stock) == (5, True)

    # The product saved again keeps its variations; one no longer listed goes.
    woo.post(client, "product.updated", payload("woocommerce/product_updated_variable.json"))
    assert product.variants.count() == 1
    woo.post(client, "product.updated", {**payload("woocommerce/product_updated_variable.json"), "variations": [732]})
    assert product.variants.count() == 0


def test_a_variation_before_its_product_makes_a_placeholder_the_product_fills(client, woo):
    woo.post(client, "product.updated", payload("woocommerce/product_updated_variation.json"))
    assert Product.objects.get().title == "Ship Your Idea"

    woo.post(client, "product.updated", payload("woocommerce/product_updated_variable.json"))

    product = Product.objects.get()
    assert (product.external_id, product.handle, product.variants.count()) == ("799", "ship-your-idea-22", 1)


def test_a_woocommerce_product_out_of_stock_without_counting(client, woo):
    simple = payload("woocommerce/product_created_simple.json")
    simple.update(manage_stock=False, stock_quantity=None, stock_status="outofstock")

    woo.post(client, "product.created", simple)

    assert not Variant.objects.get().in_stock


def test_a_woocommerce_product_deleted_is_archived(client, woo):
    woo.post(client, "product.created", payload("woocommerce/product_created_simple.json"))

    woo.post(client, "product.deleted", payload("woocommerce/product_deleted.json"))

    assert Product.objects.get().status == Product.Status.ARCHIVED


def test_a_draft_woocommerce_product(client, woo):
    woo.post(client, "product.created", {**payload("woocommerce/product_created_simple.json"), "status": "draft"})

    assert Product.objects.get().status == Product.Status.DRAFT
