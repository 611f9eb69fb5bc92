"""WooCommerce's side of the store connection: its headers, its signature, its ping, and which topic becomes what.

WooCommerce signs each delivery with X-WC-Webhook-Signature (base64 HMAC-SHA256 of the raw body under the
webhook's secret, WOOCOMMERCE_WEBHOOK_SECRET: give every webhook the same one). When a webhook is saved it first
POSTs an unsigned form body `webhook_id=<id>` and keeps the webhook only if that answers 200.

X-WC-Webhook-Delivery-ID is a hash of the webhook's id and the current second, so two different deliveries of
one webhook in the same second share it: a repeat is that id with the same body.
"""

import hashlib
import re

from django.conf import settings

from . import mapping, services
from .mapping import VariationData
from .models import Platform, WebhookDelivery
from .signing import Reason, Refusal, header_text, signature_refusal

PLATFORM = Platform.WOOCOMMERCE
SIGNATURE_HEADER = "X-WC-Webhook-Signature"
# WooCommerce never retries a delivery, and disables a webhook after 5 non-2xx answers in a row: a failure in
# Parley is recorded (and can be processed again from the admin) and answered 200.
FAILED_STATUS = 200
_PING = re.compile(rb"webhook_id=[0-9]{1,20}")


def is_ping(request) -> bool:
    """The test delivery WooCommerce sends when a webhook is saved: unsigned (or, should a plugin sign it, signed)."""
    if not _PING.fullmatch(request.body.strip()):
        return False
    return not request.headers.get(SIGNATURE_HEADER) or refusal(request) is None


def configured() -> bool:
    return bool(settings.WOOCOMMERCE_WEBHOOK_SECRET)


def refusal(request) -> Refusal | None:
    """Why this request is not WooCommerce's for this store, or None."""
    secrets = [settings.WOOCOMMERCE_WEBHOOK_SECRET, settings.WOOCOMMERCE_WEBHOOK_SECRET_PREVIOUS]
    if not configured():
        return Refusal(
            404, Reason.NOT_CONFIGURED, "WooCommerce is not connected: WOOCOMMERCE_WEBHOOK_SECRET is not set."
        )
    return signature_refusal(request.body, request.headers.get(SIGNATURE_HEADER, ""), secrets, SIGNATURE_HEADER)


def delivery_headers(request) -> services.DeliveryHeaders:
    delivery_id = header_text(request, "X-WC-Webhook-Delivery-ID", 128)
    body_hash = hashlib.sha256(request.body).hexdigest()[:32]
    return services.DeliveryHeaders(
        topic=header_text(request, "X-WC-Webhook-Topic", 100),
        delivery_id=delivery_id,
        dedupe_key=f"{delivery_id}:{body_hash}" if delivery_id else "",
        shop=header_text(request, "X-WC-Webhook-Source", 255),
    )


def _order(payload):
    return services.order_place(order=mapping.woocommerce_order(payload))


def _order_updated(payload):
    """An order counts once it is paid (order_placed), and a completed one has shipped (order_fulfilled)."""
    placed = _order(payload)
    if payload.get("status") != "completed":
        return placed
    shipped = services.fulfillment_record(fulfillment=mapping.woocommerce_fulfillment(payload))
    processed = WebhookDelivery.Outcome.PROCESSED
    outcome = processed if processed in (placed.outcome, shipped.outcome) else WebhookDelivery.Outcome.IGNORED
    return services.Handled(outcome, f"order_placed: {placed.note}; order_fulfilled: {shipped.note}")


def _product(payload):
    product = mapping.woocommerce_product(payload)
    if isinstance(product, VariationData):
        return services.variation_save(variation=product)
    return services.product_save(product=product)


def _product_deleted(payload):
    return services.product_archive(deleted=mapping.woocommerce_deleted(payload))


# order.updated counts an order once it is processing or completed; the event's idempotency key keeps it once.
# A completed order has also shipped: order_fulfilled, once per order.
TOPICS = {
    "order.created": _order,
    "order.updated": _order_updated,
    "product.created": _product,
    "product.updated": _product,
    "product.restored": _product,
    "product.deleted": _product_deleted,
}


def handler_for(topic: str):
    return TOPICS.get(topic)
