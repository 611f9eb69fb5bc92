"""The flows app's place in the inbound chain (settings.INBOUND_HANDLERS) and its signal receivers."""

from django.db import transaction

from conversations.texts import normalize_keyword

from . import services
from .models import Flow, FlowRun


def inbound(inbound) -> bool:
    """A keyword of an active flow starts it (replacing a live run); otherwise a run waiting for a reply gets it."""
    word = normalize_keyword(inbound.text).replace(" ", "")
    keyword_flow = (
        next(
            (
                flow
                for flow in Flow.objects.filter(status=Flow.Status.ACTIVE, trigger=Flow.Trigger.KEYWORD)
                if word in flow.keywords
            ),
            None,
        )
        if word
        else None
    )
    with transaction.atomic():
        run = (
            FlowRun.objects.live()
            .select_for_update(of=("self",))
            .filter(subscriber=inbound.subscriber)
            .select_related("flow", "version", "subscriber")
            .first()
        )
        if keyword_flow is not None and (run is None or run.flow_id != keyword_flow.pk or run.waiting_for != "reply"):
            started = services.run_start(
                flow=keyword_flow, subscriber=inbound.subscriber, trigger="keyword", in_reply_to=inbound.message
            )
            return started is not None
        if run is not None and run.waiting_for == "reply":
            return services.run_resume(run=run, text=inbound.text, message=inbound.message)
    return False


def on_opted_in(sender, subscriber, message=None, **kwargs):
    """The welcome flow starts when someone opts in by text."""
    for flow in Flow.objects.filter(status=Flow.Status.ACTIVE, trigger=Flow.Trigger.OPT_IN):
        if services.run_start(flow=flow, subscriber=subscriber, trigger="opt_in", in_reply_to=message):
            return


def on_opted_out(sender, subscriber, **kwargs):
    services.runs_end_for(subscriber=subscriber, reason="the subscriber opted out")


def on_event(sender, subscriber, event, **kwargs):
    services.runs_for_event(subscriber=subscriber, event=event)


def on_conversation_opened(sender, conversation, **kwargs):
    services.runs_pause_for(subscriber=conversation.subscriber)


def on_conversation_closed(sender, conversation, resume_flows=True, **kwargs):
    services.runs_resume_for(subscriber=conversation.subscriber, end=not resume_flows)
