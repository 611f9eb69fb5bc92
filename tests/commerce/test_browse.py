"""Browse tracking's endpoint: POST /browse/<form>/ from the pop-up's script on the store's pages.

A known shopper's product or collection view becomes one `product_viewed` / `collection_viewed` event (per shopper
and product in BROWSE_REPEAT_MINUTES), with the catalog's title, link and price when the catalog knows the product;
forged, expired or unknown identifiers, URLs off the store's site, other sites and tracking turned off are refused
with a clear 4xx and change nothing.
"""

import json
import time
from datetime import timedelta

import pytest
from django.core import signing
from django.utils import timezone

from conversations.models import Event, Subscriber
from conversations.signup.identity import NOBODY, SALT, browse_identity_read, browse_identity_sign
from tests.commerce.conftest import STORE
from tests.factories import SubscriberFactory

PAGE = f"{STORE}/products/linen-shirt?variant=42456181"


def report(client, data, *, origin=STORE, slug="welcome"):
    headers = {"HTTP_ORIGIN": origin} if origin else {}
    return client.post(f"/browse/{slug}/", json.dumps(data), content_type="application/json", **headers)


def product_view(shopper, **fields):
    return {
        "identity": browse_identity_sign(subscriber_id=shopper.pk),
        "kind": "product",
        "url": PAGE,
        "platform": "shopify",
        "product_id": "7513594",
        "variant_id": "42456181",
        "title": "Linen shirt",
        "price": 48,
        **fields,
    }


def test_a_known_shoppers_product_view_is_recorded_with_the_catalogs_title_link_and_price(client, form, shopper, shirt):
    # The page says other things than the catalog: the catalog wins, the page's own address is not used.
    response = report(client, product_view(shopper, title="CHEAP SHIRT!!", price=1, image_url="https://evil.test/x"))
    assert response.status_code == 202, response.content
    assert response.json() == {"status": "accepted"}
    assert response["Access-Control-Allow-Origin"] == STORE
    (event,) = Event.objects.all()
    assert (event.subscriber, event.type) == (shopper, "product_viewed")
    assert event.properties == {
        "product_id": "7513594",
        "variant_id": "42456181",
        "title": "Linen shirt",
        "url": f"{STORE}/products/linen-shirt",
        "image_url": f"{STORE}/images/linen-shirt-m.jpg",
        "price": 48,
        "platform": "shopify",
    }


def test_the_catalog_finds_the_product_by_sku_or_page_address_when_the_page_has_no_id(client, form, shopper, shirt):
    view = product_view(shopper, product_id="", variant_id="", platform="", sku="LS-S", title="")
    assert report(client, view).status_code == 202
    by_sku = Event.objects.get()
    assert (by_sku.properties["title"], by_sku.properties["variant_id"], by_sku.properties["price"]) == (
        "Linen shirt",
        "42456180",
        44,
    )
    Event.objects.all().delete()
    view = product_view(
        shopper, product_id="", variant_id="", sku="", title="Linen", url=f"{STORE}/products/linen-shirt"
    )
    assert report(client, view).status_code == 202
    assert Event.objects.get().properties["product_id"] == "7513594"


def test_a_product_the_catalog_does_not_know_keeps_what_the_page_says_but_no_image_from_elsewhere(
    client, form, shopper
):
    view = product_view(
        shopper,
        product_id="999",
        variant_id="",
        title="Wool scarf",
        price="19.90",
        url=f"{STORE}/products/wool-scarf",
        image_url="https://cdn.example.net/scarf.jpg",
    )
    assert report(client, view).status_code == 202
    assert Event.objects.get().properties == {
        "product_id": "999",
        "variant_id": "",
        "title": "Wool scarf",
        "url": f"{STORE}/products/wool-scarf",
        "image_url": "",
        "price": 19.9,
        "platform": "shopify",
    }


def test_a_collection_view_is_recorded(client, form, shopper):
    view = {
        "identity": browse_identity_sign(subscriber_id=shopper.pk),
        "kind": "collection",
        "url": f"{STORE}/collections/summer",
        "collection": "summer",
        "title": "Summer",
        "platform": "shopify",
    }
    assert report(client, view).status_code == 202
    event = Event.objects.get()
    assert event.type == "collection_viewed"
    assert event.properties == {"collection": "summer", "title": "Summer", "url": f"{STORE}/collections/summer"}


def test_repeated_views_of_a_product_count_once_per_window(client, form, shopper, shirt, monkeypatch, settings):
    settings.BROWSE_REPEAT_MINUTES = 30
    start = timezone.now().replace(minute=0, second=1, microsecond=0)
    monkeypatch.setattr(timezone, "now", lambda: start)
    for _ in range(3):
        assert report(client, product_view(shopper)).status_code == 202
    assert Event.objects.filter(type="product_viewed").count() == 1
    # Another product is another event; the same one half an hour later too.
    assert report(client, product_view(shopper, product_id="555", url=f"{STORE}/products/other")).status_code == 202
    assert Event.objects.filter(type="product_viewed").count() == 2
    monkeypatch.setattr(timezone, "now", lambda: start + timedelta(minutes=31))
    assert report(client, product_view(shopper)).status_code == 202
    assert Event.objects.filter(type="product_viewed").count() == 3


