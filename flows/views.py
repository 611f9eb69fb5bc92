"""Staff pages for flows: the list and the editor (cards, checks, diagram, simulator, publish).

Every change is an htmx request that edits the flow's draft through one of the `flow_draft_*` services (which lock
the flow's row, so that two editors never lose each other's changes) and renders the workspace again
(`flows/editor.html#workspace`): the cards, the checks and the diagram always agree. A change that another
editor's overtook is not saved, and the workspace says why. The simulator keeps its pretend shopper in the session,
never in the database.
"""

import functools
import json

from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Q
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.text import slugify
from django.views.decorators.http import require_POST
from django_htmx.http import trigger_client_event

from conversations import event_types
from conversations.models import AttributeDefinition
from conversations.texts import count_segments, count_summary

from . import checks as flow_checks_module
from . import editor, services
from .diagram import layout
from .models import Flow, FlowRun, FlowVersion
from .results import flow_results
from .selectors import flow_run_counts
from .simulator import (
    BadSampleEvent,
    Simulation,
    event_from_text,
    sample_event,
    simulation_event,
    simulation_fast_forward,
    simulation_reply,
    simulation_start,
)
from .versions import definition_diff

MAX_IMPORT_BYTES = 500_000


def _require(request, *perms: str) -> None:
    if not request.user.has_perms(perms):
        raise PermissionDenied


@staff_member_required
def flow_list(request):
    """Every flow with its status, trigger, and its active and completed runs."""
    _require(request, "flows.view_flow")
    flows = Flow.objects.annotate(
        live=Count("runs", filter=Q(runs__status__in=[FlowRun.Status.ACTIVE, FlowRun.Status.WAITING])),
        completed=Count("runs", filter=Q(runs__status=FlowRun.Status.COMPLETED)),
        total=Count("runs"),
    ).order_by("name")
    return render(request, "flows/list.html", {"flows": flows, "title": "Flows"})


@staff_member_required
def flow_editor(request, pk: int):
    _require(request, "flows.view_flow")
    flow = get_object_or_404(Flow, pk=pk)
    context = _workspace(request, flow, editing=request.GET.get("editing", ""))
    if request.htmx and request.htmx.target == "workspace":
        return render(request, "flows/editor.html#workspace", context)
    return render(request, "flows/editor.html", {**context, "title": f"Flow: {flow.name}"})


def _draft_edit(view):
    """A view that changes a flow's draft: it needs `change flow`; a flow that is not there is a 404, and a change
    that another editor's overtook shows the workspace as it is now with the reason (htmx swaps only a 200)."""

    @functools.wraps(view)
    def edit(request, pk: int, *args, **kwargs):
        _require(request, "flows.view_flow", "flows.change_flow")
        try:
            return view(request, pk, *args, **kwargs)
        except Flow.DoesNotExist:
            raise Http404("no such flow") from None
        except services.DraftConflict as conflict:
            messages.error(request, _problems(conflict))
            return _changed(request, get_object_or_404(Flow, pk=pk), editing=conflict.node)

    return edit


@staff_member_required
@require_POST
@_draft_edit
def node_add(request, pk: int):
    node_type = request.POST.get("type", "")
    if node_type not in editor.NODE_TYPES:
        return HttpResponse("Unknown node type", status=400)
    flow, node_id = services.flow_draft_node_add(
        flow_id=pk, node_type=node_type, after=request.POST.get("after") or None
    )
    return _changed(request, flow, editing=node_id)


@staff_member_required
@require_POST
@_draft_edit
def node_save(request, pk: int, node_id: str):
    """Save a card's form; with `action=add_branch` or `remove_branch:N` the card stays open."""
    flow = services.flow_draft_node_save(
        flow_id=pk, node_id=node_id, form=request.POST, seen=request.POST.get("seen", "")
    )
    still_editing = node_id if request.POST.get("action") else ""
    return _changed(request, flow, editing=still_editing)


