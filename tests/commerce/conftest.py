from datetime import UTC, datetime

import pytest
from django.utils import timezone

from commerce.models import Product, Variant
from conversations.models import SignupForm
from conversations.signup.demo import signup_form_load
from tests.factories import SubscriberFactory
from tests.fakes.store import FakeShopify, FakeWooCommerce
from tests.fakes.twilio import twilio_configured

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


# Browse tracking: the store's pages, the sign-up form whose script is on them, a shopper and a product.
STORE = "https://shop.example.com"


@pytest.fixture
def form(db, settings):
    settings.COMMERCE_STORE_URL = ""
    signup_form_load()
    form = SignupForm.objects.get(slug="welcome")
    form.allowed_origins = STORE
    form.save()
    return form


@pytest.fixture
def shopper(db):
    return SubscriberFactory(phone="+14155550142")


@pytest.fixture
def shirt(db):
    """The catalog's linen shirt, as the Shopify webhooks keep it."""
    product = Product.objects.create(
        platform="shopify",
        external_id="7513594",
        title="Linen shirt",
        handle="linen-shirt",
        url=f"{STORE}/products/linen-shirt",
        image_url=f"{STORE}/images/linen-shirt.jpg",
    )
    Variant.objects.create(product=product, external_id="42456180", title="S / Sand", sku="LS-S", price="44.00")
    Variant.objects.create(
        product=product,
        external_id="42456181",
        title="M / Sand",
        sku="LS-M",
        price="48.00",
        image_url=f"{STORE}/images/linen-shirt-m.jpg",
    )
    return product


# A Tuesday, 13:00 in New York (the shoppers' zone): inside the marketing window.
START = datetime(2027, 1, 5, 18, 0, tzinfo=UTC)


class Clock:
    """timezone.now, stopped at `at`; move it on with `clock.at += timedelta(...)`."""

    def __init__(self, at: datetime):
        self.at = at

    def __call__(self) -> datetime:
        return self.at


@pytest.fixture
def clock(monkeypatch):
    clock = Clock(START)
    monkeypatch.setattr(timezone, "now", clock)
    return clock


@pytest.fixture
def twilio(settings):
    """A fake Twilio on 127.0.0.1 that the settings point at."""
    with twilio_configured(settings) as fake:
        yield fake
