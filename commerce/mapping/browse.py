"""A page view as the pop-up's script reports it (static/parley/signup-embed.js): pure reading, no database.

The script sends one flat JSON object per view:

    {"identity": "…", "kind": "product", "url": "https://shop.example.com/products/linen-shirt?variant=42",
     "platform": "shopify", "product_id": "7513594", "variant_id": "42456181", "sku": "LS-M-SAND",
     "title": "Linen shirt", "price": 48.0, "image_url": "https://shop.example.com/images/linen-shirt.jpg"}

    {"identity": "…", "kind": "collection", "url": "https://shop.example.com/collections/summer",
     "collection": "summer", "title": "Summer"}

Everything but `identity`, `kind` and `url` is optional; what the page says is only used for a product the
catalog does not know.
"""

import re
from dataclasses import dataclass
from decimal import Decimal

from .reading import SHOPIFY, WOOCOMMERCE, PayloadError, Reader, as_object, kind_of

PRODUCT = "product"
COLLECTION = "collection"
# A product's id as pages write it: the platform's number, or an id of the store's own (letters, digits, - _ .).
_PAGE_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
# Something a phone would show as a link: a scheme, www., or a name.tld. A page's title goes into texts (the browse
# nudge says "Still thinking about {{ event.title }}?"), and anyone holding an identifier can post one.
_LINK_LIKE = re.compile(r"(?i)([a-z][a-z0-9+.-]*:/|www\.|[a-z0-9-]+\.[a-z]{2,}(/|\b))")


@dataclass(frozen=True)
class PageView:
    identity: str
    kind: str  # PRODUCT or COLLECTION
    url: str
    platform: str = ""
    product_id: str = ""
    variant_id: str = ""
    sku: str = ""
    title: str = ""
    price: Decimal | None = None
    image_url: str = ""
    collection: str = ""


def page_view(payload) -> PageView:
    """The script's report of one view, each field checked; PayloadError names the first that is wrong."""
    view = Reader(as_object(payload, "body"))
    identity = view.text("identity", max_length=200)
    if not identity:
        raise PayloadError("identity is missing: only shoppers Parley knows are reported")
    kind = view.text("kind", max_length=20)
    if kind not in (PRODUCT, COLLECTION):
        raise PayloadError(f"kind must be {PRODUCT} or {COLLECTION} (got {kind[:20]!r})")
    url = view.url("url")
    if not url:
        raise PayloadError("url must be the page's http(s) address")
    platform = view.text("platform", max_length=20).lower()
    if platform not in ("", SHOPIFY, WOOCOMMERCE):
        raise PayloadError(f"platform must be {SHOPIFY}, {WOOCOMMERCE} or left out (got {platform!r})")
    if kind == COLLECTION:
        collection = view.text("collection")
        if not collection:
            raise PayloadError("collection is missing: the collection's handle or id")
        return PageView(identity, kind, url, platform, title=page_title(view.text("title")), collection=collection)
    product_id = _page_id(view.data.get("product_id"), "product_id")
    title = page_title(view.text("title"))
    sku = view.text("sku")
    if not (product_id or sku or title):
        raise PayloadError("a product view needs product_id, sku or title")
    return PageView(
        identity,
        kind,
        url,
        platform,
        product_id=product_id,
        variant_id=_page_id(view.data.get("variant_id"), "variant_id"),
        sku=sku,
        title=title,
        price=view.money("price"),
        image_url=view.url("image_url"),
    )


def page_title(text: str) -> str:
    """The page's title, or "" when it holds anything a phone would show as a link: never trusted into a text."""
    return "" if _LINK_LIKE.search(text) else text


def _page_id(value, where: str) -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise PayloadError(f"{where} must be an id such as 7513594 (got {kind_of(value)})")
    text = str(value).strip()
    if not _PAGE_ID.match(text):
        raise PayloadError(f"{where} must be an id of letters, digits, - _ or . (got {text[:20]!r})")
    return text
