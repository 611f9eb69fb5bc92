"""Flows as documents: checking and publishing a definition, a flow's settings, export and import, and the shipped
templates."""

import json
from pathlib import Path

from django.core.exceptions import ValidationError
from django.db import transaction

from conversations.models import AttributeDefinition
from conversations.texts import normalize_keyword

from .. import definition as flow_definition
from .. import editor
from ..checks import ERROR, event_checks, transactional_checks, transactional_start_problem
from ..models import Flow, FlowVersion

# --- Definitions and publishing ------------------------------------------------------------------------------


def attribute_specs() -> dict[str, dict]:
    return {d.key: {"type": d.type, "label": d.label, "options": d.options} for d in AttributeDefinition.objects.all()}


def flow_definition_check(definition) -> None:
    """Raise a ValidationError listing every problem of a definition, each naming its node and field."""
    found = flow_definition.problems(definition, attribute_specs())
    if found:
        raise ValidationError({"definition": found})


def flow_publish(*, flow: Flow, definition: dict | None = None, user=None) -> FlowVersion:
    """Check and publish a definition (the flow's draft by default) as the flow's next version; activate it."""
    with transaction.atomic():
        # One publisher at a time numbers the versions, and the draft published is the one saved last, not the one
        # this caller loaded before an editor's change.
        locked = Flow.objects.select_for_update().get(pk=flow.pk)
        return _publish(flow, locked.draft if definition is None else definition, user)


def _publish(flow: Flow, definition, user) -> FlowVersion:
    flow_definition_check(definition)
    flow_may_be_transactional(purpose=flow.purpose, trigger=flow.trigger, event_type=flow.event_type)
    without_event = [
        f"node {check.node}: {check.message}"
        for check in event_checks(definition, trigger=flow.trigger, event_type=flow.event_type)
        if check.level == ERROR
    ]
    if without_event:
        raise ValidationError({"definition": without_event})
    flow_sells_nothing(purpose=flow.purpose, definition=definition)
    itself = {str(flow.pk), flow.name}
    circles = [n["id"] for n in definition["nodes"] if n["type"] == "start_flow" and str(n.get("flow")) in itself]
    if circles:
        raise ValidationError(
            {"definition": [f"node {node_id}: flow: it starts the flow it is in, forever" for node_id in circles]}
        )
    keywords = sorted({normalize_keyword(word).replace(" ", "") for word in flow.keywords if normalize_keyword(word)})
    if flow.trigger == Flow.Trigger.KEYWORD:
        if not keywords:
            raise ValidationError({"keywords": ["a keyword flow needs at least one keyword"]})
        clashes = [
            (other.name, word)
            for other in Flow.objects.filter(status=Flow.Status.ACTIVE, trigger=Flow.Trigger.KEYWORD).exclude(
                pk=flow.pk
            )
            for word in other.keywords
            if word in keywords
        ]
        if clashes:
            raise ValidationError(
                {"keywords": [f"{word!r} already starts the active flow {name!r}" for name, word in clashes]}
            )
    number = (flow.versions.order_by("-number").values_list("number", flat=True).first() or 0) + 1
    version = FlowVersion.objects.create(flow=flow, number=number, definition=definition, published_by=user)
    flow.keywords, flow.status, flow.draft = keywords, Flow.Status.ACTIVE, definition
    flow.save(update_fields=["keywords", "status", "draft", "updated_at"])
    return version


def flow_sells_nothing(*, purpose: str, definition) -> None:
    """Raise a ValidationError naming each offer, offer code or selling link when a transactional flow has one."""
    if purpose != Flow.Purpose.TRANSACTIONAL or not isinstance(definition, dict):
        return
    found = [f"node {check.node}: {check.message}" for check in transactional_checks(definition)]
    if found:
        raise ValidationError({"definition": found})


