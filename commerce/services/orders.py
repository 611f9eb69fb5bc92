"""Orders from the store: one `order_placed` event for the subscriber with the order's phone, once per order."""

from conversations.event_types import ORDER_PLACED
from conversations.models import Subscriber
from conversations.services.events import event_record

from ..mapping import Order
from ..models import WebhookDelivery
from .checkouts import checkout_complete
from .phones import phones_normalize
from .webhooks import Handled

Outcome = WebhookDelivery.Outcome


def order_key(order: Order) -> str:
    """The event's idempotency key: the same order counts once, whichever topic or retry brings it."""
    return f"{order.platform}:order:{order.id}"


def order_place(*, order: Order) -> Handled:
    """Record `order_placed` for the subscriber whose number the order holds; an unknown number makes no one."""
    if not order.placed:
        return Handled(Outcome.IGNORED, f"the order is {order.status or 'not placed'}; it counts once it is paid")
    # Whoever placed it, its checkout is never called abandoned.
    checkout_complete(
        platform=order.platform, token=order.checkout_token, order_id=order.id, completed_at=order.created_at
    )
    if not order.phones:
        return Handled(Outcome.IGNORED, "the order holds no phone number")
    numbers, problems = phones_normalize(order.phones)
    if not numbers:
        return Handled(Outcome.IGNORED, " ".join(problems))
    known = set(Subscriber.objects.filter(phone__in=numbers).values_list("phone", flat=True))
    phone = next((number for number in numbers if number in known), None)
    if phone is None:
        return Handled(
            Outcome.IGNORED,
            "no subscriber has the order's phone number" + (f" (and {' '.join(problems)})" if problems else ""),
        )
    result = event_record(
        phone=phone,
        type=ORDER_PLACED,
        properties=order.as_properties(),
        occurred_at=order.created_at,
        idempotency_key=order_key(order),
    )
    if not result.created:
        return Handled(Outcome.IGNORED, f"the order was recorded already (event {result.event.pk})")
    return Handled(Outcome.PROCESSED, f"order_placed recorded (event {result.event.pk})")
