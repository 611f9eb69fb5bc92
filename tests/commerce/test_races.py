"""The same order, or the same delivery, arriving twice at the same moment: counted once, never a server error."""

import threading

import pytest
from django.db import connection
from django.test import Client

from commerce.models import WebhookDelivery
from conversations.models import Event
from tests.factories import SubscriberFactory
from tests.fakes.store import payload

pytestmark = pytest.mark.django_db(transaction=True)


def at_once(*posts):
    """Send the posts from threads released together; returns their responses."""
    barrier, answers, errors = threading.Barrier(len(posts)), [None] * len(posts), []

    def run(index, post):
        try:
            barrier.wait(10)
            answers[index] = post(Client())
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(index, post)) for index, post in enumerate(posts)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors, errors
    return answers


def test_orders_create_and_orders_paid_at_once_make_one_event(shopify):
    SubscriberFactory(phone="+14155550100")

    answers = at_once(
        lambda client: shopify.post(client, "orders/create", payload("shopify/orders_create.json")),
        lambda client: shopify.post(client, "orders/paid", payload("shopify/orders_paid.json")),
    )

    assert [answer.status_code for answer in answers] == [200, 200]
    assert Event.objects.count() == 1


def test_the_same_delivery_twice_at_once_is_processed_once(shopify):
    SubscriberFactory(phone="+14155550100")

    answers = at_once(
        *[
            lambda client: shopify.post(
                client, "orders/create", payload("shopify/orders_create.json"), webhook_id="w-1"
            )
            for _ in range(2)
        ]
    )

    assert [answer.status_code for answer in answers] == [200, 200]
    assert sorted(WebhookDelivery.objects.values_list("outcome", flat=True)) == ["duplicate", "processed"]
    assert Event.objects.count() == 1


def test_products_create_and_update_at_once_make_one_product(shopify):
    answers = at_once(
        lambda client: shopify.post(client, "products/create", payload("shopify/products_create.json")),
        lambda client: shopify.post(client, "products/update", payload("shopify/products_update.json")),
    )

    assert [answer.status_code for answer in answers] == [200, 200]
    from commerce.models import Product

    assert Product.objects.count() == 1
    assert Product.objects.get().variants.count() == 2
