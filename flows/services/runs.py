"""Runs: starting and advancing them, pausing them while a person talks, ending them, applying the engine's effects.

The engine (flows/engine.py) decides; these functions load what it needs, call it, and apply its effects in
one transaction: texts through the send gate (conversations.outbox.message_queue), answers through the
validating attribute service with source `flow` and the run id, tags, results, wake-up times, hand-offs.

One live run per subscriber. A second trigger while a run is live:
- a keyword (the shopper asked for it), the API or a manual start interrupts the live run and starts anew;
- an opt-in, an event trigger or a start for a whole segment is skipped (the shopper is busy in a conversation).
"""

import contextvars
import logging
import random
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from conversations import event_types, outbox
from conversations import services as conversations
from conversations.inbox.services import conversation_open
from conversations.models import AttributeDefinition, Conversation, Event, Message, Subscriber, Tag
from conversations.params import whole_number
from conversations.phones import default_time_zone_for_phone, normalize_phone

from .. import engine, matching
from ..matching import Option
from ..models import Flow, FlowResult, FlowRun, OfferCode

log = logging.getLogger(__name__)
DUE_BATCH = 500

# Triggers that skip a subscriber who is in another run; the others (keyword, api, manual) replace that run.
WAIT_WHEN_BUSY = {"opt_in", "event", "flow", "segment"}


# --- The engine's view of a subscriber -------------------------------------------------------------------------


def attribute_questions() -> dict[str, engine.Question]:
    """How answers to each attribute are read, from the attribute definitions (one query)."""
    return {
        d.key: engine.Question(
            d.type, d.label, tuple(Option(o["value"], o["label"], tuple(o.get("synonyms", []))) for o in d.options)
        )
        for d in AttributeDefinition.objects.all()
    }


def engine_context(subscriber: Subscriber, questions: dict[str, engine.Question] | None = None) -> engine.Context:
    """What the engine may know of a subscriber; pass `questions` when stepping many runs at once."""
    return engine.Context(
        first_name=subscriber.first_name,
        last_name=subscriber.last_name,
        phone=subscriber.phone,
        status=subscriber.status,
        tags=frozenset(tag.name for tag in subscriber.tags.all()),
        attributes=dict(subscriber.attributes),
        time_zone=subscriber.time_zone or default_time_zone_for_phone(subscriber.phone),
        store=settings.PARLEY_STORE_NAME,
        questions=questions if questions is not None else attribute_questions(),
    )


# --- Runs ------------------------------------------------------------------------------------------------------


def run_start(
    *,
    flow: Flow,
    subscriber: Subscriber,
    trigger: str,
    in_reply_to: Message | None = None,
    now: datetime | None = None,
    event: Event | None = None,
) -> FlowRun | None:
    """Start a flow's live version for a subscriber, following the one-live-run rule; None when skipped.

    `event`: the event that starts it; the run keeps its properties for its texts ({{ event.url }}).
    """
    depth = _chained_starts.get()
    if depth >= MAX_CHAINED_STARTS:  # start_flow nodes that lead round in a circle
        log.warning("not starting %s for subscriber %s: %s flows started one another", flow, subscriber.pk, depth)
        return None
    token = _chained_starts.set(depth + 1)
    try:
        return _run_start(
            flow=flow, subscriber=subscriber, trigger=trigger, in_reply_to=in_reply_to, now=now, event=event
        )
    finally:
        _chained_starts.reset(token)


MAX_CHAINED_STARTS = 5
_chained_starts: contextvars.ContextVar[int] = contextvars.ContextVar("flows_chained_starts", default=0)


def is_order_news(flow: Flow, trigger: str) -> bool:
    """A run that sends transactional texts: a transactional flow started by its order event. The same flow started
    any other way (by hand, for a segment, by another flow) sends marketing texts, under every marketing rule."""
    return (
        flow.purpose == Flow.Purpose.TRANSACTIONAL
        and trigger == "event"
        and flow.trigger == Flow.Trigger.EVENT
        and flow.event_type in event_types.TRANSACTIONAL_EVENTS
    )


