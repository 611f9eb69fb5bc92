"""No input gets a server error: every URL Parley serves, every API operation of its OpenAPI schema, and the public
endpoints, fed the classes of values that once did (NUL, lone surrogates, Unicode digits, over-long ids, malformed
cursors, absurd nesting, numbers out of range…).

The requests go through Django's real stack against the real database (SQLite or PostgreSQL, as the run is), as a
superuser (pages and the API) and nobody (the public endpoints). Each request runs in a savepoint that
is rolled back, so one request's writes never change what the next one sees. A request answered with a 5xx is
listed with the exception it raised; the test passes only when the list is empty.
"""

import json
import re
import sys
from pathlib import Path
from urllib.parse import quote, urlencode

import pytest
from django.core.management import call_command
from django.db import transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from drf_spectacular.generators import SchemaGenerator
from twilio.request_validator import RequestValidator

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parent.parent
APPS = ["conversations", "flows", "segments", "campaigns", "config"]
TOKEN = "fuzz-twilio-token"

# The value classes. Strings are sent as they are in query strings, forms and JSON; in URL paths, percent-encoded.
VALUES = {
    "nul": "a\x00b",
    "lone surrogate": "a\ud800b",
    "superscript digit": "²",
    "other script digits": "١٢٣",
    "over-long number": "9" * 40,
    "negative": "-1",
    "exponent": "1e309",
    "malformed cursor": "cD0yMDI0LTAx!!",
    "long text": "x" * 5000,
    "markup and quotes": "<script>'\"%s{{x}}",
    "empty": "",
}
# Values in JSON bodies that are not strings.
JSON_VALUES = {
    "huge integer": 2**80,
    "deep list": json.loads("[" * 60 + "]" * 60),
    "object": {"a\x00": "\ud800", "nested": {"x": [1, {"y": None}]}},
    "list of nul": ["\x00"],
    "float": 1e308,
    "false": False,
}
DEEP_JSON = ("[" * 100_000 + "]" * 100_000).encode()
# Paths that end the session or are not Parley's to harden.
SKIP = re.compile(r"logout|password_change|^api/docs|^api/schema|jsi18n")


NAME_READ = re.compile(r"""(?:GET|POST|query_params|data|params|post)\s*(?:\.get|\.getlist|\[)\(?\s*["']([\w-]+)["']""")
GENERIC_NAMES = {"page", "page_size", "cursor", "q", "o", "p", "e", "ordering", "search", "format", "next"}


def read_names() -> list[str]:
    """Every request parameter Parley's code reads, found in its source (`GET.get("q")`, `data.get("phone")`…)."""
    names = set()
    for app in APPS:
        for path in (ROOT / app).rglob("*.py"):
            if "migrations" not in path.parts:
                names.update(NAME_READ.findall(path.read_text()))
    return sorted(names | GENERIC_NAMES)


def names_read_by(view) -> list[str]:
    """The parameters the module of a view reads (and the generic ones), for trying them one at a time."""
    module = sys.modules.get(getattr(view, "__module__", ""), None)
    source = Path(module.__file__).read_text() if module and getattr(module, "__file__", None) else ""
    return sorted(set(NAME_READ.findall(source)) | GENERIC_NAMES)


def url_patterns(patterns=None, prefix=""):
    """(route, pattern) for every URL, with nested includes joined."""
    for entry in patterns if patterns is not None else get_resolver().url_patterns:
        if isinstance(entry, URLResolver):
            yield from url_patterns(entry.url_patterns, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern):
            yield prefix + str(entry.pattern), entry


ROUTE_PARAMETER = re.compile(r"<(?:(\w+):)?(\w+)>")
REGEX_PARAMETER = re.compile(r"\(\?P<(\w+)>[^)]*\)")


def fill(route: str, number: str, text: str) -> str | None:
    """A concrete path for a route: numeric parameters get `number`, the others `text` (percent-encoded)."""
    if "(?P<format>" in route:
        return None  # DRF's format suffixes repeat their endpoint
    if "^" in route or "$" in route:
        route = route.replace("^", "").replace("$", "").replace("\\.", ".").replace("/?", "/")
        route = REGEX_PARAMETER.sub(lambda m: number if m.group(1) in ("pk", "id") else q(text), route)
    else:
        route = ROUTE_PARAMETER.sub(lambda m: number if m.group(1) == "int" else q(text), route)
    if any(char in route for char in "()[]?*+\\"):
        return None  # a regex this walk does not spell out
    return "/" + route


def schema_operations() -> list[tuple[str, str, list[str], list[str]]]:
    """(method, route, query parameter names, body property names) for every operation of the OpenAPI schema."""
    schema = SchemaGenerator().get_schema(request=None, public=True)
    components = schema["components"]["schemas"]
    operations = []
    for route, item in schema["paths"].items():
        for method, operation in item.items():
            query = [p["name"] for p in operation.get("parameters", []) if p["in"] == "query"]
            body = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema", {})
            if "$ref" in body:
                body = components[body["$ref"].rsplit("/", 1)[1]]
            operations.append((method.upper(), route, query, list(body.get("properties", {}))))
    return operations


