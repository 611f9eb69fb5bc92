"""A small fake of Shopify's Admin GraphQL API: a real HTTP server on 127.0.0.1 that takes Parley's mutations.

As Shopify does (shopify.dev, "GraphQL Admin API"): POST /admin/api/<version>/graphql.json with the app's token in
`X-Shopify-Access-Token` (a wrong or missing one is answered 401 with `{"errors": "[API] Invalid API key or access
token (unrecognized login or wrong password)"}`), a JSON body {"query", "variables"}, and an answer of 200 with
`data` (and `userErrors` inside a mutation's payload) or top-level `errors`. It records every request, and answers
the next scripted reply when there is one: an HTTP status, or a JSON document to send with 200.
"""

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler

from .server import LocalServer

API_VERSION = "2026-10"


@dataclass
class FakeShopifyAdmin(LocalServer):
    """Start with `with FakeShopifyAdmin(token="shpat_…") as admin:`; point SHOPIFY_ADMIN_API_URL at `admin.url`."""

    token: str
    replies: list[int | dict] = field(default_factory=list)  # the next answers, in order; then success
    requests: list[dict] = field(default_factory=list)

    def __post_init__(self):
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with fake._lock:
                    fake.requests.append({"path": self.path, "headers": dict(self.headers.items()), "raw": raw})
                    reply = fake.replies.pop(0) if fake.replies else None
                if self.headers.get("X-Shopify-Access-Token") != fake.token:
                    self._answer(
                        401, {"errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"}
                    )
                elif isinstance(reply, int):
                    self._answer(reply, {"errors": "Internal Server Error"})
                else:
                    self._answer(200, reply or fake.success(json.loads(raw)))

            def _answer(self, status: int, document: dict):
                body = json.dumps(document).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.url = self.start_server(Handler) + f"/admin/api/{API_VERSION}/graphql.json"

    @staticmethod
    def success(request: dict) -> dict:
        """What Shopify answers to customerSmsMarketingConsentUpdate that took."""
        consent = request["variables"]["input"]["smsMarketingConsent"]
        return {
            "data": {
                "customerSmsMarketingConsentUpdate": {
                    "customer": {
                        "id": request["variables"]["input"]["customerId"],
                        "smsMarketingConsent": {
                            "marketingState": consent["marketingState"],
                            "consentUpdatedAt": consent.get("consentUpdatedAt"),
                        },
                    },
                    "userErrors": [],
                }
            },
            "extensions": {"cost": {"requestedQueryCost": 10, "actualQueryCost": 10}},
        }

    @staticmethod
    def user_error(message: str) -> dict:
        return {
            "data": {
                "customerSmsMarketingConsentUpdate": {
                    "customer": None,
                    "userErrors": [{"field": ["input", "customerId"], "message": message, "code": "INVALID"}],
                }
            }
        }

    @property
    def received(self) -> list[dict]:
        with self._lock:
            return list(self.requests)
