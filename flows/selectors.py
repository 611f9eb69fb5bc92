"""Reads of the flows app that other apps show: the inbox names flow texts and shows the shopper's run."""

from dataclasses import dataclass, field

from django.core.cache import cache
from django.db import connection
from django.db.models import Count, Max

from conversations.db import is_postgresql
from conversations.models import Message, Subscriber

from .models import Flow, FlowRun

RUN_COUNTS_SECONDS = 30


def message_labels(messages: list[Message]) -> dict[int, str]:
    """The label "Flow: <name>" of each text a flow sent, in one query."""
    run_ids = {m.origin_id for m in messages if m.origin == Message.Origin.FLOW and m.origin_id}
    names = dict(FlowRun.objects.filter(pk__in=run_ids).values_list("pk", "flow__name"))
    return {
        m.pk: f"Flow: {names[m.origin_id]}"
        for m in messages
        if m.origin == Message.Origin.FLOW and m.origin_id in names
    }


def inbox_panel(subscriber: Subscriber) -> list[tuple[str, str]]:
    """The shopper's live run, if any, and whether it waits for the conversation to close."""
    run = FlowRun.objects.live().filter(subscriber=subscriber).select_related("flow").first()
    if run is None:
        return [("Flow", "not in a flow")]
    where = f"at {run.current_node}" if run.current_node else ""
    waiting = {"reply": "waiting for a reply", "event": "waiting for an event", "time": "waiting"}.get(
        run.waiting_for, run.get_status_display().lower()
    )
    paused = " · paused until this conversation closes" if run.paused_at else ""
    return [("Flow", f"{run.flow.name} {where} · {waiting}{paused}".replace("  ", " "))]


@dataclass
class RunCounts:
    nodes: dict[str, int] = field(default_factory=dict)  # runs that passed each node
    steps: dict[tuple[str, str], int] = field(default_factory=dict)  # runs that went from one node to the next
    stopped: dict[str, int] = field(default_factory=dict)  # runs that expired or were interrupted at a node


def flow_run_counts(flow: Flow) -> RunCounts:
    """How runs went through the flow, from each run's path (a JSON list of node ids): three queries.

    Cached under the runs' count and latest change, so a new or moved run is counted at once, and a big
    flow's counts are not made again on every edit.
    """
    latest = FlowRun.objects.filter(flow=flow).aggregate(n=Count("id"), changed=Max("updated_at"))
    key = f"flow-run-counts-{flow.pk}-{latest['n']}-{latest['changed'].timestamp() if latest['changed'] else 0}"
    counts = cache.get(key)
    if counts is None:
        counts = RunCounts(nodes=_path_counts(flow), steps=_pair_counts(flow), stopped=_stopped(flow))
        cache.set(key, counts, RUN_COUNTS_SECONDS)
    return counts


def _paths_sql() -> dict[str, str]:
    """SQL pieces for every step of every run's path: `source` (giving `r` and `s`), `where`, `step`, `position`.

    The one place where PostgreSQL's jsonb and SQLite's JSON1 differ for run counts.
    """
    table = FlowRun._meta.db_table
    if is_postgresql():
        return {
            "source": f"{table} r, jsonb_array_elements_text(r.state->'path') WITH ORDINALITY s(step, i)",
            "where": "r.flow_id = %s AND jsonb_typeof(r.state->'path') = 'array'",
            "step": "s.step",
            "position": "s.i",
        }
    return {
        "source": f"{table} r, json_each(r.state, '$.path') s",
        "where": "r.flow_id = %s AND json_type(r.state, '$.path') = 'array'",
        "step": "s.value",
        "position": "s.key",
    }


def _path_counts(flow: Flow) -> dict[str, int]:
    sql = "SELECT {step}, count(DISTINCT r.id) FROM {source} WHERE {where} GROUP BY {step}".format(**_paths_sql())
    with connection.cursor() as cursor:
        cursor.execute(sql, [flow.pk])
        return dict(cursor.fetchall())


def _pair_counts(flow: Flow) -> dict[tuple[str, str], int]:
    pieces = _paths_sql()
    sql = (
        "SELECT step, next_step, count(DISTINCT id) FROM ("
        "SELECT r.id, {step} AS step, lead({step}) OVER (PARTITION BY r.id ORDER BY {position}) AS next_step "
        "FROM {source} WHERE {where}) t WHERE next_step IS NOT NULL GROUP BY step, next_step"
    ).format(**pieces)
    with connection.cursor() as cursor:
        cursor.execute(sql, [flow.pk])
        return {(step, following): runs for step, following, runs in cursor.fetchall()}


def _stopped(flow: Flow) -> dict[str, int]:
    ended = FlowRun.objects.filter(flow=flow, status__in=[FlowRun.Status.EXPIRED, FlowRun.Status.INTERRUPTED])
    return dict(ended.values_list("current_node").annotate(n=Count("id")).order_by())
