"""Checkouts: Shopify's checkouts/create and checkouts/update payload (the REST Checkout resource), read into one
`CheckoutData`.

Shopify's documented example and real deliveries differ in one way that matters: an address the shopper has not
entered yet may arrive as an empty list (`"shipping_address": []`) instead of null, so an empty list reads as no
address. WooCommerce sends no checkout webhooks: its checkout is an order in `checkout-draft` until it is placed.
"""

import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from .orders import LineItem, shopify_line_item
from .reading import SHOPIFY, PayloadError, Reader, as_object, kind_of, read_currency, read_phones

MAX_TOKEN_LENGTH = 100
# Shopify's tokens are hex strings today; the newer cart tokens are base64 with a prefix (c1-…). Nothing else.
_TOKEN = re.compile(r"^[A-Za-z0-9_.:=-]+$")


@dataclass(frozen=True)
class CheckoutItem(LineItem):
    image_url: str = ""

    def as_properties(self, *, url: str = "", image_url: str = "") -> dict:
        """One of the events' `items`; `url` and `image_url` come from the catalog when it knows the product."""
        return {**super().as_properties(), "url": url, "image_url": self.image_url or image_url}


@dataclass(frozen=True)
class CheckoutData:
    platform: str
    token: str
    cart_token: str
    id: str
    phones: tuple[tuple[str, str], ...]  # (where it came from, as typed), in the order they are tried
    total: Decimal | None
    currency: str
    items: tuple[CheckoutItem, ...]
    abandoned_checkout_url: str
    created_at: datetime | None
    updated_at: datetime | None
    completed_at: datetime | None

    @property
    def item_count(self) -> int:
        return sum(item.quantity for item in self.items)


def shopify_checkout(payload) -> CheckoutData:
    """checkouts/create and checkouts/update: the REST Checkout resource."""
    checkout = Reader(as_object(payload, "body"))
    customer = checkout.sub("customer")
    billing = _address(checkout, "billing_address")
    items = tuple(
        shopify_line_item(item, CheckoutItem, image_url=item.url("image_url")) for item in checkout.items("line_items")
    )
    total = checkout.money("total_price")
    if total is None:
        total = checkout.money("subtotal_price")
    return CheckoutData(
        platform=SHOPIFY,
        token=_token(checkout.data.get("token"), "token", required=True),
        cart_token=_token(checkout.data.get("cart_token"), "cart_token", required=False),
        id=checkout.id("id", required=False),
        phones=read_phones(
            # The number the shopper gave for texts at checkout comes first: it is the one they meant for texts.
            ("SMS marketing", checkout.data.get("sms_marketing_phone")),
            ("checkout", checkout.data.get("phone")),
            ("customer", customer.data.get("phone")),
            ("billing address", billing.data.get("phone")),
            # Not the shipping address's: a gift's recipient must not get the buyer's cart (and its link).
        ),
        total=total,
        currency=read_currency(checkout.data.get("currency") or checkout.data.get("presentment_currency"), "currency"),
        items=items,
        abandoned_checkout_url=checkout.url("abandoned_checkout_url"),
        created_at=checkout.when("created_at"),
        updated_at=checkout.when("updated_at"),
        completed_at=checkout.when("completed_at"),
    )


def _address(checkout: Reader, key: str) -> Reader:
    if checkout.data.get(key) == []:  # not entered yet, as Shopify sends it
        return Reader({}, checkout.place(key))
    return checkout.sub(key)


def _token(value, where: str, *, required: bool) -> str:
    if isinstance(value, bool) or not (value is None or isinstance(value, str | int)):
        raise PayloadError(f"{where} must be text such as 2a1ace52255252df566af0faaedfbfa7 (got {kind_of(value)})")
    token = "" if value is None else str(value).strip()
    if not token:
        if required:
            raise PayloadError(f"{where} is missing")
        return ""
    if len(token) > MAX_TOKEN_LENGTH or not _TOKEN.match(token):
        raise PayloadError(f"{where} must be up to {MAX_TOKEN_LENGTH} letters, digits and -_.:= (got {token[:20]!r})")
    return token