def q(value: str) -> str:
    """Percent-encoded as a client would send it; a lone surrogate as the bytes a sloppy client sends for it."""
    return quote(value, safe="", errors="surrogatepass")


def form(fields: dict) -> str:
    return urlencode(fields, errors="surrogatepass")


FORM = "application/x-www-form-urlencoded"


class Fuzzer:
    def __init__(self, clients):
        self.clients = clients
        self.failures = []
        self.requests = 0

    def send(self, who, method, path, **kwargs):
        client = self.clients[who]
        self.requests += 1
        with transaction.atomic():
            response = getattr(client, method.lower())(path, **kwargs)
            transaction.set_rollback(True)
        if response.status_code >= 500:
            error = response.exc_info[1] if getattr(response, "exc_info", None) else None
            self.failures.append(f"{method} {path[:120]!r} as {who} -> {response.status_code} {error!r}"[:400])
        return response


@pytest.fixture
def fuzzer(settings, request, capsys):
    settings.TWILIO_AUTH_TOKEN = TOKEN
    settings.PUBLIC_BASE_URL = ""
    settings.SIGNUP_LIMIT_PER_IP = 10**6  # the limits would answer 429 before the code under test runs
    settings.SIGNUP_LIMIT_PER_PHONE = 10**6
    call_command("seed_demo", subscribers=12, verbosity=0)
    admin = UserFactory(username="fuzz-admin", is_staff=True, is_superuser=True)
    staff, anonymous = Client(raise_request_exception=False), Client(raise_request_exception=False)
    staff.force_login(admin)
    # The API takes the session too (the test client is exempt from CSRF, as an API token would be).
    fuzzer = Fuzzer({"staff": staff, "api": staff, "anonymous": anonymous})
    yield fuzzer
    with capsys.disabled():  # the figure CI prints: requests sent, and how many answered 5xx
        print(f"\n{request.node.name}: {fuzzer.requests} requests, {len(fuzzer.failures)} server errors")


def test_no_url_answers_a_server_error_for_any_value_class(fuzzer):
    names = read_names()
    routes = [(route, pattern) for route, pattern in url_patterns() if not SKIP.search(route)]
    for value in VALUES.values():
        for route, _ in routes:
            path = fill(route, "1", value)
            if path is None:
                continue
            who = "api" if path.startswith("/api/") else "staff"
            query = "?" + form(dict.fromkeys(names, value))
            fuzzer.send(who, "GET", path + query)
            fuzzer.send(who, "POST", path + query, data=form(dict.fromkeys(names, value)), content_type=FORM)
            if path.startswith("/api/") or "/signup/" in path:
                body = json.dumps(dict.fromkeys(names, value))
                fuzzer.send(who, "POST", path, data=body, content_type="application/json")
    # The values that slip past a first check (a digit int() refuses, a number no column holds, a cursor that
    # decodes to nonsense), alone in each parameter the view's own module reads: one bad value must not hide another.
    for route, pattern in routes:
        path = fill(route, "1", "x")
        if path is None or path.startswith("/admin/"):
            continue
        who = "api" if path.startswith("/api/") else "staff"
        for name in names_read_by(pattern.callback):
            for value in (VALUES["superscript digit"], VALUES["over-long number"], VALUES["malformed cursor"]):
                fuzzer.send(who, "GET", f"{path}?{form({name: value})}")
                fuzzer.send(who, "POST", path, data=form({name: value}), content_type=FORM)
    for route, _ in routes:  # ids past any integer column, on every numeric path parameter
        path = fill(route, "9" * 30, "x")
        if path is not None and "9" * 30 in path:
            who = "api" if path.startswith("/api/") else "staff"
            for method in ("GET", "POST", "PATCH", "DELETE"):
                fuzzer.send(who, method, path)
    assert fuzzer.requests > 2000
    assert fuzzer.failures == [], f"{len(fuzzer.failures)} server errors:\n" + "\n".join(fuzzer.failures[:60])


