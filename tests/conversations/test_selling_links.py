"""A transactional text may carry no link to a sale or an offer, however the link is written: a selling hostname,
a percent-encoded path or query, or a link typed without its scheme (www.…, a domain with a path). Still a
word-based check: the carriers' tracking pages and Shopify's order status pages pass."""

from datetime import UTC, datetime

import pytest
from django.utils import timezone

from conversations.models import Message
from conversations.outbox import SendRefused, message_queue
from conversations.sms import gate
from flows.checks import transactional_checks
from tests.factories import SubscriberFactory

NIGHT = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)  # 03:00 in New York

SELLING = [
    ("https://sale.shop.com/", "https://sale.shop.com/"),
    ("https://deals.example.com/products/socks", "https://deals.example.com/products/socks"),
    ("https://black-friday-deals.shop.com/", "https://black-friday-deals.shop.com/"),
    ("https://shop.com/%73ale", "https://shop.com/%73ale"),
    ("https://shop.com/collections/%2573ale", "https://shop.com/collections/%2573ale"),  # encoded twice
    ("https://shop.com/cart?%63oupon=WELCOME10", "https://shop.com/cart?%63oupon=WELCOME10"),
    ("https://shop.com/#/sale", "https://shop.com/#/sale"),
    ("shop.com/sale", "shop.com/sale"),
    ("www.shop.com/discount/X", "www.shop.com/discount/X"),
    ("Shop.com/Collections/Clearance.", "Shop.com/Collections/Clearance"),
    ("deals.example.com", "deals.example.com"),
    ("www.deals.example", "www.deals.example"),
    ("shop.com?promo=1", "shop.com?promo=1"),
]

PASSING = [
    "https://www.ups.com/track?tracknum=1Z2345E20300000000",
    "www.ups.com/track?loc=en_US&tracknum=1Z2345E20300000000",
    "https://www.fedex.com/fedextrack/?trknbr=123456789012",
    "https://tools.usps.com/go/TrackConfirmAction?tLabels=9400100000000000000000",
    "https://www.dhl.com/us-en/home/tracking.html?tracking-id=1234567890",
    "https://shop.example.com/12345/orders/abcdef0123/authenticate?key=0a1b2c3d",
    "https://deals.example.com/12345/orders/abcdef0123/authenticate?key=0a1b2c3d",  # the store's own status page
    "https://shop.example.com/account/orders/1001",
    "https://wholesale.example.com/orders/1001",
    "shop.example.com/account/orders/1001",
]


@pytest.mark.parametrize(("text", "link"), SELLING)
def test_a_selling_link_in_any_form_is_found(text, link):
    assert gate.selling_links(f"Your order has shipped! Also: {text} see you") == [link]
    refusal = gate.content_refusal("transactional", f"Your order has shipped! {text}")
    assert (refusal.action, refusal.code) == (gate.REFUSE, "selling_link")
    assert link in refusal.reason
    assert gate.content_refusal("marketing", f"Big news: {text}") is None


@pytest.mark.parametrize("link", PASSING)
def test_tracking_and_order_status_links_pass(link):
    assert gate.selling_links(f"Your order is on its way: {link}") == []
    assert gate.content_refusal("transactional", f"Your order is on its way: {link}.") is None


@pytest.mark.parametrize(
    "text",
    [
        "Hi Ana.Your order shipped.Thanks for shopping",  # words joined by a full stop are not a link
        "Your order from our sale has shipped",  # a word, not a link: only links are judged
        "Questions? Write to help@sale.shop.com",  # an e-mail address
        "Your order {{ event.order_number }} is on its way: {{ event.url }}",
        "Order 1.5kg shipped, version 2.0 of our app",
    ],
)
def test_text_that_is_not_a_link_is_not_judged(text):
    assert gate.selling_links(text) == []


def test_a_flow_check_names_a_scheme_less_selling_link():
    definition = {
        "nodes": [
            {
                "id": "shipped",
                "type": "send_message",
                "text": "Shipped! More at www.shop.com/discount/X",
                "next": "end",
            },
            {"id": "end", "type": "end"},
        ]
    }
    [check] = transactional_checks(definition)
    assert (check.node, check.message) == (
        "shipped",
        "a transactional flow may not link to a sale or an offer (www.shop.com/discount/X): link to the order or "
        "its tracking instead",
    )


@pytest.mark.django_db
class TestAtQueueTime:
    @pytest.fixture
    def shopper(self, monkeypatch):
        monkeypatch.setattr(timezone, "now", lambda: NIGHT)
        return SubscriberFactory(phone="+12125550100", time_zone="America/New_York", status="subscribed")

    @pytest.mark.parametrize(
        "link",
        [
            "https://sale.shop.com/",
            "https://deals.example.com/",
            "https://shop.com/%73ale",
            "shop.com/sale",
            "www.shop.com/discount/X",
        ],
    )
    def test_a_selling_link_is_refused_when_queued_and_nothing_is_written(self, shopper, link):
        with pytest.raises(SendRefused) as refused:
            message_queue(subscriber=shopper, body=f"Your order has shipped! See {link}", purpose="transactional")
        assert refused.value.code == "selling_link"
        assert not Message.objects.filter(subscriber=shopper).exists()

    def test_a_ups_tracking_link_is_queued_to_go_at_once(self, shopper):
        body = "Your order #1001 is out for delivery today. Track it: https://www.ups.com/track?tracknum=1Z"
        message = message_queue(subscriber=shopper, body=body, purpose="transactional")
        assert (message.status, message.not_before, message.body) == ("queued", None, body)
