"""Staff pages: the segment builder (htmx), saving, and the members' CSV export."""

import json

from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponseNotAllowed, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from conversations import event_types
from conversations.models import AttributeDefinition, ConsentEvent, Subscriber, Tag

from . import services
from .builder import (
    GROUP_MODES,
    KIND_LABELS,
    MULTI_VALUE_OPS,
    OP_LABELS,
    ROOT,
    Group,
    incomplete_paths,
    new_condition,
    problems_by_path,
    rules_from_tree,
    tree_from_post,
    tree_from_rules,
    without_incomplete,
)
from .models import Segment
from .rules import ATTRIBUTE_OPS, ENGAGEMENTS, EVENT_OPS, PROPERTY_OPS, attribute_keys, rule_kind
from .selectors import members_csv_lines, rules_english, rules_members

PREVIEW_SIZE = 20
KNOWN_EVENTS = [
    event_types.ORDER_PLACED,
    event_types.CART_ABANDONED,
    event_types.CHECKOUT_STARTED,
    event_types.BROWSE_ABANDONED,
    event_types.LINK_CLICKED,
    event_types.FLOW_ANSWER,
]


def _require(request, *perms: str) -> None:
    if not request.user.has_perms(perms):
        raise PermissionDenied


@staff_member_required
def builder(request, pk: int | None = None):
    """The builder page for a new segment (no pk) or an existing one; POST saves it."""
    segment = get_object_or_404(Segment, pk=pk) if pk else None
    _require(request, "segments.view_segment")
    definitions = list(AttributeDefinition.objects.all())
    if request.method == "POST":
        _require(request, "segments.change_segment" if segment else "segments.add_segment")
        tree = tree_from_post(request.POST, definitions)
        name, description = request.POST.get("name", ""), request.POST.get("description", "")
        try:
            if segment:
                services.segment_update(
                    segment=segment, name=name, description=description, rules=rules_from_tree(tree)
                )
            else:
                segment = services.segment_create(
                    name=name, description=description, rules=rules_from_tree(tree), user=request.user
                )
        except ValidationError as error:
            messages.error(request, "The segment was not saved: " + "; ".join(_messages_of(error)))
        else:
            messages.success(request, f"Saved {segment.name!r}.")
            return redirect("segments:edit", pk=segment.pk)
    elif request.method == "GET":
        tree = tree_from_rules(segment.rules) if segment else Group("all", [new_condition(definitions)])
        name = segment.name if segment else ""
        description = segment.description if segment else ""
    else:
        return HttpResponseNotAllowed(["GET", "POST"])
    context = _builder_context_or_reset(request, tree, segment, definitions)
    context.update(
        name=name,
        description=description,
        title=f"Segment: {segment.name}" if segment else "New segment",
        can_save=request.user.has_perm("segments.change_segment" if segment else "segments.add_segment"),
    )
    return render(request, "segments/builder.html", context)


@staff_member_required
@require_POST
def builder_refresh(request, pk: int | None = None):
    """htmx: apply the edit and render the rule rows, count, English and preview again (nothing is saved)."""
    segment = get_object_or_404(Segment, pk=pk) if pk else None
    _require(request, "segments.view_segment")
    definitions = list(AttributeDefinition.objects.all())
    try:
        tree = tree_from_post(request.POST, definitions)
    except (TypeError, ValueError, AttributeError, KeyError):
        tree = Group("all", [new_condition(definitions)])
    context = _builder_context_or_reset(request, tree, segment, definitions)
    return render(request, "segments/builder.html#builder", context)


@staff_member_required
def export(request, pk: int):
    """The segment's members as CSV, one attribute per column, streamed."""
    segment = get_object_or_404(Segment, pk=pk)
    _require(request, "segments.view_segment", "conversations.view_subscriber")
    definitions = list(AttributeDefinition.objects.all())
    try:
        members = rules_members(segment.rules)
    except ValidationError as error:
        messages.error(request, "; ".join(_messages_of(error)))
        return redirect("segments:edit", pk=segment.pk)
    response = StreamingHttpResponse(members_csv_lines(members, definitions), content_type="text/csv; charset=utf-8")
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="segment-{segment.pk}-{stamp}.csv"'
    return response


def _messages_of(error: ValidationError) -> list[str]:
    if hasattr(error, "error_dict"):
        return [message for messages_ in error.message_dict.values() for message in messages_]
    return error.messages


def _builder_context_or_reset(request, tree: Group, segment: Segment | None, definitions) -> dict:
    """The builder's context; a rule the page cannot draw (a hand-made POST) starts again from one row."""
    try:
        return _builder_context(request, tree, segment, definitions)
    except (TypeError, ValueError, AttributeError, KeyError):
        messages.error(request, "The rule could not be read, so the builder started again from one condition.")
        return _builder_context(request, Group("all", [new_condition(definitions)]), segment, definitions)


