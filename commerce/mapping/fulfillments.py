"""Fulfillments: what was shipped, how to track it and how far it got, read into one `Fulfillment`.

- Shopify `fulfillments/create` and `fulfillments/update`: the REST Fulfillment resource (`status` success, pending,
  open, cancelled, error or failure; `shipment_status`, the carrier's news: confirmed, in_transit,
  out_for_delivery, delivered, attempted_delivery, failure…; `tracking_company`, `tracking_number(s)`,
  `tracking_url(s)`, `line_items`, `destination`: the shipping address).
- Shopify `orders/fulfilled`: an Order whose `fulfillments` lists them.
- WooCommerce `order.updated` to `completed`: the order is the one shipment; the Shipment Tracking plugin (and
  Advanced Shipment Tracking) keep the tracking in the order's `_wc_shipment_tracking_items` meta.
"""

from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote

from .orders import LineItem, shopify_line_item, shopify_order, woocommerce_order
from .reading import SHOPIFY, WOOCOMMERCE, PayloadError, Reader, as_object

# How far a shipment got: each stage is texted once (order_fulfilled, order_out_for_delivery, order_delivered).
FULFILLED, OUT_FOR_DELIVERY, DELIVERED = "fulfilled", "out_for_delivery", "delivered"
# Shopify shipment statuses that say nothing a shopper needs a text for (the store follows these up itself).
_NO_NEWS = {"attempted_delivery", "failure"}

# The carriers the WooCommerce Shipment Tracking plugin names, for a tracking item without a custom link.
WOOCOMMERCE_TRACKING_LINKS = {
    "usps": "https://tools.usps.com/go/TrackConfirmAction_input?qtc_tLabels1={number}",
    "ups": "https://www.ups.com/track?loc=en_US&tracknum={number}",
    "fedex": "https://www.fedex.com/fedextrack/?trknbr={number}",
    "dhl-us": "https://www.dhl.com/us-en/home/tracking/tracking-express.html?tracking-id={number}",
}


@dataclass(frozen=True)
class Fulfillment:
    platform: str
    id: str  # Shopify's fulfillment id; WooCommerce's order id (a completed order is its one shipment)
    order_id: str
    order_number: str
    stage: str  # FULFILLED, OUT_FOR_DELIVERY, DELIVERED, or "" when there is nothing to text
    status: str  # as the platform says it: Shopify's shipment status (else its status), WooCommerce's order status
    tracking_company: str
    tracking_number: str
    tracking_url: str
    order_status_url: str  # the shopper's order page, when the platform sends it (Shopify's orders/fulfilled)
    items: tuple[LineItem, ...]
    phones: tuple[tuple[str, str], ...]  # (where it came from, as typed), in the order they are tried
    happened_at: datetime | None

    def as_properties(self) -> dict:
        """The event's properties (the shared contract of the store connection): `url` is the one link to text."""
        return {
            "order_id": self.order_id,
            "order_number": self.order_number,
            "fulfillment_id": self.id,
            "status": self.status,
            "tracking_company": self.tracking_company,
            "tracking_number": self.tracking_number,
            "tracking_url": self.tracking_url,
            "url": self.tracking_url or self.order_status_url,
            "items": [item.as_properties() for item in self.items],
            "platform": self.platform,
        }


def shopify_fulfillment(payload) -> Fulfillment:
    """fulfillments/create and fulfillments/update: the REST Fulfillment resource."""
    fulfillment = Reader(as_object(payload, "body"))
    name = fulfillment.text("name", max_length=64)  # "#1001.1": the order's name and the shipment's number
    return _shopify(
        fulfillment,
        order_id=fulfillment.id("order_id"),
        order_number=name.rsplit(".", 1)[0] if "." in name else "",
        order_status_url="",
        # Not the destination's phone: whoever receives the parcel is not always who ordered it.
        phones=(),
    )


def shopify_order_fulfillments(payload) -> tuple[Fulfillment, ...]:
    """orders/fulfilled: the Order, each of its `fulfillments` read as fulfillments/create reads one."""
    order = shopify_order(payload)
    reader = Reader(as_object(payload, "body"))
    return tuple(
        _shopify(
            fulfillment,
            order_id=order.id,
            order_number=order.number,
            order_status_url=reader.url("order_status_url"),
            phones=buyer_phones(order.phones),
        )
        for fulfillment in reader.items("fulfillments")
    )


