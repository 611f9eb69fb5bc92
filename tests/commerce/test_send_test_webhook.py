"""`manage.py send_test_webhook` posts a sample, signed with this Parley's secret, to a running Parley."""

import pytest
from django.core.management import CommandError, call_command

from commerce.management.commands.send_test_webhook import samples
from commerce.models import Variant
from conversations.models import Event
from tests.commerce.conftest import SHOPIFY_SECRET

pytestmark = pytest.mark.django_db(transaction=True)


def run(*args) -> str:
    from io import StringIO

    out = StringIO()
    call_command("send_test_webhook", *args, stdout=out)
    return out.getvalue()


def test_an_order_for_a_shopper_reaches_the_running_server_signed(live_server, settings, subscriber):
    settings.SHOPIFY_WEBHOOK_SECRET = SHOPIFY_SECRET
    settings.SHOPIFY_SHOP_DOMAIN = "acme-outfitters.myshopify.com"

    answer = run("shopify", "orders/create", "--phone", subscriber.phone, "--url", live_server.url)

    assert answer.startswith("200 "), answer
    event = Event.objects.get(type="order_placed")
    assert event.subscriber == subscriber
    assert abs((event.occurred_at - event.created_at).total_seconds()) < 120  # "now", not the sample's date
    again = run("shopify", "orders/create", "--phone", subscriber.phone, "--url", live_server.url)
    assert again.startswith("200 ") and "recorded already" in again
    assert Event.objects.filter(type="order_placed").count() == 1


def test_set_changes_one_field_and_the_catalog_shows_it(live_server, settings):
    settings.SHOPIFY_WEBHOOK_SECRET = SHOPIFY_SECRET
    settings.SHOPIFY_SHOP_DOMAIN = ""

    run("shopify", "products/update", "--set", "variants.0.inventory_quantity=0", "--url", live_server.url)
    assert not Variant.objects.get(external_id="642667041472713922").in_stock
    run("shopify", "products/update", "--set", "variants.0.inventory_quantity=5", "--url", live_server.url)

    variant = Variant.objects.get(external_id="642667041472713922")
    assert variant.in_stock and variant.inventory_quantity == 5


def test_mistakes_are_named(settings):
    settings.SHOPIFY_WEBHOOK_SECRET = ""
    with pytest.raises(CommandError, match="SHOPIFY_WEBHOOK_SECRET is not set"):
        run("shopify", "orders/create")
    settings.SHOPIFY_WEBHOOK_SECRET = SHOPIFY_SECRET
    with pytest.raises(CommandError, match="no sample for shopify 'carts/create'"):
        run("shopify", "carts/create")
    with pytest.raises(CommandError, match="--set nothing.here: the sample has no such place"):
        run("shopify", "orders/create", "--set", "nothing.here=1")
    assert "orders/create" in samples()["shopify"]
    assert "order.created" in samples()["woocommerce"]
