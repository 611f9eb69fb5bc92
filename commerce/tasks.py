"""django-q2 entry points of `commerce`: a line or two each, calling a service with ids."""

from . import services


def consent_push_send(push_id: int) -> str:
    """Tell Shopify about one opt-out (queued after the opt-out's commit); safe to run twice."""
    return "sent" if services.consent_push_send(push_id=push_id) else "not sent now (done, not due, or failed)"
