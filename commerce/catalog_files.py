"""Catalog files a store starts from: Shopify's product CSV export, or a JSON list of products.

Pure: text in, `ProductData` out, or `CatalogFileError` listing every problem by row and column (or by product and
field), so a person fixes the file once instead of once per run.

Shopify's CSV has a row per variant (and rows holding only a further image), grouped by Handle; the product's
own columns (Title, Vendor, Status…) are filled on its first row. Both the classic headers ("Variant Price",
"Variant Inventory Qty", "Image Src") and the newer ones ("Price", "Inventory quantity", "Product image URL") are
read. The JSON list holds products as Shopify's Admin API and webhooks give them (with "variants"), or as
WooCommerce's REST API does; `{"products": [...]}` (Shopify's products.json) is taken too.
"""

import csv
import io

from . import mapping
from .mapping import PayloadError, ProductData, VariantData, VariationData

# Our name for a column -> the headers Shopify has used for it (compared ignoring case).
COLUMNS = {
    "handle": ["Handle", "URL handle"],
    "title": ["Title"],
    "vendor": ["Vendor"],
    "type": ["Type"],
    "published": ["Published", "Published on online store"],
    "status": ["Status"],
    "option1_name": ["Option1 Name"],
    "option1_value": ["Option1 Value"],
    "option2_name": ["Option2 Name"],
    "option2_value": ["Option2 Value"],
    "option3_name": ["Option3 Name"],
    "option3_value": ["Option3 Value"],
    "sku": ["Variant SKU", "SKU"],
    "price": ["Variant Price", "Price"],
    "compare_at_price": ["Variant Compare At Price", "Compare-at price"],
    "inventory_quantity": ["Variant Inventory Qty", "Inventory quantity"],
    "inventory_tracker": ["Variant Inventory Tracker", "Inventory tracker"],
    "inventory_policy": ["Variant Inventory Policy", "Continue selling when out of stock"],
    "image": ["Image Src", "Product image URL"],
    "variant_image": ["Variant Image", "Variant image URL"],
    "product_id": ["ID"],
    "variant_id": ["Variant ID"],
}
REQUIRED = ("handle", "title")
STATUSES = ("active", "draft", "archived")


class CatalogFileError(ValueError):
    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems))
        self.problems = problems


def read_shopify_csv(text: str, *, store_url: str = "") -> list[ProductData]:
    """Products from Shopify's product CSV export."""
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff")))
    try:
        header = next(reader)
    except StopIteration:
        raise CatalogFileError(["the file is empty: it needs Shopify's header row (Handle, Title, …)"]) from None
    except csv.Error as error:
        raise CatalogFileError([f"row 1: {error}"]) from None
    positions = _header_positions(header)
    missing = [COLUMNS[name][0] for name in REQUIRED if name not in positions]
    if missing:
        raise CatalogFileError([f"row 1: the column {name!r} is missing" for name in missing])
    products: dict[str, dict] = {}
    problems: list[str] = []
    try:
        for number, cells in enumerate(reader, start=2):
            if not any(cell.strip() for cell in cells):
                continue
            row = {name: cells[index].strip() if index < len(cells) else "" for name, index in positions.items()}
            _read_row(number, row, header, positions, products, problems)
    except csv.Error as error:
        problems.append(f"row {reader.line_num}: {error}")
    if problems:
        raise CatalogFileError(problems)
    return [_product_from_rows(handle, rows, store_url) for handle, rows in products.items()]


def read_json_catalog(data, *, platform: str = "", store_url: str = "") -> list[ProductData | VariationData]:
    """Products from a JSON list in Shopify's or WooCommerce's product shape (told apart by their fields)."""
    if isinstance(data, dict) and isinstance(data.get("products"), list):
        data = data["products"]
    if not isinstance(data, list):
        raise CatalogFileError(['the file must hold a JSON list of products (or {"products": [...]})'])
    products, problems = [], []
    for index, item in enumerate(data):
        kind = platform or _platform_of(item)
        try:
            if kind == mapping.SHOPIFY:
                products.append(mapping.shopify_product(item, store_url=store_url))
            elif kind == mapping.WOOCOMMERCE:
                products.append(mapping.woocommerce_product(item))
            else:
                problems.append(f"product {index + 1}: neither Shopify's shape (variants) nor WooCommerce's (type)")
        except PayloadError as error:
            problems.append(f"product {index + 1}: {error}")
    if problems:
        raise CatalogFileError(problems)
    # Variations after the products they belong to.
    return sorted(products, key=lambda product: isinstance(product, VariationData))


