"""Events: what a subscriber did (order placed, cart abandoned…), recorded once."""

from dataclasses import dataclass
from datetime import datetime

from django.core.exceptions import ObjectDoesNotExist
from django.db import IntegrityError, transaction
from django.utils import timezone

from ..models import Event, Subscriber
from ..phones import normalize_phone_field
from ..signals import event_recorded, send_isolated


class UnknownSubscriber(ObjectDoesNotExist):
    """No subscriber has this number."""


@dataclass
class EventResult:
    event: Event
    created: bool


def event_record(
    *,
    phone: str,
    type: str,
    properties: dict | None = None,
    occurred_at: datetime | None = None,
    idempotency_key: str | None = None,
) -> EventResult:
    """Store an event for a subscriber once (the same idempotency key again returns the first), then signal it."""
    phone = normalize_phone_field(phone)
    subscriber = Subscriber.objects.filter(phone=phone).first()
    if subscriber is None:
        raise UnknownSubscriber(f"no subscriber has the number {phone}; create the subscriber first")
    if idempotency_key:
        seen = Event.objects.filter(idempotency_key=idempotency_key).first()
        if seen is not None:
            return EventResult(seen, created=False)
    with transaction.atomic():
        try:
            with transaction.atomic():
                event = Event.objects.create(
                    subscriber=subscriber,
                    type=type,
                    properties=properties or {},
                    occurred_at=occurred_at or timezone.now(),
                    idempotency_key=idempotency_key or None,
                )
        except IntegrityError:  # the same key, sent twice at once
            return EventResult(Event.objects.get(idempotency_key=idempotency_key), created=False)
        # Flows react; if they fail, the event stays stored.
        send_isolated(event_recorded, sender=Event, subscriber=subscriber, event=event)
    return EventResult(event, created=True)


__all__ = ["UnknownSubscriber", "EventResult", "event_record"]
