from django.apps import AppConfig


class CampaignsConfig(AppConfig):
    name = "campaigns"

    def ready(self):
        from conversations import signals

        from . import checks  # noqa: F401 - registers the system checks

        signals.event_recorded.connect(on_event, dispatch_uid="campaigns-attribution")


def on_event(sender, subscriber, event, **kwargs):
    """An order is credited to the campaign that touched the shopper last."""
    from .services import order_attribute

    order_attribute(event=event)
