"""The demo catalog of `seed_demo`: products with sizes, prices and stock, loaded once, sizes matched to `size`."""

import io
from datetime import UTC, datetime
from urllib.parse import urlsplit

import pytest
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.utils import timezone
from rest_framework.test import APIClient

from commerce.demo import CATALOG, demo_catalog_load, demo_catalog_products
from commerce.models import Product, Variant
from commerce.options import choice_attributes, match_options
from conversations.models import AttributeDefinition
from conversations.services import attribute_definitions_ensure_defaults
from tests.factories import SubscriberFactory, UserFactory, api_key_for
from tests.fakes.store import payload
from tests.fakes.twilio import twilio_configured

APPAREL = {"Tees", "Hoodies", "Dresses", "Joggers"}


def seed_demo() -> str:
    out = io.StringIO()
    call_command("seed_demo", "--subscribers", "0", stdout=out)
    return out.getvalue()


def catalog_snapshot() -> list[tuple]:
    products = list(Product.objects.order_by("id").values_list())
    variants = list(Variant.objects.order_by("id").values_list())
    return [*products, *variants]


@pytest.mark.django_db
def test_seed_demo_makes_a_catalog_of_apparel_skincare_and_snacks(settings):
    settings.PUBLIC_BASE_URL = ""

    output = seed_demo()

    assert "demo catalog: 30 products, 89 variants (16 sold out)" in output
    products = Product.objects.all()
    assert products.count() == len(CATALOG) == 30
    assert set(products.values_list("product_type", flat=True)) == {*APPAREL, "Skincare", "Vegan snacks"}
    assert all(product.status == "active" and product.platform == "shopify" for product in products)
    tee = products.get(handle="organic-cotton-tee")
    assert tee.url == "http://127.0.0.1:8000/demo/store/products/organic-cotton-tee"
    assert tee.image_url == ""  # no network: no images
    assert Variant.objects.filter(price__isnull=True).count() == 0
    assert Variant.objects.filter(compare_at_price__gt=0).values("product").distinct().count() == 5
    assert Variant.objects.filter(in_stock=False).count() == 16
    assert Variant.objects.filter(inventory_quantity=0, in_stock=True).count() == 0


@pytest.mark.django_db
def test_product_links_follow_the_public_address(settings):
    settings.PUBLIC_BASE_URL = "https://parley.example.com/"

    demo_catalog_load()

    assert Product.objects.get(handle="wrap-dress").url == "https://parley.example.com/demo/store/products/wrap-dress"


@pytest.mark.django_db
def test_running_seed_demo_again_changes_nothing(django_assert_max_num_queries):
    seed_demo()
    before = catalog_snapshot()

    output = seed_demo()

    assert "demo catalog" not in output
    with django_assert_max_num_queries(1):  # one look at which demo products are there
        assert demo_catalog_load() == []
    assert catalog_snapshot() == before


@pytest.mark.django_db
def test_a_restock_tried_meanwhile_is_kept_when_it_runs_again(client, shopify):
    attribute_definitions_ensure_defaults()
    demo_catalog_load()
    tee_m = Variant.objects.get(product__handle="organic-cotton-tee", attributes__size="M")
    level = payload("shopify/inventory_levels_update.json")
    level.update(inventory_item_id=int(tee_m.inventory_item_id), available=5)

    response = shopify.post(client, "inventory_levels/update", level)
    demo_catalog_load()

    assert response.status_code == 200
    tee_m.refresh_from_db()
    assert (tee_m.in_stock, tee_m.inventory_quantity) == (True, 5)


@pytest.mark.django_db
def test_the_organic_cotton_tee_is_sold_out_in_m_only():
    seed_demo()

    tee = Product.objects.get(title="Organic cotton tee")
    stock = {
        variant.attributes["size"]: (variant.in_stock, variant.inventory_quantity) for variant in tee.variants.all()
    }

    assert stock == {"S": (True, 14), "M": (False, 0), "L": (True, 9), "XL": (True, 5)}
    assert Product.objects.in_stock().filter(pk=tee.pk).exists()


@pytest.mark.django_db
def test_apparel_sizes_are_matched_to_the_size_attribute_whatever_the_store_calls_them():
    seed_demo()

    apparel = Variant.objects.filter(product__product_type__in=APPAREL)
    named = {(variant.options[0]["value"], variant.attributes.get("size")) for variant in apparel}

    assert apparel.count() == 17 * 4
    assert named == {
        ("S", "S"),
        ("M", "M"),
        ("L", "L"),
        ("XL", "XL"),
        ("Small", "S"),
        ("Medium", "M"),
        ("Large", "L"),
        ("X-Large", "XL"),
    }
    cleanser = Variant.objects.filter(product__handle="gentle-foaming-cleanser")
    assert [variant.attributes for variant in cleanser] == [
        {"skin_type": "dry"},
        {"skin_type": "oily"},
        {"skin_type": "sensitive"},
    ]
    others = Variant.objects.exclude(product__product_type__in=APPAREL).exclude(product__handle__contains="cleanser")
    assert not any(variant.attributes.get("size") for variant in others)


