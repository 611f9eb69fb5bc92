"""Orders: Shopify's REST Order and WooCommerce's REST API v3 order, read into one `Order`."""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from .reading import SHOPIFY, WOOCOMMERCE, Reader, as_number, as_object, read_currency, read_phones


@dataclass(frozen=True)
class LineItem:
    product_id: str
    variant_id: str
    title: str
    variant_title: str
    sku: str
    quantity: int
    price: Decimal | None

    def as_properties(self) -> dict:
        return {
            "product_id": self.product_id,
            "variant_id": self.variant_id,
            "title": self.title,
            "variant_title": self.variant_title,
            "sku": self.sku,
            "quantity": self.quantity,
            "price": as_number(self.price),
        }


@dataclass(frozen=True)
class Order:
    platform: str
    id: str
    number: str
    status: str
    placed: bool  # counts as an order placed (WooCommerce: processing or completed)
    phones: tuple[tuple[str, str], ...]  # (where it came from, as typed), in the order they are tried
    total: Decimal | None
    currency: str
    items: tuple[LineItem, ...]
    discount_codes: tuple[str, ...]
    checkout_token: str
    created_at: datetime | None

    def as_properties(self) -> dict:
        """The `order_placed` event's properties: what segments filter on and campaign revenue reads."""
        return {
            "order_id": self.id,
            "order_number": self.number,
            "total": as_number(self.total) if self.total is not None else 0,
            "currency": self.currency,
            "items": [item.as_properties() for item in self.items],
            "discount_codes": list(self.discount_codes),
            "checkout_token": self.checkout_token,
            "platform": self.platform,
        }


def shopify_line_item(item: Reader, kind=LineItem, **more):
    """One of `line_items` in Shopify's orders, checkouts and fulfillments (`kind` may add fields: `more`)."""
    return kind(
        product_id=item.id("product_id", required=False),
        variant_id=item.id("variant_id", required=False),
        title=item.text("title"),
        variant_title=item.text("variant_title"),
        sku=item.text("sku"),
        quantity=item.integer("quantity") or 0,
        price=item.money("price"),
        **more,
    )


def shopify_order(payload) -> Order:
    """orders/create and orders/paid: the REST Order resource."""
    order = Reader(as_object(payload, "body"))
    customer, billing, shipping = order.sub("customer"), order.sub("billing_address"), order.sub("shipping_address")
    items = tuple(shopify_line_item(item) for item in order.items("line_items"))
    total = order.money("total_price")
    if total is None:
        total = order.money("current_total_price")
    return Order(
        platform=SHOPIFY,
        id=order.id("id"),
        number=order.text("name", max_length=64),
        status=order.text("financial_status", max_length=32),
        placed=True,  # Shopify sends orders/create once an order exists, paid or not (cash on delivery)
        phones=read_phones(
            ("order", order.data.get("phone")),
            ("customer", customer.data.get("phone")),
            ("billing address", billing.data.get("phone")),
            ("shipping address", shipping.data.get("phone")),
        ),
        total=total,
        currency=read_currency(order.data.get("currency"), "currency"),
        items=items,
        discount_codes=tuple(code.text("code", max_length=100) for code in order.items("discount_codes")),
        checkout_token=order.text("checkout_token", max_length=100),
        created_at=order.when("created_at") or order.when("processed_at"),
    )


WOOCOMMERCE_PLACED = ("processing", "completed")


def woocommerce_order(payload) -> Order:
    """order.created and order.updated: the REST API v3 order."""
    order = Reader(as_object(payload, "body"))
    billing, shipping = order.sub("billing"), order.sub("shipping")
    status = order.text("status", max_length=32)
    items = tuple(
        LineItem(
            product_id=item.id("product_id", required=False),
            variant_id=item.id("variation_id", required=False),
            title=item.text("name"),
            variant_title=", ".join(
                meta.text("display_value", max_length=100)
                for meta in item.items("meta_data")
                if isinstance(meta.data.get("display_value"), str) and not str(meta.data.get("key", "")).startswith("_")
            )[:255],
            sku=item.text("sku"),
            quantity=item.integer("quantity") or 0,
            price=item.money("price"),
        )
        for item in order.items("line_items")
    )
    return Order(
        platform=WOOCOMMERCE,
        id=order.id("id"),
        number=order.text("number", max_length=64),
        status=status,
        placed=status in WOOCOMMERCE_PLACED,
        phones=read_phones(("billing", billing.data.get("phone")), ("shipping", shipping.data.get("phone"))),
        total=order.money("total"),
        currency=read_currency(order.data.get("currency"), "currency"),
        items=items,
        discount_codes=tuple(line.text("code", max_length=100) for line in order.items("coupon_lines")),
        checkout_token="",  # WooCommerce has no checkout outside the order
        created_at=order.when("date_created_gmt", naive_is_utc=True),
    )
