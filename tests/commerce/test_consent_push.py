"""The way back: an opt-out in Parley unsubscribes the linked Shopify customer, through a fake Admin GraphQL API."""

import json
import logging
from datetime import timedelta

import pytest
from django.utils import timezone

from commerce import tasks
from commerce.models import ConsentPush, PlatformCustomer, WebhookDelivery
from commerce.services import consent_pushes_due
from conversations.models import Subscriber
from conversations.services import inbound_receive, subscriber_opt_in, subscriber_opt_out
from tests.fakes.shopify_admin import FakeShopifyAdmin
from tests.fakes.store import payload

pytestmark = pytest.mark.django_db

TOKEN = "shpat_0123456789abcdef0123456789abcdef"
CUSTOMER = "706405506930370084"
PHONE = "+14155550142"  # the fixtures' customer


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


def test_a_start_cancels_the_push_still_waiting_so_no_retry_unsubscribes_them_again(admin, linked):
    admin.replies.append(503)
    inbound_receive(from_number=linked.phone, body="STOP")
    assert tasks.consent_push_send(push().pk) != "sent"  # Shopify is down: tried again in a minute
    assert push().status == "pending"

    inbound_receive(from_number=linked.phone, body="START")  # the shopper is back before the retry

    linked.refresh_from_db()
    assert linked.status == Subscriber.Status.SUBSCRIBED
    assert (push().status, push().attempts) == ("cancelled", 1)
    assert "opted in again" in push().last_error and push().done_at is not None
    ConsentPush.objects.update(next_attempt_at=timezone.now())  # hours pass
    assert consent_pushes_due() == "told Shopify 0 of 0 opt-outs"
    assert tasks.consent_push_send(push().pk) != "sent"
    assert len(admin.received) == 1  # the failed first try only


def test_a_start_before_the_worker_sends_it_means_shopify_is_never_called(admin, linked):
    inbound_receive(from_number=linked.phone, body="STOP")
    inbound_receive(from_number=linked.phone, body="START")

    assert tasks.consent_push_send(push().pk) != "sent"
    assert push().status == "cancelled"
    assert admin.received == []


def test_a_push_is_not_sent_after_an_opt_in_whose_signal_never_reached_it(admin, linked):
    inbound_receive(from_number=linked.phone, body="STOP")
    subscriber_opt_in(subscriber=linked, source="keyword", raw_text="START")  # no subscriber_opted_in sent

    assert push().status == "pending"
    assert tasks.consent_push_send(push().pk) != "sent"
    assert push().status == "cancelled"
    assert admin.received == []


@pytest.mark.parametrize(("reply", "note"), [(None, "yet Shopify took it"), (503, "opted in again")])
def test_a_push_cancelled_while_it_is_being_sent_stays_cancelled(admin, linked, monkeypatch, reply, note):
    from commerce.services import consent_push

    if reply:
        admin.replies.append(reply)
    inbound_receive(from_number=linked.phone, body="STOP")
    tell = consent_push._tell_shopify

    def start_meanwhile(push):
        error = tell(push)
        inbound_receive(from_number=linked.phone, body="START")  # arrives while the worker waits for Shopify
        return error

    monkeypatch.setattr(consent_push, "_tell_shopify", start_meanwhile)

    assert tasks.consent_push_send(push().pk) != "sent"

    assert push().status == "cancelled"  # never made pending again: no retry will unsubscribe them
    assert note in push().last_error
    ConsentPush.objects.update(next_attempt_at=timezone.now())
    assert consent_pushes_due() == "told Shopify 0 of 0 opt-outs"
    assert len(admin.received) == 1


def test_a_customer_first_linked_to_a_number_that_opted_out_is_unsubscribed_in_shopify(client, shopify, admin):
    opted_out = Subscriber.objects.create(phone=PHONE, status="subscribed", time_zone="America/Los_Angeles")
    inbound_receive(from_number=PHONE, body="STOP")  # before Shopify knew the number: nobody to push to
    assert not ConsentPush.objects.exists()
    stop = opted_out.consent_events.get()

    body = payload("shopify/customers_update.json")
    body["sms_marketing_consent"] = None
    response = shopify.post(client, "customers/update", body)  # the customer, with that number, linked now

    assert response.status_code == 200
    delivery = WebhookDelivery.objects.order_by("-id").first()
    assert "Shopify is told the customer is unsubscribed" in delivery.detail
    assert (push().status, push().state, push().decided_at) == ("pending", "unsubscribed", stop.occurred_at)
    assert push().customer.subscriber == opted_out
    assert tasks.consent_push_send(push().pk) == "sent"
    [request] = admin.received
    sent = json.loads(request["raw"])["variables"]["input"]
    assert sent["customerId"] == f"gid://shopify/Customer/{CUSTOMER}"
    assert sent["smsMarketingConsent"] == {
        "marketingState": "UNSUBSCRIBED",
        "consentUpdatedAt": stop.occurred_at.isoformat(),
    }

    shopify.post(client, "customers/update", body)  # linked already: not again
    assert ConsentPush.objects.count() == 1


def test_shopifys_subscribe_of_a_number_that_opted_out_links_it_and_tells_shopify_back(client, shopify, admin):
    Subscriber.objects.create(phone=PHONE, status="subscribed", time_zone="America/Los_Angeles")
    inbound_receive(from_number=PHONE, body="STOP")

    body = payload("shopify/customers_marketing_consent_update.json")
    body["sms_marketing_consent"].update(state="subscribed", consent_updated_at=timezone.now().isoformat())
    shopify.post(client, "customers_marketing_consent/update", body)

    delivery = WebhookDelivery.objects.order_by("-id").first()
    assert delivery.outcome == "ignored"
    assert "texting START" in delivery.detail and "Shopify is told the customer is unsubscribed" in delivery.detail
    assert Subscriber.objects.get(phone=PHONE).status == "unsubscribed"
    assert push().status == "pending"


def test_no_push_for_a_new_link_when_shopify_says_unsubscribed_itself_or_is_not_configured(
    client, shopify, admin, settings
):
    Subscriber.objects.create(phone=PHONE, status="subscribed", time_zone="America/Los_Angeles")
    inbound_receive(from_number=PHONE, body="STOP")
    body = payload("shopify/customers_marketing_consent_update.json")
    body["sms_marketing_consent"].update(state="unsubscribed", consent_updated_at=timezone.now().isoformat())
    shopify.post(client, "customers_marketing_consent/update", body)  # Shopify knows
    assert PlatformCustomer.objects.get().subscriber.phone == PHONE
    assert not ConsentPush.objects.exists()

    settings.SHOPIFY_ADMIN_API_TOKEN = ""
    other = payload("shopify/customers_update.json")
    other.update(id=42, sms_marketing_consent=None)
    shopify.post(client, "customers/update", other)
    assert PlatformCustomer.objects.filter(external_id="42", subscriber__phone=PHONE).exists()
    assert not ConsentPush.objects.exists()


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
