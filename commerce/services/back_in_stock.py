"""Back in stock: a shopper's request to be told when a product (in their size) is back, and the telling.

A request waits for its variant (or, with no size known, any variant of its product) to go from out of stock to in
stock. The catalog's writers (webhooks, inventory levels, catalog files) hand the variants they put back in stock
to `back_in_stock_notify`, inside their own transaction: the oldest waiting requests, no more than the stock, each
become one `back_in_stock` event (keyed by the request, so it is recorded once); the rest wait for the next
restock. The shipped "Back in stock" flow texts them through the outbox like any marketing text.
"""

from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from conversations import event_types
from conversations.models import Subscriber
from conversations.phones import normalize_phone_field
from conversations.services.events import event_record

from ..mapping.reading import as_number
from ..models import BackInStockRequest, Product, Variant

Source = BackInStockRequest.Source


def back_in_stock_request_by_phone(*, phone: str, variant: str, source: str = Source.API):
    """The API's request: the subscriber by `phone`, the variant by the platform's id or SKU; problems by field."""
    subscriber = _subscriber(phone)
    row = _variant(variant)
    return back_in_stock_request(subscriber=subscriber, product=row.product, variant=row, source=source)


def back_in_stock_request(
    *,
    subscriber: Subscriber,
    product: Product,
    variant: Variant | None = None,
    source: str,
    now: datetime | None = None,
) -> tuple[BackInStockRequest, bool]:
    """Record a waiting request (variant: the one in their size, or None). The same one waiting already is returned
    as it is (created False): one waiting request per subscriber and variant (or product, without a size)."""
    now = now or timezone.now()
    same = BackInStockRequest.objects.waiting().filter(subscriber=subscriber, product=product, variant=variant)
    existing = same.first()
    if existing is not None:
        return existing, False
    try:
        with transaction.atomic():
            row = BackInStockRequest.objects.create(
                subscriber=subscriber,
                product=product,
                variant=variant,
                source=source,
                requested_at=now,
                expires_at=now + timedelta(days=settings.BACK_IN_STOCK_DAYS),
            )
    except IntegrityError:  # the same request twice at once: the other one made it
        return same.get(), False
    return row, True


def back_in_stock_notify(*, variants: list[Variant], now: datetime | None = None) -> int:
    """Variants just back in stock (their `product` loaded): each one's oldest waiting, unexpired requests, as many
    as its stock (all of them when stock is not counted), become one `back_in_stock` event each.

    Call it in the transaction that wrote the stock. Returns the number of events recorded."""
    now = now or timezone.now()
    recorded = 0
    for variant in variants:
        limit = _stock(variant)
        if limit == 0:
            continue
        waiting = (
            BackInStockRequest.objects.waiting()
            .filter(expires_at__gt=now)
            .filter(Q(variant=variant) | Q(variant__isnull=True, product_id=variant.product_id))
            .select_related("subscriber")
            .select_for_update(of=("self",))
            .order_by("requested_at", "id")
        )
        requests = list(waiting[:limit] if limit is not None else waiting)
        if not requests:
            continue
        BackInStockRequest.objects.filter(pk__in=[row.pk for row in requests]).update(
            status=BackInStockRequest.Status.NOTIFIED, notified_at=now
        )
        properties = back_in_stock_properties(variant)
        for row in requests:
            result = event_record(
                subscriber=row.subscriber,
                type=event_types.BACK_IN_STOCK,
                properties=properties,
                idempotency_key=back_in_stock_key(row.pk),
            )
            recorded += result.created
    return recorded


def back_in_stock_properties(variant: Variant) -> dict:
    product = variant.product
    return {
        "product_id": product.external_id,
        "variant_id": variant.external_id,
        "title": product.title,
        "variant_title": variant.title,
        "url": product.url,
        "image_url": variant.image_url or product.image_url,
        "price": as_number(variant.price),
        "platform": product.platform,
    }


def back_in_stock_key(request_id: int) -> str:
    return f"back_in_stock:{request_id}"


def back_in_stock_expire_due(*, now: datetime | None = None) -> str:
    """Due work: waiting requests past their `expires_at` expire (one UPDATE)."""
    now = now or timezone.now()
    expired = (
        BackInStockRequest.objects.waiting()
        .filter(expires_at__lte=now)
        .update(status=BackInStockRequest.Status.EXPIRED)
    )
    return f"{expired} back-in-stock request{'s' if expired != 1 else ''} expired"


def _stock(variant: Variant) -> int | None:
    """How many requests a restock may answer: the counted stock, or None (all) when it is not counted."""
    if variant.inventory_tracked and variant.inventory_quantity is not None and not variant.sells_when_out:
        return max(variant.inventory_quantity, 0)
    return None


def _subscriber(phone: str) -> Subscriber:
    phone = normalize_phone_field(phone)
    subscriber = Subscriber.objects.filter(phone=phone).first()
    if subscriber is None:
        raise ValidationError({"phone": ["no subscriber has this number; sign them up first"]})
    if subscriber.status != Subscriber.Status.SUBSCRIBED:
        raise ValidationError(
            {"phone": [f"this number is not subscribed to texts (it is {subscriber.get_status_display().lower()})"]}
        )
    return subscriber


def _variant(value: str) -> Variant:
    """The catalog's variant with this platform id, else this SKU (a product deleted in the store is not asked)."""
    value = value.strip()
    rows = Variant.objects.select_related("product").exclude(product__status=Product.Status.ARCHIVED)
    if value:
        by_id = list(rows.filter(external_id=value)[:2])
        found = by_id or list(rows.filter(sku=value)[:2])
    else:
        found = []
    if not found:
        raise ValidationError({"variant": [f"no variant in the catalog has the id or SKU {value[:64]!r}"]})
    if len(found) > 1:
        raise ValidationError({"variant": [f"{value[:64]!r} names several variants; give the platform's variant id"]})
    if found[0].in_stock:
        raise ValidationError({"variant": ["this variant is in stock now: there is nothing to wait for"]})
    return found[0]
