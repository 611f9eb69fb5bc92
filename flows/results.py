"""A flow's results: where runs are, how questions were answered, and how random branches compare.

Reads only (selectors), each one query over the flow's runs, results and events.
"""

from django.db.models import Count, Exists, OuterRef, Q

from conversations import event_types
from conversations.models import Event

from .models import Flow, FlowResult, FlowRun


def flow_results(flow: Flow, runs_at: dict[str, int]) -> dict:
    """Everything the results page shows; `runs_at` is how many runs passed each node."""
    nodes = [node for node in (flow.draft or {}).get("nodes", []) if isinstance(node, dict)]
    live_version = flow.live_version
    if live_version:  # the published version's nodes, plus draft-only ones
        known = {node.get("id") for node in nodes}
        nodes = [node for node in live_version.definition.get("nodes", []) if node.get("id") not in known] + nodes
    by_status = dict(FlowRun.objects.filter(flow=flow).values_list("status").annotate(n=Count("id")))
    total = sum(by_status.values())
    waiting_at = dict(
        FlowRun.objects.filter(flow=flow, status=FlowRun.Status.WAITING)
        .values_list("current_node")
        .annotate(n=Count("id"))
    )
    answers: dict[str, dict[str, int]] = {}
    for node_id, category, count in (
        FlowResult.objects.filter(run__flow=flow).values_list("node", "category").annotate(n=Count("id")).order_by("-n")
    ):
        answers.setdefault(node_id, {})[category] = count
    questions = []
    for node in nodes:
        if node.get("type") != "ask_question":
            continue
        counts = answers.get(node["id"], {})
        most = max(counts.values(), default=0)
        questions.append(
            {
                "id": node["id"],
                "text": node.get("text", ""),
                "attribute": node.get("attribute", ""),
                "answered": sum(n for category, n in counts.items() if category not in ("other", "no_reply")),
                "bars": [
                    {"category": category, "count": n, "width": round(100 * n / most) if most else 0}
                    for category, n in counts.items()
                ],
            }
        )
    splits = [
        _split_results(flow, node, answers.get(node["id"], {})) for node in nodes if node.get("type") == "split_random"
    ]
    offers = [
        {"id": node["id"], "sent": runs_at.get(node["id"], 0)} for node in nodes if node.get("type") == "send_offer"
    ]
    return {
        "total": total,
        "by_status": by_status,
        "completion": round(100 * by_status.get(FlowRun.Status.COMPLETED, 0) / total) if total else None,
        "funnel": [
            {
                "id": node.get("id"),
                "type": node.get("type"),
                "reached": runs_at.get(node.get("id"), 0),
                "waiting": waiting_at.get(node.get("id"), 0),
                "share": round(100 * runs_at.get(node.get("id"), 0) / total) if total else 0,
            }
            for node in nodes
        ],
        "questions": questions,
        "splits": splits,
        "offers": offers,
    }


def _split_results(flow: Flow, node: dict, counts: dict[str, int]) -> dict:
    """Runs per branch, and how many of them ordered after entering it (one query)."""
    ordered_after = Event.objects.filter(
        subscriber_id=OuterRef("run__subscriber_id"),
        type=event_types.ORDER_PLACED,
        occurred_at__gte=OuterRef("created_at"),
    )
    rows = (
        FlowResult.objects.filter(run__flow=flow, node=node["id"])
        .annotate(ordered=Exists(ordered_after))
        .values("category")
        .annotate(runs=Count("run_id", distinct=True), orders=Count("run_id", distinct=True, filter=Q(ordered=True)))
        .order_by("category")
    )
    branches = [{**row, "rate": round(100 * row["orders"] / row["runs"]) if row["runs"] else 0} for row in rows]
    return {
        "id": node["id"],
        "branches": branches,
        "planned": [b.get("percent") for b in node.get("branches", [])],
        "counts": counts,
    }
