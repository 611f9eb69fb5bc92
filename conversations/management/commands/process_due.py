from django.conf import settings
from django.core.management.base import BaseCommand
from django.utils.module_loading import import_string


class Command(BaseCommand):
    help = "Run one pass of all due timed work (settings.DUE_WORK): flow waits and timeouts, then the outbox."

    def handle(self, *args, **options):
        for path in settings.DUE_WORK:
            result = import_string(path)()
            self.stdout.write(f"{path}: {result}")
