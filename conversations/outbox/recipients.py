"""What the send gate needs to know from the database: the store's rules, and each recipient's recent texts."""

from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q
from django.db.models.functions import Coalesce

from ..models import Conversation, Message, Subscriber
from ..phones import time_zones_for_phone
from ..sms import gate, windows


class SendRefused(Exception):
    """The send gate refused a text; `reason` says why in words a person can act on."""

    def __init__(self, decision: gate.Decision):
        super().__init__(decision.reason)
        self.reason = decision.reason
        self.code = decision.code


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
            zones=subscriber_zones(subscriber),
            marketing_sent_at=tuple(sent[subscriber.pk]),
            talking=subscriber.pk in talking,
        )
        for subscriber in subscribers
    }


def subscriber_zones(subscriber: Subscriber) -> tuple[str, ...]:
    """The zones a subscriber may be in: their number's, then the one on their record."""
    return tuple(dict.fromkeys([*time_zones_for_phone(subscriber.phone), subscriber.time_zone]))


def validity_period(message: Message, now: datetime) -> int | None:
    """Marketing only: seconds until the recipient's window closes (None when it is closed)."""
    if message.purpose != Message.Purpose.MARKETING:
        return None
    subscriber = message.subscriber
    recipient = gate.Recipient(subscriber.phone, subscriber.status, None, None, subscriber_zones(subscriber))
    return gate.validity_period(now, recipient, gate_rules())
