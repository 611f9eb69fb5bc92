"""The inbox's reads: an agent's list, a thread with other apps' labels, the rows beside it."""

from django.conf import settings
from django.db.models import Exists, F, OuterRef, Q, Subquery
from django.utils.module_loading import import_string

from .. import templating
from ..models import AttributeDefinition, Conversation, Message, Subscriber

INBOX_PAGE = 100
THREAD_LENGTH = 200


def inbox_conversations_for(user, *, view: str = "open", query: str = "") -> list[Conversation]:
    """The conversations an agent's list shows: a view (open, mine, unassigned, closed) and a search, newest first.

    One query: each row carries its subscriber, its assignee and its last text.
    """
    conversations = Conversation.objects.select_related("subscriber", "assignee")
    if view == "closed":
        conversations = conversations.filter(status=Conversation.Status.CLOSED)
    else:
        conversations = conversations.filter(status__in=Conversation.LIVE)
        if view == "mine":
            conversations = conversations.filter(assignee=user)
        elif view == "unassigned":
            conversations = conversations.filter(assignee__isnull=True)
    if query:
        digits = "".join(char for char in query if char.isdigit())
        said = Message.objects.filter(subscriber_id=OuterRef("subscriber_id"), body__icontains=query)
        # A name matches when every word is in the first or the last name: "Ana", "lima" and "Ana Lima" all find her.
        name = Q()
        for word in query.split():
            name &= Q(subscriber__first_name__icontains=word) | Q(subscriber__last_name__icontains=word)
        match = name | Q(Exists(said))
        if len(digits) >= 3:
            match |= Q(subscriber__phone__contains=digits)
        conversations = conversations.filter(match)
    last = Message.objects.filter(subscriber_id=OuterRef("subscriber_id")).order_by("-created_at", "-id")
    conversations = conversations.annotate(
        last_body=Subquery(last.values("body")[:1]), last_direction=Subquery(last.values("direction")[:1])
    )
    return list(conversations.order_by(F("last_message_at").desc(nulls_last=True), "-id")[:INBOX_PAGE])


def inbox_thread(conversation: Conversation) -> list[dict]:
    """The subscriber's texts (the last 200) and the agents' notes, oldest first, each with who or what sent it."""
    texts = list(
        Message.objects.filter(subscriber_id=conversation.subscriber_id)
        .select_related("sent_by")
        .order_by("-created_at", "-id")[:THREAD_LENGTH]
    )
    texts.reverse()
    labels: dict[int, str] = {}
    for path in settings.INBOX_MESSAGE_LABELS:  # other apps name their texts ("Flow: Welcome quiz")
        labels.update(import_string(path)(texts))
    items = [{"kind": "message", "at": m.created_at, "message": m, "label": _label(m, labels)} for m in texts]
    since = texts[0].created_at if len(texts) == THREAD_LENGTH else None
    notes = conversation.notes.select_related("author")
    notes = notes.filter(created_at__gte=since) if since else notes
    items += [{"kind": "note", "at": note.created_at, "note": note} for note in notes]
    return sorted(items, key=lambda item: item["at"])


def _label(message: Message, labels: dict[int, str]) -> str:
    if message.direction == Message.Direction.INBOUND:
        return ""
    if message.pk in labels:
        return labels[message.pk]
    if message.origin == Message.Origin.AGENT:
        return f"Agent: {message.sent_by.get_username()}" if message.sent_by else "Agent"
    return {"system": "Automatic", "flow": "Flow", "campaign": "Campaign"}.get(message.origin, message.origin)


def inbox_panels(subscriber: Subscriber) -> list[tuple[str, str]]:
    """Rows other apps add beside the thread, such as the flow the shopper is in."""
    rows: list[tuple[str, str]] = []
    for path in settings.INBOX_PANELS:
        rows.extend(import_string(path)(subscriber))
    return rows


def attribute_form_rows(subscriber: Subscriber, definitions: list[AttributeDefinition]) -> list[dict]:
    """One row per attribute definition for the agent's form: the current value and the choices."""
    rows = []
    for definition in definitions:
        value = subscriber.attributes.get(definition.key)
        chosen = value if isinstance(value, list) else ([] if value is None else [value])
        rows.append({"definition": definition, "value": value, "chosen": [str(item) for item in chosen]})
    return rows


def attribute_labels() -> dict[str, dict[str, str]]:
    """Each defined attribute's option labels ({key: {value: label}}), for |label in canned responses."""
    return {d.key: templating.option_labels(d.options) for d in AttributeDefinition.objects.all()}


def canned_scope() -> templating.Scope:
    """What a canned response may use: the standard variables (name, phone, store) and the defined attributes."""
    return templating.Scope(attribute_labels())
