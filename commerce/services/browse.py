"""Browse tracking: the pop-up's script reports a known shopper's product and collection views as events.

A view becomes `product_viewed` or `collection_viewed` (properties per the shared contract of issue #17) for the
subscriber the signed identifier names, once per shopper and product (or collection) in BROWSE_REPEAT_MINUTES.
The catalog's title, link, image and price win over what the page says; a URL that is not on the store's own site
is refused, since these links end up in texts.
"""

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings
from django.db.models import CharField, Exists, Max, OuterRef, Value
from django.db.models.functions import Cast, Concat
from django.utils import timezone

from conversations import event_types
from conversations.models import Event, SignupForm, Subscriber
from conversations.services.events import event_record
from conversations.signup.identity import NOBODY, IdentityRefused, browse_identity_read, origin_of, without_identity

from ..mapping.browse import COLLECTION, PageView
from ..mapping.reading import as_number
from ..models import Product


class ViewRefused(Exception):
    """The report is refused: `status` is the HTTP answer, `reason` a short code, the message names the problem."""

    def __init__(self, status: int, reason: str, message: str):
        super().__init__(message)
        self.status, self.reason = status, reason


@dataclass(frozen=True)
class ViewOutcome:
    recorded: bool  # False: a repeat within BROWSE_REPEAT_MINUTES, or a shopper whose views are not kept
    detail: str


def store_origins(form: SignupForm) -> set[str]:
    """The store's own sites: the form's allowed origins and COMMERCE_STORE_URL's."""
    return {origin_of(origin) for origin in [*form.origins, settings.COMMERCE_STORE_URL] if origin} - {""}


def page_address(url: str) -> str:
    """The page's address as texts may link to it: without the shopper's identifier and the campaign parameters
    (utm_*) of the visit that brought them, which a later text must not repeat; the store's own query stays."""
    parts = urlsplit(without_identity(url))
    kept = [part for part in parts.query.split("&") if part and not part.lower().startswith("utm_")]
    return urlunsplit(parts._replace(query="&".join(kept), fragment=""))


def page_view_record(*, form: SignupForm, view: PageView) -> ViewOutcome:
    """Record one view reported through `form`'s script, or raise ViewRefused naming why not.

    Only subscribed shoppers' views are kept; an identifier that names nobody (a sign-up that texted no one) or a
    shopper who is pending or unsubscribed is answered like any other, so that the answer tells nothing about a
    number, and nothing is written.
    """
    if not form.track_browsing:
        raise ViewRefused(403, "off", f"browse tracking is off for the sign-up form {form.slug!r}")
    try:
        subscriber_id = browse_identity_read(view.identity)
    except IdentityRefused as refused:
        raise ViewRefused(403, refused.reason, str(refused)) from None
    origins = store_origins(form)
    url = page_address(view.url)
    if origin_of(url) not in origins:
        raise ViewRefused(
            400, "elsewhere", f"url must be on the store's own site ({', '.join(sorted(origins)) or 'none named'})"
        )
    if subscriber_id == NOBODY:
        return ViewOutcome(False, "the identifier names no subscriber")
    subscriber = Subscriber.objects.filter(pk=subscriber_id).first()
    if subscriber is None:
        raise ViewRefused(404, "unknown", "no subscriber has this identifier any more")
    if subscriber.status != Subscriber.Status.SUBSCRIBED:
        return ViewOutcome(False, "only subscribed shoppers' views are kept")
    if view.kind == COLLECTION:
        type, subject = event_types.COLLECTION_VIEWED, f"collection:{view.collection}"
        properties = {"collection": view.collection, "title": view.title, "url": url}
    else:
        type = event_types.PRODUCT_VIEWED
        subject, properties = _product(view, url, origins)
    result = event_record(
        subscriber=subscriber, type=type, properties=properties, idempotency_key=_repeat_key(subscriber, subject)
    )
    if not result.created:
        return ViewOutcome(False, f"viewed already in the last {settings.BROWSE_REPEAT_MINUTES} minutes")
    return ViewOutcome(True, f"{type} recorded (event {result.event.pk})")