def test_no_api_operation_answers_a_server_error(fuzzer):
    """Each operation of the OpenAPI schema, each of its query parameters and body fields alone."""
    for method, route, query, properties in schema_operations():
        path = route.replace("{id}", "1").replace("{pk}", "1")
        if "{" in path:
            continue
        if method not in ("POST", "PUT", "PATCH"):
            properties = []
        for value in (*VALUES.values(), *JSON_VALUES.values()):
            if isinstance(value, str):
                for name in query:
                    fuzzer.send("api", method, path + "?" + form({name: value}))
            for name in properties:
                body = json.dumps({name: value, "phone": "+14155550142"})
                fuzzer.send("api", method, path, data=body, content_type="application/json")
            if properties:  # a bad key
                fuzzer.send(
                    "api",
                    method,
                    path,
                    data=json.dumps({value if isinstance(value, str) else "k": 1}),
                    content_type="application/json",
                )
        if method in ("POST", "PUT", "PATCH"):
            fuzzer.send("api", method, path, data=DEEP_JSON, content_type="application/json")
            fuzzer.send("api", method, path, data=b'{"a": NaN, "b": Infinity}', content_type="application/json")
    assert fuzzer.requests > 500
    assert fuzzer.failures == [], f"{len(fuzzer.failures)} server errors:\n" + "\n".join(fuzzer.failures[:60])


def test_json_carried_in_form_fields_and_files_answers_no_server_error(fuzzer):
    """Pages that take a JSON document in a form field or an uploaded file decode it themselves."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    flow = {"name": "Fuzz", "trigger": {"type": "keyword", "keywords": ["FUZZ"]}, "nodes": []}
    documents = [
        json.dumps({**flow, "name": "a\x00b"}),
        json.dumps({**flow, "nodes": [{"id": "\ud800", "type": "send", "text": "\x00"}]}),
        json.dumps({"\x00": 1}),
        "[" * 5000 + "]" * 5000,
        '{"name": NaN}',
    ]
    for document in documents:
        fuzzer.send("staff", "POST", "/flows/import/", data=form({"document": document}), content_type=FORM)
        upload = SimpleUploadedFile("flow.json", document.encode("utf-8", "surrogatepass"))
        fuzzer.send("staff", "POST", "/flows/import/", data={"file": upload})
        for path in ("/segments/new/", "/segments/new/refresh/"):
            fields = {"name": "Fuzz", "rules_json": document}
            fuzzer.send("staff", "POST", path, data=form(fields), content_type=FORM)
    assert fuzzer.failures == [], f"{len(fuzzer.failures)} server errors:\n" + "\n".join(fuzzer.failures[:60])


def signed(params: dict, path: str) -> dict:
    decoded = {k: v.encode("utf-8", "surrogatepass").decode("utf-8", "replace") for k, v in params.items()}
    signature = RequestValidator(TOKEN).compute_signature(f"http://testserver{path}", decoded)
    return {"HTTP_X_TWILIO_SIGNATURE": signature}


def test_no_public_endpoint_answers_a_server_error(fuzzer):
    """The endpoints anyone on the internet reaches: sign-up, join, short links, and Twilio's signed webhooks."""
    inbound = {
        "MessageSid": "SM" + "b" * 32,
        "AccountSid": "AC" + "0" * 32,
        "From": "+14155550142",
        "To": "+18885550000",
        "Body": "hi",
        "NumMedia": "0",
    }
    status = {"MessageSid": "SM" + "c" * 32, "AccountSid": "AC" + "0" * 32, "MessageStatus": "delivered"}
    for value in VALUES.values():
        for name in inbound:
            params = {**inbound, name: value}
            path = "/webhooks/twilio/sms/"
            fuzzer.send("anonymous", "POST", path, data=form(params), content_type=FORM, **signed(params, path))
        for name in (*status, "ErrorCode"):
            params = {**status, name: value}
            path = f"/webhooks/twilio/status/?message={q(value)}"
            fuzzer.send("anonymous", "POST", path, data=form(params), content_type=FORM, **signed(params, path))
        fields = {"phone": value, "email": value, "consent": "on", "answer": value, "country": value, "version": value}
        fuzzer.send("anonymous", "POST", "/signup/welcome/", data=json.dumps(fields), content_type="application/json")
        fuzzer.send("anonymous", "POST", "/signup/welcome/", data=form(fields), content_type=FORM)
        fuzzer.send("anonymous", "POST", "/join/welcome/", data=form(fields), content_type=FORM)
        fuzzer.send("anonymous", "GET", f"/join/welcome/qr.svg?format={q(value)}")
        fuzzer.send("anonymous", "GET", f"/l/{q(value)}")
        fuzzer.send("anonymous", "POST", f"/signup/welcome/seen?{form({'version': value})}")
    for body in (
        DEEP_JSON,
        b'{"phone": NaN}',
        b"[]",
        b'"text"',
        b"\xff\xfe",
        b'{"a": ' + DEEP_JSON + b"}",  # an object first: read as JSON whatever the declared type
        b'{"phone": "\\ud800", "email": "\\u0000"}',
        json.dumps({"a" * 10: [[[[]]]] * 10}).encode(),
    ):
        fuzzer.send("anonymous", "POST", "/signup/welcome/", data=body, content_type="application/json")
        fuzzer.send("anonymous", "POST", "/signup/welcome/", data=body, content_type="text/plain")
    assert fuzzer.failures == [], f"{len(fuzzer.failures)} server errors:\n" + "\n".join(fuzzer.failures[:60])
