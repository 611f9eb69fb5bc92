"""Events: what a subscriber did (order placed, cart abandoned…), recorded once."""

from collections.abc import Iterable
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
    phone: str = "",
    type: str,
    properties: dict | None = None,
    occurred_at: datetime | None = None,
    idempotency_key: str | None = None,
    subscriber: Subscriber | None = None,
    signal: bool = True,
) -> EventResult:
    """Store an event for a subscriber once (the same idempotency key again returns the first), then signal it.

    Name the subscriber by `phone`, or pass the `subscriber` a caller already holds. `signal=False` stores the event
    without telling the receivers of `event_recorded` (flows, attribution): for a writer that is itself the reaction,
    such as a flow run recording its hand-off inside the run's transaction.
    """
    if subscriber is None:
        phone = normalize_phone_field(phone)
        subscriber = Subscriber.objects.filter(phone=phone).first()
        if subscriber is None:
            raise UnknownSubscriber(f"no subscriber has the number {phone}; create the subscriber first")
    if idempotency_key:
        seen = Event.objects.filter(idempotency_key=idempotency_key).first()
        if seen is not None:
            return EventResult(seen, created=False)
    if not signal and not idempotency_key:  # nothing to collide with, nobody to tell: one INSERT
        return EventResult(_event(subscriber, type, properties, occurred_at, None), created=True)
    with transaction.atomic():
        try:
            with transaction.atomic():
                event = _event(subscriber, type, properties, occurred_at, idempotency_key)
        except IntegrityError:  # the same key, sent twice at once
            return EventResult(Event.objects.get(idempotency_key=idempotency_key), created=False)
        if signal:
            # Flows react; if they fail, the event stays stored.
            send_isolated(event_recorded, sender=Event, subscriber=subscriber, event=event)
    return EventResult(event, created=True)


def events_record(
    *, subscriber: Subscriber, type: str, properties_each: Iterable[dict], occurred_at: datetime | None = None
) -> list[Event]:
    """Store several events of one type for a subscriber in one INSERT, unsignalled (as `event_record(signal=False)`).

    For a writer that records what it did itself, such as a flow run's answers (one event per answered question).
    """
    occurred_at = occurred_at or timezone.now()
    return Event.objects.bulk_create(
        Event(subscriber=subscriber, type=type, properties=properties or {}, occurred_at=occurred_at)
        for properties in properties_each
    )


def _event(subscriber: Subscriber, type: str, properties, occurred_at, idempotency_key) -> Event:
    return Event.objects.create(
        subscriber=subscriber,
        type=type,
        properties=properties or {},
        occurred_at=occurred_at or timezone.now(),
        idempotency_key=idempotency_key or None,
    )


__all__ = ["UnknownSubscriber", "EventResult", "event_record", "events_record"]