def _run_start(*, flow, subscriber, trigger, in_reply_to, now, event) -> FlowRun | None:
    now = now or timezone.now()
    version = flow.live_version
    if version is None or flow.status != Flow.Status.ACTIVE:
        return None
    if subscriber.status == Subscriber.Status.UNSUBSCRIBED or not _may_enter(flow, subscriber, now):
        return None
    with transaction.atomic():
        # Locked, so that the conversation cannot close between this look and the run being made.
        talking = (
            Conversation.objects.select_for_update()
            .filter(subscriber=subscriber, status__in=Conversation.LIVE)
            .values_list("pk", flat=True)
        )
        talking = bool(list(talking))
        live = FlowRun.objects.live().select_for_update().filter(subscriber=subscriber).first()
        if (live is not None or talking) and is_order_news(flow, trigger):
            beside = _run_beside(flow, version, subscriber, trigger, _first_state(event), in_reply_to, now)
            if beside is not None:
                return beside
        if live is not None:
            if trigger in WAIT_WHEN_BUSY:
                return None
            _finish(live, FlowRun.Status.INTERRUPTED, f"replaced by {flow.name} ({trigger})", now)
        if talking:
            # A person is talking with them: the run is made now and begins when the conversation closes.
            return FlowRun.objects.create(
                flow=flow,
                version=version,
                subscriber=subscriber,
                trigger=trigger,
                state={**_first_state(event), "deferred_start": True},
                paused_at=now,
            )
        state = _first_state(event)
        run = FlowRun.objects.create(flow=flow, version=version, subscriber=subscriber, trigger=trigger, state=state)
        outcome = engine.step(
            version.definition, state, engine.Start(now, random=random.random()), engine_context(subscriber)
        )
        _apply(run, outcome, in_reply_to=in_reply_to, now=now)
    return run


def _first_state(event: Event | None) -> dict:
    """A new run's state, holding the properties of the event that starts it (its texts read them)."""
    properties = event.properties if event is not None and isinstance(event.properties, dict) else None
    return engine.new_state(event=properties)


def _run_beside(flow, version, subscriber, trigger, state, in_reply_to, now) -> FlowRun | None:
    """An order update does not wait for the shopper's other flow or inbox conversation to end: a transactional
    flow that texts and ends at once runs beside them (its run is never live). None for one that would wait or ask
    a question: it follows the one-live-run rule like any other flow."""
    outcome = engine.step(
        version.definition, state, engine.Start(now, random=random.random()), engine_context(subscriber)
    )
    if outcome.state["status"] != engine.COMPLETED:
        return None
    run = FlowRun.objects.create(
        flow=flow, version=version, subscriber=subscriber, trigger=trigger, state=state, status=FlowRun.Status.COMPLETED
    )
    _apply(run, outcome, in_reply_to=in_reply_to, now=now)
    return run


def _may_enter(flow: Flow, subscriber: Subscriber, now: datetime) -> bool:
    earlier = FlowRun.objects.filter(flow=flow, subscriber=subscriber)
    if flow.reentry == Flow.Reentry.ONCE:
        return not earlier.exists()
    if flow.reentry == Flow.Reentry.EVERY_N_DAYS:
        return not earlier.filter(started_at__gt=now - timedelta(days=flow.reentry_days)).exists()
    return True


def runs_start_for_phones(*, flow: Flow, phones: list[str], trigger: str = "api") -> tuple[list[str], dict[str, str]]:
    """Start a flow for each number of a list (as typed); return the numbers started, and why each other was not."""
    started, skipped = [], {}
    for raw in phones:
        try:
            phone = normalize_phone(raw)
        except ValidationError as error:
            skipped[raw] = error.messages[0]
            continue
        subscriber = Subscriber.objects.filter(phone=phone).first()
        if subscriber is None:
            skipped[raw] = "no subscriber has this number"
        elif run_start(flow=flow, subscriber=subscriber, trigger=trigger) is None:
            skipped[raw] = "not started: the flow is not active, they opted out, or re-entry is not allowed"
        else:
            started.append(phone)
    return started, skipped


