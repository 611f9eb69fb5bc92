"""Inbound texts: stored first, then the compliance keywords, then the handler chain.

The path of a text in (architecture.md): the API or the Twilio webhook calls
`inbound_receive()`. It stores the text before anything else (the provider's
id makes a repeat harmless), then, in one transaction, answers STOP/HELP/START
and passes anything else along `settings.INBOUND_HANDLERS` (open inbox
conversation, active flow run, keyword trigger, inbox fallback), where the
first handler that takes the text ends the chain.
"""

import hashlib
import logging
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.module_loading import import_string

from ..models import ConsentEvent, Message, Subscriber
from ..outbox import SendRefused, message_queue
from ..phones import default_time_zone_for_phone, normalize_phone
from ..signals import send_isolated, subscriber_opted_in
from ..sms import keywords
from .compliance import compliance_text
from .subscribers import subscriber_opt_in, subscriber_opt_out

log = logging.getLogger(__name__)


@dataclass
class Inbound:
    """What a handler in INBOUND_HANDLERS is given: the text, its sender, and a way to answer."""

    message: Message
    subscriber: Subscriber

    @property
    def text(self) -> str:
        return self.message.body

    def reply(self, body: str, *, purpose: str = Message.Purpose.CONVERSATIONAL, **options) -> Message | None:
        """Queue an answer to this text through the send gate; None if the gate refuses it."""
        try:
            message = message_queue(
                subscriber=self.subscriber, body=body, purpose=purpose, in_reply_to=self.message, **options
            )
        except SendRefused:
            return None
        return message


@dataclass
class InboundResult:
    message: Message
    subscriber: Subscriber
    replies: list[Message]
    created: bool  # False when the provider id was seen before: nothing was done twice


def inbound_receive(
    *,
    from_number: str,
    to_number: str = "",
    body: str = "",
    provider_message_id: str | None = None,
    media_urls=(),
) -> InboundResult:
    """Store an inbound text, then act on it once: keywords, then the handler chain.

    The text is inserted first and committed whatever happens next: processing runs inside a savepoint, so
    an error there rolls back only the processing (the text stays, unprocessed, and the error is raised
    after the commit, so that the provider retries and the retry processes it). If the process dies before
    the commit, the sender got no answer and sends the text again.
    """
    errors = {}
    try:
        phone = normalize_phone(from_number)
    except ValidationError as error:
        errors["from"] = error.messages
    media_urls = [url for url in (media_urls or []) if url]
    if not isinstance(body, str) or (not body.strip() and not media_urls):
        errors["body"] = ["the text has no body and no media"]
    if errors:
        raise ValidationError(errors)
    provider_message_id = provider_message_id or None
    try:
        with transaction.atomic():
            subscriber, _ = Subscriber.objects.select_for_update().get_or_create(
                phone=phone, defaults={"time_zone": default_time_zone_for_phone(phone)}
            )
            message = Message.objects.create(
                subscriber=subscriber,
                direction=Message.Direction.INBOUND,
                sender=to_number[:32],
                body=body,
                media_urls=media_urls,
                status=Message.Status.RECEIVED,
                provider_message_id=provider_message_id,
                origin=Message.Origin.SUBSCRIBER,
                segments=1,
                processed_at=timezone.now(),  # cleared again if processing fails
            )
            result, failure = _process(message, subscriber)
    except IntegrityError:
        # This provider id was stored before: a retry, or two deliveries of one text at once.
        return _receive_again(provider_message_id, phone, to_number, body, media_urls)
    if failure is not None:
        raise failure
    return result


def _receive_again(provider_message_id, phone, to_number, body, media_urls) -> InboundResult:
    existing = None
    if provider_message_id:
        existing = Message.objects.filter(provider_message_id=provider_message_id).select_related("subscriber").first()
    if existing is None:  # the subscriber was created concurrently, not the message: try once more
        return inbound_receive(
            from_number=phone,
            to_number=to_number,
            body=body,
            provider_message_id=provider_message_id,
            media_urls=media_urls,
        )
    return _process_stored(existing)


def _process_stored(message: Message) -> InboundResult:
    """Process a stored text whose first processing failed (a repeat delivery, or the sweep)."""
    with transaction.atomic():
        # Claim it: the row lock makes a concurrent delivery wait, then find it done.
        claimed = Message.objects.filter(pk=message.pk, processed_at__isnull=True).update(processed_at=timezone.now())
        if not claimed:
            return _result(message, created=False)
        subscriber = Subscriber.objects.select_for_update().get(pk=message.subscriber_id)
        result, failure = _process(message, subscriber)
    if failure is not None:
        raise failure
    return result


SWEEP_AFTER = timedelta(seconds=30)
SWEEP_ATTEMPTS = 3


