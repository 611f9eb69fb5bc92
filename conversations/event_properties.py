"""The properties each event type is known to carry, and a sample of each for previews and the simulator.

A flow started by an event reads that event's properties in its texts (`{{ event.url }}`,
`{{ event.items.0.title }}`); the flow checks warn when a text reads a property its event type is not listed
with here (a typo, or a property only the store's own code sends). The lists follow the shared contract of the
store connection (issue #17): every commerce event carries `url`, the one link it is about. An event type that is
not listed (a store's own, through the API) gets no warning: Parley cannot know what it carries.
"""

import copy

from . import event_types

# The properties of one item of a cart, a checkout or an order.
ITEM_PROPERTIES = (
    "product_id",
    "variant_id",
    "title",
    "variant_title",
    "sku",
    "quantity",
    "price",
    "url",
    "image_url",
)
CHECKOUT_PROPERTIES = (
    "checkout_token",
    "url",  # the shopper's own recovery link (= abandoned_checkout_url)
    "abandoned_checkout_url",
    "total",
    "currency",
    "item_count",
    "items",
    "platform",
)
FULFILLMENT_PROPERTIES = (
    "order_id",
    "order_number",
    "fulfillment_id",
    "status",
    "tracking_company",
    "tracking_number",
    "tracking_url",
    "url",  # the tracking link, else the order's status page
    "items",
    "platform",
)
PRODUCT_PROPERTIES = ("product_id", "variant_id", "title", "url", "image_url", "price", "platform")
BACK_IN_STOCK_PROPERTIES = (
    "product_id",
    "variant_id",
    "title",
    "variant_title",
    "url",
    "image_url",
    "price",
    "platform",
)

KNOWN_PROPERTIES: dict[str, tuple[str, ...]] = {
    event_types.ORDER_PLACED: (
        "order_id",
        "order_number",
        "total",
        "currency",
        "items",
        "discount_codes",
        "checkout_token",
        "platform",
        "url",
    ),
    event_types.CHECKOUT_STARTED: CHECKOUT_PROPERTIES,
    event_types.CART_ABANDONED: CHECKOUT_PROPERTIES,
    event_types.PRODUCT_VIEWED: PRODUCT_PROPERTIES,
    event_types.BROWSE_ABANDONED: PRODUCT_PROPERTIES,
    event_types.COLLECTION_VIEWED: ("collection", "title", "url"),
    event_types.ORDER_FULFILLED: FULFILLMENT_PROPERTIES,
    event_types.ORDER_OUT_FOR_DELIVERY: FULFILLMENT_PROPERTIES,
    event_types.ORDER_DELIVERED: FULFILLMENT_PROPERTIES,
    event_types.BACK_IN_STOCK: BACK_IN_STOCK_PROPERTIES,
    event_types.LINK_CLICKED: ("url", "campaign", "variant", "flow", "run"),
}
# Properties whose values are lists of items: `{{ event.items.0.title }}` reads an item's property.
ITEM_LISTS = {"items"}


def unknown_property(event_type: str, path: tuple[str, ...]) -> str | None:
    """Why `event.<path>` is not a property `event_type` is known to carry (a sentence), or None when it is (or
    when Parley does not know the event type)."""
    known = KNOWN_PROPERTIES.get(event_type)
    if known is None or not path:
        return None
    name = path[0]
    if name not in known:
        return f"a {event_type} event is not known to carry {name!r} (it carries {', '.join(known)})"
    if name in ITEM_LISTS and len(path) >= 3 and path[2] not in ITEM_PROPERTIES:
        return f"an item of {name} is not known to carry {path[2]!r} (an item carries {', '.join(ITEM_PROPERTIES)})"
    return None


_SAMPLE_ITEM = {
    "product_id": "7513594",
    "variant_id": "42456181",
    "title": "Linen shirt",
    "variant_title": "M / Sand",
    "sku": "LS-M-SAND",
    "quantity": 1,
    "price": 48.0,
    "url": "https://shop.example.com/products/linen-shirt",
    "image_url": "https://shop.example.com/images/linen-shirt.jpg",
}
_SAMPLE_CHECKOUT = {
    "checkout_token": "a8b3c9d2e1f0",
    "url": "https://shop.example.com/checkouts/a8b3c9d2e1f0/recover",
    "abandoned_checkout_url": "https://shop.example.com/checkouts/a8b3c9d2e1f0/recover",
    "total": 48.0,
    "currency": "USD",
    "item_count": 1,
    "items": [_SAMPLE_ITEM],
    "platform": "shopify",
}
_SAMPLE_PRODUCT = {key: _SAMPLE_ITEM[key] for key in PRODUCT_PROPERTIES if key in _SAMPLE_ITEM} | {
    "platform": "shopify"
}
_SAMPLE_FULFILLMENT = {
    "order_id": "450789469",
    "order_number": "1001",
    "fulfillment_id": "255858046",
    "status": "in_transit",
    "tracking_company": "UPS",
    "tracking_number": "1Z2345",
    "tracking_url": "https://www.ups.com/track?tracknum=1Z2345",
    "url": "https://www.ups.com/track?tracknum=1Z2345",
    "items": [_SAMPLE_ITEM],
    "platform": "shopify",
}
SAMPLES: dict[str, dict] = {
    event_types.ORDER_PLACED: {
        "order_id": "450789469",
        "order_number": "1001",
        "total": 48.0,
        "currency": "USD",
        "items": [_SAMPLE_ITEM],
        "discount_codes": [],
        "checkout_token": "a8b3c9d2e1f0",
        "platform": "shopify",
        "url": "https://shop.example.com/orders/450789469",
    },
    event_types.CHECKOUT_STARTED: _SAMPLE_CHECKOUT,
    event_types.CART_ABANDONED: _SAMPLE_CHECKOUT,
    event_types.PRODUCT_VIEWED: _SAMPLE_PRODUCT,
    event_types.BROWSE_ABANDONED: _SAMPLE_PRODUCT,
    event_types.COLLECTION_VIEWED: {
        "collection": "summer",
        "title": "Summer",
        "url": "https://shop.example.com/collections/summer",
    },
    event_types.ORDER_FULFILLED: _SAMPLE_FULFILLMENT,
    event_types.ORDER_OUT_FOR_DELIVERY: {**_SAMPLE_FULFILLMENT, "status": "out_for_delivery"},
    event_types.ORDER_DELIVERED: {**_SAMPLE_FULFILLMENT, "status": "delivered"},
    event_types.BACK_IN_STOCK: {key: _SAMPLE_ITEM[key] for key in BACK_IN_STOCK_PROPERTIES if key in _SAMPLE_ITEM}
    | {"platform": "shopify"},
    event_types.LINK_CLICKED: {"url": "https://shop.example.com/products/linen-shirt", "campaign": 1, "variant": "A"},
}


def sample_properties(event_type: str) -> dict:
    """Made-up properties of an `event_type` event, as a store would send them ({} for a type Parley does not know)."""
    return copy.deepcopy(SAMPLES.get(event_type, {}))
