"""Browse tracking in Chromium: the pop-up's script on a store's pages (another origin) reports a known shopper's
product and collection views, and nothing for anyone else (issue #17, item 4).

The store is a real HTTP server on 127.0.0.1, Parley the live server on localhost. Its pages are shaped as the
platforms write them: a Shopify product page with ShopifyAnalytics.meta (from a script file of the store's own, so
that the store's strict policy holds), a WooCommerce product page with its body classes and schema.org JSON-LD, and
a WooCommerce category page.
"""

import json
import time
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.auth.models import Permission
from playwright.sync_api import expect

from campaigns import services as campaigns
from campaigns.fanout import campaigns_fanout_due
from campaigns.models import Link
from commerce.models import Product, Variant
from conversations.models import Event, Message, SignupForm, Subscriber, Tag
from conversations.signup.demo import signup_form_load
from segments.services import segment_create
from tests.factories import SubscriberFactory, UserFactory, api_key_for
from tests.fakes.server import LocalServer

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

STORE_NUMBER = "+18885550000"
SHIRT_PATH = "/products/linen-shirt"

SHOPIFY_META = {
    "product": {
        "id": 7513594,
        "gid": "gid://shopify/Product/7513594",
        "vendor": "Acme Outfitters",
        "type": "Shirts",
        "variants": [
            {
                "id": 42456180,
                "price": 4400,
                "name": "Linen shirt - S / Sand",
                "public_title": "S / Sand",
                "sku": "LS-S",
            },
            {
                "id": 42456181,
                "price": 4800,
                "name": "Linen shirt - M / Sand",
                "public_title": "M / Sand",
                "sku": "LS-M",
            },
        ],
    },
    "page": {"pageType": "product", "resourceType": "product", "resourceId": 7513594},
}

PAGE = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>{title} - Acme Outfitters</title>{head}</head>
<body class="{body_class}">
<main><h1 class="{heading_class}">{title}</h1><button type="button">Add to cart</button></main>
<script src="{parley}/signup/embed.js" data-form="welcome" async></script>
</body>
</html>
"""

WOO_JSON_LD = {
    "@context": "https://schema.org/",
    "@graph": [
        {"@type": "BreadcrumbList", "itemListElement": []},
        {
            "@type": "Product",
            "@id": "/product/wool-socks/#product",
            "name": "Wool socks",
            "sku": "WS-1",
            "offers": [{"@type": "Offer", "price": "12.50", "priceCurrency": "USD"}],
        },
    ],
}

LOOKBOOK_JSON_LD = {
    "@context": "https://schema.org",
    "@type": "Product",
    "productID": "881",
    "name": "Straw hat",
    "image": ["/images/straw-hat.jpg"],
    "offers": {"@type": "Offer", "price": 35, "priceCurrency": "USD"},
}
PARLEY_PAGE = 'window.parleyPage = {product_id: "GIFT-50", title: "Gift card", price: "50.00"};'


class StoreSite(LocalServer):
    """A store's own site: a Shopify-shaped product page, a WooCommerce product page and a WooCommerce category."""

    def __init__(self, parley_url: str):
        pages = {
            SHIRT_PATH: PAGE.format(
                title="Linen shirt",
                head='<script src="/shopify-analytics.js"></script>',
                body_class="template-product",
                heading_class="product__title",
                parley=parley_url,
            ),
            "/product/wool-socks/": PAGE.format(
                title="Wool socks",
                head=f'<script type="application/ld+json">{json.dumps(WOO_JSON_LD)}</script>',
                body_class="product-template-default single single-product postid-37 woocommerce",
                heading_class="product_title entry-title",
                parley=parley_url,
            ),
            "/lookbook/": PAGE.format(  # another platform: only schema.org's JSON-LD says what it shows
                title="Lookbook",
                head=f'<script type="application/ld+json">{json.dumps(LOOKBOOK_JSON_LD)}</script>',
                body_class="",
                heading_class="",
                parley=parley_url,
            ),
            "/gift-card/": PAGE.format(  # the store describes its page itself, from a script of its own
                title="Gift card",
                head='<script src="/parley-page.js"></script>',
                body_class="",
                heading_class="",
                parley=parley_url,
            ),
            "/product-category/summer/": PAGE.format(
                title="Summer",
                head="",
                body_class="archive tax-product_cat term-summer term-16 woocommerce",
                heading_class="page-title",
                parley=parley_url,
            ),
        }
        meta = f"window.ShopifyAnalytics = {{meta: {json.dumps(SHOPIFY_META)}}};".encode()
        policy = f"default-src 'self'; script-src 'self' {parley_url}; connect-src {parley_url}; style-src 'self'"

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                path = urlsplit(self.path).path
                if path == "/shopify-analytics.js":
                    body, kind = meta, "text/javascript"
                elif path == "/parley-page.js":
                    body, kind = PARLEY_PAGE.encode(), "text/javascript"
                elif path in pages:
                    body, kind = pages[path].encode(), "text/html; charset=utf-8"
                else:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Security-Policy", policy)  # strict: only Parley's address is let in
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.url = self.start_server(Handler)


