"""The transactional purpose (order updates): at any hour and beyond the caps, never after STOP, only to a
subscribed number, never with a link to a sale or an offer (compliance.md, section 3)."""

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from conversations.models import Message
from conversations.outbox import SendRefused, message_queue, outbox_send_due
from conversations.services import subscriber_opt_out
from conversations.sms import gate
from tests.factories import SubscriberFactory
from tests.fakes.twilio import twilio_configured

NIGHT = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)  # 03:00 in New York


def recipient(**overrides):
    values = {
        "phone": "+12125550100",
        "status": "subscribed",
        "opted_out_at": None,
        "last_inbound_at": None,
        "zones": ("America/New_York",),
    }
    return gate.Recipient(**{**values, **overrides})


def test_the_gate_sends_an_order_update_at_night_beyond_the_caps_and_while_an_agent_talks():
    three_today = tuple(NIGHT - timedelta(hours=hours) for hours in (1, 2, 3))
    busy = recipient(marketing_sent_at=three_today, talking=True)
    assert gate.decide(purpose="transactional", recipient=busy, now=NIGHT).action == gate.SEND
    # The same recipient, the same moment: marketing waits.
    assert gate.decide(purpose="marketing", recipient=busy, now=NIGHT).action == gate.HOLD
    assert not gate.needs_history("transactional", busy, NIGHT)


@pytest.mark.parametrize(("status", "code"), [("unsubscribed", "opted_out"), ("pending", "no_consent")])
def test_the_gate_refuses_an_order_update_to_someone_who_opted_out_or_never_agreed(status, code):
    decision = gate.decide(purpose="transactional", recipient=recipient(status=status, opted_out_at=NIGHT), now=NIGHT)
    assert (decision.action, decision.code) == (gate.REFUSE, code)


@pytest.mark.parametrize(
    "link",
    [
        "https://shop.example.com/discount/SAVE15",
        "https://shop.example.com/collections/sale",
        "https://shop.example.com/cart/?coupon=WELCOME10",
        "https://shop.example.com/pages/black-friday-deals",
        "https://shop.example.com/offers/vip",
        "https://shop.example.com?promo=1",
    ],
)
def test_a_link_to_a_sale_or_an_offer_is_refused_in_a_transactional_text(link):
    refusal = gate.content_refusal("transactional", f"Your order has shipped! Also: {link}")
    assert (refusal.action, refusal.code) == (gate.REFUSE, "selling_link")
    assert link in refusal.reason
    assert gate.content_refusal("marketing", f"Big news: {link}") is None


@pytest.mark.parametrize(
    "link",
    [
        "https://www.ups.com/track?tracknum=1Z2345E20300000000",
        "https://tools.usps.com/go/TrackConfirmAction?tLabels=9400100000000000000000",
        "https://shop.example.com/12345/orders/abcdef/authenticate?key=xyz",
        "https://wholesale.example.com/orders/1001",
        "https://shop.example.com/account/orders/1001",
    ],
)
def test_tracking_and_order_links_pass(link):
    assert gate.content_refusal("transactional", f"Your order is on its way: {link}") is None


@pytest.mark.django_db
class TestThroughTheOutbox:
    @pytest.fixture
    def twilio(self, settings):
        with twilio_configured(settings) as fake:
            yield fake

    @pytest.fixture
    def night(self, monkeypatch):
        monkeypatch.setattr(timezone, "now", lambda: NIGHT)
        return NIGHT

    @pytest.fixture
    def shopper(self):
        return SubscriberFactory(phone="+12125550100", time_zone="America/New_York", status="subscribed")

    def test_an_order_update_goes_at_3am_with_no_validity_period(self, twilio, shopper, night):
        message = message_queue(
            subscriber=shopper, body="Shipped: https://www.ups.com/track?tracknum=1Z", purpose="transactional"
        )
        assert (message.not_before, message.hold_reason) == (None, "")
        assert outbox_send_due(max_seconds=5).sent == 1
        [request] = twilio.requests
        assert request["form"]["Body"] == "Shipped: https://www.ups.com/track?tracknum=1Z"
        assert "ValidityPeriod" not in request["form"]  # it may land at any hour

    def test_order_updates_neither_meet_nor_count_toward_the_caps(self, twilio, shopper, night, settings):
        settings.SMS_DAILY_MARKETING_CAP = 1
        for index in range(3):
            message_queue(subscriber=shopper, body=f"Order update {index}", purpose="transactional")
        assert outbox_send_due(max_seconds=5).sent == 3
        assert Message.objects.counting_toward_caps().filter(subscriber=shopper).count() == 0

    def test_a_stopped_number_gets_no_order_update_even_if_one_was_queued(self, twilio, shopper, night):
        queued = message_queue(subscriber=shopper, body="Your order has shipped", purpose="transactional")
        subscriber_opt_out(subscriber=shopper, source="sms", raw_text="STOP")
        shopper.refresh_from_db()
        with pytest.raises(SendRefused) as refused:
            message_queue(subscriber=shopper, body="Your order was delivered", purpose="transactional")
        assert refused.value.code == "opted_out"
        outbox_send_due(max_seconds=5)
        assert [r["form"]["Body"] for r in twilio.requests if "shipped" in r["form"]["Body"]] == []
        queued.refresh_from_db()
        assert queued.status == "failed"

    def test_a_pending_subscriber_gets_no_order_update(self, shopper, night):
        pending = SubscriberFactory(phone="+12125550111", status="pending")
        with pytest.raises(SendRefused) as refused:
            message_queue(subscriber=pending, body="Your order has shipped", purpose="transactional")
        assert refused.value.code == "no_consent"
        assert not Message.objects.filter(subscriber=pending).exists()

    def test_a_selling_link_is_refused_when_queued_and_nothing_is_written(self, shopper, night):
        with pytest.raises(SendRefused) as refused:
            message_queue(
                subscriber=shopper,
                body="Shipped! 15% off your next order: https://shop.example.com/discount/NEXT15",
                purpose="transactional",
            )
        assert refused.value.code == "selling_link"
        assert not Message.objects.filter(subscriber=shopper).exists()
