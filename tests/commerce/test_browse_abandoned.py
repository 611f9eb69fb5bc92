"""browse_abandoned: a shopper's last product view that no checkout, order or later view follows within
BROWSE_ABANDONED_MINUTES becomes one event, which starts the shipped Browse abandonment flow."""

import io
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db.models import F
from django.utils import timezone

from commerce.services import browse_abandon_due
from conversations.models import Event, Message
from conversations.services.events import event_record
from flows.services import flow_templates_load
from tests.campaigns.conftest import DAYTIME
from tests.commerce.test_browse import PAGE, product_view, report
from tests.factories import SubscriberFactory

pytestmark = pytest.mark.django_db


def minutes_pass(minutes):
    """Every event moves `minutes` into the past, as if the clock had moved on."""
    Event.objects.update(occurred_at=F("occurred_at") - timedelta(minutes=minutes))


def abandoned():
    return Event.objects.filter(type="browse_abandoned")


def test_a_view_left_for_the_delay_becomes_one_browse_abandoned_with_the_product(client, form, shopper, shirt):
    assert report(client, product_view(shopper)).status_code == 202
    browse_abandon_due()
    assert not abandoned().exists()  # not before the delay

    minutes_pass(121)
    browse_abandon_due()
    browse_abandon_due()

    (event,) = abandoned()
    view = Event.objects.get(type="product_viewed")
    assert event.subscriber == shopper
    assert event.idempotency_key == f"browse:abandoned:{view.pk}"
    assert event.properties["title"] == "Linen shirt"
    assert event.properties["url"] == view.properties["url"]
    assert event.properties["viewed_at"] == view.occurred_at.isoformat()


def test_the_delay_is_the_setting(client, form, shopper, shirt, settings):
    settings.BROWSE_ABANDONED_MINUTES = 10
    report(client, product_view(shopper))
    minutes_pass(11)

    browse_abandon_due()

    assert abandoned().count() == 1


@pytest.mark.parametrize("went_on", ["checkout_started", "cart_abandoned", "order_placed"])
def test_a_checkout_or_an_order_after_the_view_means_it_was_not_abandoned(client, form, shopper, shirt, went_on):
    report(client, product_view(shopper))
    event_record(subscriber=shopper, type=went_on, properties={})
    minutes_pass(121)

    browse_abandon_due()

    assert not abandoned().exists()


def test_only_the_last_view_counts_and_a_shopper_still_browsing_waits(client, form, shopper, shirt):
    report(client, product_view(shopper))
    minutes_pass(121)
    report(client, product_view(shopper, url=f"{PAGE[: PAGE.index('/products/')]}/products/other", product_id="99"))

    browse_abandon_due()
    assert not abandoned().exists()  # the second view is recent: still browsing

    minutes_pass(121)
    browse_abandon_due()
    (event,) = abandoned()
    assert event.properties["product_id"] == "99"


def test_a_view_more_than_a_day_past_the_delay_is_left_alone(client, form, shopper, shirt):
    report(client, product_view(shopper))
    minutes_pass(121 + 24 * 60)

    browse_abandon_due()

    assert not abandoned().exists()


def test_each_shopper_gets_their_own(client, form, shopper, shirt):
    other = SubscriberFactory(phone="+14155550143")
    report(client, product_view(shopper))
    report(client, product_view(other))
    minutes_pass(121)

    browse_abandon_due()

    assert sorted(abandoned().values_list("subscriber_id", flat=True)) == sorted([shopper.pk, other.pk])


def test_process_due_nudges_the_shopper_with_the_product_at_once(client, form, shopper, shirt, console, monkeypatch):
    monkeypatch.setattr(timezone, "now", lambda: DAYTIME)  # inside the shopper's marketing window
    flow_templates_load()
    report(client, product_view(shopper))
    minutes_pass(121)

    call_command("process_due", stdout=io.StringIO())
    console.send_due()

    (text,) = Message.objects.filter(subscriber=shopper, direction="outbound", origin="flow")
    assert "Linen shirt" in text.body
    assert "/l/" in text.body  # the product's link, tracked


@pytest.mark.parametrize(
    "title",
    [
        "a gift for you, claim it at https://evil.example/login",
        "see evil.example/login",
        "WWW.EVIL.COM",
        "Linen shirt – sale on evil.shop",
    ],
)
def test_a_page_title_holding_a_link_never_reaches_a_text(client, form, shopper, console, monkeypatch, title):
    """The page's own title is used for a product the catalog does not know; one a phone would show as a link is
    dropped, so nobody holding an identifier can put their link in the store's text."""
    monkeypatch.setattr(timezone, "now", lambda: DAYTIME)
    flow_templates_load()
    assert report(client, product_view(shopper, product_id="555", title=title)).status_code == 202
    assert Event.objects.get(type="product_viewed").properties["title"] == ""
    minutes_pass(121)

    call_command("process_due", stdout=io.StringIO())

    (text,) = Message.objects.filter(subscriber=shopper, direction="outbound", origin="flow")
    assert "evil" not in text.body.lower()
    assert text.body.startswith("Still thinking about it, ")
