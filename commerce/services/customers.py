"""Customers and their SMS consent, from the store's platform (Shopify's customers webhooks).

`subscribed` makes or updates the subscriber with the customer's number and records the opt-in with Shopify as
its source (no double opt-in text: Shopify collected the consent), then queues the program's terms, the CTIA
opt-in confirmation, once: only when the number becomes subscribed, never for a repeat or a later update.
`unsubscribed` opts the number out, silently (the shopper did not text STOP), and is always honoured (compliance.md
section 1: a revocation by any reasonable means), unless the shopper opted in again themselves in Parley after
Shopify's `consent_updated_at` (START or JOIN by text, their Y to a web sign-up): then their own later word stands
and the delivery says so. A later opt-in nobody made by their own hand (an import, the admin, the API, Shopify's
own subscribe) does not stand in its way. Nothing a sync sends resubscribes a number whose last consent word in
Parley was an opt-out, and a `subscribed` older than the number's last consent record changes nothing. `pending`
and `not_subscribed` change nothing; `redacted` erases what Parley holds of the customer's platform data (the link,
the kept bodies of their deliveries) and never subscribes. A customer first linked to a subscriber who has opted
out in Parley already is told to Shopify as unsubscribed (a consent push), unless this delivery says so itself.

The consent record keeps Shopify's customer id, state, `consent_updated_at`, `consent_collected_from` and
`opt_in_level`; not the delivery it came in, which a topic's handler is not given (it takes the payload only).
"""

import hashlib
from datetime import UTC, datetime

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from conversations.models import ConsentEvent, Message, Subscriber
from conversations.outbox import message_queue
from conversations.phones import normalize_phone
from conversations.services.compliance import compliance_text
from conversations.services.subscribers import subscriber_create, subscriber_opt_in, subscriber_opt_out
from conversations.signals import send_isolated, subscriber_opted_in

from ..mapping import Customer, SmsConsent
from ..mapping.customers import NOT_SUBSCRIBED, PENDING, REDACTED, SUBSCRIBED, UNSUBSCRIBED
from ..models import PlatformCustomer, WebhookDelivery
from .consent_push import consent_push_for_link
from .webhooks import Handled

Outcome = WebhookDelivery.Outcome
SOURCE = ConsentEvent.Source.SHOPIFY


def customer_consent_sync(*, customer: Customer) -> Handled:
    """Apply what the platform says about a customer's SMS consent to the subscriber with their number."""
    consent = customer.sms_consent
    if consent is not None and consent.state == REDACTED:
        return _redact(customer)
    phone, phone_problem = _phone(customer.phone)
    with transaction.atomic():
        subscriber = Subscriber.objects.select_for_update().filter(phone=phone).first() if phone else None
        linked_before = subscriber is not None and _link_of(customer).filter(subscriber=subscriber).exists()
        handled = _sync(customer, consent, phone, phone_problem, subscriber)
        if subscriber is not None and not linked_before:
            handled = _tell_platform_of_opt_out(customer, consent, subscriber, handled)
        return handled


def _sync(customer: Customer, consent: SmsConsent | None, phone: str, phone_problem: str, subscriber) -> Handled:
    if consent is None:
        _link(customer, subscriber, consent)
        note = "the payload holds no SMS consent (from API version 2025-01 on, Shopify sends it in "
        note += "customers_marketing_consent/update)"
        return Handled(Outcome.IGNORED, note + (f"; linked to subscriber {subscriber.pk}" if subscriber else ""))
    if consent.state == SUBSCRIBED:
        return _subscribe(customer, consent, phone, phone_problem, subscriber)
    if consent.state == UNSUBSCRIBED:
        # An unsubscribe is honoured for the number it names, else for the subscriber linked before (the
        # consent webhook may leave the phone out).
        return _unsubscribe(customer, consent, phone_problem, subscriber or _linked_subscriber(customer))
    _link(customer, subscriber, consent)
    if consent.state in (PENDING, NOT_SUBSCRIBED):
        return Handled(Outcome.IGNORED, f"Shopify says {consent.state}: nothing changes in Parley")
    return Handled(Outcome.IGNORED, f"Parley does not know the SMS consent state {consent.state!r}: nothing changes")


