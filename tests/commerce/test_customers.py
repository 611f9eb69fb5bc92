"""Shopify's customers and their SMS consent, through the webhook URL, signed as Shopify signs.

Fixtures: tests/data/shopify/customers_update.json (the REST Customer with `sms_marketing_consent`, as API versions
before 2025-01 send it in customers/create and customers/update), customers_marketing_consent_update.json (the
consent webhook: the customer's id, phone and that object) and customers_create.json (Shopify's example for
2025-01 on, which holds no SMS consent).
"""

import copy
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from commerce.mapping import PayloadError, shopify_customer
from commerce.models import PlatformCustomer, WebhookDelivery
from conversations.models import ConsentEvent, Message, Subscriber
from conversations.outbox import message_queue
from conversations.services import compliance_text, inbound_receive
from tests.factories import SubscriberFactory
from tests.fakes.store import payload

pytestmark = pytest.mark.django_db

Outcome = WebhookDelivery.Outcome
PHONE = "+14155550142"  # the fixtures' customer
CONSENT_TOPIC = "customers_marketing_consent/update"
DECIDED = datetime(2026, 11, 30, 15, 14, 52, tzinfo=UTC)  # the fixtures' consent_updated_at, 10:14:52-05:00
# What a consent record from Shopify proves it by (the delivery is not among them: a handler is given the payload only).
PROOF = ("platform", "customer_id", "state", "consent_updated_at", "consent_collected_from", "opt_in_level")


def consent(state: str, *, at: str = "2026-11-30T10:14:52-05:00", phone: str = PHONE) -> dict:
    """The consent webhook's body with another state, time or phone."""
    body = payload("shopify/customers_marketing_consent_update.json")
    body["phone"] = phone
    body["sms_marketing_consent"].update(state=state, consent_updated_at=at)
    return body


def customer_update(**changes) -> dict:
    body = payload("shopify/customers_update.json")
    body.update(changes)
    return body


def delivery() -> WebhookDelivery:
    return WebhookDelivery.objects.order_by("-id").first()


def outbound(phone: str = PHONE):
    return Message.objects.filter(direction=Message.Direction.OUTBOUND, subscriber__phone=phone).order_by("id")


def test_subscribed_in_shopify_makes_a_subscriber_with_the_consent_and_texts_the_terms_once(client, shopify, console):
    response = shopify.post(client, "customers/update", payload("shopify/customers_update.json"))

    assert response.status_code == 200, response.content
    subscriber = Subscriber.objects.get(phone=PHONE)
    assert subscriber.status == Subscriber.Status.SUBSCRIBED
    assert (subscriber.first_name, subscriber.last_name, subscriber.email) == ("Bob", "Biller", "bob@example.com")
    assert subscriber.consent_source == "shopify"
    assert subscriber.opted_in_at == DECIDED
    record = ConsentEvent.objects.get(phone=PHONE)
    assert (record.kind, record.source, record.occurred_at) == ("opt_in", "shopify", DECIDED)
    assert record.get_source_display() == "Shopify"
    assert record.details["customer_id"] == "706405506930370084"
    assert record.details["consent_collected_from"] == "SHOPIFY"
    assert record.details["opt_in_level"] == "single_opt_in"
    assert record.details["program_terms"] == compliance_text("SMS_OPT_IN_CONFIRMATION")
    link = PlatformCustomer.objects.get()
    assert (link.platform, link.external_id, link.subscriber, link.sms_state) == (
        "shopify",
        "706405506930370084",
        subscriber,
        "subscribed",
    )
    assert delivery().outcome == Outcome.PROCESSED

    # The CTIA confirmation (program, frequency, rates, HELP/STOP), and no double opt-in request: Shopify asked.
    [text] = outbound()
    assert text.body == compliance_text("SMS_OPT_IN_CONFIRMATION")
    assert text.purpose == Message.Purpose.SYSTEM
    assert console.send_due().sent == 1
    assert console.printed.count("Reply HELP for help, STOP to cancel.") == 1
    assert "Reply Y" not in console.printed


