"""django-q2 entry points: a line or two each, calling a service."""

import logging

from django.conf import settings
from django.utils.module_loading import import_string

from .outbox import SENDER_LINGER, outbox_send_due

log = logging.getLogger(__name__)


def send_due(max_seconds: float = 50.0) -> str:
    """Send what is due (django-q2 runs it on a kick after texts are queued), lingering for texts just behind."""
    report = outbox_send_due(max_seconds=max_seconds, linger=SENDER_LINGER)
    return f"sent {report.sent}, failed {report.failed}, retried {report.retried}, held {report.held}"


def process_due() -> str:
    """All due timed work, every minute: flow waits and timeouts, held texts, retries."""
    return "; ".join(f"{path}: {outcome}" for path, outcome, _ in due_work_run())


def due_work_run() -> list[tuple[str, str, Exception | None]]:
    """Run each piece of settings.DUE_WORK, even when an earlier one fails (logged, and returned)."""
    outcomes = []
    for path in settings.DUE_WORK:
        try:
            outcomes.append((path, str(import_string(path)()), None))
        except Exception as error:  # noqa: BLE001 - one broken piece must not stop the sending of texts
            log.exception("due work %s failed", path)
            # Not the message, which may quote a number (a DETAIL line): the task's result is kept and printed.
            outcomes.append((path, f"failed ({error.__class__.__name__}; the log has the redacted traceback)", error))
    return outcomes


def helpdesk_deliver() -> str:
    """Post due help-desk webhook deliveries (woken when one is queued; the minute schedule retries)."""
    from .helpdesk.services import helpdesk_deliver_due

    return f"delivered {helpdesk_deliver_due()}"
