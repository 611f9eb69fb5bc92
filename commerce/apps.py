from django.apps import AppConfig


class CommerceConfig(AppConfig):
    """The store's platform: Shopify and WooCommerce webhooks, the delivery log and the product catalog."""

    name = "commerce"
    verbose_name = "Store connection and catalog"
