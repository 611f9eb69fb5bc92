"""The demo store's product pages: where the demo catalog's links (back in stock, browse nudges) lead."""

import json
import re

import pytest

from commerce.demo import demo_catalog_load
from commerce.models import Product

pytestmark = pytest.mark.django_db


def test_a_demo_product_page_shows_its_variants_stock_and_json_ld(client):
    demo_catalog_load()
    tee = Product.objects.get(handle="organic-cotton-tee")

    response = client.get(f"/demo/store/products/{tee.handle}")

    assert response.status_code == 200
    page = response.content.decode()
    assert "Organic cotton tee" in page and "sold out" in page
    (block,) = re.findall(r'<script type="application/ld\+json">(.*?)</script>', page, re.S)
    data = json.loads(block)
    assert (data["@type"], data["name"], data["productID"]) == ("Product", tee.title, tee.external_id)
    assert tee.url.endswith(f"/demo/store/products/{tee.handle}")


def test_an_unknown_product_is_a_404_and_a_title_cannot_break_out_of_the_data_block(client, settings):
    demo_catalog_load()
    assert client.get("/demo/store/products/no-such-thing").status_code == 404
    Product.objects.filter(handle="organic-cotton-tee").update(title="</script><script>alert(1)</script>")

    page = client.get("/demo/store/products/organic-cotton-tee").content.decode()

    assert "<script>alert(1)" not in page
