from django.apps import AppConfig


class ConversationsConfig(AppConfig):
    name = "conversations"
    verbose_name = "Subscribers and messages"

    def ready(self):
        from django.db.backends.signals import connection_created
        from django_q.signals import post_spawn

        from . import checks  # noqa: F401 - registers the system checks
        from .outbox import outbox_kick_if_claimed
        from .services.subscribers import subscriber_opt_out_reported
        from .signals import provider_reported_opt_out
        from .templating.sql import sqlite_functions_add

        # A worker process that replaces a killed one wakes a sender for the texts the dead one had claimed.
        post_spawn.connect(outbox_kick_if_claimed, dispatch_uid="conversations.outbox_kick_if_claimed")
        # The outbox hears from the provider that a number unsubscribed at the carrier: the subscriber opts out.
        provider_reported_opt_out.connect(subscriber_opt_out_reported, dispatch_uid="conversations.provider_opt_out")
        # SQLite's upper() and lower() know only ASCII: texts filled by the database use Python's case mapping.
        connection_created.connect(sqlite_functions_add, dispatch_uid="conversations.templating.sqlite_functions")
