"""B4: the send rate achieved against a local fake Twilio, two worker processes, at 10 and 100 MPS.

The figure is the achieved rate over the configured one (from the first request to the last), and the
most requests Twilio saw in any one-second window, which must never pass the configured rate.
"""

import os
import subprocess
import sys
from pathlib import Path

from django.utils import timezone

from conversations.models import Message, Subscriber
from conversations.outbox import message_queue
from tests.fakes.twilio import FakeTwilio

ROOT = Path(__file__).resolve().parent.parent
SECONDS_OF_TEXTS = 6


def run() -> list[dict]:
    return [_measure(mps) for mps in (10, 100)]


def _measure(mps: int) -> dict:
    # Clear what an earlier run left in the outbox, then queue replies to texts just received
    # (conversational, so quiet hours and caps do not depend on the time of day).
    # The workers of an earlier measurement are gone: their stamped texts are failed at once, not left to a
    # lease that would run out (and be reclaimed) in the middle of this measurement.
    Message.objects.filter(direction="outbound", status__in=["queued", "sending"]).update(
        status="failed", error_code="bench_cleanup", claimed_until=None
    )
    count = mps * SECONDS_OF_TEXTS
    subscribers = list(Subscriber.objects.filter(status="subscribed").order_by("id")[:count])
    Subscriber.objects.filter(pk__in=[s.pk for s in subscribers]).update(last_inbound_at=timezone.now())
    for subscriber in Subscriber.objects.filter(pk__in=[s.pk for s in subscribers]):
        message_queue(subscriber=subscriber, body="Your size M picks are in!", sender="+18885550001")
    with FakeTwilio() as twilio:
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "benchmarks.settings",
            "SMS_PROVIDER": "twilio",
            "TWILIO_ACCOUNT_SID": twilio.account_sid,
            "TWILIO_AUTH_TOKEN": "bench",
            "TWILIO_API_BASE_URL": twilio.url,
            "SMS_SENDER_MPS": str(mps),
        }
        workers = [
            subprocess.Popen(
                [sys.executable, "manage.py", "send_outbox", "--seconds", "120", "--idle-exit"],
                cwd=ROOT,
                env=env,
                stdout=subprocess.DEVNULL,
            )
            for _ in range(2)
        ]
        for worker in workers:
            worker.wait(timeout=300)
        times = sorted(request["at"] for request in twilio.requests)
        busiest = twilio.busiest_second()
    sent = len(times)
    achieved = (sent - 1) / (times[-1] - times[0]) if sent > 1 else 0.0
    ratio = achieved / mps
    return {
        "id": "B4",
        "what": f"send rate at {mps} MPS, two workers",
        "measured": f"{achieved:.2f}/s, busiest second {busiest}",
        "baseline": f"{mps}/s configured",
        "ratio": ratio,
        "must": "≥ 0.95, no second over",
        "aim": "≥ 0.99",
        "pass": ratio >= 0.95 and busiest <= mps and sent == count,
        "sent": sent,
        "queued": count,
    }
