"""Checkouts from the store, and the abandonment Shopify never announces.

A checkout with a phone that no order completes within CHECKOUT_ABANDONED_MINUTES of the shopper's last change
becomes one `cart_abandoned` event (README, "Checkouts and abandoned carts"): Shopify sends checkouts/create and
checkouts/update, but nothing when a shopper walks away.
"""

from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import DateTimeField, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from conversations.event_types import CART_ABANDONED, CHECKOUT_STARTED
from conversations.models import Subscriber
from conversations.services.events import event_record

from ..mapping import CheckoutData
from ..mapping.reading import as_number
from ..models import Checkout, Product, Variant, WebhookDelivery
from .phones import phones_normalize
from .webhooks import Handled

Outcome = WebhookDelivery.Outcome
ABANDON_BATCH = 200


def checkout_key(platform: str, token: str, what: str) -> str:
    """The idempotency key of a checkout's event: `shopify:checkout:<token>:started` or `…:abandoned`."""
    return f"{platform}:checkout:{token}:{what}"


def checkout_save(*, checkout: CheckoutData) -> Handled:
    """Keep the checkout as the platform last described it; `checkout_started` once, for a known subscriber."""
    now = timezone.now()
    phone, phone_problem, subscriber = _phone_of(checkout)
    properties = _properties(checkout)
    with transaction.atomic():
        row = _locked_row(checkout.platform, checkout.token)
        kept = row.platform_updated_at
        if kept and checkout.updated_at and checkout.updated_at <= kept:
            older = "an older version of" if checkout.updated_at < kept else "the version already kept of"
            return Handled(Outcome.IGNORED, f"{older} checkout {checkout.token} (updated_at); nothing changed")
        row.cart_token = checkout.cart_token
        row.external_id = checkout.id
        row.phone, row.phone_problem = phone, phone_problem
        row.abandoned_checkout_url = checkout.abandoned_checkout_url
        row.total, row.currency, row.item_count = checkout.total, checkout.currency, checkout.item_count
        row.properties = properties
        row.started_at = row.started_at or checkout.created_at or now
        row.platform_updated_at = checkout.updated_at
        row.touched_at = min(checkout.updated_at or checkout.created_at or now, now)
        if checkout.completed_at and row.completed_at is None:
            row.completed_at = checkout.completed_at
        notes = []
        if subscriber is not None and not row.started_recorded:
            started = event_record(
                subscriber=subscriber,
                type=CHECKOUT_STARTED,
                properties=properties,
                occurred_at=checkout.created_at or now,
                idempotency_key=checkout_key(checkout.platform, checkout.token, "started"),
            )
            row.started_recorded = True
            notes.append(f"checkout_started recorded (event {started.event.pk})")
        if not phone:
            notes.append(f"{phone_problem}; it cannot be called abandoned")
        elif subscriber is None:
            notes.append("no subscriber has its phone number (none is made); no event is recorded for it")
        if row.completed_at:
            notes.append("completed by an order: it will not be called abandoned")
        elif row.abandoned_at:
            notes.append("called abandoned already")
        elif phone:
            notes.append(
                f"cart_abandoned if no order completes it within {settings.CHECKOUT_ABANDONED_MINUTES} minutes"
            )
        row.note = "; ".join(notes)[:500]
        row.save()
    return Handled(Outcome.PROCESSED, f"checkout {checkout.token} saved: {row.note}")


def checkout_complete(*, platform: str, token: str, order_id: str, completed_at: datetime | None = None) -> None:
    """An order names its checkout: it is completed and never called abandoned, even if the checkout comes later."""
    if not token:
        return
    when = completed_at or timezone.now()
    rows = Checkout.objects.filter(platform=platform, token=token)
    completed = {"completed_at": Coalesce("completed_at", Value(when, output_field=DateTimeField()))}
    if rows.filter(order_id="").update(order_id=order_id, **completed) or rows.exists():
        return
    try:
        with transaction.atomic():
            # The order came before its checkout: the checkout's own delivery will find this row completed.
            Checkout.objects.create(
                platform=platform, token=token, order_id=order_id, completed_at=when, note="completed by an order"
            )
    except IntegrityError:  # its checkout was saved at this very moment
        rows.filter(order_id="").update(order_id=order_id, **completed)