@staff_member_required
@require_POST
@_draft_edit
def node_delete(request, pk: int, node_id: str):
    return _changed(request, services.flow_draft_node_delete(flow_id=pk, node_id=node_id))


@staff_member_required
@require_POST
@_draft_edit
def node_move(request, pk: int, node_id: str):
    step = -1 if request.POST.get("step") == "up" else 1
    return _changed(request, services.flow_draft_node_move(flow_id=pk, node_id=node_id, step=step))


@staff_member_required
@require_POST
def publish(request, pk: int):
    flow = _editable(request, pk)
    try:
        version = services.flow_publish(flow=flow, user=request.user)
    except ValidationError as error:
        messages.error(request, "Not published: " + _problems(error))
    else:
        messages.success(
            request, f"Published version {version.number}: new runs follow it, earlier runs finish on theirs."
        )
    return redirect("flows:editor", pk=flow.pk)


@staff_member_required
@require_POST
def count(request):
    """htmx: characters, encoding and segments of a text box, counted by the pipeline's own counter."""
    return HttpResponse(count_summary(request.POST.get(request.POST.get("field", "f-text"), "")))


@staff_member_required
@require_POST
def simulator(request, pk: int):
    """The simulator panel: start, reply, fast-forward, fire an event or reset, on the draft.

    A flow an event starts starts with a sample of that event (`event_properties`, as JSON, when the store edited it).
    """
    _require(request, "flows.view_flow")
    flow = get_object_or_404(Flow, pk=pk)
    key = f"flow-simulation-{flow.pk}"
    questions, definitions = services.attribute_questions(), {d.key: d for d in AttributeDefinition.objects.all()}
    known = {"questions": questions, "definitions": definitions}
    action = request.POST.get("action", "")
    simulation = Simulation.from_dict(request.session[key], flow.draft) if key in request.session else None
    problem = ""
    started_by_event = flow.trigger == Flow.Trigger.EVENT
    try:
        if action == "reset" or simulation is None:
            event = None
            if started_by_event:
                typed = request.POST.get("event_properties")
                event = event_from_text(typed) if typed is not None else sample_event(flow.event_type)
            simulation = simulation_start(flow.draft, now=timezone.now(), event=event, **known)
        elif action == "reply" and request.POST.get("text", "").strip():
            simulation_reply(simulation, request.POST["text"].strip()[:1000], **known)
        elif action == "forward":
            simulation_fast_forward(simulation, **known)
        elif action == "event":
            awaited = request.POST.get("event", event_types.ORDER_PLACED).strip()[:64]
            simulation_event(simulation, awaited, sample_event(awaited), **known)
    except BadSampleEvent as error:
        problem = f"Not started: {error}."
        simulation = None
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        problem = f"The draft cannot run yet ({error.__class__.__name__}): fix the errors the checks show."
        simulation = None
    if simulation is not None:
        request.session[key] = simulation.as_dict()
    if simulation is not None:
        event_json = json.dumps(simulation.event, indent=2, ensure_ascii=False)
    else:  # what the store typed stays in the box to be put right
        event_json = request.POST.get("event_properties") or json.dumps(sample_event(flow.event_type), indent=2)
    context = {
        "flow": flow,
        "simulation": simulation,
        "problem": problem,
        "event_type": flow.event_type if started_by_event else "",
        "event_json": event_json,
    }
    return render(request, "flows/editor.html#simulator", context)


def _changed(request, flow: Flow, *, editing: str = "") -> HttpResponse:
    """The workspace after a change to the draft; the simulator panel hears of it and runs the new draft."""
    response = render(request, "flows/editor.html#workspace", _workspace(request, flow, editing=editing))
    return trigger_client_event(response, "flow-changed")


def _problems(error: ValidationError) -> str:
    """Every message of a service's ValidationError, in one line for the page."""
    return "; ".join(error.messages)


def _editable(request, pk: int) -> Flow:
    _require(request, "flows.view_flow", "flows.change_flow")
    return get_object_or_404(Flow, pk=pk)


