"""Reads of the flows app that other apps show: the inbox names flow texts and shows the shopper's run."""

from conversations.models import Message, Subscriber

from .models import FlowRun


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