@pytest.fixture
def form(transactional_db):
    signup_form_load()
    form = SignupForm.objects.get(slug="welcome")
    form.trigger_value = 1
    form.save()
    return form


@pytest.fixture
def store(live_server, form):
    with StoreSite(live_server.url) as site:
        form.allowed_origins = f"{form.allowed_origins}\n{site.url}"
        form.save()
        yield site


@pytest.fixture
def shirt(store):
    """The catalog knows the linen shirt (Shopify's webhooks keep it), at the store's address."""
    product = Product.objects.create(
        platform="shopify",
        external_id="7513594",
        title="Linen shirt",
        handle="linen-shirt",
        url=f"{store.url}{SHIRT_PATH}",
        image_url=f"{store.url}/images/linen-shirt.jpg",
    )
    Variant.objects.create(product=product, external_id="42456180", title="S / Sand", sku="LS-S", price="44.00")
    Variant.objects.create(product=product, external_id="42456181", title="M / Sand", sku="LS-M", price="48.00")
    return product


@pytest.fixture
def gateway(transactional_db):
    user = UserFactory(username="sms-gateway")
    user.user_permissions.set(Permission.objects.filter(codename="add_message"))
    return {"Authorization": f"Token {api_key_for(user)}"}


def watch(page, live_server, store) -> dict:
    seen = {"requests": [], "problems": []}
    page.on("request", lambda request: seen["requests"].append(request.url))
    page.on("pageerror", lambda error: seen["problems"].append(f"script error: {error}"))
    page.on("response", lambda r: seen["problems"].append(f"{r.status} {r.url}") if r.status >= 400 else None)
    seen["elsewhere"] = lambda: [
        url for url in seen["requests"] if not url.startswith((f"{live_server.url}/", f"{store.url}/"))
    ]
    seen["reports"] = lambda: [url for url in seen["requests"] if url.startswith(f"{live_server.url}/browse/")]
    return seen


def open_page(page, url: str, live_server) -> None:
    """Load a store page and wait until the script has read the form's settings."""
    with page.expect_response(f"{live_server.url}/signup/welcome/config.json"):
        page.goto(url)


def views_of(subscriber, type: str = "product_viewed", count: int = 1, timeout: float = 5.0) -> list[Event]:
    """The events of `type` once there are `count` (the script reports in the background)."""
    deadline = time.monotonic() + timeout
    while True:
        events = list(Event.objects.filter(subscriber=subscriber, type=type).order_by("id"))
        if len(events) >= count or time.monotonic() > deadline:
            return events
        time.sleep(0.1)


def kept_identity(page):
    return page.evaluate("localStorage.getItem('parley-id')")


