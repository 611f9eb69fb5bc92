"""The demo's open inbox conversations, loaded by `seed_demo` after the shoppers."""

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from ..models import Conversation, Message, Subscriber
from ..sms.encoding import count_segments

DEMO_QUESTIONS = [
    "Do you have the linen shirt in blue?",
    "When will my order ship? It's been 4 days",
    "Can I return a gift without the receipt?",
]


def demo_conversations_load() -> list[str]:
    """A few open inbox conversations, so that the inbox has something to show (only when it has none)."""
    if Conversation.objects.exists():
        return []
    # The US demo shoppers (the shoppers abroad are kept free of chats, so campaigns reach them at once).
    shoppers = list(
        Subscriber.objects.subscribed().filter(phone__startswith="+1").order_by("id")[: len(DEMO_QUESTIONS)]
    )
    now = timezone.now()
    opened = []
    for minutes_ago, (shopper, question) in enumerate(zip(shoppers, DEMO_QUESTIONS, strict=False), start=1):
        at = now - timedelta(minutes=minutes_ago * 7)
        counted = count_segments(question)
        message = Message.objects.create(
            subscriber=shopper,
            direction=Message.Direction.INBOUND,
            sender=settings.SMS_SENDER,
            body=question,
            status=Message.Status.RECEIVED,
            origin=Message.Origin.SUBSCRIBER,
            segments=counted.segments,
            encoding=counted.encoding,
            processed_at=at,
        )
        Message.objects.filter(pk=message.pk).update(created_at=at, updated_at=at)
        Subscriber.objects.filter(pk=shopper.pk).update(last_inbound_at=at)
        Conversation.objects.create(subscriber=shopper, unread=1, opened_at=at, last_message_at=at)
        opened.append(shopper.phone)
    return opened
