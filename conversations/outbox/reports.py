"""Delivery reports: the provider's word on a text after it left (delivered, undelivered, failed)."""

from django.conf import settings
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from ..models import Message
from ..signals import provider_reported_opt_out
from ..sms.providers import UNSUBSCRIBED_ERROR, ProviderError

# Texts whose outcome the outbox does not know (their worker died while handing them over, or the provider did
# not answer): failed, never sent again, and corrected by a delivery report if one comes.
WORKER_LOST = "worker_lost"
UNKNOWN_OUTCOME_CODES = [WORKER_LOST, "no_answer"]

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
        # A text whose sid was never recorded (its worker died after the hand-over) is found by our own id, but
        # only once it was handed to the provider: a report can never deliver a text that never left.
        match |= Q(pk=message_id, provider_message_id__isnull=True, attempted_at__isnull=False)
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
        provider_opt_out(message, ProviderError(error_code, "reported by the delivery report", retry=False))
    return message


def status_callback_url(message: Message) -> str:
    """Where Twilio reports delivery: our own message id travels in the URL, so a report finds its message."""
    if not settings.PUBLIC_BASE_URL:
        return ""
    return f"{settings.PUBLIC_BASE_URL.rstrip('/')}{reverse('twilio-status')}?message={message.pk}"


def provider_opt_out(message: Message, error: ProviderError) -> None:
    """The provider says the number unsubscribed (it texted STOP to the carrier): opt them out here too.

    The opt-out is a consent change that cancels texts through the outbox, so the outbox asks for it by signal.
    """
    provider_reported_opt_out.send(
        sender=Message,
        subscriber_id=message.subscriber_id,
        details={"error_code": error.code, "message_id": message.pk, "reason": error.message},
    )
