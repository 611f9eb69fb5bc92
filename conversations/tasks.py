"""django-q2 entry points: a line or two each, calling a service."""

from .services import outbox_send_due


def send_due(max_seconds: float = 50.0) -> str:
    """Send what is due (django-q2 runs it on a kick after queueing, and every minute for held texts)."""
    report = outbox_send_due(max_seconds=max_seconds)
    return f"sent {report.sent}, failed {report.failed}, retried {report.retried}, held {report.held}"