def test_the_same_consent_again_and_later_updates_text_nothing_more(client, shopify, console):
    body = payload("shopify/customers_update.json")
    shopify.post(client, "customers/update", body, webhook_id="retried-delivery")
    repeat = shopify.post(client, "customers/update", body, webhook_id="retried-delivery")  # Shopify's retry
    again = shopify.post(client, CONSENT_TOPIC, consent("subscribed"))  # the same consent by its own topic
    later = shopify.post(
        client,
        "customers/update",
        customer_update(
            last_name="Biller-Smith",
            sms_marketing_consent={**body["sms_marketing_consent"], "consent_updated_at": "2026-12-01T09:00:00-05:00"},
        ),
    )

    assert [repeat.status_code, again.status_code, later.status_code] == [200, 200, 200]
    assert list(WebhookDelivery.objects.order_by("id").values_list("outcome", flat=True)) == [
        "processed",
        "duplicate",
        "ignored",
        "ignored",
    ]
    assert "subscribed already: nothing sent" in delivery().detail
    assert outbound().count() == 1
    assert ConsentEvent.objects.filter(phone=PHONE).count() == 1
    assert console.send_due().sent == 1
    assert console.send_due().sent == 0


def test_unsubscribed_in_shopify_opts_the_number_out_without_a_text(client, shopify, console, subscriber):
    waiting = message_queue(subscriber=subscriber, body="20% off today", purpose=Message.Purpose.MARKETING)

    response = shopify.post(client, CONSENT_TOPIC, consent("unsubscribed", phone="(415) 555-0100"))

    assert response.status_code == 200
    subscriber.refresh_from_db()
    assert subscriber.status == Subscriber.Status.UNSUBSCRIBED
    record = ConsentEvent.objects.get(phone=subscriber.phone)
    assert (record.kind, record.source, record.occurred_at) == ("opt_out", "shopify", DECIDED)
    assert delivery().outcome == Outcome.PROCESSED
    waiting.refresh_from_db()
    assert waiting.status == Message.Status.FAILED  # what waited for them is cancelled
    assert outbound(subscriber.phone).count() == 1  # no opt-out confirmation: they did not text STOP
    assert console.send_due().sent == 0
    assert console.printed == ""


def test_a_number_that_texted_stop_is_never_subscribed_again_by_shopify(client, shopify, console, subscriber):
    inbound_receive(from_number=subscriber.phone, body="STOP")
    confirmations = outbound(subscriber.phone).count()

    response = shopify.post(
        client, CONSENT_TOPIC, consent("subscribed", at="2026-12-31T10:00:00-05:00", phone=subscriber.phone)
    )

    assert response.status_code == 200
    subscriber.refresh_from_db()
    assert subscriber.status == Subscriber.Status.UNSUBSCRIBED
    assert delivery().outcome == Outcome.IGNORED
    assert "opted out in Parley" in delivery().detail and "texting START" in delivery().detail
    assert ConsentEvent.objects.filter(phone=subscriber.phone, kind="opt_in").count() == 0
    assert outbound(subscriber.phone).count() == confirmations  # the STOP confirmation only


def test_an_opt_out_from_shopify_too_is_never_undone_by_a_later_sync(client, shopify, subscriber):
    shopify.post(client, CONSENT_TOPIC, consent("unsubscribed", phone=subscriber.phone))
    shopify.post(client, CONSENT_TOPIC, consent("subscribed", at="2026-12-01T10:00:00-05:00", phone=subscriber.phone))

    subscriber.refresh_from_db()
    assert subscriber.status == Subscriber.Status.UNSUBSCRIBED
    assert delivery().outcome == Outcome.IGNORED
    assert outbound(subscriber.phone).count() == 0


def test_a_phone_that_does_not_parse_is_recorded_with_the_reason_and_makes_no_subscriber(client, shopify):
    response = shopify.post(client, CONSENT_TOPIC, consent("subscribed", phone="555-12"))

    assert response.status_code == 200
    assert delivery().outcome == Outcome.IGNORED
    assert "the customer's phone" in delivery().detail and "no subscriber made" in delivery().detail
    assert "555-12" not in delivery().detail
    assert not Subscriber.objects.exists()
    assert not ConsentEvent.objects.exists()


def test_an_older_subscribe_than_the_numbers_last_consent_record_changes_nothing(client, shopify, console):
    ConsentEvent.objects.create(
        phone=PHONE, kind="opt_in", source="import", occurred_at=datetime(2026, 11, 30, 16, tzinfo=UTC)
    )

    late = shopify.post(client, CONSENT_TOPIC, consent("subscribed"))  # decided at 15:14:52 UTC

    assert late.status_code == 200
    assert delivery().outcome == Outcome.IGNORED
    assert "2026-11-30 15:14:52 UTC is older than the number's last consent record" in delivery().detail
    assert "2026-11-30 16:00:00 UTC" in delivery().detail
    assert not Subscriber.objects.exists()
    assert not outbound().exists()


