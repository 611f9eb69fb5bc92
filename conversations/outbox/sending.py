"""Sending: the worker that claims due texts, asks the send gate again, and hands them to the provider.

`outbox_send_due()` (the django-q2 task `send_due`, and `manage.py send_outbox`) claims due messages in
batches, asks the send gate again in the same transaction that marks them `sending`, paces them to the
sender's rate (pacing.py) and hands them to the provider.

Delivery guarantee: at most once. A message is stamped `attempted_at` (and
committed) at its slot, immediately before the provider is called, and the
stamp is cleared again whenever the worker knows the provider never got the
text (it gave the slot up, the connection was refused, its database
connection died before it called). A worker's claim has a short lease that it
renews as it goes; if the worker dies, the lease runs out within seconds and
another worker takes over: a message never stamped goes back to the queue,
one stamped is marked failed ("outcome unknown", `worker_lost`) and never
sent again, because sending a text twice is worse than reporting one as lost.
A delivery report that arrives later still corrects its status.

Faults: a worker whose database connection is terminated drops it, waits a
little and goes on. What it learnt meanwhile (the provider took a text, or a
text never left) is written as soon as a connection works again, and the
texts it had claimed and not yet stamped go back to the queue.
"""

import contextlib
import logging
import math
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial

from django.conf import settings
from django.db import InterfaceError, OperationalError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from ..models import Message, Subscriber
from ..sms import gate, windows
from ..sms.encoding import count_segments
from ..sms.providers import UNSUBSCRIBED_ERROR, ProviderError, get_provider
from .pacing import LATE_LIMIT, LATE_TOLERANCE, RATE_MARGIN, RESERVE_RUN, Lead, sender_reserve, sleep_until
from .queue import OPTED_OUT, OPTED_OUT_REASON, outbox_kick
from .recipients import gate_rules, recipients_for, subscriber_zones, validity_period
from .reports import UNKNOWN_OUTCOME_CODES, WORKER_LOST, provider_opt_out, status_callback_url

log = logging.getLogger(__name__)

# A claim's lease: the worker renews it for each run of slots it reserves and for each text it hands over, so a
# dead worker's texts go to another worker within seconds of its last sign of life.
LEASE = timedelta(seconds=5)
RETRY_BACKOFF = [timedelta(seconds=30), timedelta(minutes=2), timedelta(minutes=10), timedelta(minutes=30)]
SENDER_LINGER = 10.0  # seconds a woken sender keeps looking (far longer than KICK_EVERY: no text is left behind)
LINGER_POLL = 0.2

# The faults a worker lives through: its database connection terminated or lost (a restart, a failover,
# pg_terminate_backend), or an SQLite file locked for too long. It drops the connection, waits and goes on.
DATABASE_FAULTS = (OperationalError, InterfaceError)
RECONNECT_BACKOFF = [0.2, 0.5, 1.0, 2.0, 5.0]  # seconds, one after the other while the database stays away


# --- The worker ---------------------------------------------------------------------------------------


@dataclass
class SendReport:
    sent: int = 0
    failed: int = 0
    held: int = 0
    retried: int = 0
    refused: int = 0
    reclaimed: int = 0
    faults: int = 0  # database faults lived through
    outcomes: list[tuple[int, str]] = field(default_factory=list)
    last_outbound: dict[int, datetime] = field(default_factory=dict)  # subscriber id -> last text sent


# What a worker knows and could not write because its connection died (the provider took a text, or a text never
# left): written, oldest first, as soon as a connection works again, by the next pass of the same process.
_unsettled: list[Callable[[], object]] = []
_unsettled_lock = threading.Lock()


