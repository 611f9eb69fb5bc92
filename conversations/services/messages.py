"""Outbound texts: the outbox, the send gate around it, the worker that empties it, delivery reports.

Every sender (flows, campaigns, agents, the system) calls `message_queue()`,
which writes a `queued` Message. `outbox_send_due()` (the django-q2 task
`send_due`) claims due messages in batches, asks the send gate again in the
same transaction that marks them `sending`, paces them to the sender's rate
and hands them to the provider.

Delivery guarantee: at most once. A message is marked `attempted_at` (and
committed) just before the provider is called. If a worker dies, its lease
runs out: a message never handed to the provider goes back to the queue; one
that was handed over is marked failed ("outcome unknown") and never sent
again, because sending a text twice is worse than reporting one as lost. A
delivery report that arrives later still corrects its status.
"""

import logging
import os
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone

from ..models import Conversation, Message, SenderPace, Subscriber
from ..phones import time_zones_for_phone
from ..sms import gate, windows
from ..sms.encoding import MAX_BODY_CHARACTERS, count_segments, prepare_body
from ..sms.providers import UNSUBSCRIBED_ERROR, ProviderError, get_provider

log = logging.getLogger(__name__)

LEASE = timedelta(seconds=60)
UNKNOWN_OUTCOME_CODES = ["worker_lost", "no_answer"]
RETRY_BACKOFF = [timedelta(seconds=30), timedelta(minutes=2), timedelta(minutes=10), timedelta(minutes=30)]


class SendRefused(Exception):
    """The send gate refused a text; `reason` says why in words a person can act on."""

    def __init__(self, decision: gate.Decision):
        super().__init__(decision.reason)
        self.reason = decision.reason
        self.code = decision.code


# --- The gate's view of recipients ---------------------------------------------------------------


def gate_rules() -> gate.Rules:
    """The store's sending rules from settings (a window wider than 09:00-20:00 refuses to load)."""
    start, end = (
        datetime.strptime(value, "%H:%M").time() for value in (settings.SMS_WINDOW_START, settings.SMS_WINDOW_END)
    )
    return gate.Rules(
        window=windows.Window(start, end),
        daily_cap=settings.SMS_DAILY_MARKETING_CAP,
        weekly_cap=settings.SMS_WEEKLY_MARKETING_CAP,
        default_zone=settings.PARLEY_DEFAULT_TIME_ZONE,
    )


def recipients_for(
    subscribers: list[Subscriber], now: datetime, *, with_history: bool = True
) -> dict[int, gate.Recipient]:
    """What the gate needs to know of each subscriber: their marketing texts of the last week and whether someone
    is talking with them in the inbox; two queries for any number of subscribers."""
    sent: dict[int, list[datetime]] = {subscriber.pk: [] for subscriber in subscribers}
    if with_history:
        # A text another worker is sending has no sent_at yet: it counts from when it was claimed.
        recent = (
            Message.objects.counting_toward_caps()
            .filter(
                Q(sent_at__gt=now - timedelta(days=7)) | Q(status=Message.Status.SENDING), subscriber_id__in=list(sent)
            )
            .values_list("subscriber_id", Coalesce("sent_at", "updated_at"))
        )
        for subscriber_id, sent_at in recent:
            sent[subscriber_id].append(sent_at)
    talking = set(
        Conversation.objects.filter(
            subscriber_id__in=list(sent),
            status__in=Conversation.LIVE,
            last_message_at__gte=now - gate.TALKING_RECENT,
        ).values_list("subscriber_id", flat=True)
    )
    return {
        subscriber.pk: gate.Recipient(
            phone=subscriber.phone,
            status=subscriber.status,
            opted_out_at=subscriber.opted_out_at,
            last_inbound_at=subscriber.last_inbound_at,
            zones=_zones(subscriber),
            marketing_sent_at=tuple(sent[subscriber.pk]),
            talking=subscriber.pk in talking,
        )
        for subscriber in subscribers
    }


# --- Queueing ----------------------------------------------------------------------------------------------


