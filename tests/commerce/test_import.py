"""`manage.py import_catalog`: Shopify's product CSV export or a JSON list, idempotent, errors by row and column."""

import io
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command

from commerce.catalog_files import CatalogFileError, read_shopify_csv
from commerce.models import Product, Variant
from tests.fakes.store import DATA, payload

pytestmark = pytest.mark.django_db


def run(path, *args) -> str:
    out = io.StringIO()
    call_command("import_catalog", str(path), *args, stdout=out)
    return out.getvalue()


def write(tmp_path, name: str, text: str):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_importing_shopifys_csv_export(settings):
    settings.SHOPIFY_SHOP_DOMAIN, settings.COMMERCE_STORE_URL = "", "https://shop.example.com"

    output = run(DATA / "shopify/products_export.csv")

    assert output.endswith("2 products created, 0 updated, 4 variants.\n")
    shirt = Product.objects.get(handle="example-t-shirt")
    assert (shirt.title, shirt.platform, shirt.external_id, shirt.status) == (
        "Example T-Shirt",
        "shopify",
        "",
        "active",
    )
    assert shirt.url == "https://shop.example.com/products/example-t-shirt"
    assert shirt.image_url.endswith("example-t-shirt.jpg?v=1")  # the first image row
    assert (shirt.vendor, shirt.product_type) == ("Acme", "Shirts")
    sizes = {v.title: v for v in shirt.variants.all()}
    assert list(sizes) == ["Small", "Medium", "Large"]
    assert sizes["Small"].options == [{"name": "Size", "value": "Small"}]  # the name from the first row
    assert sizes["Small"].attributes == {"size": "S"}
    assert (sizes["Small"].price, sizes["Small"].compare_at_price) == (Decimal("19.99"), Decimal("24.99"))
    assert (sizes["Medium"].inventory_quantity, sizes["Medium"].in_stock) == (0, False)
    assert sizes["Large"].in_stock  # 4 left, and sold when out (policy continue)
    tote = Product.objects.get(handle="canvas-tote")
    assert tote.status == "draft"
    variant = tote.variants.get()
    assert (variant.options, variant.sku, variant.inventory_tracked, variant.in_stock) == ([], "TOTE-1", False, True)


def test_importing_twice_changes_nothing_more():
    run(DATA / "shopify/products_export.csv")
    output = run(DATA / "shopify/products_export.csv")

    assert output.endswith("0 products created, 2 updated, 4 variants.\n")
    assert Product.objects.count() == 2
    assert Variant.objects.count() == 4


def test_the_first_webhook_takes_over_the_imported_product(client, shopify):
    run(DATA / "shopify/products_export.csv")
    imported = {variant.sku: variant.pk for variant in Variant.objects.all()}

    shopify.post(client, "products/update", payload("shopify/products_update.json"))

    shirt = Product.objects.get(handle="example-t-shirt")
    assert shirt.external_id == "788032119674292922"
    assert Product.objects.count() == 2
    # Small and Medium were matched by SKU and kept their rows; Large is not in Shopify's payload any more.
    assert {variant.sku: variant.pk for variant in shirt.variants.all()} == {
        "example-shirt-s": imported["example-shirt-s"],
        "example-shirt-m": imported["example-shirt-m"],
    }
    assert shirt.variants.get(sku="example-shirt-m").inventory_quantity == 5


def test_importing_shopifys_json(settings):
    output = run(DATA / "shopify/products.json")

    assert output.endswith("2 products created, 0 updated, 3 variants.\n")
    assert Product.objects.get(external_id="632910392").variants.get().sku == "TOTE-1"


def test_importing_woocommerces_json_with_variations():
    output = run(DATA / "woocommerce/products.json")

    assert "2 products created" in output
    variable = Product.objects.get(external_id="799")
    assert variable.title == "Ship Your Idea"
    assert variable.variants.get().attributes == {"size": "M"}


def test_the_newer_csv_headers_are_read_too(tmp_path):
    path = write(
        tmp_path,
        "products.csv",
        "Title,URL handle,Option1 name,Option1 value,SKU,Price,Compare-at price,Inventory quantity,"
        "Product image URL,Status\n"
        "Linen Shirt,linen-shirt,Size,M,LIN-M,45.00,,7,https://cdn.example.com/linen.jpg,active\n"
        ",linen-shirt,,XL,LIN-XL,45.00,50.00,0,,\n",
    )

    run(path)

    shirt = Product.objects.get()
    assert shirt.image_url == "https://cdn.example.com/linen.jpg"
    assert [(v.sku, v.attributes, v.in_stock) for v in shirt.variants.all()] == [
        ("LIN-M", {"size": "M"}, True),
        ("LIN-XL", {"size": "XL"}, False),
    ]


def test_errors_name_the_row_and_the_column_and_nothing_is_imported(tmp_path):
    path = write(
        tmp_path,
        "broken.csv",
        "Handle,Title,Option1 Name,Option1 Value,Variant SKU,Variant Price,Variant Inventory Qty,Status\n"
        "good-one,Good,Size,M,G-M,10.00,3,active\n"
        "bad-price,Bad,Size,M,B-M,ten dollars,3,active\n"
        "bad-qty,Worse,Size,M,W-M,10.00,lots,sold\n"
        ",Orphan,Size,M,O-M,10.00,1,active\n"
        "no-title,,Size,M,N-M,10.00,1,active\n",
    )

    with pytest.raises(CommandError) as raised:
        run(path)

    assert str(raised.value).splitlines() == [
        f"{path}: nothing imported, fix these first:",
        "row 3, column 'Variant Price': 'ten dollars' is not a price such as 19.99",
        "row 4, column 'Variant Inventory Qty': 'lots' is not a whole number",
        "row 4, column 'Status': 'sold' is not one of active, draft, archived",
        "row 5, column 'Handle': empty (every row names its product's handle)",
        "row 6, column 'Title': empty on the product's first row",
    ]
    assert not Product.objects.exists()


def test_a_csv_without_shopifys_columns_is_refused(tmp_path):
    with pytest.raises(CommandError, match="row 1: the column 'Handle' is missing"):
        run(write(tmp_path, "other.csv", "name,price\nShirt,10\n"))


def test_a_json_product_in_neither_shape_is_named(tmp_path):
    with pytest.raises(CommandError, match="product 2: neither Shopify's shape"):
        run(write(tmp_path, "list.json", '[{"id": 1, "title": "A", "variants": []}, {"name": "B"}]'))


def test_a_json_product_with_a_bad_field_names_it(tmp_path):
    with pytest.raises(CommandError, match=r"product 1: variants\[0\]\.price must be an amount"):
        run(write(tmp_path, "list.json", '[{"id": 1, "title": "A", "variants": [{"id": 2, "price": "free"}]}]'))


def test_not_json_and_not_a_file(tmp_path):
    with pytest.raises(CommandError, match="not JSON"):
        run(write(tmp_path, "broken.json", "[{"))
    with pytest.raises(CommandError, match="cannot be read"):
        run(tmp_path / "missing.csv")


def test_dry_run_imports_nothing():
    assert "2 products read; nothing imported" in run(DATA / "shopify/products_export.csv", "--dry-run")
    assert not Product.objects.exists()


def test_an_empty_csv():
    with pytest.raises(CatalogFileError, match="the file is empty"):
        read_shopify_csv("")
