"""The agents' inbox (`/inbox/`): a list of conversations, a thread, the shopper beside it, and the actions.

Every view checks the `conversations.use_inbox` permission (the Agents group has it). Pages are rendered on
the server; htmx swaps the fragments declared with `{% partialdef %}` in `inbox/inbox.html` and polls the
list and the thread, so new texts and delivery statuses appear without a reload.
"""

from functools import wraps
from zoneinfo import ZoneInfo

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import Permission
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from ..attributes import clean_value
from ..models import AttributeChange, AttributeDefinition, CannedResponse, ConsentEvent, Conversation, Subscriber
from ..outbox import SendRefused
from ..phones import normalize_phone
from ..services import subscriber_attributes_set, subscriber_opt_out
from ..sms import gate
from ..sms.encoding import count_summary
from . import selectors, services

VIEWS = {"open": "Open", "mine": "Mine", "unassigned": "Unassigned", "closed": "Closed"}


def agent_required(view):
    """Signed in, with the inbox permission (Agents group); anything else never reaches the view."""

    @login_required(login_url="inbox:login")
    @wraps(view)
    def check(request, *args, **kwargs):
        if not request.user.has_perm("conversations.use_inbox"):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return check


def _list_context(request) -> dict:
    view = request.GET.get("view") if request.GET.get("view") in VIEWS else "open"
    query = request.GET.get("q", "").strip()[:100]
    return {
        "view": view,
        "views": VIEWS,
        "q": query,
        "conversations": selectors.inbox_conversations_for(request.user, view=view, query=query),
    }


@agent_required
def inbox(request, pk: int | None = None):
    """The whole page: the list, and the chosen conversation with its shopper."""
    context = _list_context(request)
    if pk is not None:
        conversation = get_object_or_404(Conversation.objects.select_related("subscriber", "assignee"), pk=pk)
        services.conversation_mark_read(conversation=conversation)
        context.update(_thread_context(conversation), **_panel_context(conversation))
        context["current"] = conversation
    return render(request, "inbox/inbox.html", context)


@agent_required
def conversation_list(request):
    """htmx: the list again (polled), with the same filter and search."""
    context = _list_context(request)
    current = request.GET.get("current", "")
    context["current"] = Conversation(pk=int(current)) if current.isascii() and current.isdecimal() else None
    return render(request, "inbox/inbox.html#conversation-list", context)


@agent_required
def thread(request, pk: int):
    """htmx: the messages and notes again (polled); the agent is looking at them, so they are read."""
    conversation = get_object_or_404(Conversation.objects.select_related("subscriber", "assignee"), pk=pk)
    services.conversation_mark_read(conversation=conversation)
    return render(request, "inbox/inbox.html#thread", {"current": conversation, **_thread_context(conversation)})


def _thread_context(conversation: Conversation) -> dict:
    return {"items": selectors.inbox_thread(conversation), **_reply_context(conversation)}


def _reply_context(conversation: Conversation) -> dict:
    """What the reply box needs: whether they may be texted, their local time, the canned responses."""
    subscriber = conversation.subscriber
    now = timezone.now()
    local = now.astimezone(ZoneInfo(subscriber.time_zone)) if subscriber.time_zone else now
    last_text = subscriber.last_inbound_at
    return {
        "local_time": local,
        "quiet_hours": not 8 <= local.hour < 21,  # compliance.md: agents see a warning outside 08:00-21:00
        "replying": last_text is not None and now - last_text < gate.CONVERSATION_WINDOW,
        "can_text": subscriber.status != Subscriber.Status.UNSUBSCRIBED,
        "canned": CannedResponse.objects.all(),
    }


def _panel_context(conversation: Conversation) -> dict:
    subscriber = conversation.subscriber
    definitions = list(AttributeDefinition.objects.all())
    return {
        "subscriber": subscriber,
        "attribute_rows": selectors.attribute_form_rows(subscriber, definitions),
        "tags": list(subscriber.tags.values_list("name", flat=True)),
        "panels": selectors.inbox_panels(subscriber),
        "events": list(subscriber.events.order_by("-occurred_at", "-id")[:5]),
        "agents": _agents().order_by("username").only("id", "username"),
    }


def _agents():
    """The people a conversation can be given to: active users who may use the inbox."""
    can = Permission.objects.filter(content_type__app_label="conversations", codename="use_inbox")
    users = get_user_model().objects.filter(is_active=True)
    return users.filter(Q(is_superuser=True) | Q(groups__permissions__in=can) | Q(user_permissions__in=can)).distinct()


def _conversation(pk: int) -> Conversation:
    return get_object_or_404(Conversation.objects.select_related("subscriber", "assignee"), pk=pk)


def _back(request, conversation: Conversation, *fragments: str, **extra):
    """After an action: the fragments htmx asked for ("page": all of it again), or the whole page.

    A second fragment is swapped in out of band (closing a conversation changes the panel's flow run too).
    """
    if request.htmx and fragments[0] == "page":
        return HttpResponse(headers={"HX-Refresh": "true"})
    if request.htmx:
        context = {"current": conversation, **_thread_context(conversation), **_panel_context(conversation), **extra}
        html = render(request, f"inbox/inbox.html#{fragments[0]}", context).content
        for fragment in fragments[1:]:  # the flash messages were shown by the first one
            html += render(request, f"inbox/inbox.html#{fragment}", {**context, "oob": True, "messages": ()}).content
        return HttpResponse(html)
    return redirect("inbox:conversation", pk=conversation.pk)