def message_queue(
    *,
    subscriber: Subscriber,
    body: str,
    purpose: str = Message.Purpose.CONVERSATIONAL,
    origin: str = Message.Origin.SYSTEM,
    origin_id: int | None = None,
    sent_by=None,
    media_urls=(),
    not_before: datetime | None = None,
    in_reply_to: Message | None = None,
    sender: str = "",
) -> Message:
    """Queue one text for a subscriber through the send gate; raise SendRefused or ValidationError if it may not go."""
    body = prepare_body(body or "", smart_encoding=settings.SMS_SMART_ENCODING)
    media_urls = list(media_urls or [])
    if not body.strip() and not media_urls:
        raise ValidationError({"body": ["the text is empty; write something or attach media"]})
    if len(body) > MAX_BODY_CHARACTERS:
        raise ValidationError(
            {"body": [f"the text is {len(body)} characters; the most a text may have is {MAX_BODY_CHARACTERS}"]}
        )
    if purpose not in Message.Purpose.values:
        raise ValueError(f"unknown message purpose {purpose!r}")
    now = timezone.now()
    rules = gate_rules()
    recipient = recipients_for([subscriber], now, with_history=False)[subscriber.pk]
    if gate.needs_history(purpose, recipient, now):
        recipient = recipients_for([subscriber], now)[subscriber.pk]
    decision = gate.decide(purpose=purpose, recipient=recipient, now=now, rules=rules)
    if decision.action == gate.REFUSE:
        raise SendRefused(decision)
    counted = count_segments(body)
    hold_until = decision.until if decision.action == gate.HOLD else None
    message = Message.objects.create(
        subscriber=subscriber,
        direction=Message.Direction.OUTBOUND,
        sender=sender or (in_reply_to.sender if in_reply_to and in_reply_to.sender else settings.SMS_SENDER),
        body=body,
        media_urls=media_urls,
        status=Message.Status.QUEUED,
        segments=counted.segments,
        encoding=counted.encoding,
        origin=origin,
        origin_id=origin_id,
        sent_by=sent_by,
        purpose=purpose,
        in_reply_to=in_reply_to,
        not_before=max(filter(None, [not_before, hold_until]), default=None),
        hold_reason=decision.reason if hold_until else "",
    )
    transaction.on_commit(outbox_kick)
    return message


_last_kick = 0.0
_kick_lock = threading.Lock()
KICK_EVERY = 1.0  # seconds: at most one wake-up task per process this often
SENDER_LINGER = 10.0  # seconds a woken sender keeps looking (far longer than KICK_EVERY: no text is left behind)
LINGER_POLL = 0.2


def outbox_kick() -> None:
    """Wake a worker to send what was just queued: at most one task a second from each process."""
    global _last_kick
    if not settings.SMS_KICK_WORKER:
        return
    with _kick_lock:
        if time.monotonic() - _last_kick < KICK_EVERY:
            return  # the sender woken less than a second ago lingers long enough to take this text too
        _last_kick = time.monotonic()
    from django_q.tasks import async_task

    async_task("conversations.tasks.send_due", task_name="send due texts", group="outbox")


# --- The worker ---------------------------------------------------------------------------------------


@dataclass
class SendReport:
    sent: int = 0
    failed: int = 0
    held: int = 0
    retried: int = 0
    refused: int = 0
    reclaimed: int = 0
    outcomes: list[tuple[int, str]] = field(default_factory=list)
    last_outbound: dict[int, datetime] = field(default_factory=dict)  # subscriber id -> last text sent


def outbox_send_due(
    *, max_seconds: float = 50.0, linger: float = 0.0, batch_size: int | None = None, provider=None
) -> SendReport:
    """Send due texts until none is due (or `max_seconds` have passed); safe in several workers at once.

    With `linger`, keep looking for new texts that many seconds after the last one: a worker woken for one
    reply also takes the replies queued just after it, whose own wake-up call was coalesced into this one.
    """
    provider = provider or get_provider()
    worker = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
    deadline = time.monotonic() + max_seconds
    idle_until = time.monotonic() + linger
    report = SendReport()
    while time.monotonic() < deadline:
        report.reclaimed += outbox_reclaim_expired()
        batch = outbox_claim(limit=batch_size or _batch_size_for_rate(), report=report)
        if not batch:
            if time.monotonic() >= min(idle_until, deadline):
                break
            time.sleep(LINGER_POLL)
            continue
        for message in _paced(batch):
            _deliver(message, provider, report)
        _record_last_outbound(report)
        idle_until = time.monotonic() + linger
    log.debug("worker %s: %s", worker, report)
    return report


def _record_last_outbound(report: SendReport) -> None:
    """Subscribers' last outbound time, written once per batch rather than once per text."""
    for subscriber_id, sent_at in report.last_outbound.items():
        Subscriber.objects.filter(pk=subscriber_id).update(last_outbound_at=sent_at)
    report.last_outbound.clear()


def _zones(subscriber: Subscriber) -> tuple[str, ...]:
    return tuple(dict.fromkeys([*time_zones_for_phone(subscriber.phone), subscriber.time_zone]))


