"""The catalog: products, variants and stock levels, from Shopify's REST Product and WooCommerce's REST API v3."""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from .reading import (
    MAX_QUANTITY,
    SHOPIFY,
    WOOCOMMERCE,
    PayloadError,
    Reader,
    as_object,
    kind_of,
    meaningful_options,
    read_id,
    read_text,
)


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


def shopify_product(payload, *, store_url: str = "") -> ProductData:
    """products/create and products/update: the REST Product resource with its variants, options and images."""
    product = Reader(as_object(payload, "body"))
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
    return Deleted(SHOPIFY, Reader(as_object(payload, "body")).id("id"))


def shopify_inventory_level(payload) -> InventoryLevel:
    """inventory_levels/update: how many of one inventory item are available at one location."""
    level = Reader(as_object(payload, "body"))
    return InventoryLevel(
        inventory_item_id=level.id("inventory_item_id"),
        location_id=level.id("location_id", required=False),
        available=level.integer("available", minimum=-MAX_QUANTITY),
        updated_at=level.when("updated_at"),
    )


def _woocommerce_stock(product: Reader) -> dict:
    manage = product.data.get("manage_stock")
    stock_status = product.text("stock_status", max_length=16)
    return {
        "inventory_tracked": manage is True or manage == "parent",
        "inventory_quantity": product.integer("stock_quantity", minimum=-MAX_QUANTITY),
        "sells_when_out": product.text("backorders", max_length=16) in ("yes", "notify"),
        "in_stock_hint": stock_status in ("instock", "onbackorder") if stock_status else None,
    }


def _woocommerce_price(product: Reader) -> tuple[Decimal | None, Decimal | None]:
    """Price now, and the price it is compared with while on sale."""
    price, regular, sale = product.money("price"), product.money("regular_price"), product.money("sale_price")
    if price is None:
        price = sale if sale is not None else regular
    compare_at = regular if sale is not None and regular is not None and regular > price else None
    return price, compare_at


def _woocommerce_image(product: Reader) -> str:
    images = product.items("images")
    return product.sub("image").url("src") or (images[0].url("src") if images else "")


def woocommerce_product(payload) -> ProductData | VariationData:
    """product.created and product.updated: the REST API v3 product, or one variation of a variable product."""
    product = Reader(as_object(payload, "body"))
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
            raise PayloadError(f"variations must be a list of ids (got {kind_of(ids)})")
        variation_ids = tuple(
            read_id(value.get("id") if isinstance(value, dict) else value, f"variations[{index}]")
            for index, value in enumerate(ids)
        )
    else:
        # A simple product is its own single variant; an attribute with one value describes it (Size: M).
        single = tuple(
            (
                attribute.text("name", max_length=100),
                read_text(attribute.data["options"][0], f"{attribute.where}.options[0]", max_length=100),
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


def _variation_options(product: Reader) -> tuple[tuple[str, str], ...]:
    return meaningful_options(
        (attribute.text("name", max_length=100), attribute.text("option", max_length=100))
        for attribute in product.items("attributes")
    )


def woocommerce_deleted(payload) -> Deleted:
    """product.deleted: only the id."""
    return Deleted(WOOCOMMERCE, Reader(as_object(payload, "body")).id("id"))
