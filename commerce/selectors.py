"""What the Store connection page reads: which platform is connected, and what its webhooks brought lately.

A fixed number of queries, whatever the number of deliveries kept.
"""

from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db.models import Count, Q, Subquery
from django.utils import timezone

from . import shopify, woocommerce
from .models import Checkout, Platform, WebhookDelivery, WebhookRefusal

ADAPTERS = {Platform.SHOPIFY: shopify, Platform.WOOCOMMERCE: woocommerce}
RECENT = timedelta(hours=24)


@dataclass
class TopicRow:
    topic: str
    last: WebhookDelivery | None = None
    counts: dict[str, int] = field(default_factory=dict)  # outcome → deliveries in the last 24 hours


@dataclass
class Connection:
    platform: str
    label: str
    connected: bool
    webhook_path: str
    settings_hint: str
    details: list[tuple[str, str]]
    topics: list[TopicRow]
    other_topics: list[TopicRow]  # topics Parley does not use that arrived lately (recorded as ignored)
    refusals: dict[str, int]  # reason → refusals since yesterday
    webhook_url: str = ""


def store_connections(*, now=None) -> list[Connection]:
    """Shopify then WooCommerce: settings, the topics to subscribe, the last delivery of each, recent refusals."""
    now = now or timezone.now()
    since = now - RECENT
    # The newest delivery of each topic Parley uses: one indexed look-up per topic, sent as one query.
    newest = Q()
    for platform, adapter in ADAPTERS.items():
        for topic in adapter.TOPICS:
            one = WebhookDelivery.objects.filter(platform=platform, topic=topic).order_by("-id").values("id")[:1]
            newest |= Q(id=Subquery(one))
    last = {(d.platform, d.topic): d for d in WebhookDelivery.objects.filter(newest).order_by()}
    counts: dict[tuple[str, str], dict[str, int]] = {}
    recent = (
        WebhookDelivery.objects.filter(received_at__gte=since)
        .values_list("platform", "topic", "outcome")
        .annotate(n=Count("id"))
        .order_by()
    )
    for platform, topic, outcome, n in recent:
        counts.setdefault((platform, topic), {})[outcome] = n
    refusals: dict[str, dict[str, int]] = {}
    for refusal in WebhookRefusal.objects.filter(day__gte=since.date()):
        by_reason = refusals.setdefault(refusal.platform, {})
        label = refusal.get_reason_display()
        by_reason[label] = by_reason.get(label, 0) + refusal.count

    connections = []
    for platform, adapter in ADAPTERS.items():
        others = sorted({topic for p, topic in counts if p == platform and topic not in adapter.TOPICS})
        connections.append(
            Connection(
                platform=platform,
                label=Platform(platform).label,
                connected=adapter.configured(),
                webhook_path=f"/webhooks/{platform}/",
                settings_hint=_settings_hint(platform),
                details=_details(platform),
                topics=[_row(platform, topic, last, counts) for topic in adapter.TOPICS],
                other_topics=[_row(platform, topic, last, counts) for topic in others],
                refusals=refusals.get(platform, {}),
            )
        )
    return connections


def _row(platform, topic, last, counts) -> TopicRow:
    return TopicRow(topic=topic, last=last.get((platform, topic)), counts=counts.get((platform, topic), {}))


def _settings_hint(platform: str) -> str:
    if platform == Platform.SHOPIFY:
        return "Set SHOPIFY_WEBHOOK_SECRET (your app's client secret) and SHOPIFY_SHOP_DOMAIN, then restart Parley."
    return "Set WOOCOMMERCE_WEBHOOK_SECRET (the secret you give every webhook in WooCommerce), then restart Parley."


def _details(platform: str) -> list[tuple[str, str]]:
    """What is configured, never the secrets themselves."""
    if platform == Platform.SHOPIFY:
        rows = [
            ("Shop domain", settings.SHOPIFY_SHOP_DOMAIN or "any (SHOPIFY_SHOP_DOMAIN is not set)"),
            ("Storefront", shopify.store_url() or "unknown (set COMMERCE_STORE_URL)"),
        ]
        previous = settings.SHOPIFY_WEBHOOK_SECRET_PREVIOUS
    else:
        rows = [("Storefront", settings.COMMERCE_STORE_URL or "each product's own permalink")]
        previous = settings.WOOCOMMERCE_WEBHOOK_SECRET_PREVIOUS
    if previous:
        rows.append(("Secret rotation", "in progress: deliveries signed with the previous secret are accepted"))
    return rows


@dataclass
class WaitingCheckouts:
    total: int
    minutes: int
    soonest: list[Checkout]  # the next to be called abandoned, with `due_at` set


def checkouts_waiting(*, limit: int = 20) -> WaitingCheckouts:
    """Checkouts with a phone and no order yet: how many, and the next ones to become `cart_abandoned`."""
    minutes = settings.CHECKOUT_ABANDONED_MINUTES
    waiting = Checkout.objects.waiting()
    soonest = list(waiting.order_by("touched_at", "id")[:limit])
    for checkout in soonest:
        checkout.due_at = checkout.touched_at + timedelta(minutes=minutes) if checkout.touched_at else None
    return WaitingCheckouts(total=waiting.count(), minutes=minutes, soonest=soonest)
