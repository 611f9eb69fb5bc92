"""Real worker processes against the test database: the rate holds across them, and a killed worker
neither loses a text nor sends one twice."""

import io
import os
import signal
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone

from conversations.models import Message
from conversations.outbox import message_queue, outbox_reclaim_expired, outbox_send_due
from conversations.sms.providers import TwilioProvider
from tests.factories import SubscriberFactory
from tests.fakes.twilio import FakeTwilio, Scripted

pytestmark = pytest.mark.django_db(transaction=True)
ROOT = Path(__file__).resolve().parents[2]


def database_url() -> str:
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    return f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


class Worker(subprocess.Popen):
    """A `send_outbox` process writing to files, not pipes: a worker never blocks on a full pipe (Twilio's SDK
    logs every request) while the test waits for another one."""

    def finish(self, timeout: float) -> tuple[str, str]:
        """Wait for it to end; what it printed, and what it logged."""
        self.wait(timeout=timeout)
        outputs = []
        for file in self.files:
            file.seek(0)
            outputs.append(file.read())
            file.close()
        return outputs[0], outputs[1]


def start_worker(
    fake: FakeTwilio, mps: float, seconds: float = 30, *, database: str | None = None, **env: str
) -> Worker:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": database or database_url(),
        "SMS_PROVIDER": "twilio",
        "TWILIO_ACCOUNT_SID": fake.account_sid,
        "TWILIO_AUTH_TOKEN": "secret",
        "TWILIO_API_BASE_URL": fake.url,
        "SMS_SENDER_MPS": str(mps),
        "SMS_KICK_WORKER": "false",
        **env,
    }
    files = (tempfile.TemporaryFile("w+"), tempfile.TemporaryFile("w+"))  # noqa: SIM115 - closed by finish()
    worker = Worker(
        [sys.executable, "manage.py", "send_outbox", "--seconds", str(seconds), "--idle-exit"],
        cwd=ROOT,
        env=env,
        stdout=files[0],
        stderr=files[1],
        text=True,
    )
    worker.files = files
    return worker


def queue_texts(count: int) -> list[Message]:
    # Conversational replies to a text just received: no quiet hours or caps get in the way.
    subscribers = [SubscriberFactory(last_inbound_at=timezone.now()) for _ in range(count)]
    return [message_queue(subscriber=s, body=f"text {i}") for i, s in enumerate(subscribers)]


def test_two_workers_together_never_exceed_the_sender_rate():
    mps = 20
    queue_texts(60)
    with FakeTwilio() as fake:
        workers = [start_worker(fake, mps) for _ in range(2)]
        for worker in workers:
            _, errors = worker.finish(timeout=60)
            assert worker.returncode == 0, errors
        bodies = [form["Body"] for form in fake.sent]
        busiest = fake.busiest_second()
    assert sorted(bodies) == sorted(f"text {i}" for i in range(60))  # each once
    assert busiest <= mps
    assert Message.objects.filter(direction="outbound", status="sent").count() == 60


def test_a_killed_worker_loses_nothing_and_sends_nothing_twice(settings):
    messages = queue_texts(12)
    with FakeTwilio() as fake:
        fake.next_answers.extend(Scripted(201, delay=0.4) for _ in range(12))  # slow Twilio
        worker = start_worker(fake, mps=1000)
        deadline = time.monotonic() + 20
        while len(fake.requests) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        worker.send_signal(signal.SIGKILL)  # mid-batch, probably in the middle of a request
        worker.wait(timeout=10)
        assert 3 <= len(fake.requests) < 12

        # Its lease runs out; a healthy worker takes over.
        outbox_reclaim_expired(now=timezone.now() + timedelta(minutes=10))
        settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN = fake.account_sid, "secret"
        settings.TWILIO_API_BASE_URL, settings.SMS_SENDER_MPS = fake.url, 1000
        fake.next_answers.clear()
        outbox_send_due(max_seconds=20, provider=TwilioProvider())
        bodies = [form["Body"] for form in fake.sent]

    assert len(bodies) == len(set(bodies)), "a text reached Twilio twice"
    statuses = dict(Message.objects.filter(pk__in=[m.pk for m in messages]).values_list("body", "status"))
    unknown = [body for body, status in statuses.items() if status == "failed"]
    assert len(unknown) <= 1, "only the text in flight when the worker died may be unknown"
    for body, status in statuses.items():
        assert status == "sent" or body in unknown
        assert body in bodies or status != "sent"


def test_a_woken_sender_lingers_for_the_texts_queued_just_after(settings):
    import threading

    from conversations.sms.providers import ConsoleProvider

    settings.SMS_SENDER_MPS = 1000
    shopper = SubscriberFactory(last_inbound_at=timezone.now())
    message_queue(subscriber=shopper, body="first")
    printed = io.StringIO()
    reports = []

    def send():
        try:
            reports.append(outbox_send_due(max_seconds=10, linger=1.5, provider=ConsoleProvider(printed)))
        finally:
            connection.close()  # the thread's own connection, or the test database cannot be dropped

    sender = threading.Thread(target=send)
    sender.start()
    time.sleep(0.6)
    message_queue(subscriber=shopper, body="second, queued while the first was going out")
    sender.join(timeout=15)
    assert reports[0].sent == 2
    assert "second, queued" in printed.getvalue()
