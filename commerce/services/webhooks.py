"""Webhook deliveries: stored first, deduplicated, then handed to the topic's handler; refusals only counted.

What the platforms do with our answer decides the status codes (README, "Connect your store"):
- Shopify retries a delivery that gets no 2xx within 5 seconds, 8 times over 4 hours, with the same
  X-Shopify-Webhook-Id and the original body, and may remove a subscription that keeps failing.
- WooCommerce never retries: a non-2xx only counts toward disabling the webhook (after 5 failures in a row).
So: processed, ignored and duplicate answer 200; a body that cannot be read answers 400 (a retry would not help);
a failure in Parley itself answers 503 to Shopify, whose retry (same id) is processed again, and 200 to
WooCommerce, which would not retry; either way the delivery is recorded `failed` and the admin can process it again.
"""

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from conversations.middleware import UnreadableInput, check_json

from ..mapping import PayloadError
from ..models import WebhookDelivery, WebhookRefusal

log = logging.getLogger(__name__)

Outcome = WebhookDelivery.Outcome
# A delivery still `received` after this long was left by a process that died: a retry may take it over.
ABANDONED_AFTER = timedelta(minutes=2)
SWEEP_BATCH = 2000


@dataclass(frozen=True)
class DeliveryHeaders:
    """What an adapter reads from the platform's headers."""

    topic: str
    delivery_id: str
    dedupe_key: str  # what a repeat of this delivery carries; empty when the platform sent no id
    event_id: str = ""
    shop: str = ""
    api_version: str = ""
    triggered_at: datetime | None = None


@dataclass(frozen=True)
class Handled:
    """What a topic's handler made of a payload."""

    outcome: str  # Outcome.PROCESSED or Outcome.IGNORED
    note: str = ""


# A topic's handler: the decoded payload in, what came of it out; raises PayloadError for a payload it cannot read.
Handler = Callable[[dict], Handled]


@dataclass(frozen=True)
class Receipt:
    delivery: WebhookDelivery
    status: int
    detail: str


def webhook_refusal_count(*, platform: str, reason: str) -> None:
    """Count a request refused before anything in it was read (one row per platform, day and reason)."""
    day = timezone.now().date()
    rows = WebhookRefusal.objects.filter(platform=platform, day=day, reason=reason)
    if rows.update(count=F("count") + 1):
        return
    try:
        with transaction.atomic():
            WebhookRefusal.objects.create(platform=platform, day=day, reason=reason, count=1)
    except IntegrityError:  # another request made today's row first
        rows.update(count=F("count") + 1)


def webhook_receive(
    *,
    platform: str,
    headers: DeliveryHeaders,
    body: bytes,
    handler_for: Callable[[str], Handler | None],
    failed_status: int = 200,
) -> Receipt:
    """Record a signed delivery, then process it once: a repeat is recorded as a duplicate and changes nothing."""
    now = timezone.now()
    key = f"{platform}:{headers.dedupe_key}" if headers.dedupe_key else None
    fields = {
        "platform": platform,
        "topic": headers.topic,
        "delivery_id": headers.delivery_id,
        "event_id": headers.event_id,
        "shop": headers.shop,
        "api_version": headers.api_version,
        "triggered_at": headers.triggered_at,
        "received_at": now,
    }
    delivery = _claim(key, fields, now)
    if delivery.outcome == Outcome.DUPLICATE:
        log.info(
            "%s %s delivery %s repeats delivery %s", platform, headers.topic, delivery.pk, delivery.duplicate_of_id
        )
        return Receipt(delivery, 200, "already received")
    try:
        payload = json.loads(body, parse_constant=_no_constants)
        if not isinstance(payload, dict):
            raise PayloadError(f"the body must be a JSON object (got {type(payload).__name__})")
        check_json(payload)
    except (ValueError, RecursionError, UnreadableInput) as error:
        reason = _unreadable(error)
        _finish(delivery, Outcome.REJECTED, reason, body=None)
        return Receipt(delivery, 400, reason)
    delivery.body = payload
    delivery.resource_id = resource_id_of(payload)
    delivery.save(update_fields=["body", "resource_id"])
    return _process(delivery, payload, handler_for, failed_status)


def delivery_reprocess(*, delivery: WebhookDelivery, handler_for: Callable[[str], Handler | None]) -> Receipt:
    """Process a failed or rejected delivery again from its kept body (the admin's "Process again")."""
    if delivery.body is None:
        return Receipt(delivery, 400, "its body is no longer kept")
    if delivery.outcome not in (Outcome.FAILED, Outcome.REJECTED, Outcome.RECEIVED):
        return Receipt(delivery, 400, f"it was {delivery.get_outcome_display().lower()} already")
    delivery.attempts += 1
    delivery.save(update_fields=["attempts"])
    return _process(delivery, delivery.body, handler_for, failed_status=200)