@agent_required
@require_POST
def reply(request, pk: int):
    """Send the agent's reply through the send gate; the page says plainly when it may not go."""
    conversation = _conversation(pk)
    body = request.POST.get("body", "")
    try:
        services.conversation_reply(conversation=conversation, body=body, user=request.user)
    except SendRefused as refused:
        messages.error(request, f"Not sent: {refused.reason}")
    except ValidationError as error:
        messages.error(request, "Not sent: " + "; ".join(error.messages))
    else:
        body = ""
    conversation.refresh_from_db()
    return _back(request, conversation, "conversation", draft=body)  # a refused reply stays in the box


@agent_required
@require_POST
def note(request, pk: int):
    """An internal note, never sent."""
    conversation = _conversation(pk)
    body = request.POST.get("body", "").strip()
    if body:
        services.conversation_note_add(conversation=conversation, body=body[:4000], author=request.user)
    return _back(request, conversation, "conversation")


@agent_required
@require_POST
def assign(request, pk: int):
    conversation = _conversation(pk)
    who = request.POST.get("assignee", "")
    if who == "me":
        assignee = request.user
    elif who.isascii() and who.isdecimal() and len(who) <= 12:
        assignee = get_object_or_404(_agents(), pk=int(who))
    else:
        assignee = None
    services.conversation_assign(conversation=conversation, assignee=assignee)
    return _back(request, conversation, "conversation")


@agent_required
@require_POST
def set_status(request, pk: int):
    """Close, reopen, or mark pending (waiting on the shopper)."""
    conversation = _conversation(pk)
    status = request.POST.get("status")
    if status == Conversation.Status.CLOSED:
        services.conversation_close(conversation=conversation, by=request.user)
    elif status == Conversation.Status.OPEN and not conversation.is_live:
        services.conversation_open(
            subscriber=conversation.subscriber, reason=Conversation.Reason.AGENT, by=request.user
        )
    elif status in Conversation.LIVE and conversation.is_live:
        services.conversation_set_status(conversation=conversation, status=status)
    conversation.refresh_from_db()
    return _back(request, conversation, "conversation", "panel")  # the panel shows the runs paused or not


@agent_required
@require_POST
def attributes(request, pk: int):
    """The agent corrects or adds the shopper's answers; each change is recorded with source `agent`."""
    conversation = _conversation(pk)
    subscriber = conversation.subscriber
    changes = {}
    for definition in AttributeDefinition.objects.all():
        name = f"attribute__{definition.key}"
        if name not in request.POST:
            continue
        raw = request.POST.getlist(name) if definition.type == AttributeDefinition.Type.MULTIPLE_CHOICE else None
        value = [item for item in raw if item] if raw is not None else request.POST.get(name, "").strip()
        if value in ("", []):
            if definition.key in subscriber.attributes:
                changes[definition.key] = None
            continue
        try:
            cleaned = clean_value(definition, value)
        except ValidationError as error:
            messages.error(request, error.messages[0])
            return _back(request, conversation, "panel")
        if subscriber.attributes.get(definition.key) != cleaned:
            changes[definition.key] = cleaned
    if changes:
        try:
            subscriber_attributes_set(
                subscriber=subscriber, changes=changes, source=AttributeChange.Source.AGENT, user=request.user
            )
        except ValidationError as error:
            messages.error(request, "; ".join(error.messages))
        else:
            messages.success(request, "Saved: " + ", ".join(sorted(changes)))
    return _back(request, conversation, "panel")


@agent_required
@require_POST
def opt_out(request, pk: int):
    """compliance.md: an agent opts a shopper out in one click when their words meant stop."""
    conversation = _conversation(pk)
    subscriber = conversation.subscriber
    if subscriber.status != Subscriber.Status.UNSUBSCRIBED:
        subscriber_opt_out(
            subscriber=subscriber,
            source=ConsentEvent.Source.AGENT,
            details={"agent": request.user.get_username(), "conversation": conversation.pk},
        )
        messages.success(request, f"{subscriber.phone} is opted out; nothing more will be texted to them.")
    return _back(request, conversation, "page")


@agent_required
def canned(request, pk: int, canned_id: int):
    """htmx: the reply box holding a canned response, personalised for this shopper."""
    conversation = _conversation(pk)
    text = services.canned_render(get_object_or_404(CannedResponse, pk=canned_id), conversation.subscriber)
    context = {"current": conversation, **_reply_context(conversation), "draft": text}
    return render(request, "inbox/inbox.html#reply-box", context)


@agent_required
@require_POST
def count(request):
    """htmx: characters, encoding and segments of the reply being typed, counted as the pipeline counts."""
    body = request.POST.get("body", "")
    if not body:
        return HttpResponse("")
    return HttpResponse(count_summary(body))


@agent_required
def start(request):
    """An agent starts a conversation with a subscriber, by phone number."""
    if request.method == "POST":
        try:
            phone = normalize_phone(request.POST.get("phone", ""))
        except ValidationError as error:
            messages.error(request, error.messages[0])
            return redirect("inbox:home")
        subscriber = Subscriber.objects.filter(phone=phone).first()
        if subscriber is None:
            messages.error(request, f"No subscriber has the number {phone}.")
            return redirect("inbox:home")
        conversation = services.conversation_open(
            subscriber=subscriber, reason=Conversation.Reason.AGENT, by=request.user
        )
        return redirect("inbox:conversation", pk=conversation.pk)
    return redirect("inbox:home")
