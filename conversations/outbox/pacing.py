"""Pacing: each sender's rate (SMS_SENDER_MPS), as one time line of slots that every worker shares."""

import time
from dataclasses import dataclass

from django.db import connection

from ..db import greatest_sql
from ..models import SenderPace

# The rate bound. Every segment takes a slot of 1 / (SMS_SENDER_MPS * RATE_MARGIN) seconds on its sender's time
# line, which every worker shares (slots never overlap). A text is handed over no earlier than its slot, and only
# if the worker is ready within LATE_TOLERANCE of it; otherwise the worker gives the slot up and reserves anew.
# That last check is made after the text is stamped, right before the provider is called, so the provider
# receives it at most D = LATE_TOLERANCE + HANDOVER_ALLOWANCE after its slot, where the allowance is what
# building the request and the network take. The texts received in any closed one-second window started within
# a stretch of 1 + D seconds, which holds at most floor((1 + D) * MPS * RATE_MARGIN) + 1 slot starts: at most
# MPS, because (1 + D) * RATE_MARGIN < 1 (1.02 * 0.98 = 0.9996). A text of k segments takes k slots and goes at
# the first, so a window may see k - 1 of its segments a little early; single-segment texts never pass MPS.
# Workers on several machines need clocks in step (NTP): a skew counts against the allowance.
RATE_MARGIN = 0.98
LATE_TOLERANCE = 0.005
HANDOVER_ALLOWANCE = 0.015

RESERVE_RUN = 10  # slots reserved at once: fewer queries, and little is wasted when a worker runs late
LATE_LIMIT = 50  # slots missed in a row after which a worker gives its batch back (a database far too slow)
MAX_LEAD = 1.0  # seconds: the most a worker starts its own writes ahead of a slot


def sender_reserve(sender: str, seconds: float, *, start: float | None = None) -> float:
    """Reserve `seconds` of the sender's time line, from `start` (Unix time, default now) at the earliest;
    return when the reserved stretch starts."""
    table, greatest = connection.ops.quote_name(SenderPace._meta.db_table), greatest_sql()
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET next_slot = {greatest}(next_slot, %s) + %s WHERE sender = %s RETURNING next_slot",
            [max(time.time(), start or 0.0), seconds, sender],
        )
        row = cursor.fetchone()
    if row is None:  # the sender's first text
        SenderPace.objects.get_or_create(sender=sender)
        return sender_reserve(sender, seconds, start=start)
    return row[0] - seconds


@dataclass
class Lead:
    """How long this worker's own writes take before a handover, learnt as it goes.

    It reserves slots that far ahead of now, and stamps a text that long before its slot, so that a slow
    database does not make it late for every slot; a stamped text waits for its slot no longer than a stamp
    takes, which keeps the stretch in which a dying worker leaves an unsent text stamped that short.
    """

    reserve: float = 0.02  # asking for slots and renewing the lease
    stamp: float = 0.005

    def learn(self, what: str, seconds: float) -> None:
        # One and a half times the slowest of late, forgetting slowly.
        setattr(self, what, min(MAX_LEAD, max(1.5 * seconds, 0.9 * getattr(self, what))))


def sleep_until(moment: float) -> None:
    """Sleep until `moment` (Unix time)."""
    while (delay := moment - time.time()) > 0:
        time.sleep(delay)
