from django.apps import AppConfig


class FlowsConfig(AppConfig):
    name = "flows"

    def ready(self):
        from conversations import signals

        from . import handlers

        signals.subscriber_opted_in.connect(handlers.on_opted_in, dispatch_uid="flows-welcome")
        signals.subscriber_opted_out.connect(handlers.on_opted_out, dispatch_uid="flows-end-runs")
        signals.event_recorded.connect(handlers.on_event, dispatch_uid="flows-events")
        signals.conversation_opened.connect(handlers.on_conversation_opened, dispatch_uid="flows-pause")
        signals.conversation_closed.connect(handlers.on_conversation_closed, dispatch_uid="flows-resume")