def outbox_send_due(
    *, max_seconds: float = 50.0, linger: float = 0.0, batch_size: int | None = None, provider=None
) -> SendReport:
    """Send due texts until none is due (or `max_seconds` have passed); safe in several workers at once.

    With `linger`, keep looking for new texts that many seconds after the last one, and for as long as another
    worker holds claimed texts: a worker woken for one reply also takes the replies queued just after it (whose
    own wake-up call was coalesced into this one), and takes over a dead worker's texts when its lease runs out.

    A database fault never ends the loop: the worker reconnects, writes what it learnt meanwhile, puts back in
    the queue what it had claimed and not yet stamped, and goes on.
    """
    provider = provider or get_provider()
    worker = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
    deadline = time.monotonic() + max_seconds
    idle_until = time.monotonic() + linger
    report = SendReport()
    lead = Lead()
    claims: list[str] = []  # claims of a batch a fault cut short
    faults_in_a_row = 0
    while time.monotonic() < deadline:
        try:
            _settle()
            if claims:
                _release_unstamped(claims)
                claims.clear()
            report.reclaimed += outbox_reclaim_expired()
            batch = outbox_claim(limit=batch_size or _batch_size_for_rate(), report=report, claims=claims)
            faults_in_a_row = 0
            if not batch:
                if time.monotonic() >= min(idle_until, deadline) and not (linger and outbox_claims_outstanding()):
                    break
                time.sleep(LINGER_POLL)
                continue
            _send_batch(batch, provider, report, lead)
            claims.clear()
            _record_last_outbound(report)
            idle_until = time.monotonic() + linger
        except DATABASE_FAULTS as error:
            report.faults += 1
            pause = RECONNECT_BACKOFF[min(faults_in_a_row, len(RECONNECT_BACKOFF) - 1)]
            faults_in_a_row += 1
            log.warning("sender %s: database fault (%s); reconnecting in %.1f s", worker, _fault_summary(error), pause)
            _drop_connection()
            time.sleep(max(0.0, min(pause, deadline - time.monotonic())))
        except BaseException:  # stopped (a signal, Ctrl-C) or a bug: what was never stamped goes back at once
            if claims:
                with contextlib.suppress(Exception):
                    _release_unstamped(claims)
            raise
    log.debug("worker %s: %s", worker, report)
    return report


def outbox_claims_outstanding() -> bool:
    """Whether any worker holds claimed texts it has not settled yet (it may have died holding them)."""
    return Message.objects.filter(status=Message.Status.SENDING).exists()


def outbox_kick_if_claimed(**signal) -> None:
    """A django-q2 worker process started, maybe in place of one that was killed: if texts are claimed, wake a
    sender, which lingers until their lease runs out and takes them over (within seconds, not at the next
    minute's schedule). Connected to django-q2's `post_spawn` signal."""
    try:
        if outbox_claims_outstanding():
            outbox_kick()
    except DATABASE_FAULTS as error:
        log.warning("could not look for claimed texts as a worker started (%s)", _fault_summary(error))


def outbox_unsettled() -> int:
    """How many outcomes this process still has to write once its database connection works again."""
    with _unsettled_lock:
        return len(_unsettled)


def _remember(write: Callable[[], object]) -> None:
    with _unsettled_lock:
        _unsettled.append(write)


def _write_or_remember(write: Callable[[], object]) -> None:
    """Write an outcome now; if the connection fails, keep it for the next attempt (and let the fault through)."""
    try:
        write()
    except DATABASE_FAULTS:
        _remember(write)
        raise


def _settle() -> None:
    """Write what this process learnt while its connection was away, oldest first; a fault keeps the rest."""
    while True:
        with _unsettled_lock:
            if not _unsettled:
                return
            write = _unsettled[0]
        try:
            write()  # each is idempotent: two threads settling at once do no harm
        except DATABASE_FAULTS:
            raise
        except Exception:  # noqa: BLE001 - one outcome that cannot be written must not stop the sending
            log.exception("an outcome learnt while the database was away could not be written; dropped")
        with _unsettled_lock:
            if _unsettled and _unsettled[0] is write:
                _unsettled.pop(0)


def _release_unstamped(claims: list[str]) -> int:
    """Put back in the queue what these claims hold and never stamped: those texts certainly never left."""
    return Message.objects.filter(claim__in=claims, status=Message.Status.SENDING, attempted_at__isnull=True).update(
        status=Message.Status.QUEUED, claimed_until=None, updated_at=timezone.now()
    )


def _drop_connection() -> None:
    """Close this thread's broken connection; the next query opens a new one (as django-q2 does between tasks)."""
    try:
        connection.close()
    except Exception:  # noqa: BLE001 - a connection the server already dropped may complain as it closes
        log.debug("closing a broken database connection", exc_info=True)