def test_after_signing_up_in_this_browser_the_shoppers_views_are_recorded(
    page, live_server, store, shirt, form, gateway
):
    seen = watch(page, live_server, store)
    open_page(page, f"{store.url}{SHIRT_PATH}?variant=42456181", live_server)
    dialog = page.get_by_role("dialog", name=form.headline)
    dialog.get_by_label("Mobile number").fill("(415) 555-0181")
    dialog.get_by_role("checkbox").check()
    dialog.get_by_role("button", name=form.button_text).click()
    expect(dialog.get_by_role("status")).to_contain_text(form.thank_you_text)
    shopper = Subscriber.objects.get(phone="+14155550181")
    assert kept_identity(page), "the sign-up's identifier is kept in the store's own storage"

    # Pending until their Y: their views are not kept yet.
    open_page(page, f"{store.url}{SHIRT_PATH}?variant=42456181", live_server)
    page.wait_for_timeout(800)
    assert len(seen["reports"]()) == 1 and not Event.objects.filter(type="product_viewed").exists()

    response = page.request.post(
        f"{live_server.url}/api/v1/messages/inbound/",
        headers=gateway,
        data={"from": "+14155550181", "to": STORE_NUMBER, "body": "Y", "provider_message_id": "SM-browse-y"},
    )
    assert response.status == 201
    shopper.refresh_from_db()
    assert shopper.status == Subscriber.Status.SUBSCRIBED

    # Subscribed: the Shopify product page is a product_viewed with the catalog's details and the chosen variant.
    open_page(page, f"{store.url}{SHIRT_PATH}?variant=42456181", live_server)
    (viewed,) = views_of(shopper)
    assert viewed.properties == {
        "product_id": "7513594",
        "variant_id": "42456181",
        "title": "Linen shirt",
        "url": f"{store.url}{SHIRT_PATH}",
        "image_url": f"{store.url}/images/linen-shirt.jpg",
        "price": 48,
        "platform": "shopify",
    }
    # Looking again at once counts once.
    open_page(page, f"{store.url}{SHIRT_PATH}?variant=42456181", live_server)
    page.wait_for_timeout(800)
    assert len(views_of(shopper, count=2, timeout=0.5)) == 1

    # A WooCommerce product the catalog does not know: what the page says (body classes and JSON-LD).
    open_page(page, f"{store.url}/product/wool-socks/", live_server)
    socks = views_of(shopper, count=2)[-1]
    assert socks.properties == {
        "product_id": "37",
        "variant_id": "",
        "title": "Wool socks",
        "url": f"{store.url}/product/wool-socks/",
        "image_url": "",
        "price": 12.5,
        "platform": "woocommerce",
    }
    # A category page is a collection_viewed.
    open_page(page, f"{store.url}/product-category/summer/", live_server)
    (summer,) = views_of(shopper, "collection_viewed")
    assert summer.properties == {
        "collection": "summer",
        "title": "Summer",
        "url": f"{store.url}/product-category/summer/",
    }

    assert seen["elsewhere"]() == [] and seen["problems"] == []


def test_after_a_tracked_link_in_a_text_the_shoppers_views_are_recorded(page, live_server, store, shirt):
    shopper = SubscriberFactory(phone="+14155550182", first_name="Noor")
    shopper.tags.add(Tag.objects.create(name="linen-fans"))
    segment = segment_create(name="Linen fans", rules={"all": [{"tag": "linen-fans"}]})
    campaign = campaigns.campaign_save(
        data={
            "name": "Linen is back",
            "link_url": "https://shop.example/products/linen-shirt",
            "holdout_percent": 0,
            "variants": [{"body": "Linen is back: {{ link }}", "weight": 100}],
            "include_segments": [segment.pk],
            "exclude_segments": [],
        }
    )
    campaigns.campaign_send(campaign=campaign)
    campaigns_fanout_due()
    # Campaign links must be https; the test's store speaks http on 127.0.0.1, so its link row is pointed there.
    Link.objects.filter(variant__campaign=campaign).update(url=f"{store.url}{SHIRT_PATH}?variant=42456181")
    (text,) = Message.objects.filter(subscriber=shopper, origin="campaign")
    short_link = urlsplit(text.body.split()[-1]).path

    seen = watch(page, live_server, store)
    with page.expect_response(f"{live_server.url}/signup/welcome/config.json"):
        page.goto(f"{live_server.url}{short_link}")
    # The redirect brought the identifier; the script kept it and took it out of the address, the store's query
    # and the campaign's UTM parameters stay.
    address = urlsplit(page.url)
    assert (address.netloc, address.path) == (urlsplit(store.url).netloc, SHIRT_PATH)
    query = parse_qs(address.query)
    assert "parley_id" not in query and query["variant"] == ["42456181"] and query["utm_source"] == ["parley"]
    assert kept_identity(page)
    (viewed,) = views_of(shopper)
    assert (viewed.properties["title"], viewed.properties["url"]) == ("Linen shirt", f"{store.url}{SHIRT_PATH}")

    # Later pages without the parameter: still known.
    open_page(page, f"{store.url}/product-category/summer/", live_server)
    assert views_of(shopper, "collection_viewed")
    assert seen["elsewhere"]() == [] and seen["problems"] == []


