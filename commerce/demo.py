"""The demo catalog, loaded by `seed_demo` (settings.DEMO_LOADERS): a pretend store's products, sizes and stock.

A few dozen products (tees, hoodies, dresses, joggers, skincare, vegan snacks) as a Shopify store would describe
them, saved through the catalog services like any import, so their options are matched to the attributes the
same way ("Medium" and "M" are both size M). Product links point at the demo store (`/demo/store/`). Some
variants are sold out (the Organic cotton tee in M among them), so back-in-stock requests can be tried.

Idempotent: a product already in the catalog (by its id) is left as it is, stock and all, so running
`seed_demo` again adds nothing and never undoes a restock tried meanwhile.
"""

from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.utils.text import slugify

from .mapping import ProductData, VariantData
from .models import Platform, Product
from .services import catalog_import

# Made-up ids in a range of their own, as Shopify's are numbers: product n, its variant i, its inventory item.
PRODUCT_ID_BASE = 9_100_000_000_000
VARIANT_ID_BASE = 9_200_000_000_000
INVENTORY_ITEM_ID_BASE = 9_300_000_000_000

SIZES = ("S", "M", "L", "XL")
SIZE_WORDS = ("Small", "Medium", "Large", "X-Large")  # how some stores name them; matched to the same options


@dataclass(frozen=True)
class DemoProduct:
    title: str
    product_type: str
    price: str
    stock: tuple[int, ...]  # per variant, in the order of `values`
    option: str = "Size"
    values: tuple[str, ...] = SIZES
    compare_at: str = ""
    vendor: str = "Acme Outfitters"

    @property
    def handle(self) -> str:
        return slugify(self.title)


def _apparel(title, product_type, price, stock, *, words=False, compare_at=""):
    return DemoProduct(title, product_type, price, stock, values=SIZE_WORDS if words else SIZES, compare_at=compare_at)


CATALOG: tuple[DemoProduct, ...] = (
    # Tees. The Organic cotton tee is sold out in M: the back-in-stock demo.
    _apparel("Organic cotton tee", "Tees", "28.00", (14, 0, 9, 5)),
    _apparel("Everyday crew tee", "Tees", "22.00", (30, 25, 18, 12)),
    _apparel("Pocket tee", "Tees", "26.00", (6, 3, 0, 4), words=True),
    _apparel("Striped breton tee", "Tees", "34.00", (8, 5, 7, 0), compare_at="42.00"),
    _apparel("Sunrise graphic tee", "Tees", "30.00", (0, 0, 2, 6)),
    _apparel("Vintage wash tee", "Tees", "32.00", (11, 9, 10, 3), words=True),
    # Hoodies
    _apparel("Fleece pullover hoodie", "Hoodies", "64.00", (7, 12, 9, 4)),
    _apparel("Recycled zip hoodie", "Hoodies", "72.00", (5, 0, 6, 2), words=True),
    _apparel("Cropped hoodie", "Hoodies", "58.00", (9, 8, 4, 0), compare_at="68.00"),
    _apparel("Heavyweight hoodie", "Hoodies", "78.00", (3, 6, 6, 5)),
    # Dresses
    _apparel("Linen midi dress", "Dresses", "89.00", (4, 6, 3, 2)),
    _apparel("Wrap dress", "Dresses", "79.00", (0, 5, 4, 1), words=True),
    _apparel("Slip dress", "Dresses", "69.00", (6, 7, 0, 0), compare_at="85.00"),
    _apparel("Shirt dress", "Dresses", "74.00", (5, 4, 6, 3)),
    _apparel("Knit sweater dress", "Dresses", "96.00", (2, 3, 3, 2)),
    # Joggers
    _apparel("Organic joggers", "Joggers", "54.00", (10, 11, 8, 6)),
    _apparel("Wide-leg sweatpants", "Joggers", "59.00", (4, 0, 5, 3), words=True),
    # Skincare: variants by skin type are matched to the skin_type attribute.
    DemoProduct(
        "Gentle foaming cleanser", "Skincare", "18.00", (20, 15, 12), "Skin type", ("Dry", "Oily", "Sensitive")
    ),
    DemoProduct("Hydrating serum", "Skincare", "32.00", (25,), "Title", ("Default Title",)),
    DemoProduct("Daily SPF 30 moisturiser", "Skincare", "26.00", (18, 0), "Skin type", ("Normal", "Sensitive")),
    DemoProduct("Calming face oil", "Skincare", "38.00", (7,), "Title", ("Default Title",), compare_at="46.00"),
    DemoProduct("Clay detox mask", "Skincare", "24.00", (0,), "Title", ("Default Title",)),
    DemoProduct("Overnight repair cream", "Skincare", "42.00", (9,), "Title", ("Default Title",)),
    DemoProduct("Vegan lip balm", "Skincare", "6.00", (40, 35, 0), "Flavour", ("Mint", "Vanilla", "Cherry")),
    # Vegan snacks
    DemoProduct("Chili lime roasted chickpeas", "Vegan snacks", "4.50", (60, 14), "Pack", ("Single", "Box of 12")),
    DemoProduct("Dark chocolate almond bar", "Vegan snacks", "3.75", (80,), "Title", ("Default Title",)),
    DemoProduct("Sea salt kale chips", "Vegan snacks", "5.00", (0, 6), "Pack", ("Single", "Box of 12")),
    DemoProduct("Peanut butter protein bites", "Vegan snacks", "7.50", (22,), "Title", ("Default Title",)),
    DemoProduct("Maple pecan granola", "Vegan snacks", "9.00", (30,), "Title", ("Default Title",), compare_at="11.00"),
    DemoProduct("Spicy seaweed crisps", "Vegan snacks", "4.00", (45, 0), "Pack", ("Single", "Box of 12")),
)