def test_an_unsubscribe_older_than_shopifys_own_subscribe_is_honoured_all_the_same(client, shopify, console):
    """Shopify's deliveries out of order: a subscribe is not the shopper's own word in Parley, so the opt-out wins."""
    shopify.post(client, CONSENT_TOPIC, consent("subscribed", at="2026-11-30T10:14:52-05:00"))
    late = shopify.post(client, CONSENT_TOPIC, consent("unsubscribed", at="2026-11-29T08:00:00-05:00"))

    assert late.status_code == 200
    subscriber = Subscriber.objects.get(phone=PHONE)
    assert subscriber.status == Subscriber.Status.UNSUBSCRIBED
    assert delivery().outcome == Outcome.PROCESSED
    assert "honoured all the same" in delivery().detail and "opt-in by Shopify" in delivery().detail
    opt_in, opt_out = ConsentEvent.objects.order_by("id")
    assert (opt_out.kind, opt_out.source) == ("opt_out", "shopify")
    assert opt_out.occurred_at >= opt_in.occurred_at  # the number's last word is the opt-out
    assert opt_out.details["consent_updated_at"] == "2026-11-29T08:00:00-05:00"  # Shopify's own time, kept
    assert opt_out.details["later_record_overridden"] == opt_in.pk
    link = PlatformCustomer.objects.get()
    assert (link.sms_state, link.consent_updated_at) == ("subscribed", DECIDED)  # the newest state is kept

    # And a later subscribe from Shopify never undoes it.
    shopify.post(client, CONSENT_TOPIC, consent("subscribed", at="2026-12-01T10:00:00-05:00"))
    assert Subscriber.objects.get(phone=PHONE).status == Subscriber.Status.UNSUBSCRIBED
    assert "texting START" in delivery().detail


@pytest.mark.parametrize("source", ["import", "admin", "api", "agent"])
def test_an_unsubscribe_is_honoured_over_a_later_opt_in_the_shopper_did_not_make(client, shopify, subscriber, source):
    ConsentEvent.objects.create(
        subscriber=subscriber,
        phone=subscriber.phone,
        kind="opt_in",
        source=source,
        occurred_at=datetime(2026, 12, 1, 9, tzinfo=UTC),  # after Shopify's decision below
    )

    response = shopify.post(client, CONSENT_TOPIC, consent("unsubscribed", phone=subscriber.phone))

    assert response.status_code == 200
    subscriber.refresh_from_db()
    assert subscriber.status == Subscriber.Status.UNSUBSCRIBED
    assert delivery().outcome == Outcome.PROCESSED
    assert "not an opt-in the shopper made themselves: the unsubscribe is honoured all the same" in delivery().detail
    last = ConsentEvent.objects.filter(phone=subscriber.phone).order_by("-occurred_at", "-id").first()
    assert (last.kind, last.source) == ("opt_out", "shopify")


def test_an_unsubscribe_is_honoured_when_parleys_clock_is_a_little_ahead(client, shopify, subscriber):
    """An opt-in by the API recorded seconds after Shopify's time for the unsubscribe: the unsubscribe still wins."""
    from conversations.services import subscriber_opt_in

    subscriber_opt_in(subscriber=subscriber, source="api", details={"form": "partner app"})
    decided = ConsentEvent.objects.get().occurred_at - timedelta(seconds=3)

    shopify.post(client, CONSENT_TOPIC, consent("unsubscribed", at=decided.isoformat(), phone=subscriber.phone))

    subscriber.refresh_from_db()
    assert subscriber.status == Subscriber.Status.UNSUBSCRIBED
    assert delivery().outcome == Outcome.PROCESSED


def test_an_older_unsubscribe_than_the_shoppers_own_start_changes_nothing_and_says_so(client, shopify, subscriber):
    inbound_receive(from_number=subscriber.phone, body="STOP")
    inbound_receive(from_number=subscriber.phone, body="START")  # now, after the Shopify decision below
    ConsentEvent.objects.create(  # an import after their START does not hide it
        subscriber=subscriber, phone=subscriber.phone, kind="opt_in", source="import", occurred_at=timezone.now()
    )

    shopify.post(client, CONSENT_TOPIC, consent("unsubscribed", at="2026-11-30T10:14:52-05:00", phone=subscriber.phone))

    subscriber.refresh_from_db()
    assert subscriber.status == Subscriber.Status.SUBSCRIBED
    assert delivery().outcome == Outcome.IGNORED
    assert "older than the shopper's own opt-in in Parley (START by text" in delivery().detail
    assert "their later word stands" in delivery().detail
    assert "2026-11-30 15:14:52 UTC" in delivery().detail


