"""The way back: an opt-out in Parley unsubscribes the linked Shopify customer, through a fake Admin GraphQL API."""

import json
import logging
from datetime import timedelta

import pytest
from django.utils import timezone

from commerce import tasks
from commerce.models import ConsentPush, PlatformCustomer
from commerce.services import consent_pushes_due
from conversations.models import Subscriber
from conversations.services import inbound_receive, subscriber_opt_out
from tests.fakes.shopify_admin import FakeShopifyAdmin
from tests.fakes.store import payload

pytestmark = pytest.mark.django_db

TOKEN = "shpat_0123456789abcdef0123456789abcdef"
CUSTOMER = "706405506930370084"


@pytest.fixture
def admin(settings, shopify):
    with FakeShopifyAdmin(token=TOKEN) as fake:
        settings.SHOPIFY_ADMIN_API_TOKEN = TOKEN
        settings.SHOPIFY_ADMIN_API_URL = fake.url
        settings.SHOPIFY_ADMIN_TIMEOUT_SECONDS = 2
        yield fake


@pytest.fixture
def linked(client, shopify, subscriber):
    """The subscriber, known to Shopify as customer 706405506930370084 (customers/update with their phone)."""
    body = payload("shopify/customers_update.json")
    body.update(phone=subscriber.phone, sms_marketing_consent=None)
    shopify.post(client, "customers/update", body)
    assert PlatformCustomer.objects.get().subscriber == subscriber
    return subscriber


def push() -> ConsentPush:
    return ConsentPush.objects.get()


def test_stop_in_parley_unsubscribes_the_customer_in_shopify_from_the_worker(admin, linked):
    inbound_receive(from_number=linked.phone, body="STOP")

    assert admin.received == []  # not in the request that received the STOP
    assert (push().status, push().state) == ("pending", "unsubscribed")

    assert tasks.consent_push_send(push().pk) == "sent"

    [request] = admin.received
    assert request["path"] == "/admin/api/2026-10/graphql.json"
    assert request["headers"]["X-Shopify-Access-Token"] == TOKEN
    assert request["headers"]["Content-Type"] == "application/json"
    sent = json.loads(request["raw"])
    assert sent["query"].startswith("mutation customerSmsMarketingConsentUpdate(")
    assert "customerSmsMarketingConsentUpdate(input: $input)" in sent["query"]
    stop = linked.consent_events.get()
    assert sent["variables"] == {
        "input": {
            "customerId": f"gid://shopify/Customer/{CUSTOMER}",
            "smsMarketingConsent": {"marketingState": "UNSUBSCRIBED", "consentUpdatedAt": stop.occurred_at.isoformat()},
        }
    }
    assert (push().status, push().attempts, push().last_error) == ("done", 1, "")
    assert tasks.consent_push_send(push().pk) != "sent"  # run twice, told once
    assert len(admin.received) == 1


def test_a_failure_is_logged_without_the_phone_and_tried_again_later(admin, linked, caplog):
    admin.replies.extend([503, FakeShopifyAdmin.user_error("Customer does not exist")])
    subscriber_opt_out(subscriber=linked, source="agent")

    with caplog.at_level(logging.WARNING, logger="commerce"):
        assert tasks.consent_push_send(push().pk) != "sent"

    assert (push().status, push().attempts, push().last_error) == ("pending", 1, "Shopify answered HTTP 503")
    assert push().next_attempt_at > timezone.now() + timedelta(seconds=50)
    assert f"consent push {push().pk} failed (attempt 1)" in caplog.text
    assert linked.phone not in caplog.text and linked.phone[2:] not in caplog.text
    assert consent_pushes_due() == "told Shopify 0 of 0 opt-outs"  # not due yet

    ConsentPush.objects.update(next_attempt_at=timezone.now())  # time passes
    assert consent_pushes_due() == "told Shopify 0 of 1 opt-outs"
    assert push().last_error == "Shopify refused it: Customer does not exist"

    ConsentPush.objects.update(next_attempt_at=timezone.now())
    assert consent_pushes_due() == "told Shopify 1 of 1 opt-outs"
    assert (push().status, push().attempts) == ("done", 3)
    assert len(admin.received) == 3


def test_a_push_fails_for_good_after_its_last_retry(admin, linked, settings):
    settings.SHOPIFY_ADMIN_API_TOKEN = "shpat_revoked"  # every call is answered 401
    subscriber_opt_out(subscriber=linked, source="api")

    for _ in range(6):
        ConsentPush.objects.update(next_attempt_at=timezone.now())
        consent_pushes_due()

    assert (push().status, push().attempts, push().last_error) == ("failed", 6, "Shopify answered HTTP 401")
    ConsentPush.objects.update(next_attempt_at=timezone.now())
    assert consent_pushes_due() == "told Shopify 0 of 0 opt-outs"


def test_nothing_is_pushed_without_a_token_for_an_unknown_customer_or_for_shopifys_own_opt_out(
    client, shopify, admin, linked, settings
):
    other = Subscriber.objects.create(phone="+14155550199", status="subscribed", time_zone="America/Los_Angeles")
    subscriber_opt_out(subscriber=other, source="api")  # no Shopify customer is linked to them

    body = payload("shopify/customers_marketing_consent_update.json")
    body["phone"] = linked.phone
    body["sms_marketing_consent"].update(state="unsubscribed", consent_updated_at=timezone.now().isoformat())
    shopify.post(client, "customers_marketing_consent/update", body)  # Shopify said so: not sent back
    linked.refresh_from_db()
    assert linked.status == "unsubscribed"

    settings.SHOPIFY_ADMIN_API_TOKEN = ""
    third = Subscriber.objects.create(phone="+14155550198", status="subscribed", time_zone="America/Los_Angeles")
    PlatformCustomer.objects.create(platform="shopify", external_id="42", subscriber=third)
    subscriber_opt_out(subscriber=third, source="api")

    assert not ConsentPush.objects.exists()
    assert consent_pushes_due() == "Shopify's Admin API is not configured"
    assert admin.received == []


def test_the_admin_api_address_comes_from_the_shop_domain(settings):
    from commerce.services import admin_api_url

    settings.SHOPIFY_ADMIN_API_URL = ""
    settings.SHOPIFY_SHOP_DOMAIN = "acme-outfitters.myshopify.com"
    settings.SHOPIFY_ADMIN_API_VERSION = "2026-10"

    assert admin_api_url() == "https://acme-outfitters.myshopify.com/admin/api/2026-10/graphql.json"


@pytest.mark.parametrize(
    "url", ["/admin/commerce/platformcustomer/", "/admin/commerce/consentpush/?status__exact=done"]
)
def test_the_admin_lists_customers_and_pushes(admin_client, admin, linked, django_assert_max_num_queries, url):
    inbound_receive(from_number=linked.phone, body="STOP")
    tasks.consent_push_send(push().pk)

    with django_assert_max_num_queries(10):
        response = admin_client.get(url)

    assert response.status_code == 200
    assert CUSTOMER in response.content.decode()