def _tell_platform_of_opt_out(customer: Customer, consent: SmsConsent | None, subscriber, handled: Handled) -> Handled:
    """The customer is linked to this subscriber for the first time: if they opted out in Parley, Shopify learns it.

    Not when this delivery itself says unsubscribed (Shopify knows), and only once the link is made.
    """
    if consent is not None and consent.state == UNSUBSCRIBED:
        return handled
    subscriber.refresh_from_db(fields=["status", "opted_out_at"])
    if subscriber.status != Subscriber.Status.UNSUBSCRIBED:
        return handled
    link = _link_of(customer).filter(subscriber=subscriber).first()
    if link is None or consent_push_for_link(customer=link, subscriber=subscriber) is None:
        return handled
    note = f"{handled.note}; the number opted out in Parley before: Shopify is told the customer is unsubscribed"
    return Handled(handled.outcome, note)


def _subscribe(customer: Customer, consent: SmsConsent, phone: str, phone_problem: str, subscriber) -> Handled:
    if not phone:
        return Handled(Outcome.IGNORED, f"Shopify says subscribed, but {phone_problem}: no subscriber made")
    last = _last_consent(phone)
    if last is not None and last.kind == ConsentEvent.Kind.OPT_OUT:
        _link(customer, subscriber, consent)
        return Handled(
            Outcome.IGNORED,
            f"the number opted out in Parley on {last.occurred_at:%Y-%m-%d} ({last.get_source_display()}): a store "
            "sync never subscribes it again; only the shopper can, by texting START",
        )
    if subscriber is not None and subscriber.status == Subscriber.Status.SUBSCRIBED:
        _link(customer, subscriber, consent)
        _fill_in(subscriber, customer)
        return Handled(Outcome.IGNORED, f"subscriber {subscriber.pk} is subscribed already: nothing sent")
    at = _decided_at(consent)
    if last is not None and last.occurred_at > at:
        _link(customer, subscriber, consent)
        return Handled(Outcome.IGNORED, _older(at, last))
    if subscriber is None:
        subscriber = _new_subscriber(phone, customer)
        if subscriber.status == Subscriber.Status.SUBSCRIBED:  # another delivery subscribed them a moment ago
            _link(customer, subscriber, consent)
            return Handled(Outcome.IGNORED, f"subscriber {subscriber.pk} is subscribed already: nothing sent")
    else:
        _fill_in(subscriber, customer)
    terms = compliance_text("SMS_OPT_IN_CONFIRMATION")  # the program's terms, as they are texted to them
    subscriber_opt_in(
        subscriber=subscriber,
        source=SOURCE,
        details={
            **_proof(customer, consent),
            "program_terms": terms,
            "program_terms_sha256": hashlib.sha256(terms.encode()).hexdigest(),
        },
        at=at,
    )
    _link(customer, subscriber, consent)
    message_queue(subscriber=subscriber, body=terms, purpose=Message.Purpose.SYSTEM, origin=Message.Origin.SYSTEM)
    send_isolated(subscriber_opted_in, sender=Subscriber, subscriber=subscriber, message=None)
    return Handled(
        Outcome.PROCESSED, f"subscriber {subscriber.pk} subscribed from Shopify; the opt-in confirmation queued"
    )


