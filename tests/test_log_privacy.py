"""No personal data in logs: the filter every handler runs, and every path that logs, fed with sentinel values.

Each test reads what Parley's LOGGING wrote while it ran (the run's capture file, tests/conftest.py) and scans it
as the end of the run scans the whole file (tests/logscan.py).
"""

import contextlib
import hashlib
import logging
import os
import queue
import sys
import threading
import traceback
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from urllib.parse import quote, urlencode

import pytest
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.template import Context, Template
from django.test import Client
from django.utils import timezone
from twilio.request_validator import RequestValidator

from config.logging import RedactPersonalData, redact
from conversations.models import AttributeDefinition, Message, Subscriber
from conversations.outbox import message_queue, outbox_send_due
from conversations.services import subscriber_attributes_set
from conversations.sms.providers import ProviderError
from tests.logscan import SENTINEL_BODY, SENTINEL_EMAIL, SENTINEL_PHONE, leaks

NOT_A_NUMBER = SENTINEL_PHONE[:-1]  # one digit short: a number Parley cannot store, quoted by its errors


@pytest.fixture
def logged():
    """What Parley's logging writes, at every level, from now on (a function that reads it)."""
    path = Path(os.environ["PARLEY_LOG_CAPTURE"])
    start = path.stat().st_size
    return lambda: path.read_bytes()[start:].decode("utf-8")


def clean(text: str) -> str:
    assert leaks(text) == [], "\n".join(leaks(text))
    return text


# --- The filter ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "+14155550100",
        "+1 415-555-0100",
        "%2B14155550100",
        "(415) 555-0100",
        "415-555-0100",
        "415.555.0100",
        "4155550100",
        "14155550100",
        "+44 20 7946 0018",
        "0044 20 7946 0018",
        "020 7946 0018",
        "07700 900123",
        "06 12 34 56 78",
        "ana.lima+shop@example.com",
        "ana%40example.co.uk",
    ],
)
def test_numbers_and_addresses_in_any_form_are_redacted(value):
    text = redact(f"subscriber 12 wrote from {value}, twice")
    assert text in ("subscriber 12 wrote from [phone], twice", "subscriber 12 wrote from [email], twice")


@pytest.mark.parametrize(
    "text",
    [
        "2026-05-01 12:00:00,123 INFO started",
        "[01/May/2026 12:00:00] pid 13004 message 123456789",
        "at 0x7f4700ca71a0",
        "127.0.0.1:8000 and 192.168.100.200",
        "550e8400-e29b-41d4-a716-446655440000",
        "(0.001) took 0.0012345678901 s",
        "SendReport(sent=3, outcomes=[(3064, 'sent')])",
        "2026-05-01T12:00:00+00:00",
        'File "/work/main/conversations/services/inbound.py", line 188, in _process',
    ],
)
def test_ids_times_and_addresses_of_machines_are_left_alone(text):
    assert redact(text) == text


def test_database_details_and_quoted_values_are_redacted():
    postgres = (
        'duplicate key value violates unique constraint "conversations_subscriber_phone_key"\n'
        "DETAIL:  Key (phone)=(+14155550100) already exists."
    )
    assert redact(postgres).splitlines() == [
        'duplicate key value violates unique constraint "conversations_subscriber_phone_key"',
        "DETAIL:  Key (phone)=[redacted]",
    ]
    row = 'null value in column "phone"\nDETAIL:  Failing row contains (7, null, my door code is 4417).'
    assert redact(row).splitlines()[1] == "DETAIL:  [redacted]"
    assert "4417" not in redact("LINE 1: ...WHERE body = 'my door code is 4417'")
    assert redact('invalid input syntax for type integer: "my door code"') == (
        'invalid input syntax for type integer: "[redacted]"'
    )
    assert redact("size must be a number (got 'call me on Sunday')") == "size must be a number (got [redacted])"
    assert redact("'call me maybe' is not a valid phone number: it could not be read.") == (
        "[redacted] is not a valid phone number: it could not be read."
    )
    assert redact("Failed lookup for key [x] in [{'body': 'hello'}]") == (
        "Failed lookup for key [x] in [the template context, redacted]"
    )