def _validity_period(message: Message, now: datetime) -> int | None:
    """Marketing only: seconds until the recipient's window closes (None when it is closed)."""
    if message.purpose != Message.Purpose.MARKETING:
        return None
    subscriber = message.subscriber
    recipient = gate.Recipient(subscriber.phone, subscriber.status, None, None, _zones(subscriber))
    return gate.validity_period(now, recipient, gate_rules())


def _batch_size_for_rate() -> int:
    # About two seconds of sending: leases stay short and a newly due text waits little.
    return max(1, min(settings.SMS_SEND_BATCH, int(settings.SMS_SENDER_MPS * 2) or 1))


def outbox_claim(*, limit: int, report: SendReport | None = None, now: datetime | None = None) -> list[Message]:
    """Claim up to `limit` due messages: the gate decides each again, in the transaction that marks it sending."""
    report = report or SendReport()
    now = now or timezone.now()
    with transaction.atomic():
        ids = []
        for marketing in (False, True):  # replies and service texts first: they never wait behind a campaign
            if len(ids) < limit:
                due = Message.objects.claimable(now, marketing=marketing).select_for_update(
                    skip_locked=True, of=("self",)
                )
                ids += list(due.values_list("id", flat=True)[: limit - len(ids)])
        if not ids:
            return []
        messages = list(Message.objects.filter(id__in=ids).order_by("id"))
        # Lock the recipients (in id order, so workers never deadlock): two workers claiming texts for the
        # same subscriber take turns, and each sees the other's claims when it counts the caps.
        subscribers = {
            s.pk: s
            for s in Subscriber.objects.select_for_update()
            .filter(pk__in={m.subscriber_id for m in messages})
            .order_by("pk")
        }
        for message in messages:
            message.subscriber = subscribers[message.subscriber_id]
        recipients = recipients_for(list(subscribers.values()), now)
        rules = gate_rules()
        sending, changed = [], []
        for message in messages:
            recipient = recipients[message.subscriber_id]
            decision = gate.decide(purpose=message.purpose, recipient=recipient, now=now, rules=rules)
            if decision.action == gate.SEND:
                sending.append(message)
                # Count it at once, so that a second text in the same batch meets the cap.
                recipients[message.subscriber_id] = _with_send(recipient, now, message)
            elif decision.action == gate.HOLD:
                message.not_before, message.hold_reason = decision.until, decision.reason
                changed.append(message)
                report.held += 1
            else:
                message.status = Message.Status.FAILED
                message.error_code, message.error_message = f"gate:{decision.code}", decision.reason[:255]
                changed.append(message)
                report.refused += 1
        if changed:
            Message.objects.bulk_update(changed, ["status", "not_before", "hold_reason", "error_code", "error_message"])
        if sending:
            _recount(sending)
            claim = uuid.uuid4().hex
            Message.objects.filter(id__in=[m.pk for m in sending]).update(
                status=Message.Status.SENDING,
                claim=claim,
                claimed_until=now + LEASE + _pacing_time(sending),
                updated_at=now,
            )
            for message in sending:
                message.status, message.claim = Message.Status.SENDING, claim
    return sending


def _recount(messages: list[Message]) -> None:
    """Count segments again before sending: a campaign's rows are personalised in SQL with an estimated count."""
    changed = []
    for message in messages:
        counted = count_segments(message.body)
        if (counted.segments, counted.encoding) != (message.segments, message.encoding):
            message.segments, message.encoding = counted.segments, counted.encoding
            changed.append(message)
    if changed:
        Message.objects.bulk_update(changed, ["segments", "encoding"])


def _with_send(recipient: gate.Recipient, now: datetime, message: Message) -> gate.Recipient:
    if message.purpose != Message.Purpose.MARKETING:
        return recipient
    return gate.Recipient(**{**recipient.__dict__, "marketing_sent_at": (*recipient.marketing_sent_at, now)})


def _pacing_time(messages: list[Message]) -> timedelta:
    return timedelta(seconds=sum(m.segments for m in messages) / settings.SMS_SENDER_MPS)


def outbox_reclaim_expired(now: datetime | None = None) -> int:
    """Messages whose worker died: back to the queue if never handed over, else failed as unknown, never resent."""
    now = now or timezone.now()
    expired = Message.objects.filter(status=Message.Status.SENDING, claimed_until__lt=now)
    requeued = expired.filter(attempted_at__isnull=True).update(
        status=Message.Status.QUEUED, claimed_until=None, updated_at=now
    )
    lost = expired.filter(attempted_at__isnull=False).update(
        status=Message.Status.FAILED,
        claimed_until=None,
        error_code=UNKNOWN_OUTCOME_CODES[0],
        error_message="the worker stopped while handing this text to the provider; it may have gone, "
        "so it is not sent again",
        updated_at=now,
    )
    return requeued + lost


