from django.apps import AppConfig


class CommerceConfig(AppConfig):
    """The store's platform: Shopify and WooCommerce webhooks, the delivery log and the product catalog."""

    name = "commerce"
    verbose_name = "Store connection and catalog"

    def ready(self):
        from conversations import signals

        from . import services

        # An opt-out in Parley unsubscribes the linked Shopify customer too (when the Admin API is configured).
        signals.subscriber_opted_out.connect(services.consent_push_for_opt_out, dispatch_uid="commerce-consent-push")
