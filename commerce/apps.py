from django.apps import AppConfig


class CommerceConfig(AppConfig):
    """The store's platform: Shopify and WooCommerce webhooks, the delivery log and the product catalog."""

    name = "commerce"
    verbose_name = "Store connection and catalog"

    def ready(self):
        from conversations import signals

        from . import services
        from .services import consent_push

        # An opt-out in Parley unsubscribes the linked Shopify customer too (when the Admin API is configured).
        signals.subscriber_opted_out.connect(services.consent_push_for_opt_out, dispatch_uid="commerce-consent-push")
        # An opt-in again (START) cancels what still waits to unsubscribe them in Shopify.
        signals.subscriber_opted_in.connect(
            consent_push.consent_pushes_cancel_on_opt_in, dispatch_uid="commerce-consent-push-cancel"
        )
