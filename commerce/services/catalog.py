"""The catalog: products and variants kept as the store's platform last described them.

Webhooks and `manage.py import_catalog` both come through `product_save`, so a product imported from a file is
the same row its first webhook later updates (matched by id, else by handle; variants by id, SKU or options).
"""

from dataclasses import dataclass, field
from datetime import datetime

from django.db import IntegrityError, transaction

from conversations.models import AttributeDefinition

from ..mapping import Deleted, InventoryLevel, ProductData, VariantData, VariationData
from ..models import Product, Variant, WebhookDelivery
from ..options import ChoiceAttribute, choice_attributes, match_options
from .back_in_stock import back_in_stock_notify
from .webhooks import Handled

Outcome = WebhookDelivery.Outcome


def product_save(*, product: ProductData, attributes: list[ChoiceAttribute] | None = None) -> Handled:
    """Create or update a product and its variants; a delivery older than what is stored changes nothing."""
    attributes = _attributes() if attributes is None else attributes
    with transaction.atomic():
        row = _locked_product(product.platform, product.external_id, product.handle)
        if _older(product.updated_at, row.platform_updated_at if row else None):
            return Handled(Outcome.IGNORED, "an older version of the product than the one stored")
        row = _product_write(row, product)
        kept = _variants_write(row, product.variants, attributes, updated_at=product.updated_at)
        if product.variation_ids is not None:  # a variable product: its variations arrive on their own
            row.variants.exclude(external_id__in=product.variation_ids).exclude(pk__in=kept).delete()
        else:
            row.variants.exclude(pk__in=kept).delete()
    count = len(product.variants) if product.variation_ids is None else len(product.variation_ids)
    return Handled(Outcome.PROCESSED, f"product {row.pk} saved with {count} variant{'s' if count != 1 else ''}")


def variation_save(*, variation: VariationData) -> Handled:
    """One WooCommerce variation, under its product (a placeholder until the product's own delivery comes)."""
    with transaction.atomic():
        row = _locked_product(variation.platform, variation.parent_id, "")
        if row is None:
            row = _product_write(
                None,
                ProductData(variation.platform, variation.parent_id, title=variation.title or "(product)"),
            )
        existing = row.variants.filter(external_id=variation.variant.external_id).first()
        if existing and _older(variation.updated_at, existing.platform_updated_at):
            return Handled(Outcome.IGNORED, "an older version of the variation than the one stored")
        _variants_write(row, [variation.variant], _attributes(), updated_at=variation.updated_at)
    return Handled(Outcome.PROCESSED, f"variation saved on product {row.pk}")


def product_archive(*, deleted: Deleted) -> Handled:
    """A product deleted in the store stays in the catalog, archived (orders and events still name it)."""
    archived = Product.objects.filter(platform=deleted.platform, external_id=deleted.external_id).update(
        status=Product.Status.ARCHIVED
    )
    if not archived:
        return Handled(Outcome.IGNORED, "the product is not in the catalog")
    return Handled(Outcome.PROCESSED, "product archived")


def inventory_level_set(*, platform: str, level: InventoryLevel) -> Handled:
    """Shopify's stock of one inventory item at one location; the variant's quantity is the sum over locations."""
    with transaction.atomic():
        variants = list(
            Variant.objects.select_for_update(of=("self",))
            .select_related("product")
            .filter(product__platform=platform, inventory_item_id=level.inventory_item_id)
        )
        if not variants:
            return Handled(Outcome.IGNORED, "no variant in the catalog has this inventory item")
        changed = 0
        restocked = []
        for variant in variants:
            if _older(level.updated_at, variant.platform_updated_at):
                continue
            was_in_stock = variant.in_stock
            levels = dict(variant.inventory_levels)
            levels[level.location_id or "default"] = level.available if level.available is not None else 0
            variant.inventory_levels = levels
            variant.inventory_quantity = sum(levels.values())
            variant.inventory_tracked = level.available is not None or variant.inventory_tracked
            variant.platform_updated_at = level.updated_at or variant.platform_updated_at
            variant.in_stock = _in_stock(variant, None)
            variant.save(
                update_fields=[
                    "inventory_levels",
                    "inventory_quantity",
                    "inventory_tracked",
                    "platform_updated_at",
                    "in_stock",
                    "updated_at",
                ]
            )
            changed += 1
            if variant.in_stock and not was_in_stock:
                restocked.append(variant)
        back_in_stock_notify(variants=restocked)
    if not changed:
        return Handled(Outcome.IGNORED, "an older stock level than the one stored")
    return Handled(Outcome.PROCESSED, f"stock set on {changed} variant{'s' if changed != 1 else ''}")


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    variants: int = 0
    notes: list[str] = field(default_factory=list)