def _workspace(request, flow: Flow, *, editing: str = "") -> dict:
    definitions = list(AttributeDefinition.objects.all())
    specs = services.attribute_specs()
    in_use = {
        word: other.name
        for other in Flow.objects.filter(status=Flow.Status.ACTIVE, trigger=Flow.Trigger.KEYWORD).exclude(pk=flow.pk)
        for word in other.keywords
    }
    found = flow_checks_module.flow_checks(
        flow.draft,
        attributes=specs,
        trigger=flow.trigger,
        purpose=flow.purpose,
        keywords=flow.keywords if flow.trigger == Flow.Trigger.KEYWORD else (),
        keywords_in_use=in_use,
        segments_of=lambda text: count_segments(text).segments,
        flow_id=flow.pk,
        flow_name=flow.name,
        event_type=flow.event_type if flow.trigger == Flow.Trigger.EVENT else "",
    )
    nodes = [node for node in (flow.draft or {}).get("nodes", []) if isinstance(node, dict)]
    ids = [node.get("id") for node in nodes]
    by_node: dict[str, list] = {}
    for check in found:
        by_node.setdefault(check.node, []).append(check)
    counts = flow_run_counts(flow)
    runs_at = counts.nodes
    cards = [
        _card(node, ids, definitions, by_node.get(node.get("id"), []), runs_at, editing == node.get("id"))
        for node in nodes
    ]
    return {
        "flow": flow,
        "cards": cards,
        "checks": found,
        "flow_checks": by_node.get("", []),
        "errors": sum(check.level == "error" for check in found),
        "warnings": sum(check.level == "warning" for check in found),
        "diagram": layout(flow.draft or {}, editor.NODE_TYPES, counts),
        "node_types": editor.NODE_TYPES,
        "can_edit": request.user.has_perm("flows.change_flow"),
        "live": flow.live_version,
        "draft_is_live": flow.live_version is not None and flow.live_version.definition == flow.draft,
        "versions": flow.versions.order_by("-number")[:10],
    }


def _card(node: dict, ids: list, definitions, checks, runs_at: dict, editing: bool) -> dict:
    attribute = next((d for d in definitions if d.key == node.get("attribute")), None)
    fields = []
    for name, kind, label in editor.FIELDS.get(node.get("type"), []):
        parent, _, leaf = name.rpartition(".")
        holder = node.get(parent, {}) if parent else node
        value = holder.get(leaf, "") if isinstance(holder, dict) else ""
        fields.append({"name": f"f-{name}", "kind": kind, "label": label, "value": "" if value is None else value})
    return {
        "node": node,
        "id": node.get("id"),
        "type_label": editor.NODE_TYPES.get(node.get("type"), node.get("type")),
        "fields": fields,
        "targets": [i for i in ids if i != node.get("id")],
        "definitions": definitions,
        "answer_options": attribute.option_values if attribute and attribute.is_choice else [],
        "answer_types": ["single_choice", "multiple_choice", "text", "number", "date", "yes_no"],
        "split_ops": editor.SPLIT_OPS,
        "checks": checks,
        "runs": runs_at.get(node.get("id"), 0),
        "editing": editing,
        "seen": editor.node_fingerprint(node) if editing else "",
        "then": node.get("next") or node.get("else"),
    }


@staff_member_required
def versions(request, pk: int):
    """The version history, and a readable difference between two versions (or a version and the draft)."""
    _require(request, "flows.view_flow")
    flow = get_object_or_404(Flow, pk=pk)
    history = list(flow.versions.select_related("published_by").order_by("-number"))
    numbers = {version.number: version for version in history}

    def chosen(name: str, default):
        raw = request.GET.get(name, "")
        if raw == "draft":
            return "draft"
        return int(raw) if raw.isascii() and raw.isdecimal() and int(raw) in numbers else default

    newest = history[0].number if history else "draft"
    a = chosen("a", history[1].number if len(history) > 1 else newest)
    b = chosen("b", "draft" if flow.draft != (numbers[newest].definition if history else None) else newest)

    def definition_of(which):
        return flow.draft if which == "draft" else numbers[which].definition

    changes = definition_diff(definition_of(a), definition_of(b)) if history or a == b == "draft" else []
    context = {"flow": flow, "history": history, "a": a, "b": b, "changes": changes, "title": f"{flow.name}: versions"}
    return render(request, "flows/versions.html", context)


