"""Event types are named once (conversations/event_types.py), and every event is written by conversations' events
service (`event_record`, or `events_record` for several at once).

The source checks read the Python modules of the apps (not migrations, not tests) with `ast`. Flow definitions (JSON
files) and the API spell the types as strings, as they must.
"""

import ast
from pathlib import Path

import pytest

from conversations import event_types
from conversations.models import Event
from conversations.services import event_record, events_record
from conversations.signals import event_recorded
from tests.factories import SubscriberFactory

ROOT = Path(__file__).resolve().parent.parent
APPS = ["conversations", "flows", "segments", "campaigns", "commerce"]
# commerce names order_placed in commerce/services/orders.py for now (ORDER_PLACED = "order_placed"): the spelling
# check reads the four apps that had their literals replaced.
SPELLING_APPS = ["conversations", "flows", "segments", "campaigns"]
EVENTS_SERVICE = "conversations/services/events.py"
EVENT_WRITES = {"create", "bulk_create", "get_or_create", "update_or_create", "update", "bulk_update", "delete"}
BULK_WRITER_WORDS = ("insert", "copy", "bulk", "write", "load")
# Writers of Event rows other than the service: (path, function) -> why.
ALLOWED_EVENT_WRITERS = {
    ("conversations/demo.py", "DemoSeeder._write_batch"): (
        "seed_demo writes a made-up past for up to a million subscribers by COPY, with their texts, consent and "
        "attribute history: the events of that past signal nothing and start no flow"
    ),
}


def modules(apps=APPS):
    for app in apps:
        for path in sorted((ROOT / app).rglob("*.py")):
            if "migrations" not in path.parts:
                yield str(path.relative_to(ROOT)), ast.parse(path.read_text())


def spelled_types(tree) -> list[tuple[int, str]]:
    """String literals that are exactly a known event type, by line."""
    return sorted(
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in event_types.KNOWN
    )


def event_writes(tree) -> list[tuple[str, int]]:
    """(function, line) of every Event row written: the model's Event(…), Event.objects.<write>(…), or the model
    given to a bulk writer (`_insert(Event, …)`). `Event` is the model where a module imports it from models."""
    model_imported = any(
        isinstance(node, ast.ImportFrom)
        and (node.module or "").endswith("models")
        and any(alias.name == "Event" and alias.asname is None for alias in node.names)
        for node in ast.walk(tree)
    )
    found = []

    def visit(node, scope):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                visit(child, [*scope, child.name])
                continue
            if isinstance(child, ast.Call):
                func, called = child.func, ast.unparse(child.func)
                on_manager = isinstance(func, ast.Attribute) and func.attr in EVENT_WRITES
                on_manager = on_manager and ast.unparse(func.value).split("(")[0] == "Event.objects"
                model_given = any(isinstance(arg, ast.Name) and arg.id == "Event" for arg in child.args)
                bulk_writer = model_given and any(word in called.lower() for word in BULK_WRITER_WORDS)
                if called == "Event" or on_manager or bulk_writer:
                    found.append((".".join(scope) or "<module>", child.lineno))
            visit(child, scope)

    if model_imported:
        visit(tree, [])
    return found


def test_no_module_spells_an_event_type_outside_event_types():
    spelled = [
        f"{path}:{line}: {value!r}"
        for path, tree in modules(SPELLING_APPS)
        if path != "conversations/event_types.py"
        for line, value in spelled_types(tree)
    ]
    assert not spelled, "name the type with conversations.event_types:\n" + "\n".join(spelled)


def test_only_the_events_service_writes_events():
    writes = [
        (path, function, line)
        for path, tree in modules()
        if path != EVENTS_SERVICE
        for function, line in event_writes(tree)
    ]
    unexplained = [
        f"{path}:{line} in {function}"
        for path, function, line in writes
        if (path, function) not in ALLOWED_EVENT_WRITERS
    ]
    assert not unexplained, "write events with conversations.services.event_record:\n" + "\n".join(unexplained)
    assert set(ALLOWED_EVENT_WRITERS) <= {(path, function) for path, function, _ in writes}


def test_the_checks_catch_a_spelled_type_and_a_direct_write():
    tree = ast.parse(
        """
from conversations.models import Event

def on_answer(subscriber):
    Event.objects.create(subscriber=subscriber, type="flow_answer")
    Event.objects.bulk_create([Event(subscriber=subscriber, type=event_types.FLOW_ANSWER)])
    if kind == "order_placed":
        _insert(Event, COLUMNS, rows)
"""
    )
    assert spelled_types(tree) == [(5, "flow_answer"), (7, "order_placed")]
    assert event_writes(tree) == [("on_answer", 5), ("on_answer", 6), ("on_answer", 6), ("on_answer", 8)]


def test_known_holds_every_named_type():
    named = {value for name, value in vars(event_types).items() if name.isupper() and isinstance(value, str)}
    assert named == event_types.KNOWN and "order_placed" in named and "flow_answer" in named


# --- The service's ways of writing ------------------------------------------------------------------------------


@pytest.fixture
def heard():
    events = []

    def listen(sender, subscriber, event, **kwargs):
        events.append(event.type)

    event_recorded.connect(listen, dispatch_uid="test-heard")
    yield events
    event_recorded.disconnect(dispatch_uid="test-heard")


def test_an_event_for_a_subscriber_in_hand_may_be_written_unsignalled(db, heard, django_assert_num_queries):
    shopper = SubscriberFactory()
    with django_assert_num_queries(1):  # the INSERT: no look-up by phone, no savepoint, no receivers
        result = event_record(subscriber=shopper, type=event_types.AGENT_HANDOFF, properties={"n": 1}, signal=False)
    assert result.created and result.event.subscriber == shopper and heard == []
    event_record(phone=shopper.phone, type=event_types.ORDER_PLACED)
    assert heard == [event_types.ORDER_PLACED]  # by phone, signalled: as it always was
    again = event_record(subscriber=shopper, type=event_types.ORDER_PLACED, idempotency_key="o-1", signal=False)
    assert again.created and not event_record(subscriber=shopper, type="x", idempotency_key="o-1").created
    assert heard == [event_types.ORDER_PLACED]


def test_several_events_of_a_subscriber_in_one_insert(db, heard, django_assert_num_queries):
    shopper = SubscriberFactory()
    answers = [{"question": "size", "answer": "M"}, {"question": "skin", "answer": "dry"}]
    with django_assert_num_queries(1):
        events_record(subscriber=shopper, type=event_types.FLOW_ANSWER, properties_each=answers)
    with django_assert_num_queries(0):
        events_record(subscriber=shopper, type=event_types.FLOW_ANSWER, properties_each=[])
    stored = Event.objects.filter(subscriber=shopper, type=event_types.FLOW_ANSWER).order_by("id")
    assert [event.properties for event in stored] == answers and heard == []