# --- Pacing: the rate per sender, shared by every worker -------------------------------------------


def sender_reserve(sender: str, seconds: float) -> float:
    """Reserve `seconds` of the sender's time line; return when the reserved stretch starts (Unix time)."""
    greatest = "GREATEST" if connection.vendor == "postgresql" else "MAX"  # the one backend difference here
    table = connection.ops.quote_name(SenderPace._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET next_slot = {greatest}(next_slot, %s) + %s WHERE sender = %s RETURNING next_slot",
            [time.time(), seconds, sender],
        )
        row = cursor.fetchone()
    if row is None:  # the sender's first text
        SenderPace.objects.get_or_create(sender=sender)
        return sender_reserve(sender, seconds)
    return row[0] - seconds


# A little under the configured rate, so that network jitter never pushes one second over it.
RATE_MARGIN = 0.98
# A worker that wakes later than this after its slot (a busy machine) gives the slot up and takes a new one,
# rather than sending late, next to another worker's slot.
LATE_TOLERANCE = 0.01


RESERVE_RUN = 10  # slots reserved at once: fewer queries, and little is wasted when a worker runs late


def _paced(messages: list[Message]):
    """Yield each message when its sender may take it, so no sender passes SMS_SENDER_MPS in any second.

    Slots are reserved a few at a time on the sender's shared time line. A worker that wakes too late for a
    slot (a busy machine) gives up the rest of its run and reserves anew from now, rather than sending late,
    next to another worker's slot.
    """
    per_segment = 1.0 / (settings.SMS_SENDER_MPS * RATE_MARGIN)
    pending = sorted(messages, key=lambda m: m.sender)
    while pending:
        run = [m for m in pending[:RESERVE_RUN] if m.sender == pending[0].sender]
        slot = sender_reserve(run[0].sender, sum(m.segments for m in run) * per_segment)
        for message in run:
            delay = slot - time.time()
            if delay > 0:
                time.sleep(delay)
            if time.time() - slot > LATE_TOLERANCE:
                break
            yield message
            pending.remove(message)
            slot += message.segments * per_segment


# --- Handing one message to the provider ---------------------------------------------------------------


def _deliver(message: Message, provider, report: SendReport) -> None:
    now = timezone.now()
    validity = _validity_period(message, now)
    if message.purpose == Message.Purpose.MARKETING and validity is None:
        # The window closed while it waited for its slot: back to the queue until it opens again.
        opens = windows.next_open(
            now, _zones(message.subscriber), gate_rules().window, windows.us_state_rules_for(message.subscriber.phone)
        )
        Message.objects.filter(pk=message.pk, status=Message.Status.SENDING, claim=message.claim).update(
            status=Message.Status.QUEUED,
            not_before=opens,
            claimed_until=None,
            updated_at=now,
            hold_reason="quiet hours began before it could be handed over",
        )
        report.held += 1
        return
    # The last check: the subscriber may have said STOP while this message waited for its slot.
    # Only while this worker's claim holds: if its lease ran out and another worker claimed the text, it is
    # the other worker's to send.
    handed_over = (
        Message.objects.filter(pk=message.pk, status=Message.Status.SENDING, claim=message.claim)
        .exclude(
            Q(subscriber__status=Subscriber.Status.UNSUBSCRIBED) & ~Q(purpose=Message.Purpose.OPT_OUT_CONFIRMATION)
        )
        .update(attempted_at=now, attempts=F("attempts") + 1, updated_at=now)
    )
    if not handed_over:
        Message.objects.filter(pk=message.pk, status=Message.Status.SENDING, claim=message.claim).update(
            status=Message.Status.FAILED,
            error_code="gate:opted_out",
            error_message="cancelled: the subscriber opted out before it was sent",
            claimed_until=None,
        )
        report.refused += 1
        return
    try:
        result = provider.send(
            to=message.subscriber.phone,
            body=message.body,
            sender=message.sender,
            media_urls=message.media_urls,
            status_callback=status_callback_url(message),
            validity_period=validity,
        )
    except ProviderError as error:
        _record_failure(message, error, report)
        return
    sent_at = timezone.now()
    Message.objects.filter(pk=message.pk).update(
        status=Message.Status.SENT,
        provider_message_id=result.provider_message_id,
        sent_at=sent_at,
        claimed_until=None,
        error_code="",
        error_message="",
        updated_at=sent_at,
    )
    report.sent += 1
    report.last_outbound[message.subscriber_id] = sent_at
    report.outcomes.append((message.pk, "sent"))