@pytest.mark.django_db
def test_without_attribute_definitions_the_catalog_loads_without_sizes():
    AttributeDefinition.objects.all().delete()

    assert demo_catalog_load()

    assert Variant.objects.count() == 89
    assert not Variant.objects.exclude(attributes={}).exists()


def test_medium_and_m_mean_size_m():
    size = choice_attributes(
        [
            AttributeDefinition(
                key="size",
                label="Clothing size",
                options=[{"value": "M", "label": "Medium", "synonyms": ["medium", "med"]}],
            )
        ]
    )

    assert match_options([("Size", "Medium")], size) == {"size": "M"}
    assert match_options([("Size", "M")], size) == {"size": "M"}


def test_the_demo_catalog_is_made_of_unique_ids_handles_and_skus():
    products = demo_catalog_products()
    variants = [variant for product in products for variant in product.variants]

    assert len({product.external_id for product in products}) == len({product.handle for product in products}) == 30
    assert len({variant.external_id for variant in variants}) == len({variant.sku for variant in variants}) == 89
    assert len({variant.inventory_item_id for variant in variants}) == 89
    assert all(product.url.endswith(f"/demo/store/products/{product.handle}") for product in products)


@pytest.mark.parametrize(
    "url",
    [
        "/admin/commerce/product/",
        "/admin/commerce/product/?in_stock=no",
        "/admin/commerce/product/?q=tee",
        "/admin/commerce/variant/",
        "/admin/commerce/variant/?in_stock=no&product__status__exact=active",
        "/admin/commerce/variant/?q=DEMO-ORGANIC-COTTON-TEE-M",
    ],
)
@pytest.mark.django_db
def test_admin_lists_of_the_demo_catalog_render(admin_client, django_assert_max_num_queries, url):
    seed_demo()

    with django_assert_max_num_queries(12):
        response = admin_client.get(url)

    assert response.status_code == 200
    assert response.context["cl"].result_count > 0


@pytest.mark.django_db
def test_admin_shows_the_sold_out_tee(admin_client):
    seed_demo()
    tee = Product.objects.get(handle="organic-cotton-tee")

    page = admin_client.get(f"/admin/commerce/product/{tee.pk}/change/")
    variants = admin_client.get("/admin/commerce/variant/?in_stock=no&q=DEMO-ORGANIC-COTTON-TEE")

    assert page.status_code == 200
    assert "DEMO-ORGANIC-COTTON-TEE-M" in page.content.decode()
    assert [str(variant) for variant in variants.context["cl"].result_list] == ["Organic cotton tee — M"]


@pytest.mark.django_db
def test_with_the_demo_catalog_a_shopper_in_m_is_told_when_the_sold_out_tee_is_back(
    client, shopify, settings, monkeypatch
):
    """The issue's demo, by the interfaces a store uses: the API's request, Shopify's stock webhook, the text."""
    monkeypatch.setattr(timezone, "now", lambda: datetime(2027, 1, 5, 18, 0, tzinfo=UTC))  # a Tuesday, daytime
    settings.PUBLIC_BASE_URL = ""
    seed_demo()
    shopper = SubscriberFactory(first_name="Ana", attributes={"size": "M"})
    backend = UserFactory(username="store-backend")
    backend.user_permissions.set(Permission.objects.filter(codename="add_backinstockrequest"))
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {api_key_for(backend)}")
    tee_m = Variant.objects.get(sku="DEMO-ORGANIC-COTTON-TEE-M")

    asked = api.post("/api/v1/back-in-stock/", {"phone": shopper.phone, "variant": tee_m.sku}, format="json")
    level = payload("shopify/inventory_levels_update.json")
    level.update(inventory_item_id=int(tee_m.inventory_item_id), available=4)
    with twilio_configured(settings) as twilio:
        restocked = shopify.post(client, "inventory_levels/update", level)
        call_command("process_due", stdout=io.StringIO())
        sent = [(form["To"], form["Body"]) for form in twilio.sent]

    assert (asked.status_code, restocked.status_code) == (201, 200)
    assert [to for to, _ in sent] == [shopper.phone]
    assert sent[0][1].startswith("Good news, Ana: Organic cotton tee in M is back in stock.")
    link = next(word for word in sent[0][1].split() if word.startswith(("http://", "https://")))
    opened = client.get(urlsplit(link).path, HTTP_USER_AGENT="Mozilla/5.0 (iPhone; CPU iPhone OS 18_0)")
    assert opened["Location"].startswith("http://127.0.0.1:8000/demo/store/products/organic-cotton-tee")
