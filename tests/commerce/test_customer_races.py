"""The same consent by both of Shopify's topics at the same moment: one subscriber, one opt-in, one text."""

import pytest

from commerce.models import WebhookDelivery
from conversations.models import ConsentEvent, Message, Subscriber
from tests.commerce.test_races import at_once
from tests.fakes.store import payload

pytestmark = pytest.mark.django_db(transaction=True)

PHONE = "+14155550142"


@pytest.mark.parametrize("known", [False, True], ids=["new number", "pending subscriber"])
def test_customers_update_and_the_consent_webhook_at_once_text_the_terms_once(shopify, known):
    if known:
        Subscriber.objects.create(phone=PHONE, time_zone="America/Los_Angeles")

    answers = at_once(
        lambda client: shopify.post(client, "customers/update", payload("shopify/customers_update.json")),
        lambda client: shopify.post(
            client, "customers_marketing_consent/update", payload("shopify/customers_marketing_consent_update.json")
        ),
    )

    assert sorted(answer.status_code for answer in answers) in ([200, 200], [200, 503])  # 503: Shopify retries
    assert Subscriber.objects.get(phone=PHONE).status == "subscribed"
    assert ConsentEvent.objects.filter(phone=PHONE, kind="opt_in").count() == 1
    assert Message.objects.filter(subscriber__phone=PHONE, direction="outbound").count() == 1
    assert WebhookDelivery.objects.filter(outcome="processed").count() == 1
