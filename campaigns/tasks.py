"""django-q2 entry points of campaigns: a line each, calling a service."""

from .fanout import campaigns_fanout_due


def fanout_due() -> str:
    """Fan out campaigns whose time has come (woken when one is sent; the minute schedule too)."""
    return f"queued {campaigns_fanout_due()} text(s)"
