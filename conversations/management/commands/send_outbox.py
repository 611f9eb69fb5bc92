import time

from django.core.management.base import BaseCommand

from conversations.services import outbox_send_due


class Command(BaseCommand):
    help = (
        "Send due texts from the outbox for a while: the same loop as the django-q2 task `send_due`, "
        "for a dedicated sender process. Safe to run several at once."
    )

    def add_arguments(self, parser):
        parser.add_argument("--seconds", type=float, default=60.0, help="how long to keep sending (default 60)")
        parser.add_argument("--idle-exit", action="store_true", help="stop as soon as nothing is due")

    def handle(self, *args, seconds, idle_exit, **options):
        deadline = time.monotonic() + seconds
        total = 0
        while time.monotonic() < deadline:
            report = outbox_send_due(max_seconds=max(0.1, deadline - time.monotonic()))
            total += report.sent
            if report.sent == 0 and report.failed == 0 and report.retried == 0:
                if idle_exit:
                    break
                time.sleep(0.2)
        self.stdout.write(f"sent {total}")