def test_query_strings_keep_their_names_and_lose_their_values():
    line = '"GET /api/v1/subscribers/?phone=%2B14155550100&search=Ana+Lima&page=2 HTTP/1.1" 200 512'
    redacted = '"GET /api/v1/subscribers/?phone=[redacted]&search=[redacted]&page=[redacted] HTTP/1.1" 200 512'
    assert redact(line) == redacted


def record(msg, *args, **extra):
    return logging.makeLogRecord({"name": "test", "levelno": logging.WARNING, "msg": msg, "args": args, **extra})


def rendered(record: logging.LogRecord) -> str:
    assert RedactPersonalData().filter(record) is True  # never drops a line
    return logging.Formatter("%(levelname)s %(name)s %(message)s").format(record)


def raise_with_a_number():
    raise ValueError("+14155550100 (ana@example.com) could not be stored")  # the line shows in the traceback too


def test_a_record_loses_the_data_in_its_arguments_traceback_and_stack():
    try:
        try:
            raise_with_a_number()
        except ValueError as error:
            raise RuntimeError("415-555-0100 again") from error
    except RuntimeError:
        exc_info = sys.exc_info()
    text = rendered(record("text from %s: %s", "+14155550100", "ana@example.com", exc_info=exc_info))
    assert "text from [phone]: [email]" in text
    assert "Traceback (most recent call last)" in text and "ValueError: [phone] ([email]) could not be stored" in text
    assert "RuntimeError: [phone] again" in text and 'raise ValueError("[phone] ([email]) could not' in text
    assert leaks(text) == []
    stack = rendered(record("here", stack_info='File "x.py", line 1\n    send("+14155550100")'))
    assert "+1415" not in stack


def test_a_traceback_a_handler_before_ours_rendered_is_redacted_too():
    try:
        raise_with_a_number()
    except ValueError:
        line = record("failed", exc_info=sys.exc_info())
    logging.Formatter().format(line)  # caches the traceback as exc_text, unredacted
    assert leaks(rendered(line)) == []
    assert line.exc_info is None


def test_arguments_that_do_not_fit_are_dropped_rather_than_printed():
    text = rendered(record("%s wrote %s", "+14155550100"))
    assert "+1415" not in text and "did not fit" in text


def test_the_runserver_access_log_and_the_sql_log():
    access = record('"%s" %s %s', "GET /inbox/?phone=%2B14155550100&q=ana%40example.com HTTP/1.1", "200", "12")
    assert rendered(access).endswith('"GET /inbox/?phone=[redacted]&q=[redacted] HTTP/1.1" 200 12')
    sql = "SELECT * FROM message WHERE body = 'my door code is 4417' AND phone = '+14155550100'"
    query = record("(%.3f) %s; args=%s; alias=%s", 0.002, sql, ("my door code is 4417",), "default")
    query.__dict__.update(sql=sql, duration=0.002, params=("my door code is 4417",), alias="default")
    text = rendered(query)
    assert "4417" not in text and "(0.002) SELECT * FROM message WHERE body = '[redacted]'" in text


def test_every_handler_of_the_configuration_redacts():
    for name, handler in settings.LOGGING["handlers"].items():
        assert "redact" in handler.get("filters", []), name
    loggers = [logging.getLogger(), *logging.Logger.manager.loggerDict.values()]
    handlers = {
        handler
        for logger in loggers
        for handler in getattr(logger, "handlers", [])
        if "_pytest" not in type(handler).__module__ and not isinstance(handler, logging.NullHandler)
    }
    assert handlers
    for handler in handlers:
        assert any(isinstance(f, RedactPersonalData) for f in handler.filters), handler


def test_the_scan_finds_what_the_filter_would_have_hidden():
    raw = f"from {SENTINEL_PHONE} <{SENTINEL_EMAIL}>: {SENTINEL_BODY}\n(415) 555-0123\nall fine\n"
    found = leaks(raw)
    assert len(found) == 2
    assert all(kind in found[0] for kind in ("phone number", "e-mail address", "message body"))
    assert SENTINEL_PHONE not in found[0] and SENTINEL_EMAIL not in found[0]
    assert SENTINEL_BODY not in found[0] and "555-0123" not in found[1]


# --- Every path that logs, with the sentinels ------------------------------------------------------------------