def catalog_import(*, products: list[ProductData | VariationData]) -> ImportReport:
    """Save every product of a catalog file in one transaction: running it twice changes nothing more."""
    report = ImportReport()
    attributes = _attributes()
    with transaction.atomic():
        for product in products:
            if isinstance(product, VariationData):
                variation_save(variation=product)
                report.variants += 1
                continue
            existed = _find_product(product.platform, product.external_id, product.handle) is not None
            product_save(product=product, attributes=attributes)
            report.updated += existed
            report.created += not existed
            report.variants += len(product.variants)
    return report


# --- Writing rows --------------------------------------------------------------------------------------------


def _attributes() -> list[ChoiceAttribute]:
    return choice_attributes(AttributeDefinition.objects.filter(type__in=AttributeDefinition.CHOICE_TYPES))


def _find_product(platform: str, external_id: str, handle: str, *, lock: bool = False) -> Product | None:
    rows = Product.objects.select_for_update() if lock else Product.objects
    if external_id:
        row = rows.filter(platform=platform, external_id=external_id).first()
        if row is not None:
            return row
    if handle:  # imported from a file before its first webhook: the handle names it
        return rows.filter(platform=platform, handle=handle, external_id="").order_by("id").first()
    return None


def _locked_product(platform: str, external_id: str, handle: str) -> Product | None:
    return _find_product(platform, external_id, handle, lock=True)


def _product_write(row: Product | None, product: ProductData) -> Product:
    values = {
        "title": product.title[:255],
        "handle": product.handle,
        "vendor": product.vendor,
        "product_type": product.product_type,
        "status": product.status,
    }
    # What a delivery leaves out (a variation's placeholder, a file without images) keeps what was known.
    for name in ("url", "image_url", "external_id"):
        if getattr(product, name):
            values[name] = getattr(product, name)
    if product.updated_at:
        values["platform_updated_at"] = product.updated_at
    if row is None:
        try:
            with transaction.atomic():
                return Product.objects.create(platform=product.platform, **values)
        except IntegrityError:  # products/create and products/update at once: the other made it
            row = _locked_product(product.platform, product.external_id, product.handle)
            if row is None:
                raise
    for name, value in values.items():
        setattr(row, name, value)
    row.save()
    return row


def _variants_write(
    product: Product,
    variants: list[VariantData] | tuple[VariantData, ...],
    attributes: list[ChoiceAttribute],
    *,
    updated_at: datetime | None = None,
) -> list[int]:
    """Create or update the given variants of `product`; returns the ids of the rows written."""
    existing = list(product.variants.all())
    out_of_stock = {variant.pk for variant in existing if not variant.in_stock}
    by_id = {variant.external_id: variant for variant in existing if variant.external_id}
    unclaimed = [variant for variant in existing if not variant.external_id]
    written = []
    restocked = []
    for data in variants:
        row = by_id.get(data.external_id) if data.external_id else None
        if row is None:
            row = _unclaimed_match(unclaimed, data)
        if row is None:
            row = Variant(product=product)
        row.external_id = data.external_id or row.external_id
        row.title = data.title[:255]
        row.sku = data.sku
        row.position = data.position
        row.price = data.price
        row.compare_at_price = data.compare_at_price
        row.options = [{"name": name, "value": value} for name, value in data.options]
        row.attributes = match_options(data.options, attributes)
        row.image_url = data.image_url or row.image_url
        row.inventory_item_id = data.inventory_item_id or row.inventory_item_id
        row.inventory_tracked = data.inventory_tracked
        row.sells_when_out = data.sells_when_out
        # A stock level that came after this description (inventory_levels/update) is not put back.
        if data.inventory_quantity is not None and not _older(updated_at, row.platform_updated_at):
            row.inventory_quantity = data.inventory_quantity
            # The product's total replaces what the locations said; with one location that is its level.
            if len(row.inventory_levels) == 1:
                row.inventory_levels = {next(iter(row.inventory_levels)): data.inventory_quantity}
            row.platform_updated_at = updated_at or row.platform_updated_at
        row.in_stock = _in_stock(row, data.in_stock_hint)
        row.save()
        written.append(row.pk)
        if row.in_stock and row.pk in out_of_stock:
            restocked.append(row)
    back_in_stock_notify(variants=restocked)  # requests wait for a variant that was out and is in again
    return written


def _unclaimed_match(unclaimed: list[Variant], data: VariantData) -> Variant | None:
    """An imported variant (no id yet) that is this one: the same SKU, else the same options."""
    options = [{"name": name, "value": value} for name, value in data.options]
    for matches in (
        lambda row: data.sku and row.sku == data.sku,
        lambda row: row.options == options and not (data.sku and row.sku),
    ):
        for row in unclaimed:
            if matches(row):
                unclaimed.remove(row)
                return row
    return None


def _in_stock(variant: Variant, hint: bool | None) -> bool:
    """Counted stock above zero, or sold when out; stock not counted: what the platform says, else in stock."""
    if variant.inventory_tracked and variant.inventory_quantity is not None:
        return variant.inventory_quantity > 0 or variant.sells_when_out
    return True if hint is None else hint


def _older(incoming: datetime | None, stored: datetime | None) -> bool:
    return incoming is not None and stored is not None and incoming < stored
