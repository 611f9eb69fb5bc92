"""The inbox: conversations between a shopper and the store's agents.

A conversation opens when a text reaches the end of the inbound chain unhandled, when a flow hands off, or when
an agent starts one. While it is open (or pending) automation keeps quiet: the inbound chain gives the
subscriber's texts to the conversation before any flow sees them, and flows pause their runs (signals
`conversation_opened` / `conversation_closed`). Agent replies go through the send gate like every text.
"""

import logging
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from .. import templating
from ..helpdesk.services import helpdesk_notify
from ..models import CannedResponse, Conversation, ConversationNote, Message, Subscriber
from ..outbox import message_queue
from ..signals import conversation_closed, conversation_opened, send_isolated
from .selectors import attribute_labels

log = logging.getLogger(__name__)


def conversation_open(
    *, subscriber: Subscriber, reason: str, note: str = "", by=None, at: datetime | None = None
) -> Conversation:
    """Open (or reopen) the subscriber's conversation; automation pauses until it closes. Safe to call twice."""
    at = at or timezone.now()
    with transaction.atomic():
        conversation, created = Conversation.objects.select_for_update().get_or_create(
            subscriber=subscriber,
            defaults={"reason": reason, "handoff_note": note[:255], "opened_at": at, "last_message_at": at},
        )
        # A hand-off comes from a text of theirs that no agent has seen yet: it counts as unread.
        unread = 1 if reason == Conversation.Reason.HANDOFF else 0
        if not created and conversation.is_live:
            if note and not conversation.handoff_note:
                Conversation.objects.filter(pk=conversation.pk).update(
                    handoff_note=note[:255], unread=F("unread") + unread
                )
            return conversation
        if not created:
            conversation.status, conversation.reason = Conversation.Status.OPEN, reason
            conversation.handoff_note, conversation.opened_at, conversation.closed_at = note[:255], at, None
            conversation.assignee = by if by is not None else conversation.assignee
            conversation.unread = unread
            conversation.save(
                update_fields=["status", "reason", "handoff_note", "opened_at", "closed_at", "assignee", "unread"]
            )
        else:
            Conversation.objects.filter(pk=conversation.pk).update(assignee=by, unread=unread)
            conversation.assignee, conversation.unread = by, unread
        send_isolated(conversation_opened, sender=Conversation, conversation=conversation)
        helpdesk_notify("conversation.opened", conversation, {"reason": reason, "note": note})
    return conversation


def conversation_take_inbound(*, conversation: Conversation, message: Message) -> None:
    """A shopper's text lands in their conversation: unread, newest, and passed on to the help desk.

    A conversation closed in the meantime is opened again properly (so that their runs pause again).
    """
    landed = Conversation.objects.filter(pk=conversation.pk, status__in=Conversation.LIVE).update(
        unread=F("unread") + 1, last_message_at=message.created_at, status=Conversation.Status.OPEN
    )
    if not landed:
        conversation = conversation_open(subscriber=conversation.subscriber, reason=Conversation.Reason.INBOUND)
        Conversation.objects.filter(pk=conversation.pk).update(
            unread=F("unread") + 1, last_message_at=message.created_at
        )
    # The help desk is told the conversation as the text left it: a pending one is open again.
    conversation.status, conversation.last_message_at = Conversation.Status.OPEN, message.created_at
    helpdesk_notify("message.inbound", conversation, {"message": _message_payload(message)})


def conversation_reply(*, conversation: Conversation, body: str, user=None) -> Message:
    """Queue an agent's reply through the send gate (raises SendRefused, e.g. when they opted out).

    Replying in a closed conversation opens it again: a person is talking, so automation waits.
    """
    if not Conversation.objects.filter(pk=conversation.pk, status__in=Conversation.LIVE).exists():
        conversation_open(subscriber=conversation.subscriber, reason=Conversation.Reason.AGENT, by=user)
    last_inbound = (
        Message.objects.filter(subscriber_id=conversation.subscriber_id, direction=Message.Direction.INBOUND)
        .order_by("-created_at", "-id")
        .first()
    )
    message = message_queue(
        subscriber=conversation.subscriber,
        body=body,
        purpose=Message.Purpose.CONVERSATIONAL,
        origin=Message.Origin.AGENT,
        origin_id=conversation.pk,
        sent_by=user,
        in_reply_to=last_inbound,
    )
    Conversation.objects.filter(pk=conversation.pk).update(last_message_at=message.created_at, unread=0)
    return message