def _record_failure(message: Message, error: ProviderError, report: SendReport) -> None:
    now = timezone.now()
    attempts = message.attempts + 1
    if error.retry and attempts < settings.SMS_MAX_ATTEMPTS:
        backoff = RETRY_BACKOFF[min(attempts - 1, len(RETRY_BACKOFF) - 1)]
        Message.objects.filter(pk=message.pk).update(
            status=Message.Status.QUEUED,
            not_before=now + backoff,
            attempted_at=None,
            claimed_until=None,
            error_code=error.code,
            error_message=error.message[:255],
            hold_reason=f"retry after {error.code}",
            updated_at=now,
        )
        report.retried += 1
        report.outcomes.append((message.pk, "retry"))
        return
    Message.objects.filter(pk=message.pk).update(
        status=Message.Status.FAILED,
        claimed_until=None,
        error_code=error.code,
        error_message=error.message[:255],
        updated_at=now,
    )
    report.failed += 1
    report.outcomes.append((message.pk, f"failed:{error.code}"))
    if error.code == UNSUBSCRIBED_ERROR:
        _opt_out_from_provider(message, error)


def _opt_out_from_provider(message: Message, error: ProviderError) -> None:
    from .subscribers import subscriber_opt_out

    subscriber = Subscriber.objects.get(pk=message.subscriber_id)
    if subscriber.status != Subscriber.Status.UNSUBSCRIBED:
        subscriber_opt_out(
            subscriber=subscriber,
            source="provider",
            details={"error_code": error.code, "message_id": message.pk, "reason": error.message},
        )


def status_callback_url(message: Message) -> str:
    """Where Twilio reports delivery: our own message id travels in the URL, so a report finds its message."""
    if not settings.PUBLIC_BASE_URL:
        return ""
    return f"{settings.PUBLIC_BASE_URL.rstrip('/')}{reverse('twilio-status')}?message={message.pk}"


# --- Delivery reports -----------------------------------------------------------------------------------------

# Twilio's message statuses, mapped onto ours; a status only ever moves to a higher rank.
PROVIDER_STATUSES = {
    "sending": Message.Status.SENDING,
    "sent": Message.Status.SENT,
    "delivered": Message.Status.DELIVERED,
    "read": Message.Status.DELIVERED,
    "undelivered": Message.Status.UNDELIVERED,
    "failed": Message.Status.FAILED,
    "canceled": Message.Status.FAILED,
}
RANK = {
    Message.Status.QUEUED: 0,
    Message.Status.SENDING: 1,
    Message.Status.SENT: 2,
    Message.Status.DELIVERED: 3,
    Message.Status.UNDELIVERED: 3,
    Message.Status.FAILED: 3,
}


def message_status_report(
    *, provider_message_id: str, provider_status: str, error_code: str = "", message_id: int | None = None
) -> Message | None:
    """Apply a delivery report; idempotent, and a late report never moves a message back (delivered stays)."""
    status = PROVIDER_STATUSES.get(provider_status)
    match = Q(provider_message_id=provider_message_id)
    if message_id is not None:
        match |= Q(pk=message_id, provider_message_id__isnull=True)
    message = Message.objects.filter(match, direction=Message.Direction.OUTBOUND).first()
    if message is None or status is None:
        return message
    lower = [value for value, rank in RANK.items() if rank < RANK[status]]
    now = timezone.now()
    changes = {"status": status, "updated_at": now, "provider_message_id": provider_message_id, "claimed_until": None}
    if status == Message.Status.DELIVERED:
        changes["delivered_at"] = now
    if error_code:
        changes["error_code"] = error_code
    # A text failed as "outcome unknown" (its worker died, or no answer came) is corrected by a real report.
    unknown_outcome = Q(status=Message.Status.FAILED, error_code__in=UNKNOWN_OUTCOME_CODES)
    Message.objects.filter(Q(status__in=lower) | unknown_outcome, pk=message.pk).update(**changes)
    message.refresh_from_db()
    if error_code == UNSUBSCRIBED_ERROR:
        _opt_out_from_provider(message, ProviderError(error_code, "reported by the delivery report", retry=False))
    return message


__all__ = [
    "SendRefused",
    "SendReport",
    "gate_rules",
    "recipients_for",
    "message_queue",
    "outbox_kick",
    "outbox_send_due",
    "outbox_claim",
    "outbox_reclaim_expired",
    "sender_reserve",
    "status_callback_url",
    "message_status_report",
]
