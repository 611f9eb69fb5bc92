"""Shopify's side of the store connection: its headers, its signature, and which topic becomes what.

Shopify signs every delivery with X-Shopify-Hmac-Sha256 (base64 HMAC-SHA256 of the raw body under the app's
client secret, SHOPIFY_WEBHOOK_SECRET); during a rotation, deliveries signed with SHOPIFY_WEBHOOK_SECRET_PREVIOUS
are accepted too (Shopify may take up to an hour to sign with the new one). X-Shopify-Webhook-Id is the same on
every retry of a delivery, X-Shopify-Event-Id the same for one event delivered more than once.
"""

from django.conf import settings
from django.utils.dateparse import parse_datetime

from . import mapping, services
from .models import Platform
from .signing import Reason, Refusal, header_text, signature_refusal

PLATFORM = Platform.SHOPIFY
SIGNATURE_HEADER = "X-Shopify-Hmac-Sha256"
# A failure in Parley answers 503: Shopify retries the delivery (same id), and the retry is processed again.
FAILED_STATUS = 503


def configured() -> bool:
    return bool(settings.SHOPIFY_WEBHOOK_SECRET)


def store_url() -> str:
    """Where product pages live: the storefront, else the myshopify.com domain (which redirects to it)."""
    if settings.COMMERCE_STORE_URL:
        return settings.COMMERCE_STORE_URL.rstrip("/")
    return f"https://{settings.SHOPIFY_SHOP_DOMAIN}" if settings.SHOPIFY_SHOP_DOMAIN else ""


def refusal(request) -> Refusal | None:
    """Why this request is not Shopify's for this store, or None."""
    secrets = [settings.SHOPIFY_WEBHOOK_SECRET, settings.SHOPIFY_WEBHOOK_SECRET_PREVIOUS]
    if not configured():
        return Refusal(404, Reason.NOT_CONFIGURED, "Shopify is not connected: SHOPIFY_WEBHOOK_SECRET is not set.")
    refused = signature_refusal(request.body, request.headers.get(SIGNATURE_HEADER, ""), secrets, SIGNATURE_HEADER)
    if refused:
        return refused
    expected = _domain(settings.SHOPIFY_SHOP_DOMAIN)
    if expected and _domain(request.headers.get("X-Shopify-Shop-Domain", "")) != expected:
        return Refusal(403, Reason.WRONG_SHOP, "X-Shopify-Shop-Domain is not this store's (SHOPIFY_SHOP_DOMAIN).")
    return None


def delivery_headers(request) -> services.DeliveryHeaders:
    webhook_id = header_text(request, "X-Shopify-Webhook-Id", 128)
    triggered = header_text(request, "X-Shopify-Triggered-At", 40)
    try:
        triggered_at = parse_datetime(triggered) if triggered else None
    except ValueError:
        triggered_at = None
    return services.DeliveryHeaders(
        topic=header_text(request, "X-Shopify-Topic", 100),
        delivery_id=webhook_id,
        dedupe_key=webhook_id,
        event_id=header_text(request, "X-Shopify-Event-Id", 128),
        shop=header_text(request, "X-Shopify-Shop-Domain", 255),
        api_version=header_text(request, "X-Shopify-API-Version", 32),
        triggered_at=triggered_at if triggered_at and triggered_at.tzinfo else None,
    )


def _order(payload):
    return services.order_place(order=mapping.shopify_order(payload))


def _checkout(payload):
    return services.checkout_save(checkout=mapping.shopify_checkout(payload))


def _product(payload):
    return services.product_save(product=mapping.shopify_product(payload, store_url=store_url()))


def _product_deleted(payload):
    return services.product_archive(deleted=mapping.shopify_deleted(payload))


def _fulfillment(payload):
    return services.fulfillment_record(fulfillment=mapping.shopify_fulfillment(payload))


def _order_fulfilled(payload):
    return services.fulfillments_record(fulfillments=mapping.shopify_order_fulfillments(payload))


def _inventory(payload):
    return services.inventory_level_set(platform=PLATFORM, level=mapping.shopify_inventory_level(payload))


def _customer(payload):
    return services.customer_consent_sync(customer=mapping.shopify_customer(payload))


# The topics Parley uses, and what each becomes (README, "Connect your store"). Any other is recorded as ignored.
TOPICS = {
    "orders/create": _order,
    "orders/paid": _order,
    "checkouts/create": _checkout,
    "checkouts/update": _checkout,
    "products/create": _product,
    "products/update": _product,
    "products/delete": _product_deleted,
    "inventory_levels/update": _inventory,
    "fulfillments/create": _fulfillment,
    "fulfillments/update": _fulfillment,
    "orders/fulfilled": _order_fulfilled,
    "customers/create": _customer,
    "customers/update": _customer,
    "customers_marketing_consent/update": _customer,
}


def handler_for(topic: str):
    return TOPICS.get(topic)


def _domain(value: str) -> str:
    value = value.strip().lower()
    for prefix in ("https://", "http://"):
        value = value.removeprefix(prefix)
    return value.rstrip("/")
