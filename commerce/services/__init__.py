"""Every write of `commerce`, as named functions (see architecture.md).

webhooks.py  deliveries: stored first, deduplicated, handed to a topic's handler; refusals counted; bodies expire
orders.py    orders: one `order_placed` event per order for the subscriber with its phone
checkouts.py checkouts, and `cart_abandoned` for those no order completes in CHECKOUT_ABANDONED_MINUTES
catalog.py   products, variants and stock, from webhooks and catalog files
fulfillments.py  shipments: order_fulfilled, order_out_for_delivery, order_delivered for the order's subscriber
customers.py customers and their SMS consent from the platform
browse.py    page views from the sign-up script, and `browse_abandoned` for views no checkout or order follows
back_in_stock.py  requests to be told when a variant is back, `back_in_stock` events at a restock, expiry
consent_push.py  the way back: an opt-out in Parley unsubscribes the Shopify customer (Admin API), retried
"""

from .back_in_stock import (
    back_in_stock_expire_due,
    back_in_stock_key,
    back_in_stock_notify,
    back_in_stock_request,
    back_in_stock_request_by_phone,
)
from .browse import browse_abandon_due
from .catalog import (
    ImportReport,
    catalog_import,
    inventory_level_set,
    product_archive,
    product_save,
    variation_save,
)
from .checkouts import checkout_complete, checkout_key, checkout_save, checkouts_abandon_due
from .consent_push import admin_api_url, consent_push_for_opt_out, consent_push_send, consent_pushes_due
from .customers import customer_consent_sync
from .fulfillments import fulfillment_key, fulfillment_record, fulfillments_record
from .orders import ORDER_PLACED, order_key, order_place
from .webhooks import (
    DeliveryHeaders,
    Handled,
    Receipt,
    delivery_reprocess,
    webhook_bodies_expire,
    webhook_receive,
    webhook_refusal_count,
)

__all__ = [
    "back_in_stock_expire_due",
    "back_in_stock_key",
    "back_in_stock_notify",
    "back_in_stock_request",
    "back_in_stock_request_by_phone",
    "browse_abandon_due",
    "ImportReport",
    "catalog_import",
    "inventory_level_set",
    "product_archive",
    "product_save",
    "variation_save",
    "checkout_complete",
    "checkout_key",
    "checkout_save",
    "checkouts_abandon_due",
    "admin_api_url",
    "consent_push_for_opt_out",
    "consent_push_send",
    "consent_pushes_due",
    "customer_consent_sync",
    "fulfillment_key",
    "fulfillment_record",
    "fulfillments_record",
    "ORDER_PLACED",
    "order_key",
    "order_place",
    "DeliveryHeaders",
    "Handled",
    "Receipt",
    "delivery_reprocess",
    "webhook_bodies_expire",
    "webhook_receive",
    "webhook_refusal_count",
]