def _builder_context(request, tree: Group, segment: Segment | None, definitions) -> dict:
    rules = rules_from_tree(tree)
    segment_id = segment.pk if segment else None
    unfinished = incomplete_paths(tree)
    count = english = None
    preview: list = []
    problems: list[str] = []
    cleaned = None
    try:
        cleaned = services.rules_check(rules=rules, segment_id=segment_id, definitions=definitions)
    except ValidationError as error:
        problems = _messages_of(error)
    by_path, general = problems_by_path(problems)
    by_path = {path: messages_ for path, messages_ in by_path.items() if path not in unfinished}
    if not tree.children:
        general = []  # an empty builder is a start, not a mistake
    counted = without_incomplete(tree)
    if cleaned is None and not general and not by_path and counted.children:
        # Unfinished rows (no value picked yet) are left out of the count until they are finished.
        cleaned = services.rules_check(rules=rules_from_tree(counted), segment_id=segment_id, definitions=definitions)
    can_see_members = request.user.has_perm("conversations.view_subscriber")
    if cleaned is not None:
        members = rules_members(cleaned)
        count = members.count()
        english = rules_english(cleaned, definitions)
    if cleaned is not None and can_see_members:
        preview = list(
            members.order_by("-id").only("id", "phone", "first_name", "last_name", "status", "attributes")[
                :PREVIEW_SIZE
            ]
        )
    other_segments = Segment.objects.exclude(pk=segment.pk if segment else None).values_list("id", "name")
    options = {
        "definitions": definitions,
        "by_key": {definition.key: definition for definition in definitions},
        "segments": list(other_segments),
        "problems": by_path,
        "unfinished": unfinished,
    }
    # The preview shows the answers the rule is about first.
    known = [definition.key for definition in definitions]
    shown_keys = list(dict.fromkeys([*(k for k in attribute_keys(rules) if k in known), *known]))[:4]
    return {
        "segment": segment,
        "tree": _view_node(tree, ROOT, options),
        "rules_json": json.dumps(rules),
        "count": count,
        "english": english,
        "problems": general,
        "blocked": bool(general or by_path),
        "preview": [_preview_row(member, shown_keys, options["by_key"]) for member in preview],
        "preview_columns": [options["by_key"][key].label for key in shown_keys],
        "can_see_members": can_see_members,
        "group_modes": GROUP_MODES,
        "kind_labels": KIND_LABELS,
        "tags": list(Tag.objects.values_list("name", flat=True)[:500]),
        "known_events": KNOWN_EVENTS,
        "refresh_url": reverse("segments:refresh", args=[segment.pk]) if segment else reverse("segments:refresh-new"),
        "can_export": segment is not None and request.user.has_perm("conversations.view_subscriber"),
    }


def _preview_row(member, keys, by_key) -> dict:
    values = []
    for key in keys:
        value = member.attributes.get(key)
        items = value if isinstance(value, list) else ([] if value is None else [value])
        definition = by_key[key]
        values.append(", ".join(str(definition.option_label(item)) for item in items))
    return {"member": member, "values": values}


def _view_node(node, path: str, options: dict) -> dict:
    """What the template needs to draw one row: its inputs' names, choices and problems."""
    if isinstance(node, Group):
        return {
            "is_group": True,
            "path": path,
            "mode": node.mode,
            "children": [_view_node(child, f"{path}-{i}", options) for i, child in enumerate(node.children)],
            "problems": options["problems"].get(path, []),
            "is_root": path == ROOT,
        }
    kind = rule_kind(node)
    view = {
        "is_group": False,
        "path": path,
        "kind": kind,
        "rule": node,
        "problems": options["problems"].get(path, []),
        "unfinished": path in options["unfinished"],
    }
    if kind == "attribute":
        definition = options["by_key"].get(node.get("attribute"))
        ops = ATTRIBUTE_OPS[definition.type] if definition else ("eq",)
        value = node.get("value")
        chosen = value if isinstance(value, list) else ([] if value is None else [value])
        view.update(
            definitions=options["definitions"],
            definition=definition,
            ops=[(op, OP_LABELS[op]) for op in ops],
            needs_value=node.get("op") not in ("is_set", "not_set"),
            multi=bool(definition and definition.is_choice and node.get("op") in MULTI_VALUE_OPS),
            chosen=[str(item) for item in chosen],
            value_text=", ".join(str(item) for item in chosen),
        )
    elif kind == "event":
        where = (node.get("where") or [{}])[0]
        view.update(
            ops=[(op, OP_LABELS[op]) for op in EVENT_OPS],
            where=where,
            property_ops=[(op, OP_LABELS[op]) for op in PROPERTY_OPS],
        )
    elif kind == "engagement":
        view.update(engagements=ENGAGEMENTS, ops=[(op, OP_LABELS[op]) for op in ("happened", "not_happened")])
    elif kind == "opted_in":
        ((how, days),) = (node.get("opted_in") or {"within_days": 30}).items()
        view.update(how=how, days=days)
    elif kind == "segment":
        view.update(segments=options["segments"])
    elif kind == "status":
        view.update(choices=Subscriber.Status.choices, value=node.get(kind))
    elif kind == "consent_source":
        view.update(choices=ConsentEvent.Source.choices, value=node.get(kind))
    elif kind in ("country", "state", "time_zone"):
        value = node.get(kind)
        view.update(value_text=", ".join(value) if isinstance(value, list) else (value or ""))
    return view
