from django.apps import AppConfig


class ConversationsConfig(AppConfig):
    name = "conversations"
    verbose_name = "Subscribers and messages"

    def ready(self):
        from . import checks  # noqa: F401 - registers the system checks
