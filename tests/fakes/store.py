"""Fakes of the store's platform sending webhooks: the headers and signatures Shopify and WooCommerce send.

Shopify (shopify.dev, "Webhooks delivery structure"): X-Shopify-Topic, X-Shopify-Hmac-Sha256 (base64 HMAC-SHA256 of
the raw body under the app's client secret), X-Shopify-Shop-Domain, X-Shopify-API-Version, X-Shopify-Webhook-Id
(the same on every retry), X-Shopify-Event-Id, X-Shopify-Triggered-At.

WooCommerce (WC_Webhook::deliver): X-WC-Webhook-Source, -Topic, -Resource, -Event, -Signature (base64 HMAC-SHA256
of the raw body under the webhook's secret), -ID, -Delivery-ID; the ping when a webhook is saved is an unsigned
form body `webhook_id=<id>`.
"""

import base64
import hashlib
import hmac
import json
import uuid
from dataclasses import dataclass, field
from pathlib import Path

DATA = Path(__file__).resolve().parent.parent / "data"


def payload(name: str) -> dict:
    """A payload fixture from tests/data (shopify/orders_create.json, woocommerce/order_created.json…)."""
    return json.loads((DATA / name).read_text())


def body_of(data) -> bytes:
    return data if isinstance(data, bytes) else json.dumps(data).encode()


def sign(body: bytes, secret: str) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


@dataclass
class FakeShopify:
    """`shopify.post(client, "orders/create", payload)` posts as Shopify would; `webhook_id=` repeats a delivery."""

    secret: str
    shop_domain: str = "acme-outfitters.myshopify.com"
    api_version: str = "2026-10"
    path: str = "/webhooks/shopify/"
    sent: list[dict] = field(default_factory=list)

    def headers(self, topic: str, body: bytes, *, webhook_id: str | None = None, event_id: str | None = None):
        return {
            "Content-Type": "application/json",
            "X-Shopify-Topic": topic,
            "X-Shopify-Hmac-Sha256": sign(body, self.secret),
            "X-Shopify-Shop-Domain": self.shop_domain,
            "X-Shopify-API-Version": self.api_version,
            "X-Shopify-Webhook-Id": webhook_id or str(uuid.uuid4()),
            "X-Shopify-Event-Id": event_id or str(uuid.uuid4()),
            "X-Shopify-Triggered-At": "2026-11-30T15:15:00.123456Z",
        }

    def post(self, client, topic: str, data, *, webhook_id=None, event_id=None, **overrides):
        body = body_of(data)
        headers = {**self.headers(topic, body, webhook_id=webhook_id, event_id=event_id), **overrides}
        headers = {name: value for name, value in headers.items() if value is not None}
        self.sent.append(headers)
        return client.generic("POST", self.path, body, content_type=headers.pop("Content-Type"), headers=headers)


@dataclass
class FakeWooCommerce:
    """`woo.post(client, "order.created", payload)` posts as WooCommerce would; `woo.ping(client)` as at set-up."""

    secret: str
    webhook_id: int = 31
    source: str = "https://shop.example.com/"
    path: str = "/webhooks/woocommerce/"

    def headers(self, topic: str, body: bytes, *, delivery_id: str | None = None):
        resource, _, event = topic.partition(".")
        return {
            "Content-Type": "application/json",
            "User-Agent": "WooCommerce/9.4.2 Hookshot (WordPress/6.7.1)",
            "X-WC-Webhook-Source": self.source,
            "X-WC-Webhook-Topic": topic,
            "X-WC-Webhook-Resource": resource,
            "X-WC-Webhook-Event": event,
            "X-WC-Webhook-Signature": sign(body, self.secret),
            "X-WC-Webhook-ID": str(self.webhook_id),
            # wp_hash(webhook id . time()): an md5-shaped hash, the same for one webhook within a second
            "X-WC-Webhook-Delivery-ID": delivery_id or hashlib.md5(uuid.uuid4().bytes).hexdigest(),
        }

    def post(self, client, topic: str, data, *, delivery_id=None, **overrides):
        body = body_of(data)
        headers = {**self.headers(topic, body, delivery_id=delivery_id), **overrides}
        headers = {name: value for name, value in headers.items() if value is not None}
        return client.generic("POST", self.path, body, content_type=headers.pop("Content-Type"), headers=headers)

    def ping(self, client):
        return client.generic(
            "POST",
            self.path,
            f"webhook_id={self.webhook_id}".encode(),
            content_type="application/x-www-form-urlencoded",
            headers={"User-Agent": "WooCommerce/9.4.2 Hookshot (WordPress/6.7.1)"},
        )