def run_resume(*, run: FlowRun, text: str, message: Message | None = None, now: datetime | None = None) -> bool:
    """Give a run the subscriber's reply; False when it was not waiting for one, or the reply is a question of
    the shopper's own rather than an answer (then the inbound chain goes on to the inbox)."""
    now = now or timezone.now()
    outcome = engine.step(
        run.version.definition,
        run.state,
        engine.Reply(text, now, random=random.random()),
        engine_context(run.subscriber),
    )
    if not outcome.consumed:
        return False
    unanswered = any(isinstance(e, engine.Result) and e.category == "other" for e in outcome.effects)
    if unanswered and matching.is_question(text):
        return False  # "do you ship to Canada?" is for a person: the inbox takes it and the run pauses
    _apply(run, outcome, in_reply_to=message, now=now)
    return True


def runs_for_event(*, subscriber: Subscriber, event: Event) -> None:
    """An event resumes the subscriber's run waiting for it, and starts the flows it triggers."""
    now = timezone.now()
    with transaction.atomic():
        run = (
            FlowRun.objects.live()
            .select_for_update(of=("self",))
            .filter(subscriber=subscriber)
            .select_related("flow", "version", "subscriber")
            .first()
        )
        if run is not None and run.waiting_for == "event" and run.paused_at is not None:
            # Paused while a person talks: an event the run waits for is kept and given to it when it resumes.
            node = next((n for n in run.version.definition["nodes"] if n["id"] == run.current_node), {})
            held = run.state.get("held_events", [])
            if node.get("event") == event.type and len(held) < MAX_HELD_EVENTS:
                held = [*held, {"type": event.type, "properties": event.properties}]
                FlowRun.objects.filter(pk=run.pk).update(state={**run.state, "held_events": held})
            return
        if run is not None and run.waiting_for == "event":
            given = engine.Event(event.type, now, dict(event.properties), random=random.random())
            outcome = engine.step(run.version.definition, run.state, given, engine_context(subscriber))
            if outcome.consumed:
                _apply(run, outcome, now=now)
    for flow in Flow.objects.filter(status=Flow.Status.ACTIVE, trigger=Flow.Trigger.EVENT, event_type=event.type):
        if all(event.properties.get(key) == value for key, value in flow.event_filter.items()):
            run_start(flow=flow, subscriber=subscriber, trigger="event", now=now, event=event)


def runs_process_due(now: datetime | None = None) -> int:
    """Wake every run whose wait or no-reply time has come, in batches; safe to run in several workers."""
    now = now or timezone.now()
    done = 0
    while True:
        with transaction.atomic():
            due = list(
                FlowRun.objects.due(now)
                .order_by("wake_at")
                .select_for_update(skip_locked=True, of=("self",))
                .select_related("flow", "version", "subscriber")
                .prefetch_related("subscriber__tags")[:DUE_BATCH]
            )
            questions = attribute_questions()
            for run in due:
                outcome = engine.step(
                    run.version.definition,
                    run.state,
                    engine.Timeout(now, random=random.random()),
                    engine_context(run.subscriber, questions),
                )
                if outcome.consumed:
                    _apply(run, outcome, now=now)
                else:  # the state says it is not due after all: never pick it again for this wake-up
                    FlowRun.objects.filter(pk=run.pk).update(wake_at=_parse(outcome.state.get("wake_at")))
        done += len(due)
        if len(due) < DUE_BATCH:
            return done


# --- Pausing while a person talks ------------------------------------------------------------------------------


MAX_HELD_EVENTS = 5
TALKING_HOLD = "held: an agent is talking with them"