@staff_member_required
@require_POST
@_draft_edit
def revert(request, pk: int, number: int):
    """An older version becomes the draft again (publishing it makes a new version)."""
    try:
        services.flow_draft_revert(flow_id=pk, number=number)
    except FlowVersion.DoesNotExist:
        raise Http404(f"this flow has no version {number}") from None
    messages.success(request, f"The draft is version {number} again; publish it to make it live.")
    return redirect("flows:editor", pk=pk)


@staff_member_required
def results(request, pk: int):
    """Answers per question, where runs are and drop off, offers sent, and random branches compared."""
    _require(request, "flows.view_flow")
    flow = get_object_or_404(Flow, pk=pk)
    results = flow_results(flow, flow_run_counts(flow).nodes)
    return render(request, "flows/results.html", {"flow": flow, "results": results, "title": f"{flow.name}: results"})


@staff_member_required
@require_POST
@_draft_edit
def attribute_add(request, pk: int, node_id: str):
    """Create an attribute from a question's card and make the question save its answers there."""
    _require(request, "conversations.add_attributedefinition")
    options = [
        {"value": value.strip(), "label": value.strip().replace("_", " ").capitalize(), "synonyms": []}
        for value in request.POST.get("new_options", "").split(",")
        if value.strip()
    ]
    definition = AttributeDefinition(
        key=request.POST.get("new_key", "").strip(),
        label=request.POST.get("new_label", "").strip() or request.POST.get("new_key", "").strip(),
        type=request.POST.get("new_type", "single_choice"),
        options=options,
    )
    try:
        flow = services.flow_draft_attribute_add(flow_id=pk, node_id=node_id, definition=definition)
    except services.DraftConflict:
        raise
    except ValidationError as error:
        messages.error(request, "The attribute was not made: " + "; ".join(error.messages))
        flow = get_object_or_404(Flow, pk=pk)
    else:
        messages.success(request, f"Made the attribute {definition.key}; the question saves its answers there.")
    return _changed(request, flow, editing=node_id)


@staff_member_required
def export(request, pk: int):
    """The flow as a JSON file to keep in version control (the same document as the API's export)."""
    _require(request, "flows.view_flow")
    flow = get_object_or_404(Flow, pk=pk)
    response = JsonResponse(services.flow_export(flow), json_dumps_params={"indent": 2, "ensure_ascii": False})
    response["Content-Disposition"] = f'attachment; filename="{slugify(flow.name) or "flow"}.json"'
    return response


@staff_member_required
@require_POST
def import_flow(request):
    """A flow from an exported JSON file: checked, and saved as a draft (of the flow with that name, or a new one)."""
    _require(request, "flows.change_flow", "flows.add_flow")
    upload = request.FILES.get("file")
    raw = upload.read(MAX_IMPORT_BYTES + 1) if upload else request.POST.get("document", "").encode()
    try:
        if len(raw) > MAX_IMPORT_BYTES:
            raise ValidationError(f"the file is over {MAX_IMPORT_BYTES // 1000} kB")
        try:
            document = json.loads(raw)
        except (ValueError, RecursionError) as error:
            raise ValidationError(f"the file is not JSON ({error.__class__.__name__})") from None
        flow, created = services.flow_import(data=document)
    except ValidationError as error:
        messages.error(request, "Not imported: " + _problems(error))
        return redirect("flows:list")
    messages.success(
        request, f"Imported {flow.name!r} as {'a new flow' if created else 'its draft'}; publish it when ready."
    )
    return redirect("flows:editor", pk=flow.pk)
