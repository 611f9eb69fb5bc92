"""From a platform's payload to Parley's own records: pure functions, no database, no settings.

Shopify and WooCommerce describe the same things (an order, a product and its variants, a stock level) in their
own shapes. Each function here reads one documented shape and returns the same dataclasses, so the services that
store orders and products never see a platform's fields. A payload that lacks what its topic documents raises
`PayloadError` naming the field; a field Parley does not need is never required.
"""

import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

SHOPIFY = "shopify"
WOOCOMMERCE = "woocommerce"

MAX_ID_LENGTH = 64
MAX_MONEY = Decimal("1e10")  # fits DecimalField(max_digits=12, decimal_places=2)
MAX_QUANTITY = 10**9  # fits a 32-bit integer column on every database
_DIGITS = re.compile(r"^[0-9]{1,64}$")
_CURRENCY = re.compile(r"^[A-Za-z]{3}$")
# Shopify's single-variant products carry this option, which says nothing.
_NO_OPTION = {("title", "default title")}


class PayloadError(ValueError):
    """The payload is not shaped as its topic documents; the message names the field."""


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
            "price": _number(self.price),
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
            "total": _number(self.total) if self.total is not None else 0,
            "currency": self.currency,
            "items": [item.as_properties() for item in self.items],
            "discount_codes": list(self.discount_codes),
            "checkout_token": self.checkout_token,
            "platform": self.platform,
        }


@dataclass(frozen=True)
class VariantData:
    external_id: str
    title: str = ""
    sku: str = ""
    position: int = 0
    price: Decimal | None = None
    compare_at_price: Decimal | None = None
    options: tuple[tuple[str, str], ...] = ()  # (name, value) as the store names them
    image_url: str = ""
    inventory_item_id: str = ""
    inventory_tracked: bool = True
    inventory_quantity: int | None = None
    sells_when_out: bool = False
    in_stock_hint: bool | None = None  # what the platform says when it counts no stock (WooCommerce stock_status)


@dataclass(frozen=True)
class ProductData:
    platform: str
    external_id: str
    title: str
    handle: str = ""
    url: str = ""
    image_url: str = ""
    vendor: str = ""
    product_type: str = ""
    status: str = "active"
    updated_at: datetime | None = None
    variants: tuple[VariantData, ...] = ()
    # WooCommerce's variable products list their variations' ids only; the variations come in deliveries of their
    # own. None: `variants` is the whole list.
    variation_ids: tuple[str, ...] | None = None


@dataclass(frozen=True)
class VariationData:
    """A WooCommerce variation delivered on its own (product.updated for a variation id)."""

    platform: str
    parent_id: str
    title: str
    variant: VariantData
    updated_at: datetime | None = None


@dataclass(frozen=True)
class InventoryLevel:
    inventory_item_id: str
    location_id: str
    available: int | None
    updated_at: datetime | None = None


@dataclass(frozen=True)
class Deleted:
    platform: str
    external_id: str


@dataclass
class _Reader:
    """Reads fields of one JSON object, naming each by its place in the payload (`line_items[2].price`)."""

    data: dict
    where: str = ""

    def place(self, key: str) -> str:
        return f"{self.where}.{key}" if self.where else key

    def sub(self, key: str) -> "_Reader":
        """A nested object; a missing one (or null) reads as empty."""
        value = self.data.get(key)
        if value is None:
            return _Reader({}, self.place(key))
        return _Reader(_object(value, self.place(key)), self.place(key))

    def items(self, key: str) -> list["_Reader"]:
        value = self.data.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            raise PayloadError(f"{self.place(key)} must be a list (got {_kind(value)})")
        return [
            _Reader(_object(item, f"{self.place(key)}[{index}]"), f"{self.place(key)}[{index}]")
            for index, item in enumerate(value)
        ]

    def id(self, key: str, *, required: bool = True) -> str:
        return _id(self.data.get(key), self.place(key), required=required)

    def text(self, key: str, *, max_length: int = 255) -> str:
        return _text(self.data.get(key), self.place(key), max_length=max_length)

    def money(self, key: str) -> Decimal | None:
        return read_money(self.data.get(key), self.place(key))

    def integer(self, key: str, *, minimum: int = 0) -> int | None:
        return read_integer(self.data.get(key), self.place(key), minimum=minimum)

    def when(self, key: str, *, naive_is_utc: bool = False) -> datetime | None:
        return _datetime(self.data.get(key), self.place(key), naive_is_utc=naive_is_utc)

    def url(self, key: str) -> str:
        """A web address (http or https); anything else is left out, never shown as a link."""
        value = self.data.get(key)
        if isinstance(value, str) and value.strip().startswith(("https://", "http://")) and len(value.strip()) <= 2000:
            return value.strip()
        return ""