def checkouts_abandon_due(now: datetime | None = None) -> int:
    """Call abandoned each waiting checkout untouched for CHECKOUT_ABANDONED_MINUTES: one cart_abandoned each, once.

    Safe in several workers at once: a batch is claimed with SELECT … FOR UPDATE SKIP LOCKED (PostgreSQL), and the
    event's idempotency key holds where rows cannot be locked (SQLite, whose writers take turns anyway).
    """
    now = now or timezone.now()
    cutoff = now - timedelta(minutes=settings.CHECKOUT_ABANDONED_MINUTES)
    done = 0
    while True:
        with transaction.atomic():
            batch = list(
                Checkout.objects.due(cutoff).order_by("touched_at").select_for_update(skip_locked=True)[:ABANDON_BATCH]
            )
            subscribers = {s.phone: s for s in Subscriber.objects.filter(phone__in={c.phone for c in batch})}
            for checkout in batch:
                subscriber = subscribers.get(checkout.phone)
                checkout.abandoned_at = checkout.updated_at = now
                if subscriber is None:
                    checkout.note = "called abandoned; no subscriber has its phone number, so no cart_abandoned event"
                    continue
                result = event_record(
                    subscriber=subscriber,
                    type=CART_ABANDONED,
                    properties=checkout.properties,
                    occurred_at=now,
                    idempotency_key=checkout_key(checkout.platform, checkout.token, "abandoned"),
                )
                recorded = "recorded" if result.created else "was recorded already"
                checkout.note = f"cart_abandoned {recorded} (event {result.event.pk})"
            Checkout.objects.bulk_update(batch, ["abandoned_at", "updated_at", "note"])
        done += len(batch)
        if len(batch) < ABANDON_BATCH:
            return done


def _locked_row(platform: str, token: str) -> Checkout:
    """The checkout's row, locked for this transaction; made now when this is its first delivery."""
    for _ in range(2):
        row = Checkout.objects.select_for_update().filter(platform=platform, token=token).first()
        if row is not None:
            return row
        try:
            with transaction.atomic():
                return Checkout.objects.create(platform=platform, token=token)
        except IntegrityError:  # the same checkout, arriving at once: read it again
            continue
    raise IntegrityError(f"checkout {token} could be neither created nor found")


def _phone_of(checkout: CheckoutData) -> tuple[str, str, Subscriber | None]:
    """The number to keep: the first that belongs to a subscriber, else the first that parses; or why there is none."""
    numbers, problems = phones_normalize(checkout.phones)
    if not numbers:
        return "", " ".join(problems).rstrip(".") or "the checkout holds no phone number", None
    subscribers = {s.phone: s for s in Subscriber.objects.filter(phone__in=numbers)}
    phone = next((number for number in numbers if number in subscribers), numbers[0])
    return phone, "", subscribers.get(phone)


def _properties(checkout: CheckoutData) -> dict:
    """The checkout_started and cart_abandoned events' properties; product pages and images from the catalog."""
    products = {
        product.external_id: product
        for product in Product.objects.filter(
            platform=checkout.platform, external_id__in={item.product_id for item in checkout.items if item.product_id}
        )
    }
    variant_images = dict(
        Variant.objects.filter(
            product__in=list(products.values()),
            external_id__in={item.variant_id for item in checkout.items if item.variant_id},
        ).values_list("external_id", "image_url")
    )
    items = []
    for item in checkout.items:
        product = products.get(item.product_id)
        image = variant_images.get(item.variant_id) or (product.image_url if product else "")
        items.append(item.as_properties(url=product.url if product else "", image_url=image))
    return {
        "checkout_token": checkout.token,
        "url": checkout.abandoned_checkout_url,
        "abandoned_checkout_url": checkout.abandoned_checkout_url,
        "total": as_number(checkout.total) if checkout.total is not None else 0,
        "currency": checkout.currency,
        "item_count": checkout.item_count,
        "items": items,
        "platform": checkout.platform,
    }