def _fault_summary(error: Exception) -> str:
    """The error's class and first line: the server's reason, never a query or its values."""
    lines = str(error).strip().splitlines()
    return f"{error.__class__.__name__}: {lines[0][:120]}" if lines else error.__class__.__name__


def _record_last_outbound(report: SendReport) -> None:
    """Subscribers' last outbound time, written once per batch rather than once per text."""
    for subscriber_id, sent_at in report.last_outbound.items():
        Subscriber.objects.filter(pk=subscriber_id).update(last_outbound_at=sent_at)
    report.last_outbound.clear()


def _batch_size_for_rate() -> int:
    # About two seconds of sending: leases stay short and a newly due text waits little.
    return max(1, min(settings.SMS_SEND_BATCH, int(settings.SMS_SENDER_MPS * 2) or 1))


def outbox_claim(
    *, limit: int, report: SendReport | None = None, now: datetime | None = None, claims: list[str] | None = None
) -> list[Message]:
    """Claim up to `limit` due messages: the gate decides each again, in the transaction that marks it sending.

    The claim's id is added to `claims` before it is written, so that a worker whose connection died while it
    committed can still find (and release) what it may have claimed.
    """
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
            if claims is not None:
                claims.append(claim)
            Message.objects.filter(id__in=[m.pk for m in sending]).update(
                status=Message.Status.SENDING,
                claim=claim,
                claimed_until=now + LEASE,  # renewed as soon as the worker knows its slots
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


def outbox_reclaim_expired(now: datetime | None = None) -> int:
    """Messages whose worker died: back to the queue if never stamped, else failed as unknown, never resent."""
    now = now or timezone.now()
    expired = Message.objects.filter(status=Message.Status.SENDING, claimed_until__lt=now)
    requeued = expired.filter(attempted_at__isnull=True).update(
        status=Message.Status.QUEUED, claimed_until=None, updated_at=now
    )
    lost_ids = list(expired.filter(attempted_at__isnull=False).values_list("id", flat=True))
    lost = 0
    if lost_ids:
        lost = expired.filter(pk__in=lost_ids, attempted_at__isnull=False).update(
            status=Message.Status.FAILED,
            claimed_until=None,
            error_code=WORKER_LOST,
            error_message="the worker stopped while handing this text to the provider; it may have gone, "
            "so it is not sent again",
            updated_at=now,
        )
        log.warning("messages %s: their worker stopped while handing them over; marked %s", lost_ids, WORKER_LOST)
    return requeued + lost


def _send_batch(messages: list[Message], provider, report: SendReport, lead: Lead) -> None:
    """Hand a claimed batch to the provider, each text at its own slot, so no sender passes SMS_SENDER_MPS.

    Slots are reserved a few at a time; each reservation renews the lease of the texts still waiting. A worker
    that is not ready for a slot gives it up and takes the next one of its run that has not gone by (or reserves
    anew), rather than sending late, next to another worker's slot.
    """
    per_segment = 1.0 / (settings.SMS_SENDER_MPS * RATE_MARGIN)
    pending = sorted(messages, key=lambda m: m.sender)
    missed = 0
    while pending:
        run = [m for m in pending[:RESERVE_RUN] if m.sender == pending[0].sender]
        seconds = sum(m.segments for m in run) * per_segment
        asked = time.monotonic()
        slot = sender_reserve(run[0].sender, seconds, start=time.time() + lead.reserve + lead.stamp)
        _renew_lease(pending[0].claim, until=slot + seconds)
        lead.learn("reserve", time.monotonic() - asked)
        run_end = slot + seconds
        for message in run:
            outcome = LATE
            while slot + message.segments * per_segment <= run_end + 1e-6:
                outcome = _deliver(message, provider, report, slot=slot, lead=lead)
                if outcome != LATE:
                    missed = 0
                    break
                missed += 1
                if missed >= LATE_LIMIT:
                    log.warning("missed %s slots in a row; %s texts go back to the queue", missed, len(pending))
                    _release_unstamped([message.claim])
                    return
                # Give up the slots already gone, not the rest of the run.
                slot += per_segment * max(1, math.ceil((time.time() - slot) / per_segment))
            if outcome == LATE:
                break  # no room left in this run: reserve anew
            pending.remove(message)
            if outcome == SLOT_USED:
                slot += message.segments * per_segment


def _renew_lease(claim: str, *, until: float) -> None:
    """The claim's texts not yet handed over stay this worker's until `until` (Unix time) plus a lease."""
    Message.objects.filter(claim=claim, status=Message.Status.SENDING, attempted_at__isnull=True).update(
        claimed_until=timezone.now() + timedelta(seconds=max(0.0, until - time.time())) + LEASE
    )


# --- Handing one message to the provider ---------------------------------------------------------------

SLOT_USED, SLOT_FREE, LATE = "slot used", "slot free", "late"


def _deliver(
    message: Message, provider, report: SendReport, *, slot: float | None = None, lead: Lead | None = None
) -> str:
    """Hand one claimed message to the provider, at `slot` (Unix time) when paced.

    Answers SLOT_USED; SLOT_FREE when the text may not go now or another worker has it (the next text may take
    the slot); LATE when this worker was not ready within LATE_TOLERANCE of the slot (the text stays claimed,
    unstamped, for a new slot).
    """
    lead = lead or Lead()
    if slot is not None:
        sleep_until(slot - lead.stamp)
        if (late := time.time() - slot) > LATE_TOLERANCE:
            log.debug("message %s: %.1f ms late for its slot before stamping; a new slot", message.pk, late * 1000)
            return LATE
    now = timezone.now()
    validity = validity_period(message, now)
    if message.purpose == Message.Purpose.MARKETING and validity is None:
        # The window closed while it waited for its slot: back to the queue until it opens again.
        opens = windows.next_open(
            now,
            subscriber_zones(message.subscriber),
            gate_rules().window,
            windows.us_state_rules_for(message.subscriber.phone),
        )
        Message.objects.filter(pk=message.pk, status=Message.Status.SENDING, claim=message.claim).update(
            status=Message.Status.QUEUED,
            not_before=opens,
            claimed_until=None,
            updated_at=now,
            hold_reason="quiet hours began before it could be handed over",
        )
        report.held += 1
        return SLOT_FREE
    stamping = time.monotonic()
    try:
        stamped = _stamp(message, now)
    except DATABASE_FAULTS:
        # Written or not, the provider never saw it: once the connection is back, it goes back to the queue.
        _remember(partial(_put_back, message))
        raise
    lead.learn("stamp", time.monotonic() - stamping)
    if not stamped:
        # The last check failed: the subscriber said STOP while this text waited for its slot. (Or its lease ran
        # out and another worker claimed it: then it is the other worker's to send, and nothing is written.)
        cancelled = Message.objects.filter(pk=message.pk, status=Message.Status.SENDING, claim=message.claim).update(
            status=Message.Status.FAILED,
            error_code=OPTED_OUT,
            error_message=OPTED_OUT_REASON,
            claimed_until=None,
        )
        report.refused += cancelled
        return SLOT_FREE
    if slot is not None:
        try:
            sleep_until(slot)
        except BaseException:  # interrupted between the stamp and the call: it never left
            _put_back_quietly(message)
            raise
        if (late := time.time() - slot) > LATE_TOLERANCE:  # the stamp took too long: no sending late
            log.debug("message %s: stamped %.1f ms late for its slot; a new slot", message.pk, late * 1000)
            try:
                _unstamp(message)
            except DATABASE_FAULTS:
                _remember(partial(_put_back, message))
                raise
            return LATE
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
        return SLOT_USED
    sent_at = timezone.now()
    report.sent += 1
    report.last_outbound[message.subscriber_id] = sent_at
    report.outcomes.append((message.pk, "sent"))
    # Handed over: if the connection dies now, it is recorded as sent once it is back, and never sent again.
    _write_or_remember(partial(_record_sent, message, result.provider_message_id, sent_at))
    return SLOT_USED


def _handover_lease() -> timedelta:
    """Long enough for the provider to answer (connecting and reading each have the timeout)."""
    return LEASE + timedelta(seconds=2 * settings.TWILIO_TIMEOUT_SECONDS)


def _stamp(message: Message, now: datetime) -> bool:
    """Mark it handed over, if it is still this worker's and the subscriber has not opted out meanwhile."""
    return bool(
        Message.objects.filter(pk=message.pk, status=Message.Status.SENDING, claim=message.claim)
        .exclude(
            Q(subscriber__status=Subscriber.Status.UNSUBSCRIBED) & ~Q(purpose=Message.Purpose.OPT_OUT_CONFIRMATION)
        )
        .update(attempted_at=now, attempts=F("attempts") + 1, claimed_until=now + _handover_lease(), updated_at=now)
    )


def _unstamp(message: Message) -> None:
    """It did not go after all: still claimed, no longer stamped (or, if another worker marked it lost meanwhile,
    back to the queue: it provably never left)."""
    kept = Message.objects.filter(pk=message.pk, status=Message.Status.SENDING, claim=message.claim).update(
        attempted_at=None, attempts=message.attempts, claimed_until=timezone.now() + LEASE
    )
    if not kept:
        _put_back(message)


def _put_back(message: Message) -> None:
    """A text this worker claimed and provably never handed to the provider goes back to the queue; also when its
    lease ran out meanwhile and another worker marked it lost."""
    now = timezone.now()
    ours = Message.objects.filter(pk=message.pk, claim=message.claim)
    requeue = {
        "status": Message.Status.QUEUED,
        "attempted_at": None,
        "attempts": message.attempts,
        "claimed_until": None,
        "updated_at": now,
    }
    ours.filter(status=Message.Status.SENDING).update(**requeue)
    ours.filter(status=Message.Status.FAILED, error_code=WORKER_LOST).update(
        **requeue, error_code=message.error_code, error_message=message.error_message
    )


def _put_back_quietly(message: Message) -> None:
    try:
        _put_back(message)
    except Exception:  # noqa: BLE001 - the worker is stopping; its lease settles the text
        log.warning("message %s: could not put it back in the queue as the worker stopped", message.pk)


def _in_flight(message: Message):
    """The message while this worker's handover is its latest news (not a delivery report, not another worker)."""
    return Message.objects.filter(pk=message.pk, claim=message.claim).filter(
        Q(status=Message.Status.SENDING) | Q(status=Message.Status.FAILED, error_code__in=UNKNOWN_OUTCOME_CODES)
    )


def _record_sent(message: Message, provider_message_id: str, sent_at: datetime) -> None:
    recorded = _in_flight(message).update(
        status=Message.Status.SENT,
        provider_message_id=provider_message_id,
        sent_at=sent_at,
        claimed_until=None,
        error_code="",
        error_message="",
        updated_at=sent_at,
    )
    if not recorded:  # a delivery report came first and moved it on: keep its status, add when it left
        Message.objects.filter(pk=message.pk, sent_at__isnull=True).update(
            sent_at=sent_at, provider_message_id=provider_message_id, claimed_until=None
        )


def _record_failure(message: Message, error: ProviderError, report: SendReport) -> None:
    attempts = message.attempts + 1
    if error.retry and attempts < settings.SMS_MAX_ATTEMPTS:
        report.retried += 1
        report.outcomes.append((message.pk, "retry"))
        _write_or_remember(partial(_record_retry, message, error, attempts))
        return
    report.failed += 1
    report.outcomes.append((message.pk, f"failed:{error.code}"))
    _write_or_remember(partial(_record_failed, message, error))


def _record_retry(message: Message, error: ProviderError, attempts: int) -> None:
    """The provider certainly did not take it (a refused connection, a 429 or 5xx): queued again, unstamped."""
    now = timezone.now()
    backoff = RETRY_BACKOFF[min(attempts - 1, len(RETRY_BACKOFF) - 1)]
    _in_flight(message).update(
        status=Message.Status.QUEUED,
        not_before=now + backoff,
        attempted_at=None,
        attempts=attempts,
        claimed_until=None,
        error_code=error.code,
        error_message=error.message[:255],
        hold_reason=f"retry after {error.code}",
        updated_at=now,
    )


def _record_failed(message: Message, error: ProviderError) -> None:
    now = timezone.now()
    _in_flight(message).update(
        status=Message.Status.FAILED,
        claimed_until=None,
        error_code=error.code,
        error_message=error.message[:255],
        updated_at=now,
    )
    if error.code == UNSUBSCRIBED_ERROR:
        provider_opt_out(message, error)
