import pytest

from tests.fakes.store import FakeShopify, FakeWooCommerce

SHOPIFY_SECRET = "shpss_test_0123456789abcdef"
WOO_SECRET = "woo test secret with spaces & symbols"


@pytest.fixture
def shopify(settings, db):
    settings.SHOPIFY_WEBHOOK_SECRET = SHOPIFY_SECRET
    settings.SHOPIFY_WEBHOOK_SECRET_PREVIOUS = ""
    settings.SHOPIFY_SHOP_DOMAIN = "acme-outfitters.myshopify.com"
    settings.COMMERCE_STORE_URL = ""
    return FakeShopify(secret=SHOPIFY_SECRET)


@pytest.fixture
def woo(settings, db):
    settings.WOOCOMMERCE_WEBHOOK_SECRET = WOO_SECRET
    settings.WOOCOMMERCE_WEBHOOK_SECRET_PREVIOUS = ""
    return FakeWooCommerce(secret=WOO_SECRET)
