"""The Store connection page: what is connected, the URLs to paste, the newest delivery of every topic."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission, User

from commerce.models import WebhookDelivery
from tests.fakes.store import payload

pytestmark = pytest.mark.django_db
URL = "/store/"


def test_shows_each_platform_its_url_and_the_newest_delivery_per_topic(admin_client, shopify, settings):
    settings.PUBLIC_BASE_URL = "https://parley.example.com"
    settings.WOOCOMMERCE_WEBHOOK_SECRET = ""
    shopify.post(admin_client, "orders/create", b"{not json")
    shopify.post(admin_client, "orders/create", payload("shopify/orders_create.json"))
    shopify.post(admin_client, "carts/update", {"id": 1})

    response = admin_client.get(URL)

    assert response.status_code == 200
    page = response.content.decode()
    assert "Shopify: connected" in page
    assert "WooCommerce: not connected" in page
    assert "https://parley.example.com/webhooks/shopify/" in page
    assert "https://parley.example.com/webhooks/woocommerce/" in page
    assert "Set WOOCOMMERCE_WEBHOOK_SECRET" in page
    assert "is not https" not in page
    rows = {row.topic: row for row in response.context["connections"][0].topics}
    newest = WebhookDelivery.objects.filter(topic="orders/create").order_by("-id").first()
    assert rows["orders/create"].last == newest
    assert rows["orders/create"].counts == {"rejected": 1, newest.outcome: 1}
    assert rows["products/update"].last is None
    assert [row.topic for row in response.context["connections"][0].other_topics] == ["carts/update"]
    assert settings.SHOPIFY_WEBHOOK_SECRET not in page


def test_counts_refusals_and_warns_about_a_plain_http_address(admin_client, shopify, settings):
    settings.PUBLIC_BASE_URL = ""
    shopify.post(admin_client, "orders/create", {}, **{"X-Shopify-Hmac-Sha256": "forged"})

    page = admin_client.get(URL).content.decode()

    assert "1 × Wrong signature" in page
    assert "is not https" in page
    assert "http://testserver/webhooks/shopify/" in page


def test_the_number_of_queries_does_not_grow_with_deliveries(admin_client, shopify, django_assert_max_num_queries):
    for number in range(30):
        shopify.post(admin_client, "orders/create" if number % 2 else "products/update", b"{not json")

    with django_assert_max_num_queries(8):
        assert admin_client.get(URL).status_code == 200


def test_needs_staff_with_the_delivery_log_permission(client, shopify):
    assert client.get(URL).status_code == 302
    user = User.objects.create_user("agent", password="pw-agent-123", is_staff=True)
    client.force_login(user)
    assert client.get(URL).status_code == 403
    user.user_permissions.add(Permission.objects.get(codename="view_webhookdelivery"))
    assert client.get(URL).status_code == 200


def test_lists_the_checkouts_waiting_to_be_called_abandoned(admin_client, shopify, settings, subscriber):
    settings.CHECKOUT_ABANDONED_MINUTES = 45
    checkout = payload("shopify/checkouts_create.json")
    checkout["phone"] = subscriber.phone
    shopify.post(admin_client, "checkouts/create", checkout)

    response = admin_client.get(URL)

    waiting = response.context["checkouts"]
    assert waiting.total == 1 and waiting.minutes == 45
    (row,) = waiting.soonest
    assert row.token == checkout["token"]
    assert row.due_at == row.touched_at + timedelta(minutes=45)
    assert "Checkouts waiting to be called abandoned: 1" in response.content.decode()