class SignedLongAgo(signing.TimestampSigner):
    def timestamp(self):
        return signing.b62_encode(int(time.time()) - 31 * 86400)


@pytest.mark.parametrize(
    ("identity", "status", "reason", "words"),
    [
        ("7:1tXyz:forgedsignature", 403, "forged", "not one Parley signed"),
        ("", 400, "invalid", "identity is missing"),
        (signing.TimestampSigner(salt="another.salt").sign("s1"), 403, "forged", "not one Parley signed"),
        (SignedLongAgo(salt=SALT).sign("s1"), 403, "expired", "older than 30 days"),
    ],
)
def test_a_forged_expired_or_missing_identifier_is_refused(
    client, form, shopper, shirt, identity, status, reason, words
):
    response = report(client, product_view(shopper, identity=identity))
    assert response.status_code == status
    assert response.json()["reason"] == reason and words in response.json()["error"]
    assert response["Access-Control-Allow-Origin"] == STORE  # the script can read why, and forget the identifier
    assert not Event.objects.exists()


def test_an_identifier_whose_subscriber_was_deleted_is_refused(client, form, shopper):
    view = product_view(shopper)
    shopper.delete()
    response = report(client, view)
    assert response.status_code == 404 and response.json()["reason"] == "unknown"
    assert not Event.objects.exists()


def test_pending_unsubscribed_and_nobody_are_answered_alike_and_nothing_is_recorded(client, form, shopper):
    pending = SubscriberFactory(status=Subscriber.Status.PENDING)
    gone = SubscriberFactory(status=Subscriber.Status.UNSUBSCRIBED)
    nobody = browse_identity_sign(attempt_id=12345)  # a sign-up that texted no one (here: none at all)
    for identity in (
        browse_identity_sign(subscriber_id=pending.pk),
        browse_identity_sign(subscriber_id=gone.pk),
        nobody,
    ):
        response = report(client, product_view(shopper, identity=identity))
        assert (response.status_code, response.json()) == (202, {"status": "accepted"})
    assert not Event.objects.exists()


@pytest.mark.parametrize(
    "url",
    [
        "https://evil.example/products/linen-shirt",
        "https://shop.example.com.evil.example/products/x",
        "http://shop.example.com/products/linen-shirt",  # the store's site is https
        "javascript:alert(1)",
    ],
)
def test_a_url_off_the_stores_site_is_refused(client, form, shopper, url):
    response = report(client, product_view(shopper, url=url))
    assert response.status_code == 400
    assert "store's own site" in response.json()["error"] or "http(s) address" in response.json()["error"]
    assert not Event.objects.exists()


def test_commerce_store_url_is_the_stores_site_too(client, form, shopper, settings):
    settings.COMMERCE_STORE_URL = "https://acme.example/"
    response = report(client, product_view(shopper, url="https://acme.example/products/x", product_id="1"))
    assert response.status_code == 202
    assert Event.objects.get().properties["url"] == "https://acme.example/products/x"


def test_the_identifier_and_the_visits_campaign_parameters_are_not_kept_in_the_recorded_url(client, form, shopper):
    identity = browse_identity_sign(subscriber_id=shopper.pk)
    url = f"{STORE}/products/x?color=red&utm_source=parley&parley_id={identity}&utm_campaign=spring#reviews"
    assert report(client, product_view(shopper, product_id="1", url=url)).status_code == 202
    assert Event.objects.get().properties["url"] == f"{STORE}/products/x?color=red"


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ("not json", "must be a JSON object"),
        ("[1, 2]", "body must be a JSON object"),
        ('{"identity": "x", "kind": "cart", "url": "https://shop.example.com/"}', "kind must be product or collection"),
        ('{"identity": "x", "kind": "product"}', "url must be the page's http(s) address"),
        ('{"identity": "x", "kind": "product", "url": "https://shop.example.com/p"}', "needs product_id, sku or title"),
        ('{"identity": "x", "kind": "collection", "url": "https://shop.example.com/c"}', "collection is missing"),
        (
            '{"identity": "x", "kind": "product", "url": "https://shop.example.com/p", "product_id": "1 OR 1=1"}',
            "product_id must be an id",
        ),
        (
            '{"identity": "x", "kind": "product", "url": "https://shop.example.com/p", "title": "t", "price": "ten"}',
            "price must be an amount",
        ),
        ('{"identity": "x", "kind": "product", "url": "https://shop.example.com/p", "platform": "etsy"}', "platform"),
    ],
)
def test_bad_reports_get_a_400_naming_the_problem(client, form, body, words):
    response = client.post("/browse/welcome/", body, content_type="application/json", HTTP_ORIGIN=STORE)
    assert response.status_code == 400
    assert words in response.json()["error"], response.json()
    assert not Event.objects.exists()