def test_a_start_before_shopifys_unsubscribe_does_not_stop_it(client, shopify, subscriber):
    inbound_receive(from_number=subscriber.phone, body="STOP")
    inbound_receive(from_number=subscriber.phone, body="START")
    later = (timezone.now() + timedelta(seconds=1)).isoformat()  # the shopper unsubscribed in Shopify afterwards

    shopify.post(client, CONSENT_TOPIC, consent("unsubscribed", at=later, phone=subscriber.phone))

    subscriber.refresh_from_db()
    assert subscriber.status == Subscriber.Status.UNSUBSCRIBED
    assert delivery().outcome == Outcome.PROCESSED


def test_an_older_unsubscribe_than_the_shoppers_own_y_to_a_web_sign_up_changes_nothing(client, shopify, settings):
    from conversations.models import SignupForm
    from conversations.signup.demo import signup_form_load

    settings.SIGNUP_LIMIT_PER_IP = 10
    signup_form_load()
    SignupForm.objects.filter(slug="welcome").update(allowed_origins="https://shop.example.com")
    signed_up = client.post(
        "/signup/welcome/",
        {"phone": "(415) 555-0142", "consent": True, "page_url": "https://shop.example.com/"},
        content_type="application/json",
        HTTP_ORIGIN="https://shop.example.com",
    )
    assert signed_up.status_code == 201, signed_up.content
    inbound_receive(from_number=PHONE, body="Y")
    assert Subscriber.objects.get(phone=PHONE).status == Subscriber.Status.SUBSCRIBED

    shopify.post(client, CONSENT_TOPIC, consent("unsubscribed"))  # Shopify's decision of 2026-11-30

    assert Subscriber.objects.get(phone=PHONE).status == Subscriber.Status.SUBSCRIBED
    assert delivery().outcome == Outcome.IGNORED
    assert "the shopper's own opt-in in Parley (their Y to a web sign-up" in delivery().detail


def test_the_consent_records_keep_shopifys_proof(client, shopify):
    shopify.post(client, "customers/update", payload("shopify/customers_update.json"))
    body = consent("unsubscribed", at="2026-12-01T10:00:00-05:00")
    body["sms_marketing_consent"]["consent_collected_from"] = "OTHER"
    shopify.post(client, CONSENT_TOPIC, body)

    opt_in, opt_out = ConsentEvent.objects.filter(phone=PHONE).order_by("id")
    assert {key: opt_in.details[key] for key in PROOF} == {
        "platform": "shopify",
        "customer_id": "706405506930370084",
        "state": "subscribed",
        "consent_updated_at": "2026-11-30T10:14:52-05:00",  # as Shopify stated it
        "consent_collected_from": "SHOPIFY",
        "opt_in_level": "single_opt_in",
    }
    assert opt_out.details["consent_updated_at"] == "2026-12-01T10:00:00-05:00"
    assert opt_out.details["consent_collected_from"] == "OTHER"
    assert opt_out.details["customer_id"] == "706405506930370084"


@pytest.mark.parametrize("state", ["pending", "not_subscribed"])
def test_pending_and_not_subscribed_change_nothing(client, shopify, subscriber, state):
    response = shopify.post(client, CONSENT_TOPIC, consent(state, phone=subscriber.phone))

    assert response.status_code == 200
    assert delivery().outcome == Outcome.IGNORED
    assert f"Shopify says {state}: nothing changes" in delivery().detail
    subscriber.refresh_from_db()
    assert subscriber.status == Subscriber.Status.SUBSCRIBED
    assert not ConsentEvent.objects.exists()
    assert not Message.objects.exists()


def test_pending_makes_no_subscriber(client, shopify):
    shopify.post(client, CONSENT_TOPIC, consent("pending"))

    assert not Subscriber.objects.exists()