def conversation_note_add(*, conversation: Conversation, body: str, author=None) -> ConversationNote:
    """An internal note: kept on the thread, never sent."""
    return ConversationNote.objects.create(conversation=conversation, body=body.strip(), author=author)


def conversation_assign(*, conversation: Conversation, assignee) -> None:
    """Give the conversation to an agent (None: nobody)."""
    Conversation.objects.filter(pk=conversation.pk).update(assignee=assignee)
    conversation.assignee = assignee


def conversation_mark_read(*, conversation: Conversation) -> None:
    if conversation.unread:
        Conversation.objects.filter(pk=conversation.pk).update(unread=0)
        conversation.unread = 0


def conversation_set_status(*, conversation: Conversation, status: str) -> None:
    """Open ↔ pending (waiting on the shopper); closing goes through `conversation_close`."""
    if status not in Conversation.LIVE:
        raise ValueError(f"a live conversation can be set to open or pending, not {status!r}")
    # Only while it is live: a conversation closed meanwhile stays closed (reopening pauses runs again).
    if Conversation.objects.filter(pk=conversation.pk, status__in=Conversation.LIVE).update(status=status):
        conversation.status = status


def conversation_close(*, conversation: Conversation, by=None) -> None:
    """Close it; flows resume the subscriber's paused runs, or end them (settings.INBOX_CLOSE_RESUMES_FLOWS)."""
    with transaction.atomic():
        updated = Conversation.objects.filter(pk=conversation.pk, status__in=Conversation.LIVE).update(
            status=Conversation.Status.CLOSED, closed_at=timezone.now(), unread=0
        )
        conversation.refresh_from_db()
        if updated:
            send_isolated(
                conversation_closed,
                sender=Conversation,
                conversation=conversation,
                resume_flows=settings.INBOX_CLOSE_RESUMES_FLOWS,
            )


def canned_render(canned: CannedResponse, subscriber: Subscriber) -> str:
    """A canned response with the subscriber's name and answers filled in (the language of every text)."""
    template = templating.parse(canned.body)
    labels = attribute_labels() if template.uses_filter("label") else {}
    values = {
        "first_name": subscriber.first_name,
        "last_name": subscriber.last_name,
        "phone": subscriber.phone,
        "attributes": subscriber.attributes,
        "store": settings.PARLEY_STORE_NAME,
    }
    return templating.render(template, values, labels=labels).strip()


# --- The inbound chain (settings.INBOUND_HANDLERS) ------------------------------------------------------


def inbound_to_open_conversation(inbound) -> bool:
    """First in the chain: a subscriber with a live conversation is talking to a person, not to automation."""
    conversation = (
        Conversation.objects.select_for_update()
        .filter(subscriber=inbound.subscriber, status__in=Conversation.LIVE)
        .first()
    )
    if conversation is None:
        return False
    conversation_take_inbound(conversation=conversation, message=inbound.message)
    return True


def inbound_open_conversation(inbound) -> bool:
    """Last in the chain: a text nothing else handled opens a conversation for an agent."""
    conversation = conversation_open(subscriber=inbound.subscriber, reason=Conversation.Reason.INBOUND)
    conversation_take_inbound(conversation=conversation, message=inbound.message)
    return True


def _message_payload(message: Message) -> dict:
    return {
        "id": message.pk,
        "direction": message.direction,
        "body": message.body,
        "media_urls": message.media_urls,
        "created_at": message.created_at.isoformat(),
    }


__all__ = [
    "canned_render",
    "conversation_assign",
    "conversation_close",
    "conversation_mark_read",
    "conversation_note_add",
    "conversation_open",
    "conversation_reply",
    "conversation_set_status",
    "conversation_take_inbound",
    "inbound_open_conversation",
    "inbound_to_open_conversation",
]
