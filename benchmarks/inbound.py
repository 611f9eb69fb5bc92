"""B1: inbound texts through the whole pipeline, against a bare view that does one INSERT.

The pipeline: the inbound API stores the text, checks the compliance keywords, hands it to the flows handler,
whose run (a real flow, waiting for the subscriber's size) reads the answer, saves it as zero-party data and
queues a personal reply.

Both run in the same gunicorn server (2 x cores + 1 sync workers) on the same database, driven by the same load
generator; measurements alternate (baseline, pipeline, baseline, pipeline) so drift hits both alike.
"""

import io
import os
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management import call_command

from conversations import services
from conversations.models import Subscriber
from flows.models import Flow, FlowRun
from flows.services import flow_publish, run_start

from .loadgen import hammer

ROOT = Path(__file__).resolve().parent.parent
SIZES = ["XS", "S", "M", "L", "XL"]
# gunicorn's own advice for sync workers: two per core, plus one.
WORKERS = 2 * (os.cpu_count() or 1) + 1


def run(seconds: float = 8.0) -> list[dict]:
    call_command("seed_demo", "--subscribers", "2000", stdout=io.StringIO())
    subscribers = list(Subscriber.objects.filter(status="subscribed").order_by("id")[:1500])
    phones = [subscriber.phone for subscriber in subscribers]
    _start_size_question_runs(subscribers)
    user, _ = get_user_model().objects.get_or_create(
        username="bench", defaults={"is_superuser": True, "is_staff": True}
    )
    _, key = services.api_token_create(user=user, name="benchmark")
    port = _free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "benchmarks.wsgi:application",
            "--workers",
            str(WORKERS),
            "--bind",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "benchmarks.settings"},
    )
    try:
        _wait_for(f"http://127.0.0.1:{port}/healthz")
        run_id = uuid.uuid4().hex[:8]

        def inbound_body(number):
            return {
                "from": phones[number % len(phones)],
                "to": "+18885550000",
                "body": SIZES[number % 5],
                "provider_message_id": f"bench-{run_id}-{number}",
            }

        auth = {"Authorization": f"Token {key}"}
        measure = {
            "baseline": lambda s: hammer("127.0.0.1", port, "/bench/bare-insert/", inbound_body, {}, s),
            "pipeline": lambda s: hammer("127.0.0.1", port, "/api/v1/messages/inbound/", inbound_body, auth, s),
        }
        for warm in measure.values():
            warm(1.0)
        samples = {"baseline": [], "pipeline": []}
        for _ in range(2):
            for name, fn in measure.items():
                result = fn(seconds / 2)
                if result["errors"]:
                    raise RuntimeError(f"{name}: {result['errors']} failed requests, e.g. {result['first_error']}")
                samples[name].append(result["rps"])
    finally:
        server.terminate()
        server.wait(timeout=30)
    baseline = sum(samples["baseline"]) / len(samples["baseline"])
    pipeline = sum(samples["pipeline"]) / len(samples["pipeline"])
    ratio = pipeline / baseline
    return [
        {
            "id": "B1",
            "what": "inbound texts through the pipeline, requests/s",
            "measured": f"{pipeline:.0f}/s",
            "baseline": f"{baseline:.0f}/s (bare view, one INSERT)",
            "ratio": ratio,
            "must": "≥ 0.5",
            "aim": "≥ 0.7",
            "pass": ratio >= 0.5,
            "samples": samples,
        }
    ]


def _start_size_question_runs(subscribers) -> None:
    """Each subscriber in a real flow run that asks for their size, saves it, answers, and asks again."""
    flow, created = Flow.objects.get_or_create(name="Benchmark: size question", defaults={"trigger": "manual"})
    if created or not flow.live_version:
        flow_publish(
            flow=flow,
            definition={
                "nodes": [
                    {
                        "id": "ask",
                        "type": "ask_question",
                        "attribute": "size",
                        "text": "What size do you wear?",
                        "next": "thanks",
                    },
                    {
                        "id": "thanks",
                        "type": "send_message",
                        "text": "Thanks {{ first_name }}! Size {{ attributes.size }} first, then.",
                        "next": "ask",
                    },
                ]
            },
        )
    FlowRun.objects.live().filter(subscriber__in=subscribers).exclude(flow=flow).update(status="interrupted")
    waiting = set(FlowRun.objects.live().filter(flow=flow).values_list("subscriber_id", flat=True))
    for subscriber in subscribers:
        if subscriber.pk not in waiting:
            run_start(flow=flow, subscriber=subscriber, trigger="api")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for(url: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