def _unsubscribe(customer: Customer, consent: SmsConsent, phone_problem: str, subscriber) -> Handled:
    if subscriber is None:
        _link(customer, None, consent)
        why = phone_problem or "no subscriber has the customer's number"
        return Handled(Outcome.IGNORED, f"Shopify says unsubscribed, but {why}: nobody to opt out")
    _link(customer, subscriber, consent)
    if subscriber.status == Subscriber.Status.UNSUBSCRIBED:
        return Handled(Outcome.IGNORED, f"subscriber {subscriber.pk} has opted out already")
    at = _decided_at(consent)
    word = _shoppers_later_word(subscriber.phone, at)
    if word is not None and word.kind == ConsentEvent.Kind.OPT_IN:
        return Handled(
            Outcome.IGNORED,
            f"Shopify's unsubscribe of {_utc(at)} is older than the shopper's own opt-in in Parley ({_how(word)}, "
            f"{_utc(word.occurred_at)}): their later word stands; nothing changes",
        )
    last = _last_consent(subscriber.phone)
    details = _proof(customer, consent)
    note = ""
    if last is not None and last.occurred_at > at:
        # A later record no shopper made (an import, the admin, the API, Shopify's own subscribe, a clock ahead of
        # Shopify's) does not outweigh the shopper's revocation. Dated now, so that it is the number's last word.
        details["later_record_overridden"] = last.pk
        note = (
            f" (Shopify's decision of {_utc(at)} is older than the number's last consent record, "
            f"{last.get_kind_display().lower()} by {_how(last)} of {_utc(last.occurred_at)}, "
            "not an opt-in the shopper made themselves: the unsubscribe is honoured all the same, as of now)"
        )
        at = max(timezone.now(), last.occurred_at)
    # No text: the shopper did not text STOP, so there is nothing to confirm by text.
    subscriber_opt_out(subscriber=subscriber, source=SOURCE, details=details, at=at)
    return Handled(Outcome.PROCESSED, f"subscriber {subscriber.pk} opted out from Shopify; nothing sent{note}")


def _redact(customer: Customer) -> Handled:
    """Shopify erased the customer's consent data: so does Parley, of what it holds from the platform."""
    with transaction.atomic():
        PlatformCustomer.objects.filter(platform=customer.platform, external_id=customer.id).delete()
        WebhookDelivery.objects.filter(
            platform=customer.platform, resource_id=customer.id, topic__startswith="customers"
        ).update(body=None)
    return Handled(
        Outcome.PROCESSED,
        "Shopify redacted the customer's SMS consent: the link to them and the kept bodies of their deliveries "
        "are erased; nobody subscribed",
    )


def _phone(raw: str) -> tuple[str, str]:
    """The customer's number in E.164 and "", or "" and why there is none (never quoting the number)."""
    if not raw:
        return "", "the customer has no phone number"
    try:
        return normalize_phone(raw), ""
    except ValidationError as error:
        return "", error.messages[0].replace(repr(raw), "the customer's phone", 1)


def _link_of(customer: Customer):
    return PlatformCustomer.objects.filter(platform=customer.platform, external_id=customer.id)


def _linked_subscriber(customer: Customer) -> Subscriber | None:
    linked = _link_of(customer).filter(subscriber__isnull=False)
    return Subscriber.objects.select_for_update().filter(pk__in=linked.values("subscriber_id")).first()


def _link(customer: Customer, subscriber: Subscriber | None, consent: SmsConsent | None) -> None:
    """Remember the customer, their subscriber and the newest consent state the platform sent."""
    linked = {"subscriber": subscriber} if subscriber is not None else {}
    state = {"sms_state": consent.state, "consent_updated_at": consent.updated_at} if consent is not None else {}
    if not linked and not state:
        return
    rows = PlatformCustomer.objects.filter(platform=customer.platform, external_id=customer.id)
    if not rows.exists():
        try:
            with transaction.atomic():
                PlatformCustomer.objects.create(platform=customer.platform, external_id=customer.id, **linked, **state)
            return
        except IntegrityError:  # the same customer, in another delivery at the same moment: update theirs
            pass
    now = timezone.now()
    if linked:
        rows.update(**linked, updated_at=now)
    if state and consent.updated_at is not None:  # an older state than the one kept is not the newest
        rows = rows.filter(Q(consent_updated_at__isnull=True) | Q(consent_updated_at__lte=consent.updated_at))
    if state:
        rows.update(**state, updated_at=now)