def runs_pause_for(*, subscriber: Subscriber, now: datetime | None = None) -> int:
    """An agent took over the conversation: the subscriber's live runs stop their clock, and the texts they had
    queued wait, until it closes."""
    now = now or timezone.now()
    paused = 0
    with transaction.atomic():
        for run in FlowRun.objects.live().select_for_update().filter(subscriber=subscriber, paused_at__isnull=True):
            left = (run.wake_at - now).total_seconds() if run.wake_at else None
            state = {**run.state, "paused_wake_in": left}
            FlowRun.objects.filter(pk=run.pk).update(paused_at=now, wake_at=None, state=state, updated_at=now)
            outbox.messages_hold(origin=Message.Origin.FLOW, origin_ids=[run.pk], reason=TALKING_HOLD, at=now)
            paused += 1
    return paused


def _release_held_texts(run: FlowRun, now: datetime) -> None:
    """The run goes on: its held texts are due now (the send gate decides again when they may go)."""
    outbox.messages_release(origin=Message.Origin.FLOW, origin_ids=[run.pk], due_at=now, at=now)


def runs_resume_for(*, subscriber: Subscriber, end: bool = False, now: datetime | None = None) -> int:
    """The conversation closed: paused runs go on where they were (their clock restarts), or end."""
    now = now or timezone.now()
    resumed = 0
    with transaction.atomic():
        paused = (
            FlowRun.objects.live()
            .select_for_update(of=("self",))
            .filter(subscriber=subscriber, paused_at__isnull=False)
            .select_related("version", "subscriber", "flow")
        )
        for run in paused:
            if end or (run.state.get("deferred_start") and run.flow.status != Flow.Status.ACTIVE):
                _finish(run, FlowRun.Status.INTERRUPTED, "ended when the conversation with an agent closed", now)
                continue
            _release_held_texts(run, now)
            state = dict(run.state)
            if state.pop("deferred_start", False):  # started while they talked: it begins now
                FlowRun.objects.filter(pk=run.pk).update(paused_at=None, state=state, updated_at=now)
                outcome = engine.step(
                    run.version.definition, state, engine.Start(now, random=random.random()), engine_context(subscriber)
                )
                _apply(run, outcome, now=now)
                resumed += 1
                continue
            left, held = state.pop("paused_wake_in", None), state.pop("held_events", [])
            wake_at = now + timedelta(seconds=max(0.0, left)) if left is not None else None
            state["wake_at"] = wake_at.isoformat() if wake_at else None
            FlowRun.objects.filter(pk=run.pk).update(paused_at=None, wake_at=wake_at, state=state, updated_at=now)
            run.state, run.paused_at, run.wake_at = state, None, wake_at
            for event in held:
                if run.state.get("waiting_for") != "event":
                    break
                given = engine.Event(event["type"], now, dict(event["properties"]), random=random.random())
                outcome = engine.step(run.version.definition, run.state, given, engine_context(subscriber))
                if outcome.consumed:
                    _apply(run, outcome, now=now)
            resumed += 1
    return resumed


def runs_pause_check(now: datetime | None = None) -> str:
    """Set right what a race or a failed receiver left (part of the minute's due work): paused runs of someone
    no longer talking with an agent go on (or end, per INBOX_CLOSE_RESUMES_FLOWS), and live runs of someone
    who is talking pause."""
    talking = Conversation.objects.filter(status__in=Conversation.LIVE).values("subscriber_id")
    live = FlowRun.objects.live()
    left_paused = live.filter(paused_at__isnull=False).exclude(subscriber_id__in=talking)
    not_paused = live.filter(paused_at__isnull=True, subscriber_id__in=talking)
    resumed = paused = 0
    for subscriber in Subscriber.objects.filter(pk__in=left_paused.values("subscriber_id")).prefetch_related("tags")[
        :DUE_BATCH
    ]:
        resumed += runs_resume_for(subscriber=subscriber, end=not settings.INBOX_CLOSE_RESUMES_FLOWS, now=now)
    for subscriber in Subscriber.objects.filter(pk__in=not_paused.values("subscriber_id"))[:DUE_BATCH]:
        paused += runs_pause_for(subscriber=subscriber, now=now)
    return f"resumed {resumed}, paused {paused}"