def _platform_of(item) -> str:
    if isinstance(item, dict) and "variants" in item:
        return mapping.SHOPIFY
    if isinstance(item, dict) and ("type" in item or "permalink" in item or "regular_price" in item):
        return mapping.WOOCOMMERCE
    return ""


def _header_positions(header: list[str]) -> dict[str, int]:
    folded = {cell.strip().casefold(): index for index, cell in reversed(list(enumerate(header)))}
    positions = {}
    for name, aliases in COLUMNS.items():
        for alias in aliases:
            if alias.casefold() in folded:
                positions[name] = folded[alias.casefold()]
                break
    return positions


def _read_row(number: int, row: dict, header: list[str], positions: dict, products: dict, problems: list) -> None:
    def column(name: str) -> str:
        return header[positions[name]].strip()

    handle = row["handle"]
    if not handle:
        problems.append(f"row {number}, column {column('handle')!r}: empty (every row names its product's handle)")
        return
    if handle not in products:
        products[handle] = {"first": row, "variants": [], "images": []}
        if not row.get("title"):
            problems.append(f"row {number}, column {column('title')!r}: empty on the product's first row")
    product = products[handle]
    if row.get("image"):
        if not row["image"].startswith(("https://", "http://")):
            problems.append(f"row {number}, column {column('image')!r}: {row['image'][:40]!r} is not a web address")
        else:
            product["images"].append(row["image"])
    is_variant = any(row.get(name) for name in ("option1_value", "sku", "price", "variant_id"))
    if not is_variant:
        return  # a row that only adds an image
    values = {}
    for name in ("price", "compare_at_price"):
        try:
            values[name] = mapping.read_money(row.get(name) or None, column(name) if name in positions else name)
        except PayloadError:
            problems.append(f"row {number}, column {column(name)!r}: {row[name][:20]!r} is not a price such as 19.99")
    try:
        values["inventory_quantity"] = mapping.read_integer(
            row.get("inventory_quantity") or None, "inventory", minimum=-mapping.MAX_QUANTITY
        )
    except PayloadError:
        problems.append(
            f"row {number}, column {column('inventory_quantity')!r}: "
            f"{row['inventory_quantity'][:20]!r} is not a whole number"
        )
    for name in ("product_id", "variant_id"):
        if row.get(name) and not row[name].isdigit():
            problems.append(f"row {number}, column {column(name)!r}: {row[name][:20]!r} is not a Shopify id")
    status = (row.get("status") or "").lower()
    if status and status not in STATUSES:
        problems.append(
            f"row {number}, column {column('status')!r}: {row['status'][:20]!r} is not one of {', '.join(STATUSES)}"
        )
    product["variants"].append({**row, **values, "row": number})


def _product_from_rows(handle: str, rows: dict, store_url: str) -> ProductData:
    first = rows["first"]
    names = [first.get(f"option{number}_name") or f"Option {number}" for number in (1, 2, 3)]
    variants = []
    for position, row in enumerate(rows["variants"], start=1):
        tracker = (row.get("inventory_tracker") or "").lower()
        quantity = row["inventory_quantity"]
        policy = (row.get("inventory_policy") or "").lower()
        variants.append(
            VariantData(
                external_id=row.get("variant_id", "") if (row.get("variant_id") or "").isdigit() else "",
                title=" / ".join(
                    value
                    for value in (row.get(f"option{n}_value") for n in (1, 2, 3))
                    if value and value != "Default Title"
                ),
                sku=row.get("sku", "")[:255],
                position=position,
                price=row["price"],
                compare_at_price=row["compare_at_price"],
                options=mapping.meaningful_options(
                    (names[n - 1], row.get(f"option{n}_value") or "") for n in (1, 2, 3)
                ),
                image_url=row.get("variant_image", "") if (row.get("variant_image") or "").startswith("http") else "",
                # The classic export names the tracker ("shopify") when stock is counted; the newer has no column.
                inventory_tracked=quantity is not None and (tracker != "" or "inventory_tracker" not in row),
                inventory_quantity=quantity,
                sells_when_out=policy in ("continue", "true"),
            )
        )
    status = (first.get("status") or "").lower()
    if not status:
        status = "draft" if (first.get("published") or "").lower() == "false" else "active"
    return ProductData(
        platform=mapping.SHOPIFY,
        external_id=first.get("product_id", "") if (first.get("product_id") or "").isdigit() else "",
        title=first.get("title", "")[:255],
        handle=handle[:255],
        url=f"{store_url.rstrip('/')}/products/{handle}" if store_url else "",
        image_url=rows["images"][0] if rows["images"] else "",
        vendor=first.get("vendor", "")[:255],
        product_type=first.get("type", "")[:255],
        status=status,
        variants=tuple(variants),
    )
