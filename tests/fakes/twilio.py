"""A small fake of Twilio's Messages API: a real HTTP server on 127.0.0.1 for tests and benchmarks.

It records every request (arrival time, form fields) and answers like Twilio:
201 with a message resource, or the error a test scripted for a number.
"""

import json
import threading
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs

from .server import LocalServer


@dataclass
class Scripted:
    status: int  # HTTP status to answer
    code: int | None = None  # Twilio error code
    message: str = "scripted error"
    delay: float = 0.0  # seconds to wait before answering (to provoke client timeouts)


@dataclass
class FakeTwilio(LocalServer):
    """Start with `with FakeTwilio() as twilio:`; point TWILIO_API_BASE_URL at `twilio.url`."""

    account_sid: str = "AC" + "0" * 32
    errors_by_to: dict[str, Scripted] = field(default_factory=dict)  # every send to this number fails so
    next_answers: list[Scripted] = field(default_factory=list)  # the next sends, in order, whoever they go to
    requests: list[dict] = field(default_factory=list)

    def __post_init__(self):
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                arrived = time.time()
                length = int(self.headers.get("Content-Length") or 0)
                form = {key: values[0] for key, values in parse_qs(self.rfile.read(length).decode()).items()}
                with fake._lock:
                    fake.requests.append(
                        {"at": arrived, "path": self.path, "form": form, "auth": self.headers.get("Authorization", "")}
                    )
                    scripted = fake.next_answers.pop(0) if fake.next_answers else fake.errors_by_to.get(form.get("To"))
                if not self.path.endswith(f"/Accounts/{fake.account_sid}/Messages.json"):
                    return self._json(404, {"code": 20404, "message": "not found", "status": 404})
                if scripted:
                    if scripted.delay:
                        time.sleep(scripted.delay)
                    if scripted.status >= 400:
                        return self._json(
                            scripted.status,
                            {"code": scripted.code, "message": scripted.message, "status": scripted.status},
                        )
                sid = "SM" + uuid.uuid4().hex
                self._json(
                    201,
                    {
                        "sid": sid,
                        "status": "queued",
                        "to": form.get("To"),
                        "from": form.get("From"),
                        "body": form.get("Body"),
                        "account_sid": fake.account_sid,
                        "num_segments": "1",
                        "date_created": None,
                        "uri": f"/Messages/{sid}.json",
                    },
                )

            def _json(self, status, payload):
                body = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.url = self.start_server(Handler)

    def busiest_second(self) -> int:
        """The most requests that arrived within any one second (a sliding window)."""
        with self._lock:
            times = sorted(request["at"] for request in self.requests)
        most, start = 0, 0
        for end, moment in enumerate(times):
            while moment - times[start] >= 1.0:
                start += 1
            most = max(most, end - start + 1)
        return most

    @property
    def sent(self) -> list[dict]:
        """The form fields of every message request received, in order."""
        with self._lock:
            return [request["form"] for request in self.requests]


@contextmanager
def twilio_configured(settings, *, timeout_seconds: float = 1):
    """A fake Twilio with Parley's settings pointed at it, and a sender fast enough that pacing is not under test."""
    with FakeTwilio() as fake:
        settings.SMS_PROVIDER = "twilio"
        settings.TWILIO_ACCOUNT_SID = fake.account_sid
        settings.TWILIO_AUTH_TOKEN = "secret"
        settings.TWILIO_API_BASE_URL = fake.url
        settings.TWILIO_TIMEOUT_SECONDS = timeout_seconds
        settings.SMS_SENDER_MPS = 1000
        yield fake