def runs_end_for(*, subscriber: Subscriber, reason: str) -> int:
    """End the subscriber's live runs (STOP ends everything)."""
    now = timezone.now()
    ended = 0
    for run in FlowRun.objects.live().select_for_update().filter(subscriber=subscriber):
        _finish(run, FlowRun.Status.INTERRUPTED, reason, now)
        ended += 1
    return ended


def _finish(run: FlowRun, status: str, reason: str, now: datetime) -> None:
    state = {**run.state, "status": status, "waiting_for": None, "wake_at": None}
    FlowRun.objects.filter(pk=run.pk).update(
        status=status, state=state, waiting_for="", wake_at=None, end_reason=reason[:255], ended_at=now
    )
    _cancel_waiting_texts(run, before=now, reason=reason)


def _cancel_waiting_texts(run: FlowRun, *, before: datetime, reason: str) -> int:
    """A run that ended takes back the texts it queued earlier that still wait (a reminder held overnight)."""
    return outbox.messages_cancel(
        origin=Message.Origin.FLOW,
        origin_ids=[run.pk],
        queued_before=before,
        code="flow_ended",
        reason=f"cancelled: the flow run ended first ({reason})",
        at=before,
    )


# --- Applying the engine's effects ---------------------------------------------------------------------------


def _apply(run: FlowRun, outcome: engine.Outcome, *, in_reply_to: Message | None = None, now: datetime) -> None:
    subscriber = run.subscriber  # loaded with the run, in this transaction
    # Texts that answer the shopper's own text are conversational; the store speaking first (an event, a
    # timer, the API) is marketing, with quiet hours and caps.
    purpose = Message.Purpose.CONVERSATIONAL if in_reply_to is not None else Message.Purpose.MARKETING
    if is_order_news(run.flow, run.trigger):  # order updates: the gate's transactional rules, always
        purpose = Message.Purpose.TRANSACTIONAL
    results, answers, then_start, queued, handoffs = [], [], [], [], []
    for effect in outcome.effects:
        if isinstance(effect, engine.Send):
            queued.append(_send(run, subscriber, effect.text, purpose, in_reply_to, effect.media_url, effect.node))
        elif isinstance(effect, engine.SendOffer):
            if purpose == Message.Purpose.TRANSACTIONAL:  # publishing refuses it; a flow made transactional later
                log.warning("flow run %s: an offer in a transactional flow is not sent", run.pk)
                continue
            code = effect.code or _claim_offer(effect.pool, subscriber, run, now)
            if code:  # never a text that promises a code and has none
                offer_text = effect.text.replace(engine.OFFER_CODE, code)
                queued.append(_send(run, subscriber, offer_text, purpose, in_reply_to, node=effect.node))
        elif isinstance(effect, engine.SetAttribute):
            try:
                conversations.subscriber_attributes_set(
                    subscriber=subscriber,
                    changes={effect.key: effect.value},
                    source="flow",
                    reference=f"flow_run:{run.pk}",
                )
            except ValidationError:
                # The messages quote the refused value (the subscriber's answer): not in the log.
                log.warning("flow run %s could not set %s: the value was refused", run.pk, effect.key)
        elif isinstance(effect, engine.AddTag):
            subscriber.tags.add(Tag.objects.get_or_create(name=effect.tag)[0])
        elif isinstance(effect, engine.RemoveTag):
            subscriber.tags.remove(*Tag.objects.filter(name=effect.tag))
        elif isinstance(effect, engine.Result):
            results.append(
                FlowResult(
                    run=run,
                    node=effect.node,
                    raw_text=effect.raw_text,
                    category=effect.category[:255],
                    value=effect.value,
                )
            )
            if effect.category not in ("other", "no_reply"):
                # Segments read behaviour from events only (they never import flows).
                answers.append({"flow": run.flow_id, "question": effect.node, "answer": effect.value})
        elif isinstance(effect, engine.Handoff):
            conversations.event_record(
                subscriber=subscriber,
                type=event_types.AGENT_HANDOFF,
                occurred_at=now,
                properties={"flow": run.flow_id, "run": run.pk, "node": effect.node, "note": effect.note},
                signal=False,  # written by the run mid-step, as its answers are: no flow reacts to it
            )
            handoffs.append(effect)
        elif isinstance(effect, engine.StartFlow):
            then_start.append(effect.flow)
    FlowResult.objects.bulk_create(results)
    conversations.events_record(
        subscriber=subscriber, type=event_types.FLOW_ANSWER, properties_each=answers, occurred_at=now
    )
    state = dict(outcome.state)
    held_until = max((m.not_before for m in queued if m and m.not_before and m.not_before > now), default=None)
    if held_until and state.get("waiting_for") == "reply" and state.get("wake_at"):
        # The question waits for quiet hours to end: the time to answer starts when it is sent.
        state["wake_at"] = (_parse(state["wake_at"]) + (held_until - now)).isoformat()
    ended = state["status"] in (engine.COMPLETED, engine.EXPIRED, engine.INTERRUPTED)
    if ended:
        _cancel_waiting_texts(run, before=now, reason=state["status"])
    end = next((e for e in reversed(outcome.effects) if isinstance(e, engine.End)), None)
    FlowRun.objects.filter(pk=run.pk).update(
        state=state,
        status=state["status"],
        current_node=state.get("node") or "",
        waiting_for=state.get("waiting_for") or "",
        wake_at=_parse(state.get("wake_at")),
        end_reason=(end.reason if end else "")[:255],
        ended_at=now if ended else None,
        updated_at=now,
    )
    run.state, run.status = state, state["status"]
    for handoff in handoffs:  # after the run is saved, so that the conversation can pause it
        note = f"{run.flow.name}: {handoff.note}" if handoff.note else run.flow.name
        conversation_open(subscriber=subscriber, reason=Conversation.Reason.HANDOFF, note=note, at=now)
    for flow_ref in then_start:
        flow = (
            Flow.objects.filter(pk=flow_ref).first()
            if whole_number(flow_ref) is not None
            else (Flow.objects.filter(name=flow_ref).first())
        )
        if flow is not None:
            run_start(flow=flow, subscriber=subscriber, trigger="flow", in_reply_to=in_reply_to, now=now)