def _object(value, where: str) -> dict:
    if not isinstance(value, dict):
        raise PayloadError(f"{where} must be a JSON object (got {_kind(value)})")
    return value


def _kind(value) -> str:
    return {dict: "an object", list: "a list", str: "text", bool: "true/false", type(None): "null"}.get(
        type(value), "a number"
    )


def _id(value, where: str, *, required: bool = True) -> str:
    """A platform id: a whole number above 0 (Shopify's pass 2**53, so text of digits is taken too)."""
    if isinstance(value, bool) or not (value is None or isinstance(value, int | str)):
        raise PayloadError(f"{where} must be a whole number id (got {_kind(value)})")
    digits = "" if value is None else str(value).strip()
    if digits and not _DIGITS.match(digits):
        raise PayloadError(f"{where} must be a whole number id (got {str(value)[:20]!r})")
    digits = digits.lstrip("0")
    if not digits and required:
        raise PayloadError(f"{where} is missing")
    return digits


def _text(value, where: str, *, max_length: int = 255) -> str:
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise PayloadError(f"{where} must be text (got {_kind(value)})")
    return str(value).strip()[:max_length]


def read_money(value, where: str) -> Decimal | None:
    """An amount as the platforms write them: "19.99", 19.99 or 20; empty is unknown."""
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise PayloadError(f"{where} must be an amount such as 19.99 (got {_kind(value)})")
    if isinstance(value, float) and not math.isfinite(value):
        raise PayloadError(f"{where} must be a finite amount")
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        raise PayloadError(f"{where} must be an amount such as 19.99 (got {str(value)[:20]!r})") from None
    if not amount.is_finite() or not 0 <= amount < MAX_MONEY:
        raise PayloadError(f"{where} must be an amount from 0 to {MAX_MONEY:,.0f} (got {str(value)[:20]!r})")
    return amount.quantize(Decimal("0.01"))


def _number(amount: Decimal | None):
    """A money amount for an event's properties: a JSON number, so that segments compare it as one."""
    if amount is None:
        return None
    return int(amount) if amount == amount.to_integral_value() else float(amount)


def read_integer(value, where: str, *, minimum: int = 0) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str) and re.fullmatch(r"-?[0-9]{1,12}", value.strip()):
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int):
        raise PayloadError(f"{where} must be a whole number (got {_kind(value)})")
    if not minimum <= value <= MAX_QUANTITY:
        raise PayloadError(f"{where} must be a whole number from {minimum} to {MAX_QUANTITY:,} (got {value})")
    return value


def _datetime(value, where: str, *, naive_is_utc: bool = False) -> datetime | None:
    """ISO 8601 with an offset (Shopify), or without one in UTC (WooCommerce's *_gmt fields)."""
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > 40:
        raise PayloadError(f"{where} must be a date and time such as 2026-11-30T10:00:00-05:00")
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise PayloadError(f"{where} must be a date and time such as 2026-11-30T10:00:00-05:00") from None
    if moment.tzinfo is None:
        if not naive_is_utc:
            raise PayloadError(f"{where} must say its UTC offset, e.g. 2026-11-30T10:00:00-05:00")
        moment = moment.replace(tzinfo=UTC)
    return moment


def _currency(value, where: str) -> str:
    if value in (None, ""):
        return ""
    if not isinstance(value, str) or not _CURRENCY.match(value.strip()):
        raise PayloadError(f"{where} must be a three-letter currency code such as USD")
    return value.strip().upper()


def _phones(*candidates: tuple[str, object]) -> tuple[tuple[str, str], ...]:
    """The phone numbers an order holds, in the order they are tried, each once; blanks and non-text skipped."""
    seen, phones = set(), []
    for source, value in candidates:
        if isinstance(value, str) and value.strip() and value.strip() not in seen:
            seen.add(value.strip())
            phones.append((source, value.strip()[:64]))
    return tuple(phones)


def meaningful_options(pairs) -> tuple[tuple[str, str], ...]:
    return tuple(
        (name, value)
        for name, value in pairs
        if name and value and (name.casefold(), value.casefold()) not in _NO_OPTION
    )


# --- Shopify ------------------------------------------------------------------------------------------------