@pytest.fixture
def shopper(db):
    AttributeDefinition.objects.create(key="shoe_size", label="Shoe size", type="number")
    return Subscriber.objects.create(
        phone=SENTINEL_PHONE, email=SENTINEL_EMAIL, status="subscribed", last_inbound_at=timezone.now()
    )


@pytest.fixture
def twilio(settings):
    settings.TWILIO_AUTH_TOKEN, settings.PUBLIC_BASE_URL, settings.TWILIO_ACCOUNT_SID = "test-token", "", ""

    def post(client, from_number, body):
        sid = "SM" + hashlib.md5(f"{from_number}{body}".encode()).hexdigest()
        params = {
            "ToCountry": "US",
            "ToState": "CA",
            "SmsMessageSid": sid,
            "NumMedia": "0",
            "ToCity": "SAN FRANCISCO",
            "FromZip": "94105",
            "SmsSid": sid,
            "FromState": "CA",
            "SmsStatus": "received",
            "FromCity": "SAN FRANCISCO",
            "Body": body,
            "FromCountry": "US",
            "To": "+18885550000",
            "ToZip": "94016",
            "NumSegments": "1",
            "MessageSid": sid,
            "AccountSid": "AC" + "0" * 32,
            "From": from_number,
            "ApiVersion": "2010-04-01",
        }
        signature = RequestValidator("test-token").compute_signature("http://testserver/webhooks/twilio/sms/", params)
        return client.post("/webhooks/twilio/sms/", params, HTTP_X_TWILIO_SIGNATURE=signature), sid

    return post


def test_a_text_from_a_number_parley_cannot_store(db, client, twilio, logged):
    response, sid = twilio(client, NOT_A_NUMBER, SENTINEL_BODY)
    assert response.status_code == 400
    assert f"Twilio text {sid} cannot be stored: bad from" in clean(logged())


def take_a_taken_number(**ignored):
    """A duplicate insert, as a race between two requests for the same new number ends."""
    with transaction.atomic():
        Subscriber.objects.create(phone=SENTINEL_PHONE, email=SENTINEL_EMAIL)


def test_a_500_on_a_taken_number_logs_its_traceback_without_the_number(shopper, twilio, logged, monkeypatch):
    monkeypatch.setattr("conversations.services.inbound_receive", take_a_taken_number)
    response, _ = twilio(Client(raise_request_exception=False), SENTINEL_PHONE, SENTINEL_BODY)
    assert response.status_code == 500
    text = clean(logged())
    assert "Internal Server Error: /webhooks/twilio/sms/" in text and "IntegrityError" in text
    if connection.vendor == "postgresql":
        assert "DETAIL:  Key (phone)=[redacted]" in text


def store_the_answer(inbound) -> bool:
    subscriber_attributes_set(subscriber=inbound.subscriber, changes={"shoe_size": inbound.text}, source="flow")
    return True


def test_a_handler_that_fails_on_a_text(shopper, settings, logged):
    from conversations.services import inbound_receive

    settings.INBOUND_HANDLERS = ["tests.test_log_privacy.store_the_answer"]
    with pytest.raises(ValidationError):
        inbound_receive(from_number=SENTINEL_PHONE, body=SENTINEL_BODY, provider_message_id="SMsentinel")
    text = clean(logged())
    assert "was stored but its processing failed" in text and "shoe_size must be a number (got [redacted])" in text


def test_a_flow_that_cannot_save_an_answer_or_text_an_opted_out_number(shopper, logged):
    from flows import engine
    from flows.models import Flow
    from flows.services import _apply, flow_publish, run_start

    flow = Flow.objects.create(
        name="Sentinel",
        trigger="manual",
        draft={"nodes": [{"id": "w", "type": "wait", "minutes": 60, "next": "hi"}, {"id": "hi", "type": "end"}]},
    )
    flow_publish(flow=flow)
    run = run_start(flow=flow, subscriber=shopper, trigger="api")
    Subscriber.objects.filter(pk=shopper.pk).update(status="unsubscribed")
    run.subscriber.refresh_from_db()
    effects = [engine.SetAttribute("shoe_size", SENTINEL_BODY, "w"), engine.Send(SENTINEL_BODY, "w")]
    _apply(run, engine.Outcome(state=run.state, effects=effects, consumed=True), now=timezone.now())
    text = clean(logged())
    assert f"flow run {run.pk} could not set shoe_size" in text
    assert f"flow run {run.pk}: text not queued: opted_out" in text