def _send(run, subscriber, text, purpose, in_reply_to, media_url="", node="") -> Message | None:
    if purpose != Message.Purpose.TRANSACTIONAL:
        # Every link a person may open is a tracked short link of its own, like a campaign's; an order update keeps
        # its links as written, so that the send gate sees where they go (it refuses a sale's link there).
        text = conversations.tracked_links_make(
            subscriber=subscriber,
            text=text,
            properties={"flow": run.flow_id, "run": run.pk, "node": node},
            utm_campaign=slugify(run.flow.name) or f"flow-{run.flow_id}",
        )
    try:
        return outbox.message_queue(
            subscriber=subscriber,
            body=text,
            purpose=purpose,
            origin=Message.Origin.FLOW,
            origin_id=run.pk,
            in_reply_to=in_reply_to,
            media_urls=[media_url] if media_url else (),
        )
    except outbox.SendRefused as refused:  # its reason names the number ("+1… has opted out")
        log.info("flow run %s: text not queued: %s", run.pk, refused.code)
        return None
    except ValidationError as invalid:  # its messages may quote the text
        log.info("flow run %s: text not queued: bad %s", run.pk, ", ".join(getattr(invalid, "error_dict", ["text"])))
        return None


def _claim_offer(pool: str, subscriber: Subscriber, run: FlowRun, now: datetime) -> str:
    """The subscriber's code from a pool: the one they were given before, or a fresh one."""
    mine = OfferCode.objects.filter(pool=pool, subscriber=subscriber).values_list("code", flat=True).first()
    if mine:
        return mine
    free = OfferCode.objects.filter(pool=pool, subscriber__isnull=True).select_for_update(skip_locked=True).first()
    if free is None:
        log.warning("offer pool %r is empty", pool)
        return ""
    OfferCode.objects.filter(pk=free.pk).update(subscriber=subscriber, run=run, claimed_at=now)
    return free.code


def _parse(value: str | None):
    return datetime.fromisoformat(value) if value else None
