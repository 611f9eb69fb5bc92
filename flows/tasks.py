"""django-q2 entry points of flows: a line each, calling a service."""

from .services import launches_process_due


def launches_process() -> str:
    """Start runs for flows launched for a segment (woken when a launch is queued; the minute schedule too)."""
    return f"started {launches_process_due()} run(s)"
