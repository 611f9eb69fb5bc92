"""A small fake of a store's help desk: a real HTTP server on 127.0.0.1 that receives Parley's webhooks.

It records every request (path, headers, raw body) and checks each one as a help desk would: the
`X-Parley-Signature` header must be "sha256=" + the hex HMAC-SHA256 of the raw body under the shared secret.
A request with a wrong signature is answered 401; otherwise it answers the next scripted status (200 when
nothing is scripted), or, for the script GARBAGE, a line that is no HTTP at all (a broken proxy in between).
"""

import hashlib
import hmac
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler

from .server import LocalServer

GARBAGE = "garbage"


@dataclass
class FakeHelpdesk(LocalServer):
    """Start with `with FakeHelpdesk(secret="…") as helpdesk:`; point HELPDESK_WEBHOOK_URL at `helpdesk.url`."""

    secret: str
    next_statuses: list[int | str] = field(default_factory=list)  # the next answers, in order; then 200
    requests: list[dict] = field(default_factory=list)

    def __post_init__(self):
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                expected = "sha256=" + hmac.new(fake.secret.encode(), raw, hashlib.sha256).hexdigest()
                signed = hmac.compare_digest(self.headers.get("X-Parley-Signature", ""), expected)
                with fake._lock:
                    fake.requests.append(
                        {
                            "path": self.path,
                            "headers": dict(self.headers.items()),
                            "raw": raw,
                            "json": json.loads(raw) if raw else None,
                            "signature_ok": signed,
                        }
                    )
                    status = fake.next_statuses.pop(0) if fake.next_statuses else 200
                if not signed:
                    status = 401
                if status == GARBAGE:
                    self.wfile.write(b"this is not HTTP\r\n\r\n")
                    self.close_connection = True
                    return
                body = json.dumps({"ok": 200 <= status < 300}).encode()
                self.send_response(status)
                if 300 <= status < 400:  # a moved help desk: a client that follows would lose the POST body
                    self.send_header("Location", fake.url)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.url = self.start_server(Handler) + "/hooks/parley"

    @property
    def received(self) -> list[dict]:
        with self._lock:
            return list(self.requests)