def shopify_order(payload) -> Order:
    """orders/create and orders/paid: the REST Order resource."""
    order = _Reader(_object(payload, "body"))
    customer, billing, shipping = order.sub("customer"), order.sub("billing_address"), order.sub("shipping_address")
    items = tuple(
        LineItem(
            product_id=item.id("product_id", required=False),
            variant_id=item.id("variant_id", required=False),
            title=item.text("title"),
            variant_title=item.text("variant_title"),
            sku=item.text("sku"),
            quantity=item.integer("quantity") or 0,
            price=item.money("price"),
        )
        for item in order.items("line_items")
    )
    total = order.money("total_price")
    if total is None:
        total = order.money("current_total_price")
    return Order(
        platform=SHOPIFY,
        id=order.id("id"),
        number=order.text("name", max_length=64),
        status=order.text("financial_status", max_length=32),
        placed=True,  # Shopify sends orders/create once an order exists, paid or not (cash on delivery)
        phones=_phones(
            ("order", order.data.get("phone")),
            ("customer", customer.data.get("phone")),
            ("billing address", billing.data.get("phone")),
            ("shipping address", shipping.data.get("phone")),
        ),
        total=total,
        currency=_currency(order.data.get("currency"), "currency"),
        items=items,
        discount_codes=tuple(code.text("code", max_length=100) for code in order.items("discount_codes")),
        checkout_token=order.text("checkout_token", max_length=100),
        created_at=order.when("created_at") or order.when("processed_at"),
    )


def shopify_product(payload, *, store_url: str = "") -> ProductData:
    """products/create and products/update: the REST Product resource with its variants, options and images."""
    product = _Reader(_object(payload, "body"))
    option_names = {}
    for option in product.items("options"):
        position = option.integer("position")
        if position:
            option_names[position] = option.text("name", max_length=100)
    images = {image.id("id", required=False): image.url("src") for image in product.items("images")}
    main_image = product.sub("image").url("src") or next(iter(images.values()), "")
    variants = []
    for index, variant in enumerate(product.items("variants")):
        tracked_field = variant.data.get("inventory_management", "absent")
        quantity = variant.integer("inventory_quantity", minimum=-MAX_QUANTITY)
        variants.append(
            VariantData(
                external_id=variant.id("id"),
                title=variant.text("title"),
                sku=variant.text("sku"),
                position=variant.integer("position") or index + 1,
                price=variant.money("price"),
                compare_at_price=variant.money("compare_at_price"),
                options=meaningful_options(
                    (option_names.get(number, f"Option {number}"), variant.text(f"option{number}", max_length=100))
                    for number in (1, 2, 3)
                ),
                image_url=images.get(variant.id("image_id", required=False), ""),
                inventory_item_id=variant.id("inventory_item_id", required=False),
                # Newer API versions leave inventory_management out: a quantity then means it is counted.
                inventory_tracked=quantity is not None if tracked_field == "absent" else tracked_field == "shopify",
                inventory_quantity=quantity,
                sells_when_out=variant.text("inventory_policy") == "continue",
            )
        )
    handle = product.text("handle")
    status = product.text("status", max_length=16) or "active"
    return ProductData(
        platform=SHOPIFY,
        external_id=product.id("id"),
        title=product.text("title") or f"Product {product.id('id')}",
        handle=handle,
        url=f"{store_url.rstrip('/')}/products/{handle}" if store_url and handle else "",
        image_url=main_image,
        vendor=product.text("vendor"),
        product_type=product.text("product_type"),
        status=status if status in ("active", "draft", "archived") else "active",
        updated_at=product.when("updated_at"),
        variants=tuple(variants),
    )


def shopify_deleted(payload) -> Deleted:
    """products/delete: only the id."""
    return Deleted(SHOPIFY, _Reader(_object(payload, "body")).id("id"))


def shopify_inventory_level(payload) -> InventoryLevel:
    """inventory_levels/update: how many of one inventory item are available at one location."""
    level = _Reader(_object(payload, "body"))
    return InventoryLevel(
        inventory_item_id=level.id("inventory_item_id"),
        location_id=level.id("location_id", required=False),
        available=level.integer("available", minimum=-MAX_QUANTITY),
        updated_at=level.when("updated_at"),
    )


# --- WooCommerce ----------------------------------------------------------------------------------------------

WOOCOMMERCE_PLACED = ("processing", "completed")