def flow_may_be_transactional(*, purpose: str, trigger: str, event_type: str, field: str = "purpose") -> None:
    """Raise a ValidationError (on `field`) when a transactional flow is started by anything but an order's own news
    (conversations.event_types.TRANSACTIONAL_EVENTS): a cart reminder, a keyword or a launch is marketing, and
    must keep to quiet hours and the caps."""
    if purpose != Flow.Purpose.TRANSACTIONAL:
        return
    problem = transactional_start_problem(trigger=trigger, event_type=event_type)
    if problem:
        raise ValidationError({field: [problem]})


def _purpose_check(flow: Flow, field: str = "purpose") -> None:
    """A transactional flow must be started by an order's own news, and sell nothing in its draft or in the version
    its runs use."""
    flow_may_be_transactional(purpose=flow.purpose, trigger=flow.trigger, event_type=flow.event_type, field=field)
    live = flow.live_version if flow.pk else None
    for definition in (flow.draft, live.definition if live else None):
        try:
            flow_sells_nothing(purpose=flow.purpose, definition=definition)
        except ValidationError as error:
            raise ValidationError({"purpose": error.message_dict["definition"]}) from None


def flow_create(*, fields: dict) -> Flow:
    """Save a new flow from its settings (and a draft, which given whole must be a valid definition); not published."""
    if "draft" in fields:
        flow_definition_check(fields["draft"])
    flow = Flow(**fields)
    flow.full_clean()
    _purpose_check(flow)
    flow.save()
    return flow


def flow_draft_fingerprint(draft: dict) -> str:
    """A short digest of a whole draft, for a page that posts the draft back whole (the flow's admin page)."""
    return editor.node_fingerprint(draft)


def flow_draft_unchanged_since(*, flow: Flow, seen: str | None) -> None:
    """Refuse, naming the draft, when the saved draft is no longer the one whose fingerprint is `seen`."""
    saved = Flow.objects.filter(pk=flow.pk).values_list("draft", flat=True).first()
    if seen and flow_draft_fingerprint(saved) != seen:
        raise ValidationError(
            {
                "draft": "The draft was changed in the builder since this page was opened, so this whole draft "
                "would undo that change: reload the page and make your change again."
            }
        )


def flow_update(*, flow: Flow, changes: dict, draft_seen: str | None = None) -> Flow:
    """Save changes to a flow's settings (a draft given whole must be valid), only those fields, with its row locked.

    The fields not in `changes` keep what is saved: a change of a flow's settings leaves a draft that the builder
    changed meanwhile as it is. A whole draft given with the fingerprint of the draft it replaced (`draft_seen`) is
    refused if the builder changed the draft since.
    """
    if "draft" in changes:
        flow_definition_check(changes["draft"])
    with transaction.atomic():
        saved = Flow.objects.select_for_update().get(pk=flow.pk)
        if "draft" in changes:
            flow_draft_unchanged_since(flow=saved, seen=draft_seen)
        for name, value in changes.items():
            setattr(saved, name, value)
        saved.full_clean()
        if changes.keys() & {"purpose", "draft", "trigger", "event_type"}:
            # A transactional flow's start may not move away from an order's news: the error names what changed.
            field = next((name for name in ("purpose", "event_type", "trigger") if name in changes), "purpose")
            _purpose_check(saved, field=field)
        saved.save(update_fields=[*changes, "updated_at"])
    for name in [*changes, "updated_at"]:
        setattr(flow, name, getattr(saved, name))
    return flow


# --- Templates ----------------------------------------------------------------------------------------------

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "flow_templates"


def flow_templates_load() -> list[str]:
    """Create and publish the shipped flow templates that are missing (by name); return the names added.

    A template file holds one flow, or a list of flows that go together (order updates: one flow per event)."""
    added = []
    for path in sorted(TEMPLATES_DIR.glob("*.json")):
        templates = json.loads(path.read_text())
        for template in templates if isinstance(templates, list) else [templates]:
            if Flow.objects.filter(name=template["name"]).exists():
                continue
            flow, _ = flow_import(data=template)
            flow_publish(flow=flow)
            added.append(flow.name)
    return added