def test_another_site_gets_a_403_without_cors_and_an_unknown_form_a_404(client, form, shopper):
    refused = report(client, product_view(shopper), origin="https://copycat.example")
    assert refused.status_code == 403 and "access-control-allow-origin" not in refused.headers
    preflight = client.options("/browse/welcome/", HTTP_ORIGIN="https://copycat.example")
    assert preflight.status_code == 403
    allowed = client.options("/browse/welcome/", HTTP_ORIGIN=STORE)
    assert allowed.status_code == 204 and allowed["Access-Control-Allow-Origin"] == STORE
    assert report(client, product_view(shopper), slug="nope").status_code == 404
    form.is_active = False
    form.save()
    assert report(client, product_view(shopper)).status_code == 404
    assert not Event.objects.exists()


def test_with_tracking_off_the_script_is_told_and_reports_are_refused(client, form, shopper):
    form.track_browsing = False
    form.save()
    assert client.get("/signup/welcome/config.json", HTTP_ORIGIN=STORE).json()["track"] is False
    response = report(client, product_view(shopper))
    assert response.status_code == 403 and response.json()["reason"] == "off"
    assert "browse tracking is off" in response.json()["error"]
    assert not Event.objects.exists()
    # And a sign-up's answer carries no identifier.
    signup = client.post(
        "/signup/welcome/",
        json.dumps({"phone": "(415) 555-0143", "consent": True}),
        content_type="application/json",
        HTTP_ORIGIN=STORE,
    )
    assert signup.status_code == 201 and "browse_id" not in signup.json()


def test_a_sign_up_gives_an_identifier_for_the_shopper_it_texted_and_one_for_nobody_otherwise(client, form):
    assert client.get("/signup/welcome/config.json", HTTP_ORIGIN=STORE).json()["track"] is True

    def sign_up(phone, **fields):
        response = client.post(
            "/signup/welcome/",
            json.dumps({"phone": phone, "consent": True, **fields}),
            content_type="application/json",
            HTTP_ORIGIN=STORE,
        )
        assert response.status_code == 201
        return response.json()

    new = sign_up("(415) 555-0144")
    shopper = Subscriber.objects.get(phone="+14155550144")
    assert browse_identity_read(new["browse_id"]) == shopper.pk
    # Already subscribed: told the same, with an identifier of the same shape that names nobody (anyone could have
    # typed the number); their tracked links identify them instead. Nor does a bot's or an opted-out number's.
    SubscriberFactory(phone="+14155550145")
    already = sign_up("(415) 555-0145")
    assert set(already) == set(new) and already["message"] == new["message"]
    assert already["browse_id"][0] == new["browse_id"][0] == "a"
    assert browse_identity_read(already["browse_id"]) == NOBODY
    bot = sign_up("(415) 555-0146", website="https://spam.example")
    assert browse_identity_read(bot["browse_id"]) == NOBODY


def test_price_is_read_as_money(client, form, shopper):
    assert report(client, product_view(shopper, product_id="1", price="1e3")).status_code == 202
    assert Event.objects.get().properties["price"] == 1000


def test_no_value_of_any_field_answers_a_server_error(form, shopper, shirt):
    """The fuzz test's value classes (NUL, lone surrogates, digits of other scripts, huge numbers, deep JSON…) in
    every field of a report, from the store's site and a subscribed shopper: a 2xx or a 4xx, never a 5xx."""
    from django.test import Client

    from tests.test_fuzz import DEEP_JSON, JSON_VALUES, VALUES

    client = Client(raise_request_exception=False)
    base = product_view(shopper)
    answers = []
    for field in [*base, "collection", "sku", "image_url"]:
        for value in (*VALUES.values(), *JSON_VALUES.values()):
            for kind in ("product", "collection"):
                data = {**base, "kind": kind, "collection": "summer", field: value}
                body = json.dumps(data)
                response = client.post("/browse/welcome/", body, content_type="application/json", HTTP_ORIGIN=STORE)
                answers.append((response.status_code, field, repr(value)[:40]))
    for body in (DEEP_JSON, b'{"price": NaN}', b"\xff\xfe", b'{"title": "\\ud800", "url": "\\u0000"}'):
        response = client.post("/browse/welcome/", body, content_type="application/json", HTTP_ORIGIN=STORE)
        answers.append((response.status_code, "body", repr(body)[:40]))
    assert [answer for answer in answers if answer[0] >= 500] == []
    assert {status for status, *_ in answers} <= {202, 400, 403, 404}