def inbound_process_pending(now=None) -> int:
    """Process again, up to SWEEP_ATTEMPTS times, stored texts whose processing failed (providers rarely retry)."""
    now = now or timezone.now()
    pending = (
        Message.objects.filter(
            direction=Message.Direction.INBOUND,
            processed_at__isnull=True,
            created_at__lt=now - SWEEP_AFTER,
            attempts__lt=SWEEP_ATTEMPTS,
        )
        .select_related("subscriber")
        .order_by("id")[:100]
    )
    done = 0
    for message in pending:
        try:
            _process_stored(message)
            done += 1
        except Exception:  # noqa: BLE001 - already logged and counted; the next pass tries again
            pass
    return done


def _process(message: Message, subscriber: Subscriber) -> tuple[InboundResult, Exception | None]:
    """Keywords, then the handler chain, in a savepoint; a failure leaves the stored text unprocessed."""
    inbound = Inbound(message=message, subscriber=subscriber)
    try:
        with transaction.atomic():
            Subscriber.objects.filter(pk=subscriber.pk).update(last_inbound_at=message.created_at)
            subscriber.last_inbound_at = message.created_at
            if not _answer_keyword(inbound):
                _run_handlers(inbound)
    except Exception as error:  # noqa: BLE001 - the text must be kept whatever went wrong
        log.exception("inbound text %s was stored but its processing failed", message.pk)
        Message.objects.inbound().filter(pk=message.pk).update(processed_at=None, attempts=F("attempts") + 1)
        message.processed_at = None
        return InboundResult(message=message, subscriber=subscriber, replies=[], created=True), error
    # The subscriber as the handlers left them, and every text queued in answer, whoever queued it.
    subscriber.refresh_from_db(fields=["status", "attributes", "opted_in_at", "opted_out_at"])
    replies = list(Message.objects.filter(in_reply_to=message).order_by("id"))
    return InboundResult(message=message, subscriber=subscriber, replies=replies, created=True), None


def _answer_keyword(inbound: Inbound) -> bool:
    """STOP, HELP and START (and sign-up keywords), as compliance.md section 1 lays out. True if it was one."""
    subscriber, message = inbound.subscriber, inbound.message
    match = keywords.classify(message.body)
    signup = _is_signup_keyword(message.body)
    proof = {"message_id": message.pk, "provider_message_id": message.provider_message_id, "to": message.sender}
    if match and match.kind == keywords.OPT_OUT:
        if subscriber.status != Subscriber.Status.UNSUBSCRIBED:
            subscriber_opt_out(
                subscriber=subscriber,
                source=ConsentEvent.Source.KEYWORD,
                raw_text=message.body,
                details={**proof, "matched_rule": match.rule},
                at=message.created_at,
            )
            inbound.reply(compliance_text("SMS_OPT_OUT_CONFIRMATION"), purpose=Message.Purpose.OPT_OUT_CONFIRMATION)
        return True
    if signup or (match and match.kind == keywords.OPT_IN):
        yes = not signup and match.keyword == "YES"
        if subscriber.status == Subscriber.Status.SUBSCRIBED:
            return not yes  # START or JOIN again changes nothing; YES is an answer for a flow
        if yes and subscriber.status == Subscriber.Status.PENDING:
            return False  # YES resubscribes only someone who opted out; otherwise it is conversation
        terms = compliance_text("SMS_OPT_IN_CONFIRMATION")  # the program's terms, as they are texted to them
        subscriber_opt_in(
            subscriber=subscriber,
            source=ConsentEvent.Source.KEYWORD,
            raw_text=message.body,
            details={
                **proof,
                "keyword": keywords.normalize(message.body).upper(),
                "program_terms": terms,
                "program_terms_sha256": hashlib.sha256(terms.encode()).hexdigest(),
            },
            at=message.created_at,
        )
        inbound.reply(terms, purpose=Message.Purpose.SYSTEM)
        send_isolated(subscriber_opted_in, sender=Subscriber, subscriber=subscriber, message=message)
        return True
    if match and match.kind == keywords.HELP:
        ConsentEvent.objects.create(
            subscriber=subscriber,
            phone=subscriber.phone,
            kind=ConsentEvent.Kind.HELP,
            source=ConsentEvent.Source.KEYWORD,
            raw_text=message.body,
            details=proof,
            occurred_at=message.created_at,
        )
        inbound.reply(compliance_text("SMS_HELP_TEXT"), purpose=Message.Purpose.SYSTEM)
        return True
    return False


def _is_signup_keyword(body: str) -> bool:
    compact = keywords.normalize(body).replace(" ", "")
    return compact in {word.strip().casefold() for word in settings.SMS_SIGNUP_KEYWORDS}


def _run_handlers(inbound: Inbound) -> None:
    for path in settings.INBOUND_HANDLERS:
        if import_string(path)(inbound):
            return


def _result(message: Message, *, created: bool) -> InboundResult:
    replies = list(Message.objects.filter(in_reply_to=message).order_by("id"))
    return InboundResult(message=message, subscriber=message.subscriber, replies=replies, created=created)


__all__ = ["Inbound", "InboundResult", "inbound_receive", "inbound_process_pending"]