EXPORT_FORMAT = "parley.flow/1"
EXPORT_FIELDS = [
    "name",
    "description",
    "trigger",
    "keywords",
    "event_type",
    "event_filter",
    "reentry",
    "reentry_days",
    "purpose",
]


def flow_export(flow: Flow) -> dict:
    """The flow as a JSON document a store can keep in version control and import again."""
    live = flow.live_version
    return {
        "format": EXPORT_FORMAT,
        **{name: getattr(flow, name) for name in EXPORT_FIELDS},
        "published_version": live.number if live else None,
        "definition": flow.draft,
    }


def _import_fields(data) -> dict:
    """The fields of an exported flow, checked; a ValidationError names each wrong one."""
    if not isinstance(data, dict):
        raise ValidationError({"non_field_errors": ["an exported flow is a JSON object"]})
    errors: dict[str, list[str]] = {}

    def text(name: str, max_length: int, required: bool = False) -> str:
        value = data.get(name, "")
        if not isinstance(value, str) or "\x00" in value or len(value) > max_length or (required and not value.strip()):
            errors[name] = [
                f"{name} must be text of at most {max_length} characters" + (", not empty" if required else "")
            ]
            return ""
        return value.strip()

    fields = {
        "name": text("name", 120, required=True),
        "description": text("description", 2000),
        "event_type": text("event_type", 64),
        "trigger": data.get("trigger", Flow.Trigger.MANUAL),
        "reentry": data.get("reentry", Flow.Reentry.ALWAYS),
        "keywords": data.get("keywords", []),
        "event_filter": data.get("event_filter", {}),
        "reentry_days": data.get("reentry_days", 0),
        "purpose": data.get("purpose", Flow.Purpose.MARKETING),
        "definition": data.get("definition"),
    }
    for name, choices in (
        ("trigger", Flow.Trigger.values),
        ("reentry", Flow.Reentry.values),
        ("purpose", Flow.Purpose.values),
    ):
        if fields[name] not in choices:
            errors[name] = [f"{name} must be one of {', '.join(choices)} (got {fields[name]!r})"]
    keywords = fields["keywords"]
    if not isinstance(keywords, list) or not all(isinstance(word, str) and 0 < len(word) <= 32 for word in keywords):
        errors["keywords"] = ["keywords must be a list of words"]
    if not isinstance(fields["event_filter"], dict):
        errors["event_filter"] = ["event_filter must be an object of property values"]
    days = fields["reentry_days"]
    if isinstance(days, bool) or not isinstance(days, int) or not 0 <= days <= 3650:
        errors["reentry_days"] = ["reentry_days must be a whole number of days from 0 to 3650"]
    if fields["definition"] is None:
        errors["definition"] = ["the definition is missing"]
    if errors:
        raise ValidationError(errors)
    return fields


def flow_import(*, data: dict) -> tuple[Flow, bool]:
    """Check an exported flow and save it as a draft: the flow of that name gets a new draft, or a new flow is made.

    Nothing is published; every problem is named (`definition`: by node and field). Returns (flow, created).
    """
    fields = _import_fields(data)
    definition = fields.pop("definition")
    flow_definition_check(definition)
    flow_may_be_transactional(purpose=fields["purpose"], trigger=fields["trigger"], event_type=fields["event_type"])
    flow_sells_nothing(purpose=fields["purpose"], definition=definition)
    with transaction.atomic():
        flow = Flow.objects.select_for_update().filter(name=fields["name"]).order_by("id").first()
        created = flow is None
        flow = flow or Flow(status=Flow.Status.DRAFT)
        for name, value in fields.items():
            setattr(flow, name, value)
        flow.draft = definition
        flow.save()
    return flow, created
