"""The queue: texts written `queued`, held until released, and cancelled while they have not left.

Every text enters here: one at a time through `message_queue()` (the send gate asks first), or in bulk through
`messages_queue_select()` (a campaign's fan-out: the gate decides each one when the worker claims it).
"""

import threading
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from ..models import Message, Subscriber
from ..sms import gate
from ..sms.encoding import MAX_BODY_CHARACTERS, count_segments, prepare_body
from .recipients import SendRefused, gate_rules, recipients_for

# A held text waits with this date until it is released: never due before, and told apart from a text waiting
# for a real time (quiet hours, a local-time campaign, a retry).
HELD_FOREVER = datetime(9999, 1, 1, tzinfo=UTC)

# A text cancelled by an opt-out (or refused at its stamp because the subscriber opted out meanwhile).
OPTED_OUT = "gate:opted_out"
OPTED_OUT_REASON = "cancelled: the subscriber opted out before it was sent"


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
    refused = gate.content_refusal(purpose, body)
    if refused is not None:
        raise SendRefused(refused)
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


# The columns of a text queued in bulk that the caller writes, each as an SQL expression over its source's rows;
# the outbox writes the rest (outbound, queued, nothing tried yet).
SELECT_COLUMNS = (
    "subscriber_id",
    "sender",
    "body",
    "media_urls",
    "segments",
    "encoding",
    "origin",
    "origin_id",
    "purpose",
    "not_before",
)


def messages_queue_select(*, columns: Mapping[str, tuple[str, list]], source: str, source_params: list) -> int:
    """Queue one text per row of `source` (SQL after FROM) in one statement, skipping rows whose text a unique
    constraint says exists; the number queued."""
    if set(columns) != set(SELECT_COLUMNS):
        raise ValueError(f"the columns must be exactly {', '.join(SELECT_COLUMNS)} (got {', '.join(columns)})")
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    names = [*SELECT_COLUMNS, "direction", "status", "error_code", "error_message", "hold_reason", "attempts"]
    names += ["claim", "created_at", "updated_at"]
    expressions = [columns[name][0] for name in SELECT_COLUMNS] + ["%s"] * 9
    params = [param for name in SELECT_COLUMNS for param in columns[name][1]]
    params += [Message.Direction.OUTBOUND, Message.Status.QUEUED, "", "", "", 0, "", now, now]
    sql = (
        f"INSERT INTO {Message._meta.db_table} ({', '.join(names)}) "
        f"SELECT {', '.join(expressions)} FROM {source} ON CONFLICT DO NOTHING"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, *source_params])
        queued = cursor.rowcount
    if queued:
        transaction.on_commit(outbox_kick)
    return queued


# --- Holding, releasing, cancelling ------------------------------------------------------------------------


def messages_hold(*, origin: str, origin_ids: Iterable[int] | QuerySet, reason: str, at: datetime | None = None) -> int:
    """Hold the queued texts of these origins until `messages_release`; texts already claimed go on."""
    return (
        _chosen(origin=origin, origin_ids=origin_ids)
        .filter(status=Message.Status.QUEUED)
        .update(not_before=HELD_FOREVER, hold_reason=reason[:255], updated_at=at or timezone.now())
    )


def messages_release(
    *,
    origin: str,
    origin_ids: Iterable[int] | QuerySet,
    due_at: datetime | None = None,
    due_in_zone: Callable[[str], datetime | None] | None = None,
    at: datetime | None = None,
) -> int:
    """Make the held texts of these origins due again at `due_at` (or `due_in_zone(the subscriber's zone)`; None
    is at once, in the order they were queued); the send gate decides again when each may go."""
    at = at or timezone.now()
    held = _chosen(origin=origin, origin_ids=origin_ids).filter(status=Message.Status.QUEUED, not_before=HELD_FOREVER)
    if due_in_zone is None:
        released = held.update(not_before=due_at, hold_reason="", updated_at=at)
    else:
        released = 0
        for zone in list(held.values_list("subscriber__time_zone", flat=True).distinct().order_by()):
            released += held.filter(subscriber__time_zone=zone).update(
                not_before=due_in_zone(zone), hold_reason="", updated_at=at
            )
    if released:
        transaction.on_commit(outbox_kick)
    return released


def messages_cancel(
    *,
    code: str,
    reason: str,
    origin: str | None = None,
    origin_ids: Iterable[int] | QuerySet | None = None,
    subscriber: Subscriber | None = None,
    queued_before: datetime | None = None,
    at: datetime | None = None,
) -> int:
    """Fail, with `code` and `reason`, the chosen texts that have not reached the provider (queued, or claimed
    and not yet stamped), except an opt-out confirmation; the number cancelled."""
    not_handed_over = Q(status=Message.Status.QUEUED) | Q(status=Message.Status.SENDING, attempted_at__isnull=True)
    texts = (
        _chosen(origin=origin, origin_ids=origin_ids, subscriber=subscriber)
        .filter(not_handed_over)
        .exclude(purpose=Message.Purpose.OPT_OUT_CONFIRMATION)
    )
    if queued_before is not None:
        texts = texts.filter(created_at__lt=queued_before)
    return texts.update(
        status=Message.Status.FAILED,
        error_code=code[:16],
        error_message=reason[:255],
        not_before=None,
        hold_reason="",
        claimed_until=None,
        updated_at=at or timezone.now(),
    )


def _chosen(*, origin=None, origin_ids=None, subscriber=None) -> QuerySet:
    """The texts of an origin (its ids, if given), or of a subscriber."""
    if origin is None and subscriber is None:
        raise ValueError("name the texts: an origin (and its ids) or a subscriber")
    texts = Message.objects.all()
    if origin is not None:
        texts = texts.filter(origin=origin)
    if origin_ids is not None:
        texts = texts.filter(origin_id__in=origin_ids)
    if subscriber is not None:
        texts = texts.filter(subscriber=subscriber)
    return texts


# --- Waking a worker ------------------------------------------------------------------------------------------

_last_kick = 0.0
_kick_lock = threading.Lock()
KICK_EVERY = 1.0  # seconds: at most one wake-up task per process this often


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