def _last_consent(phone: str) -> ConsentEvent | None:
    """The number's last word on consent (an opt-in or an opt-out), even if its subscriber was deleted since."""
    return (
        ConsentEvent.objects.filter(phone=phone, kind__in=[ConsentEvent.Kind.OPT_IN, ConsentEvent.Kind.OPT_OUT])
        .order_by("-occurred_at", "-id")
        .first()
    )


# An opt-in the shopper made by their own hand: a keyword text (START, JOIN, YES), or their Y to a web sign-up
# (the only way a web form subscribes: double opt-in, compliance.md section 2).
SHOPPERS_OWN = (ConsentEvent.Source.KEYWORD, ConsentEvent.Source.WEB)


def _shoppers_later_word(phone: str, at: datetime) -> ConsentEvent | None:
    """The number's newest record after `at` that is an opt-out (any) or an opt-in the shopper made themselves."""
    return (
        ConsentEvent.objects.filter(phone=phone, occurred_at__gt=at)
        .filter(
            Q(kind=ConsentEvent.Kind.OPT_OUT) | Q(kind=ConsentEvent.Kind.OPT_IN, source__in=SHOPPERS_OWN),
        )
        .order_by("-occurred_at", "-id")
        .first()
    )


def _how(record: ConsentEvent) -> str:
    """How a consent record came, in words (its keyword, for a text)."""
    if record.source == ConsentEvent.Source.KEYWORD and record.details.get("keyword"):
        return f"{record.details['keyword']} by text"
    if record.source == ConsentEvent.Source.WEB and record.details.get("requested"):
        return "their Y to a web sign-up"
    return record.get_source_display()


def _decided_at(consent: SmsConsent) -> datetime:
    """When the shopper decided, as Shopify says; now when it does not say (or says a time still to come)."""
    now = timezone.now()
    return min(consent.updated_at, now) if consent.updated_at else now


def _older(at: datetime, last: ConsentEvent) -> str:
    return (
        f"Shopify's decision of {_utc(at)} is older than the number's last consent record in Parley "
        f"({last.get_kind_display().lower()}, {last.get_source_display()}, {_utc(last.occurred_at)}): nothing changes"
    )


def _utc(moment: datetime) -> str:
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"


def _proof(customer: Customer, consent: SmsConsent) -> dict:
    return {"platform": customer.platform, "customer_id": customer.id, **consent.as_details()}


def _new_subscriber(phone: str, customer: Customer) -> Subscriber:
    try:
        with transaction.atomic():
            return subscriber_create(
                phone=phone,
                first_name=customer.first_name,
                last_name=customer.last_name,
                email=_email(customer.email),
            )
    except (ValidationError, IntegrityError):  # the same number made at the same moment elsewhere
        # Locked: when the other delivery is subscribing them, this waits for it and sees them subscribed.
        existing = Subscriber.objects.select_for_update().filter(phone=phone).first()
        if existing is None:
            raise
        return existing


def _fill_in(subscriber: Subscriber, customer: Customer) -> None:
    """The customer's name and e-mail where the subscriber has none: what Parley was told itself stays."""
    changed = []
    for field, value in (
        ("first_name", customer.first_name),
        ("last_name", customer.last_name),
        ("email", _email(customer.email)),
    ):
        if value and not getattr(subscriber, field):
            setattr(subscriber, field, value)
            changed.append(field)
    if changed:
        subscriber.save(update_fields=[*changed, "updated_at"])


def _email(value: str) -> str:
    try:
        validate_email(value)
    except ValidationError:
        return ""
    return value


__all__ = ["customer_consent_sync"]
