"""From a platform's payload to Parley's own records: pure functions, no database, no settings.

Shopify and WooCommerce describe the same things (an order, a product and its variants, a stock level) in their
own shapes. Each function here reads one documented shape and returns the same dataclasses, so the services that
store orders and products never see a platform's fields. A payload that lacks what its topic documents raises
`PayloadError` naming the field; a field Parley does not need is never required.

Each subject is a module: `reading` (the checked reads every module shares), `orders`, `catalog`, `customers`,
`checkouts`.
"""

from .catalog import (
    Deleted,
    InventoryLevel,
    ProductData,
    VariantData,
    VariationData,
    shopify_deleted,
    shopify_inventory_level,
    shopify_product,
    woocommerce_deleted,
    woocommerce_product,
)
from .checkouts import CheckoutData, CheckoutItem, shopify_checkout
from .customers import SMS_STATES, Customer, SmsConsent, shopify_customer
from .fulfillments import (
    DELIVERED,
    FULFILLED,
    OUT_FOR_DELIVERY,
    Fulfillment,
    shopify_fulfillment,
    shopify_order_fulfillments,
    woocommerce_fulfillment,
)
from .orders import WOOCOMMERCE_PLACED, LineItem, Order, shopify_order, woocommerce_order
from .reading import (
    MAX_ID_LENGTH,
    MAX_MONEY,
    MAX_QUANTITY,
    SHOPIFY,
    WOOCOMMERCE,
    PayloadError,
    meaningful_options,
    read_integer,
    read_money,
)

__all__ = [
    "Deleted",
    "InventoryLevel",
    "ProductData",
    "VariantData",
    "VariationData",
    "shopify_deleted",
    "shopify_inventory_level",
    "shopify_product",
    "woocommerce_deleted",
    "woocommerce_product",
    "SMS_STATES",
    "Customer",
    "SmsConsent",
    "shopify_customer",
    "CheckoutData",
    "CheckoutItem",
    "shopify_checkout",
    "DELIVERED",
    "FULFILLED",
    "OUT_FOR_DELIVERY",
    "Fulfillment",
    "shopify_fulfillment",
    "shopify_order_fulfillments",
    "woocommerce_fulfillment",
    "WOOCOMMERCE_PLACED",
    "LineItem",
    "Order",
    "shopify_order",
    "woocommerce_order",
    "MAX_ID_LENGTH",
    "MAX_MONEY",
    "MAX_QUANTITY",
    "SHOPIFY",
    "WOOCOMMERCE",
    "PayloadError",
    "meaningful_options",
    "read_integer",
    "read_money",
]