def woocommerce_order(payload) -> Order:
    """order.created and order.updated: the REST API v3 order."""
    order = _Reader(_object(payload, "body"))
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
        phones=_phones(("billing", billing.data.get("phone")), ("shipping", shipping.data.get("phone"))),
        total=order.money("total"),
        currency=_currency(order.data.get("currency"), "currency"),
        items=items,
        discount_codes=tuple(line.text("code", max_length=100) for line in order.items("coupon_lines")),
        checkout_token="",  # WooCommerce has no checkout outside the order
        created_at=order.when("date_created_gmt", naive_is_utc=True),
    )


def _woocommerce_stock(product: _Reader) -> dict:
    manage = product.data.get("manage_stock")
    stock_status = product.text("stock_status", max_length=16)
    return {
        "inventory_tracked": manage is True or manage == "parent",
        "inventory_quantity": product.integer("stock_quantity", minimum=-MAX_QUANTITY),
        "sells_when_out": product.text("backorders", max_length=16) in ("yes", "notify"),
        "in_stock_hint": stock_status in ("instock", "onbackorder") if stock_status else None,
    }


def _woocommerce_price(product: _Reader) -> tuple[Decimal | None, Decimal | None]:
    """Price now, and the price it is compared with while on sale."""
    price, regular, sale = product.money("price"), product.money("regular_price"), product.money("sale_price")
    if price is None:
        price = sale if sale is not None else regular
    compare_at = regular if sale is not None and regular is not None and regular > price else None
    return price, compare_at


def _woocommerce_image(product: _Reader) -> str:
    images = product.items("images")
    return product.sub("image").url("src") or (images[0].url("src") if images else "")


def woocommerce_product(payload) -> ProductData | VariationData:
    """product.created and product.updated: the REST API v3 product, or one variation of a variable product."""
    product = _Reader(_object(payload, "body"))
    kind = product.text("type", max_length=32)
    price, compare_at = _woocommerce_price(product)
    updated_at = product.when("date_modified_gmt", naive_is_utc=True)
    if kind == "variation":
        variant = VariantData(
            external_id=product.id("id"),
            title=", ".join(value for _, value in _variation_options(product)) or product.text("name"),
            sku=product.text("sku"),
            position=product.integer("menu_order") or 0,
            price=price,
            compare_at_price=compare_at,
            options=_variation_options(product),
            image_url=_woocommerce_image(product),
            **_woocommerce_stock(product),
        )
        # Its name is "<product> - <options>": the product's name until the product's own delivery says it.
        parent_title = product.text("name").rsplit(" - ", 1)[0]
        return VariationData(WOOCOMMERCE, product.id("parent_id"), parent_title, variant, updated_at)
    status = product.text("status", max_length=16)
    variation_ids = None
    variants: tuple[VariantData, ...] = ()
    if kind == "variable":
        ids = product.data.get("variations") or []
        if not isinstance(ids, list):
            raise PayloadError(f"variations must be a list of ids (got {_kind(ids)})")
        variation_ids = tuple(
            _id(value.get("id") if isinstance(value, dict) else value, f"variations[{index}]")
            for index, value in enumerate(ids)
        )
    else:
        # A simple product is its own single variant; an attribute with one value describes it (Size: M).
        single = tuple(
            (
                attribute.text("name", max_length=100),
                _text(attribute.data["options"][0], f"{attribute.where}.options[0]", max_length=100),
            )
            for attribute in product.items("attributes")
            if isinstance(attribute.data.get("options"), list) and len(attribute.data["options"]) == 1
        )
        variants = (
            VariantData(
                external_id=product.id("id"),
                title=product.text("name"),
                sku=product.text("sku"),
                price=price,
                compare_at_price=compare_at,
                options=meaningful_options(single),
                image_url=_woocommerce_image(product),
                **_woocommerce_stock(product),
            ),
        )
    return ProductData(
        platform=WOOCOMMERCE,
        external_id=product.id("id"),
        title=product.text("name") or f"Product {product.id('id')}",
        handle=product.text("slug"),
        url=product.url("permalink"),
        image_url=_woocommerce_image(product),
        product_type=kind,
        status={"publish": "active", "trash": "archived"}.get(status, "draft" if status else "active"),
        updated_at=updated_at,
        variants=variants,
        variation_ids=variation_ids,
    )


def _variation_options(product: _Reader) -> tuple[tuple[str, str], ...]:
    return meaningful_options(
        (attribute.text("name", max_length=100), attribute.text("option", max_length=100))
        for attribute in product.items("attributes")
    )


def woocommerce_deleted(payload) -> Deleted:
    """product.deleted: only the id."""
    return Deleted(WOOCOMMERCE, _Reader(_object(payload, "body")).id("id"))