def buyer_phones(phones: tuple[tuple[str, str], ...]) -> tuple[tuple[str, str], ...]:
    """An order's phones but the shipping address's: a gift's recipient must not learn of it by text."""
    return tuple((source, phone) for source, phone in phones if not source.startswith("shipping"))


def _shopify(fulfillment: Reader, *, order_id, order_number, order_status_url, phones) -> Fulfillment:
    status = fulfillment.text("status", max_length=32)
    shipment_status = fulfillment.text("shipment_status", max_length=32)
    numbers = [fulfillment.text("tracking_number", max_length=100)] + _texts(fulfillment, "tracking_numbers")
    links = [fulfillment.url("tracking_url")] + [
        link
        for link in _texts(fulfillment, "tracking_urls", max_length=2000)
        if link.startswith(("https://", "http://"))
    ]
    return Fulfillment(
        platform=SHOPIFY,
        id=fulfillment.id("id"),
        order_id=order_id,
        order_number=order_number,
        stage=_shopify_stage(status, shipment_status),
        status=shipment_status or status,
        tracking_company=fulfillment.text("tracking_company", max_length=100),
        tracking_number=next(filter(None, numbers), ""),
        tracking_url=next(filter(None, links), ""),
        order_status_url=order_status_url,
        items=tuple(shopify_line_item(item) for item in fulfillment.items("line_items")),
        phones=phones,
        happened_at=fulfillment.when("updated_at") or fulfillment.when("created_at"),
    )


def _shopify_stage(status: str, shipment_status: str) -> str:
    """Only a fulfillment that left (success) has news; the carrier's status says which."""
    if status not in ("success", "") or shipment_status in _NO_NEWS:
        return ""
    return {"out_for_delivery": OUT_FOR_DELIVERY, "delivered": DELIVERED}.get(shipment_status, FULFILLED)


def _texts(reader: Reader, key: str, *, max_length: int = 100) -> list[str]:
    """A list of texts (Shopify's tracking_numbers, tracking_urls); a missing one is empty."""
    values = reader.data.get(key)
    if values is None:
        return []
    if not isinstance(values, list):
        raise PayloadError(f"{reader.place(key)} must be a list")
    return [value.strip()[:max_length] for value in values if isinstance(value, str) and value.strip()]


def woocommerce_fulfillment(payload) -> Fulfillment:
    """order.updated: a completed order has shipped; its tracking is the last of `_wc_shipment_tracking_items`.

    The tracking meta belongs to a plugin, not to WooCommerce: one Parley cannot read is left out (the shipment is
    still texted, without a link), never a reason to refuse the order."""
    order = woocommerce_order(payload)
    reader = Reader(as_object(payload, "body"))
    tracking: dict = {}
    for meta in reader.items("meta_data"):
        value = meta.data.get("value")
        if meta.data.get("key") == "_wc_shipment_tracking_items" and isinstance(value, list) and value:
            tracking = value[-1] if isinstance(value[-1], dict) else {}  # the plugin appends: the last is the newest
    number = _plain(tracking.get("tracking_number"), 100)
    provider = _plain(tracking.get("tracking_provider"), 100)
    link = Reader(tracking).url("custom_tracking_link")
    if not link and number and provider.lower() in WOOCOMMERCE_TRACKING_LINKS:
        link = WOOCOMMERCE_TRACKING_LINKS[provider.lower()].format(number=quote(number, safe=""))
    return Fulfillment(
        platform=WOOCOMMERCE,
        id=order.id,
        order_id=order.id,
        order_number=order.number,
        stage=FULFILLED if order.status == "completed" else "",
        status=order.status,
        tracking_company=_plain(tracking.get("custom_tracking_provider"), 100) or provider,
        tracking_number=number,
        tracking_url=link,
        order_status_url="",
        items=order.items,
        phones=buyer_phones(order.phones),
        happened_at=reader.when("date_completed_gmt", naive_is_utc=True) or order.created_at,
    )


def _plain(value, max_length: int) -> str:
    return value.strip()[:max_length] if isinstance(value, str) else ""