def test_redacted_erases_the_platform_data_and_never_subscribes(client, shopify, subscriber):
    shopify.post(client, "customers/create", customer_update(phone=subscriber.phone, sms_marketing_consent=None))
    assert PlatformCustomer.objects.filter(subscriber=subscriber).exists()

    response = shopify.post(client, CONSENT_TOPIC, consent("redacted", phone=subscriber.phone))

    assert response.status_code == 200
    assert delivery().outcome == Outcome.PROCESSED
    assert not PlatformCustomer.objects.exists()
    assert list(WebhookDelivery.objects.values_list("body", flat=True)) == [None, None]
    subscriber.refresh_from_db()
    assert subscriber.status == Subscriber.Status.SUBSCRIBED  # their own consent to Parley stands
    assert not ConsentEvent.objects.exists()


def test_shopifys_customers_create_example_holds_no_sms_consent(client, shopify):
    response = shopify.post(client, "customers/create", payload("shopify/customers_create.json"))

    assert response.status_code == 200
    assert delivery().outcome == Outcome.IGNORED
    assert "holds no SMS consent" in delivery().detail
    assert not Subscriber.objects.exists()


def test_a_consent_state_that_is_not_text_is_refused_naming_the_field(client, shopify):
    body = consent("subscribed")
    body["sms_marketing_consent"]["state"] = 1

    response = shopify.post(client, CONSENT_TOPIC, body)

    assert response.status_code == 400
    assert "sms_marketing_consent.state must be text" in response.json()["detail"]
    assert delivery().outcome == Outcome.REJECTED
    assert not Subscriber.objects.exists()


def test_an_unsubscribe_without_a_phone_finds_the_customer_linked_before(client, shopify):
    shopify.post(client, CONSENT_TOPIC, consent("subscribed"))
    body = consent("unsubscribed", at="2026-12-01T10:00:00-05:00")
    body["phone"] = None

    shopify.post(client, CONSENT_TOPIC, body)

    assert Subscriber.objects.get(phone=PHONE).status == Subscriber.Status.UNSUBSCRIBED


# --- the pure mapping -------------------------------------------------------------------------------------------


def test_the_mapping_reads_shopifys_consent_object():
    customer = shopify_customer(payload("shopify/customers_update.json"))

    assert (customer.id, customer.phone, customer.first_name) == ("706405506930370084", PHONE, "Bob")
    consent = customer.sms_consent
    assert (consent.state, consent.opt_in_level, consent.collected_from) == ("subscribed", "single_opt_in", "SHOPIFY")
    assert consent.updated_at == DECIDED


def test_the_mapping_reads_the_consent_webhooks_example_with_nothing_decided_as_no_consent():
    body = payload("shopify/customers_marketing_consent_update.json")
    body["sms_marketing_consent"] = {
        "state": None,
        "opt_in_level": None,
        "consent_updated_at": None,
        "consent_collected_from": "other",
    }

    assert shopify_customer(body).sms_consent is None


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"id": None}, "id is missing"),
        ({"sms_marketing_consent": "subscribed"}, "sms_marketing_consent must be a JSON object"),
        ({"sms_marketing_consent": {"state": "subscribed", "consent_updated_at": "yesterday"}}, "consent_updated_at"),
    ],
)
def test_the_mapping_names_what_it_cannot_read(change, message):
    body = copy.deepcopy(payload("shopify/customers_marketing_consent_update.json"))
    body.update(change)

    with pytest.raises(PayloadError, match=message):
        shopify_customer(body)


def test_a_subscriber_made_elsewhere_keeps_their_own_name(client, shopify):
    SubscriberFactory(phone=PHONE, first_name="Roberta", last_name="", status=Subscriber.Status.PENDING)

    shopify.post(client, "customers/update", payload("shopify/customers_update.json"))

    subscriber = Subscriber.objects.get(phone=PHONE)
    assert (subscriber.status, subscriber.first_name, subscriber.last_name) == ("subscribed", "Roberta", "Biller")


def test_a_shopify_opt_in_starts_the_welcome_flow_after_the_confirmation(client, shopify, console):
    from flows.models import FlowRun
    from flows.services import flow_templates_load

    flow_templates_load()

    shopify.post(client, CONSENT_TOPIC, consent("subscribed"))

    subscriber = Subscriber.objects.get(phone=PHONE)
    assert FlowRun.objects.filter(subscriber=subscriber, flow__name="Welcome quiz").exists()
    assert outbound().first().body == compliance_text("SMS_OPT_IN_CONFIRMATION")
