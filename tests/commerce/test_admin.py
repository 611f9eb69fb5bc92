"""The delivery log and the catalog in the admin: lists render with a bounded number of queries."""

import pytest

from commerce.models import WebhookDelivery, WebhookRefusal
from tests.fakes.store import payload

pytestmark = pytest.mark.django_db


@pytest.fixture
def filled(client, shopify, woo, subscriber):
    for number in range(6):
        product = payload("shopify/products_create.json")
        product.update(id=1000 + number, handle=f"shirt-{number}", title=f"Shirt {number}")
        for variant in product["variants"]:
            variant["id"] += number
        shopify.post(client, "products/create", product)
    shopify.post(client, "orders/create", payload("shopify/orders_create.json"))
    shopify.post(client, "orders/create", b"{not json")
    shopify.post(client, "customers/create", payload("shopify/customers_create.json"))
    woo.post(client, "product.updated", payload("woocommerce/product_updated_variable.json"))
    woo.post(client, "product.updated", payload("woocommerce/product_updated_variation.json"))
    woo.ping(client)
    shopify.post(client, "orders/create", {}, **{"X-Shopify-Hmac-Sha256": "forged"})
    assert WebhookDelivery.objects.count() == 11


@pytest.mark.parametrize(
    "url",
    [
        "/admin/commerce/webhookdelivery/",
        "/admin/commerce/webhookdelivery/?platform__exact=shopify&outcome__exact=rejected",
        "/admin/commerce/webhookdelivery/?topic=orders%2Fcreate",
        "/admin/commerce/webhookdelivery/?q=820982911946154508",
        "/admin/commerce/webhookrefusal/",
        "/admin/commerce/product/",
        "/admin/commerce/product/?status__exact=active&in_stock=yes",
        "/admin/commerce/product/?in_stock=no",
        "/admin/commerce/product/?q=example-shirt-m",
        "/admin/commerce/product/?q=shirt-3",
        "/admin/commerce/variant/",
        "/admin/commerce/variant/?in_stock=no&product__status__exact=active",
        "/admin/commerce/variant/?q=example-shirt",
    ],
)
def test_admin_lists_render_with_few_queries(admin_client, filled, django_assert_max_num_queries, url):
    with django_assert_max_num_queries(12):
        response = admin_client.get(url)

    assert response.status_code == 200


def test_search_finds_a_product_by_sku_once(admin_client, filled):
    response = admin_client.get("/admin/commerce/product/?q=example-shirt-m")

    assert response.context["cl"].result_count == 6
    assert response.context["cl"].result_list[0].variant_total == 2  # counts not multiplied by the search join


def test_detail_pages_render(admin_client, filled):
    for delivery in WebhookDelivery.objects.all():
        assert admin_client.get(f"/admin/commerce/webhookdelivery/{delivery.pk}/change/").status_code == 200
    from commerce.models import Product, Variant

    for product in Product.objects.all()[:3]:
        assert admin_client.get(f"/admin/commerce/product/{product.pk}/change/").status_code == 200
    variant = Variant.objects.first()
    assert admin_client.get(f"/admin/commerce/variant/{variant.pk}/change/").status_code == 200


def test_nothing_is_added_or_edited_by_hand(admin_client, filled):
    assert admin_client.get("/admin/commerce/product/add/").status_code == 403
    assert admin_client.get("/admin/commerce/webhookdelivery/add/").status_code == 403
    delivery = WebhookDelivery.objects.first()
    response = admin_client.post(f"/admin/commerce/webhookdelivery/{delivery.pk}/change/", {"outcome": "processed"})
    assert response.status_code == 403
    assert WebhookRefusal.objects.filter(reason="wrong_signature").get().count == 1


def test_the_body_is_shown_escaped(admin_client, client, shopify):
    product = payload("shopify/products_create.json")
    product["title"] = "<script>alert(1)</script>"
    shopify.post(client, "products/create", product)
    delivery = WebhookDelivery.objects.get()

    page = admin_client.get(f"/admin/commerce/webhookdelivery/{delivery.pk}/change/").content.decode()

    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