def test_due_work_that_fails_on_a_taken_number(shopper, settings, logged):
    from conversations.tasks import process_due

    settings.DUE_WORK = ["tests.test_log_privacy.take_a_taken_number"]
    outcome = process_due()
    assert SENTINEL_PHONE not in outcome and "failed (IntegrityError" in outcome
    assert "due work tests.test_log_privacy.take_a_taken_number failed" in clean(logged())


def test_a_worker_task_that_fails_on_a_taken_number(shopper, logged):
    """django-q's monitor logs a failed task with its result: the error and its traceback, as the worker wrote them."""
    from django_q.monitor import monitor

    try:
        take_a_taken_number()
    except IntegrityError as error:
        result = f"{error} : {traceback.format_exc()}"  # what django-q's worker stores for a failure
    now = timezone.now()
    task = {"id": uuid.uuid4().hex, "name": "sentinel", "func": "tests.test_log_privacy.take_a_taken_number"}
    task.update(args=(), kwargs={}, started=now, stopped=now, result=result, success=False, sync=True)
    results = queue.Queue()
    results.put(task)
    results.put("STOP")
    monitor(results)
    assert "Failed 'tests.test_log_privacy.take_a_taken_number' (sentinel) - " in clean(logged())


class RefusingProvider:
    name = "refusing"

    def send(self, *, to, body, **options):
        raise ProviderError("21211", f"The 'To' number {to} is not a valid phone number ({body})", retry=False)


def test_a_provider_that_refuses_a_text(shopper, settings, logged):
    settings.SMS_SENDER_MPS = 1000
    message = message_queue(subscriber=shopper, body=SENTINEL_BODY)
    outbox_send_due(max_seconds=5, provider=RefusingProvider())
    assert Message.objects.get(pk=message.pk).status == "failed"
    assert f"({message.pk}, 'failed:21211')" in clean(logged())


def test_api_answers_400_without_logging_what_was_sent(shopper, api, logged):
    bad = {"phone": NOT_A_NUMBER, "email": SENTINEL_EMAIL, "attributes": {"shoe_size": SENTINEL_BODY}}
    assert api.post("/api/v1/subscribers/", bad, format="json").status_code == 400
    assert api.patch(f"/api/v1/subscribers/{shopper.pk}/", bad, format="json").status_code == 400
    query = urlencode({"phone": SENTINEL_PHONE, "email": SENTINEL_EMAIL, "q": SENTINEL_BODY})
    api.get(f"/api/v1/subscribers/?{query}")
    api.get(f"/api/v1/nothing/?{query}")
    assert "Bad Request: /api/v1/subscribers/" in clean(logged())


def test_a_template_debug_line_leaves_out_the_context(shopper, logged, caplog):
    caplog.set_level(logging.DEBUG, logger="django.template")  # pinned at INFO; someone debugging templates
    Template("{{ missing }}").render(Context({"shopper": shopper, "body": SENTINEL_BODY}))
    assert "Failed lookup for key [missing] in [the template context, redacted]" in clean(logged())


def test_the_access_log_of_django_s_own_server(db, logged):
    """runserver's handler and server (in a thread here), with its request lines as Django logs them."""
    from django.core.servers.basehttp import WSGIRequestHandler, WSGIServer
    from django.core.wsgi import get_wsgi_application

    server = WSGIServer(("127.0.0.1", 0), WSGIRequestHandler)
    server.set_app(get_wsgi_application())
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        for path in [
            f"/healthz?phone={quote(SENTINEL_PHONE)}&email={quote(SENTINEL_EMAIL)}",
            f"/no-such-page/?q={quote(SENTINEL_BODY)}&phone={SENTINEL_PHONE}",
        ]:
            with contextlib.suppress(urllib.error.HTTPError):  # the 404
                urllib.request.urlopen(base + path, timeout=10).read()
    finally:
        server.shutdown()
        server.server_close()
    text = clean(logged())
    assert '"GET /healthz?phone=[redacted]&email=[redacted] HTTP/1.1" 200' in text
    assert '"GET /no-such-page/?q=[redacted]&phone=[redacted] HTTP/1.1" 404' in text
