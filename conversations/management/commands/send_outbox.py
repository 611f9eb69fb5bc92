import signal
import sys
import time

from django.core.management.base import BaseCommand

from conversations.outbox import (
    DATABASE_FAULTS,
    LINGER_POLL,
    outbox_claims_outstanding,
    outbox_send_due,
    outbox_unsettled,
)


class Command(BaseCommand):
    help = (
        "Send due texts from the outbox for a while: the same loop as the django-q2 task `send_due`, "
        "for a dedicated sender process. Safe to run several at once; a lost database connection is "
        "reopened, and the texts of a worker that died are taken over when its lease runs out."
    )

    def add_arguments(self, parser):
        parser.add_argument("--seconds", type=float, default=60.0, help="how long to keep sending (default 60)")
        parser.add_argument(
            "--idle-exit",
            action="store_true",
            help="stop as soon as nothing is due and no worker holds claimed texts",
        )

    def handle(self, *args, seconds, idle_exit, **options):
        # A polite stop (a deploy): unwind like Ctrl-C, so that claimed texts not yet handed over go back to the
        # queue at once, rather than when their lease runs out.
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
        deadline = time.monotonic() + seconds
        total = 0
        while time.monotonic() < deadline:
            report = outbox_send_due(max_seconds=max(0.1, deadline - time.monotonic()))
            total += report.sent
            if report.sent or report.failed or report.retried or report.faults:
                continue
            if idle_exit and self._idle():
                break
            time.sleep(LINGER_POLL)
        self.stdout.write(f"sent {total}")

    def _idle(self) -> bool:
        """Nothing left to do here: nothing to write from a lost connection, and no claims (another worker's
        may be a dead worker's, to take over when their lease runs out)."""
        try:
            return not outbox_unsettled() and not outbox_claims_outstanding()
        except DATABASE_FAULTS:
            return False  # the next pass reconnects