def test_an_anonymous_visitor_sends_nothing_and_a_forged_identifier_is_refused_and_forgotten(
    page, live_server, store, shirt, form
):
    seen = watch(page, live_server, store)
    for path in (SHIRT_PATH, "/product/wool-socks/", "/product-category/summer/"):
        open_page(page, f"{store.url}{path}", live_server)
    page.wait_for_timeout(1000)
    assert seen["reports"]() == [] and kept_identity(page) is None
    assert not Event.objects.exists()

    # Someone makes up an identifier: refused (403, forged), and the script forgets it.
    with page.expect_response(lambda r: r.url.startswith(f"{live_server.url}/browse/")) as answer:
        page.goto(f"{store.url}{SHIRT_PATH}?parley_id=s1:1tAAAA:madeup")
    assert answer.value.status == 403 and answer.value.json()["reason"] == "forged"
    assert "parley_id" not in page.url
    page.wait_for_timeout(300)
    assert kept_identity(page) is None
    assert not Event.objects.exists()
    assert seen["elsewhere"]() == []


def test_with_tracking_off_the_script_keeps_and_sends_nothing(page, live_server, store, shirt, form):
    from conversations.signup.identity import browse_identity_sign

    shopper = SubscriberFactory(phone="+14155550183")
    form.track_browsing = False
    form.save()
    seen = watch(page, live_server, store)
    identity = browse_identity_sign(subscriber_id=shopper.pk)
    open_page(page, f"{store.url}{SHIRT_PATH}?parley_id={identity}", live_server)
    page.wait_for_timeout(1000)
    assert "parley_id" not in page.url  # taken out of the address all the same
    assert seen["reports"]() == [] and kept_identity(page) is None
    assert not Event.objects.exists()


def test_json_ld_the_stores_own_description_and_explicit_calls_are_read(page, live_server, store, form):
    from conversations.signup.identity import browse_identity_sign

    shopper = SubscriberFactory(phone="+14155550184")
    identity = browse_identity_sign(subscriber_id=shopper.pk)
    open_page(page, f"{store.url}/lookbook/?parley_id={identity}", live_server)
    (hat,) = views_of(shopper)
    assert hat.properties == {
        "product_id": "881",
        "variant_id": "",
        "title": "Straw hat",
        "url": f"{store.url}/lookbook/",
        "image_url": f"{store.url}/images/straw-hat.jpg",  # written relative to the page
        "price": 35,
        "platform": "",
    }
    open_page(page, f"{store.url}/gift-card/", live_server)
    gift = views_of(shopper, count=2)[-1]
    assert (gift.properties["product_id"], gift.properties["title"], gift.properties["price"]) == (
        "GIFT-50",
        "Gift card",
        50,
    )
    # A single-page store reports the next product itself, and a collection.
    page.evaluate("window.parley.viewed({product_id: '77', title: 'Beach towel', url: '/towel'})")
    towel = views_of(shopper, count=3)[-1]
    assert (towel.properties["title"], towel.properties["url"]) == ("Beach towel", f"{store.url}/towel")
    page.evaluate("window.parley.viewed({collection: 'beach', title: 'Beach'})")
    (beach,) = views_of(shopper, "collection_viewed")
    assert beach.properties == {"collection": "beach", "title": "Beach", "url": f"{store.url}/gift-card/"}