def _product(view: PageView, url: str, origins: set[str]) -> tuple[str, dict]:
    """(what the view is of, for the repeat key; the event's properties): the catalog's product when it knows it."""
    product = _catalog_product(view, url)
    if product is None:
        return f"page:{view.platform}:{view.product_id or view.sku or url}", {
            "product_id": view.product_id,
            "variant_id": view.variant_id,
            "title": view.title,
            "url": url,
            "image_url": view.image_url if origin_of(view.image_url) in origins else "",
            "price": as_number(view.price),
            "platform": view.platform,
        }
    variants = list(product.variants.all())
    variant = next((v for v in variants if view.variant_id and v.external_id == view.variant_id), None)
    variant = variant or next((v for v in variants if view.sku and v.sku == view.sku), None)
    priced = variant or next((v for v in variants if v.price is not None), None)
    return f"product:{product.pk}", {
        "product_id": product.external_id,
        "variant_id": variant.external_id if variant else "",
        "title": product.title,
        "url": product.url or url,
        "image_url": (variant.image_url if variant else "") or product.image_url,
        "price": as_number(priced.price) if priced else None,
        "platform": product.platform,
    }


def _catalog_product(view: PageView, url: str) -> Product | None:
    """The product the page shows: by the platform's id, else a variant's SKU, else the page's address."""
    products = Product.objects.all()
    if view.platform:
        products = products.filter(platform=view.platform)
    if view.product_id and (found := products.filter(external_id=view.product_id).first()):
        return found
    if view.sku and (found := products.filter(variants__sku=view.sku).first()):
        return found
    return products.filter(url=url.split("?", 1)[0].split("#", 1)[0]).exclude(url="").first()


def _repeat_key(subscriber: Subscriber, subject: str) -> str:
    """The same shopper and subject within the same BROWSE_REPEAT_MINUTES window share this key: one event."""
    window = int(timezone.now().timestamp() // (settings.BROWSE_REPEAT_MINUTES * 60))
    digest = hashlib.sha256(subject.encode()).hexdigest()[:24]
    return f"browse:{subscriber.pk}:{digest}:{window}"


# What a shopper does that means they did not walk away from what they viewed.
_WENT_ON = (event_types.CHECKOUT_STARTED, event_types.CART_ABANDONED, event_types.ORDER_PLACED)
ABANDON_BATCH = 500


def browse_abandon_due(*, now: datetime | None = None) -> str:
    """Due work: a shopper whose last product view is BROWSE_ABANDONED_MINUTES old, and who has neither viewed
    another product, started a checkout nor ordered since, gets one `browse_abandoned` with that view's product.

    The view's own id is the event's idempotency key, so the every-minute sweep (and two workers running it)
    records it once. Views older than a day past the delay are left alone: a nudge that late would be no help.
    """
    now = now or timezone.now()
    cutoff = now - timedelta(minutes=settings.BROWSE_ABANDONED_MINUTES)
    last_views = (
        Event.objects.filter(type=event_types.PRODUCT_VIEWED, occurred_at__gt=cutoff - timedelta(days=1))
        .values("subscriber_id")
        .annotate(last_id=Max("id"), last_at=Max("occurred_at"))
        .filter(last_at__lte=cutoff)
        .values_list("last_id", flat=True)
    )
    went_on = Event.objects.filter(
        subscriber_id=OuterRef("subscriber_id"), type__in=_WENT_ON, occurred_at__gte=OuterRef("occurred_at")
    )
    noted = Event.objects.filter(idempotency_key=OuterRef("abandoned_key"))
    views = list(
        Event.objects.filter(id__in=last_views)
        .exclude(Exists(went_on))
        .annotate(abandoned_key=_abandoned_key_sql())
        .exclude(Exists(noted))
        .select_related("subscriber")
        .order_by("id")[:ABANDON_BATCH]
    )
    recorded = 0
    for view in views:
        result = event_record(
            subscriber=view.subscriber,
            type=event_types.BROWSE_ABANDONED,
            properties={**view.properties, "viewed_at": view.occurred_at.isoformat()},
            idempotency_key=abandoned_key(view.pk),
        )
        recorded += result.created
    return f"{recorded} browse_abandoned"


def abandoned_key(view_id: int) -> str:
    return f"browse:abandoned:{view_id}"


def _abandoned_key_sql():
    """abandoned_key() in SQL, to leave out the views already noted in the same query."""
    return Concat(Value("browse:abandoned:"), Cast("id", CharField()), output_field=CharField())
