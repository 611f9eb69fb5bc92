"""Order updates: a shipment becomes `order_fulfilled`, `order_out_for_delivery` or `order_delivered` for the
subscriber whose order it is, once per fulfillment and stage, whatever the platform sends again."""

from conversations.event_types import ORDER_DELIVERED, ORDER_FULFILLED, ORDER_OUT_FOR_DELIVERY
from conversations.models import Event, Subscriber
from conversations.services.events import event_record

from ..mapping import DELIVERED, FULFILLED, OUT_FOR_DELIVERY, WOOCOMMERCE, Fulfillment
from ..models import WebhookDelivery
from .phones import phones_normalize
from .webhooks import Handled

Outcome = WebhookDelivery.Outcome

EVENT_TYPES = {FULFILLED: ORDER_FULFILLED, OUT_FOR_DELIVERY: ORDER_OUT_FOR_DELIVERY, DELIVERED: ORDER_DELIVERED}


def fulfillment_key(fulfillment: Fulfillment) -> str:
    """The event's idempotency key: each stage of a shipment counts once, whichever topic or retry brings it.

    A WooCommerce order is its own single shipment, and the Shipment Tracking plugin often adds the tracking
    number in a later update of the completed order: that number is part of the key, so the shopper then gets the
    update with the link too.
    """
    key = f"{fulfillment.platform}:fulfillment:{fulfillment.id}:{fulfillment.stage}"
    if fulfillment.platform == WOOCOMMERCE and fulfillment.tracking_number:
        key += f":{fulfillment.tracking_number}"[:40]
    return key[:128]


def fulfillment_record(*, fulfillment: Fulfillment) -> Handled:
    """Record the event of a shipment's stage for the subscriber of its order (found by the order's `order_placed`
    event, else by the phones it holds); a shipment of no one Parley knows makes no one."""
    if not fulfillment.stage:
        return Handled(Outcome.IGNORED, f"the shipment is {fulfillment.status or 'not sent yet'}: no order update")
    subscriber, order_number, why = _subscriber_of(fulfillment)
    if subscriber is None:
        return Handled(Outcome.IGNORED, why)
    event_type = EVENT_TYPES[fulfillment.stage]
    properties = fulfillment.as_properties()
    properties["order_number"] = properties["order_number"] or order_number
    result = event_record(
        subscriber=subscriber,
        type=event_type,
        properties=properties,
        occurred_at=fulfillment.happened_at,
        idempotency_key=fulfillment_key(fulfillment),
    )
    if not result.created:
        return Handled(Outcome.IGNORED, f"{event_type} of this shipment was recorded already (event {result.event.pk})")
    return Handled(Outcome.PROCESSED, f"{event_type} recorded (event {result.event.pk})")


def fulfillments_record(*, fulfillments: tuple[Fulfillment, ...]) -> Handled:
    """Every shipment of an order (Shopify's orders/fulfilled): processed when any of them made an event."""
    if not fulfillments:
        return Handled(Outcome.IGNORED, "the order lists no fulfillments")
    notes, outcome = [], Outcome.IGNORED
    for fulfillment in fulfillments:
        handled = fulfillment_record(fulfillment=fulfillment)
        notes.append(f"fulfillment {fulfillment.id}: {handled.note}")
        if handled.outcome == Outcome.PROCESSED:
            outcome = Outcome.PROCESSED
    return Handled(outcome, "; ".join(notes))


def _subscriber_of(fulfillment: Fulfillment) -> tuple[Subscriber | None, str, str]:
    """(the subscriber, the order's number from its order_placed event, why no one) for a shipment."""
    order_key = f"{fulfillment.platform}:order:{fulfillment.order_id}"
    placed = Event.objects.filter(idempotency_key=order_key).select_related("subscriber").first()
    if placed is not None:
        return placed.subscriber, str(placed.properties.get("order_number") or ""), ""
    numbers, problems = phones_normalize(fulfillment.phones)
    subscribers = {s.phone: s for s in Subscriber.objects.filter(phone__in=numbers)}
    subscriber = next((subscribers[number] for number in numbers if number in subscribers), None)
    if subscriber is not None:
        return subscriber, "", ""
    why = f"order {fulfillment.order_id} is unknown (no order_placed event) and "
    why += "no subscriber has its phone number" if fulfillment.phones else "the shipment names no buyer's phone"
    return None, "", why + (f" ({' '.join(problems)})" if problems else "")
