"""django-q2 entry points: a line or two each, calling a service."""

from django.conf import settings
from django.utils.module_loading import import_string

from .services import outbox_send_due
from .services.messages import SENDER_LINGER


def send_due(max_seconds: float = 50.0) -> str:
    """Send what is due (django-q2 runs it on a kick after texts are queued), lingering for texts just behind."""
    report = outbox_send_due(max_seconds=max_seconds, linger=SENDER_LINGER)
    return f"sent {report.sent}, failed {report.failed}, retried {report.retried}, held {report.held}"


def process_due() -> str:
    """All due timed work, every minute: flow waits and timeouts, held texts, retries."""
    return "; ".join(f"{path}: {import_string(path)()}" for path in settings.DUE_WORK)


def helpdesk_deliver() -> str:
    """Post due help-desk webhook deliveries (woken when one is queued; the minute schedule retries)."""
    from .services import helpdesk_deliver_due

    return f"delivered {helpdesk_deliver_due()}"