def webhook_bodies_expire() -> str:
    """Clear the bodies of deliveries older than COMMERCE_WEBHOOK_BODY_DAYS (they hold personal data)."""
    cutoff = timezone.now() - timedelta(days=settings.COMMERCE_WEBHOOK_BODY_DAYS)
    cleared = 0
    while True:
        ids = list(
            WebhookDelivery.objects.filter(body__isnull=False, received_at__lt=cutoff)
            .order_by("received_at")
            .values_list("pk", flat=True)[:SWEEP_BATCH]
        )
        if not ids:
            return f"cleared {cleared} webhook bodies"
        cleared += WebhookDelivery.objects.filter(pk__in=ids).update(body=None)


def resource_id_of(payload: dict) -> str:
    """The id of what a payload is about (an order, a product, an inventory item), for the delivery log."""
    for key in ("id", "inventory_item_id"):
        value = payload.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and 0 < value < 10**64:
            return str(value)
        if isinstance(value, str) and value.isascii() and value.isdigit():
            return value[:64]
    return ""


def _claim(key: str | None, fields: dict, now: datetime) -> WebhookDelivery:
    """The row this request processes: a new one, the failed original it retries, or a duplicate row."""
    if key is None:
        return WebhookDelivery.objects.create(**fields)
    for _ in range(2):
        with transaction.atomic():
            original = WebhookDelivery.objects.select_for_update().filter(dedupe_key=key).first()
            if original is None:
                try:
                    with transaction.atomic():
                        return WebhookDelivery.objects.create(dedupe_key=key, **fields)
                except IntegrityError:  # the same delivery, arriving at once: read it again
                    continue
            abandoned = original.outcome == Outcome.RECEIVED and original.received_at < now - ABANDONED_AFTER
            if original.outcome == Outcome.FAILED or abandoned:
                original.attempts += 1
                original.outcome = Outcome.RECEIVED
                original.received_at = now
                original.save(update_fields=["attempts", "outcome", "received_at"])
                return original
            return WebhookDelivery.objects.create(
                **fields, outcome=Outcome.DUPLICATE, duplicate_of=original, processed_at=now
            )
    raise IntegrityError(f"delivery {key} could be neither created nor found")


def _process(delivery: WebhookDelivery, payload: dict, handler_for, failed_status: int) -> Receipt:
    if delivery.event_id and (
        WebhookDelivery.objects.filter(
            platform=delivery.platform,
            topic=delivery.topic,
            event_id=delivery.event_id,
            outcome__in=[Outcome.PROCESSED, Outcome.IGNORED],
        )
        .exclude(pk=delivery.pk)
        .exists()
    ):
        # Shopify sent the same event again under another delivery id.
        _finish(delivery, Outcome.DUPLICATE, "the same event was received under another delivery id")
        return Receipt(delivery, 200, "already received")
    handler = handler_for(delivery.topic)
    if handler is None:
        note = f"Parley does not use the topic {delivery.topic or '(none)'}"
        _finish(delivery, Outcome.IGNORED, note)
        return Receipt(delivery, 200, note)
    try:
        with transaction.atomic():
            handled = handler(payload)
            _finish(delivery, handled.outcome, handled.note)
    except PayloadError as error:
        reason = f"the {delivery.topic} payload cannot be read: {error}"
        _finish(delivery, Outcome.REJECTED, reason)
        return Receipt(delivery, 400, reason)
    except Exception as error:  # noqa: BLE001 - recorded, and answered so the platform retries where it can
        log.exception("%s %s delivery %s failed", delivery.platform, delivery.topic, delivery.pk)
        # Not the message, which may quote what the payload held (a phone number): the log has it, redacted.
        _finish(delivery, Outcome.FAILED, f"{error.__class__.__name__} in Parley; the log has the details")
        return Receipt(delivery, failed_status, "failed in Parley")
    log.info("%s %s delivery %s: %s", delivery.platform, delivery.topic, delivery.pk, handled.outcome)
    return Receipt(delivery, 200, handled.note or handled.outcome)


def _finish(delivery: WebhookDelivery, outcome: str, note: str, **changes) -> None:
    delivery.outcome = outcome
    delivery.detail = note
    delivery.processed_at = timezone.now()
    for name, value in changes.items():
        setattr(delivery, name, value)
    delivery.save(update_fields=["outcome", "detail", "processed_at", *changes])


def _no_constants(name: str):
    raise ValueError(f"{name} is not a number JSON allows")


def _unreadable(error: Exception) -> str:
    if isinstance(error, PayloadError):
        return str(error)
    if isinstance(error, UnicodeDecodeError):
        return "the body is not JSON: it is not valid UTF-8"
    if isinstance(error, RecursionError):
        return "the body is not JSON Parley can read: it is nested too deeply"
    if isinstance(error, UnreadableInput):
        return f"the body cannot be stored: {error}"
    return f"the body is not JSON: {error}"