def demo_store_url() -> str:
    """Where the demo catalog's products live: the demo store page of this Parley."""
    base = (settings.PUBLIC_BASE_URL or "http://127.0.0.1:8000").rstrip("/")
    return f"{base}/demo/store"


def demo_catalog_products() -> list[ProductData]:
    """The demo catalog as a store's platform would describe it (pure: no database)."""
    store = demo_store_url()
    products = []
    for number, item in enumerate(CATALOG, start=1):
        variants = []
        for position, (value, quantity) in enumerate(zip(item.values, item.stock, strict=True), start=1):
            key = number * 100 + position
            single = value == "Default Title"  # Shopify's name for the one variant of a product without options
            variants.append(
                VariantData(
                    external_id=str(VARIANT_ID_BASE + key),
                    title=value,
                    sku=("DEMO-" + item.handle + ("" if single else "-" + slugify(value))).upper(),
                    position=position,
                    price=Decimal(item.price),
                    compare_at_price=Decimal(item.compare_at) if item.compare_at else None,
                    options=() if single else ((item.option, value),),
                    inventory_item_id=str(INVENTORY_ITEM_ID_BASE + key),
                    inventory_quantity=quantity,
                )
            )
        products.append(
            ProductData(
                platform=Platform.SHOPIFY,
                external_id=str(PRODUCT_ID_BASE + number),
                title=item.title,
                handle=item.handle,
                url=f"{store}/products/{item.handle}",
                vendor=item.vendor,
                product_type=item.product_type,
                variants=tuple(variants),
            )
        )
    return products


def demo_catalog_load() -> list[str]:
    """Add the demo catalog's products that are not in the catalog yet; returns what was added."""
    products = demo_catalog_products()
    present = set(
        Product.objects.filter(
            platform=Platform.SHOPIFY, external_id__in=[product.external_id for product in products]
        ).values_list("external_id", flat=True)
    )
    missing = [product for product in products if product.external_id not in present]
    if not missing:
        return []
    report = catalog_import(products=missing)
    sold_out = sum(variant.inventory_quantity == 0 for product in missing for variant in product.variants)
    return [
        f"demo catalog: {report.created} products, {report.variants} variants ({sold_out} sold out), "
        "linked to /demo/store/"
    ]
