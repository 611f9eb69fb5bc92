"""The agents' inbox pages through Django's test client and the real templates: who may see them, how many
queries they cost, and what an agent sees and does on them."""

import re
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import Group, Permission
from django.utils import timezone
from rest_framework.test import APIClient

from conversations import services
from conversations.inbox import services as inbox
from conversations.models import (
    AttributeChange,
    AttributeDefinition,
    CannedResponse,
    ConsentEvent,
    Conversation,
    ConversationNote,
    Message,
    Subscriber,
)
from flows.models import Flow, FlowRun
from flows.services import flow_templates_load
from tests.conversations.test_inbox import NIGHT_CANDIDATES, a_zone_where_it_is_night
from tests.factories import MessageFactory, SubscriberFactory, UserFactory, api_key_for

pytestmark = pytest.mark.django_db
PHONE = "+14155550100"
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def agent(db):
    user = UserFactory(username="agent")
    user.groups.add(Group.objects.get(name="Agents"))
    return user


@pytest.fixture
def agent_client(client, agent):
    client.force_login(agent)
    return client


def inbound(subscriber: Subscriber, body: str) -> Message:
    """A text from the shopper through the real inbound pipeline."""
    return services.inbound_receive(from_number=subscriber.phone, to_number="+18885550000", body=body).message


@pytest.fixture
def ana(db) -> Subscriber:
    return SubscriberFactory(phone=PHONE, first_name="Ana", last_name="Lima", time_zone="America/Los_Angeles")


@pytest.fixture
def talk(ana) -> Conversation:
    """Ana asked something no flow answers: her conversation is open with one unread text."""
    inbound(ana, "do you ship to Canada?")
    return Conversation.objects.get(subscriber=ana)


# --- Who may see what ------------------------------------------------------------------------------------------

# name, method, path, data, what an allowed user gets
PAGES = [
    ("list", "get", "/inbox/", {}, 200),
    ("conversation", "get", "/inbox/{pk}/", {}, 200),
    ("thread", "get", "/inbox/{pk}/thread/", {}, 200),
    ("list partial", "get", "/inbox/list/", {"view": "open"}, 200),
    ("reply", "post", "/inbox/{pk}/reply/", {"body": "Yes we do!"}, 302),
    ("note", "post", "/inbox/{pk}/note/", {"body": "asked twice"}, 302),
    ("assign", "post", "/inbox/{pk}/assign/", {"assignee": "me"}, 302),
    ("status", "post", "/inbox/{pk}/status/", {"status": "pending"}, 302),
    ("attributes", "post", "/inbox/{pk}/attributes/", {"attribute__size": "M"}, 302),
    ("opt-out", "post", "/inbox/{pk}/opt-out/", {}, 302),
    ("canned", "get", "/inbox/{pk}/canned/{canned}/", {}, 200),
    ("count", "post", "/inbox/count/", {"body": "Hello"}, 200),
    ("start", "post", "/inbox/start/", {"phone": PHONE}, 302),
]


def state_of(talk: Conversation) -> tuple:
    """Everything an inbox page could change: to check that a refused request changed none of it."""
    talk = Conversation.objects.get(pk=talk.pk)
    subscriber = talk.subscriber
    return (
        talk.status,
        talk.assignee_id,
        talk.unread,
        subscriber.status,
        dict(subscriber.attributes),
        Message.objects.count(),
        ConversationNote.objects.count(),
        AttributeChange.objects.count(),
        ConsentEvent.objects.count(),
    )


def call(client, talk, method, path, data, **headers):
    canned = CannedResponse.objects.get(title="Shipping to Canada")
    return getattr(client, method)(path.format(pk=talk.pk, canned=canned.pk), data, **headers)


@pytest.mark.parametrize(("name", "method", "path", "data", "allowed"), PAGES, ids=[page[0] for page in PAGES])
def test_anonymous_visitors_are_sent_to_the_inbox_login(client, talk, name, method, path, data, allowed):
    before = state_of(talk)
    response = call(client, talk, method, path, data)
    assert response.status_code == 302
    assert response["Location"].startswith("/inbox/login/?next=")
    assert state_of(talk) == before


@pytest.mark.parametrize(("name", "method", "path", "data", "allowed"), PAGES, ids=[page[0] for page in PAGES])
def test_an_api_token_is_no_login_for_the_pages(client, talk, name, method, path, data, allowed):
    user = UserFactory(username="helpdesk")
    user.user_permissions.set(Permission.objects.filter(codename__in=["view_conversation", "add_message"]))
    key = api_key_for(user)
    before = state_of(talk)
    response = call(client, talk, method, path, data, HTTP_AUTHORIZATION=f"Token {key}")
    assert response.status_code == 302 and response["Location"].startswith("/inbox/login/")
    assert state_of(talk) == before


@pytest.mark.parametrize(("name", "method", "path", "data", "allowed"), PAGES, ids=[page[0] for page in PAGES])
def test_a_signed_in_user_without_the_inbox_permission_is_refused(client, talk, name, method, path, data, allowed):
    client.force_login(UserFactory(username="someone"))
    before = state_of(talk)
    response = call(client, talk, method, path, data)
    assert response.status_code == 403
    assert state_of(talk) == before


@pytest.mark.parametrize(("name", "method", "path", "data", "allowed"), PAGES, ids=[page[0] for page in PAGES])
def test_an_agent_may_use_every_inbox_page(agent_client, talk, name, method, path, data, allowed):
    response = call(agent_client, talk, method, path, data)
    assert response.status_code == allowed
    if allowed == 302:
        assert not response["Location"].startswith("/inbox/login/")


@pytest.mark.parametrize(("name", "method", "path", "data", "allowed"), PAGES, ids=[page[0] for page in PAGES])
def test_staff_may_use_every_inbox_page(client, talk, name, method, path, data, allowed):
    client.force_login(UserFactory(username="boss", is_staff=True, is_superuser=True))
    response = call(client, talk, method, path, data)
    assert response.status_code == allowed
    if allowed == 302:
        assert not response["Location"].startswith("/inbox/login/")


@pytest.mark.parametrize(
    "path",
    ["/admin/", "/admin/flows/flow/", "/admin/flows/flow/add/", "/admin/segments/segment/", "/segments/new/"],
)
def test_an_agent_cannot_reach_flow_segment_or_store_configuration(agent_client, path):
    response = agent_client.get(path)
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_the_home_page_sends_an_agent_to_the_inbox(agent_client):
    response = agent_client.get("/")
    assert (response.status_code, response["Location"]) == (302, "/inbox/")


def test_an_agent_sent_to_the_login_comes_back_to_the_inbox(client, agent, talk):
    sent = client.get(f"/inbox/{talk.pk}/")
    assert sent["Location"] == f"/inbox/login/?next=/inbox/{talk.pk}/"
    response = client.post(
        "/inbox/login/", {"username": "agent", "password": "a-long-test-password", "next": f"/inbox/{talk.pk}/"}
    )
    assert (response.status_code, response["Location"]) == (302, f"/inbox/{talk.pk}/")
    assert client.get(f"/inbox/{talk.pk}/").status_code == 200


def test_signing_in_at_the_bare_inbox_login_lands_in_the_inbox(client, agent):
    """The demo login printed by `make run` says "inbox at /inbox/": an agent may well open /inbox/login/ first."""
    page = client.get("/inbox/login/").content.decode()
    form = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', page))
    form.update(username="agent", password="a-long-test-password")
    response = client.post("/inbox/login/", form)
    assert (response.status_code, response["Location"]) == (302, "/inbox/")


# --- The API's permissions ------------------------------------------------------------------------------------

API = [
    ("list", "get", "/api/v1/conversations/", None, 200),
    ("retrieve", "get", "/api/v1/conversations/{pk}/", None, 200),
    ("reply", "post", "/api/v1/conversations/{pk}/messages/", {"body": "Yes, 5-8 days."}, 201),
]


def api_call(client: APIClient, talk, method, path, data):
    url = path.format(pk=talk.pk)
    return getattr(client, method)(url, data, format="json") if data is not None else getattr(client, method)(url)


# Who asks, and whether they may read conversations and post replies.
CALLERS = {
    "anonymous": (False, False),
    "a wrong token": (False, False),
    "a signed-in user without permissions": (False, False),
    "an agent (inbox only)": (False, False),
    "a staff superuser": (True, True),
    "a token without permissions": (False, False),
    "a token with view conversation": (True, False),
    "a token with add message": (False, False),
    "a token with view conversation and add message": (True, True),
}


def client_for(who: str, agent) -> APIClient:
    client = APIClient()
    if who == "a wrong token":
        client.credentials(HTTP_AUTHORIZATION="Token " + "0" * 40)
    elif who == "a signed-in user without permissions":
        client.force_login(UserFactory(username="someone"))
    elif who == "an agent (inbox only)":
        client.force_login(agent)
    elif who == "a staff superuser":
        client.force_login(UserFactory(username="boss", is_staff=True, is_superuser=True))
    elif who.startswith("a token"):
        codenames = [name for name in ("view_conversation", "add_message") if name.replace("_", " ") in who]
        user = UserFactory(username="helpdesk")
        user.user_permissions.set(Permission.objects.filter(codename__in=codenames))
        client.credentials(HTTP_AUTHORIZATION=f"Token {api_key_for(user)}")
    return client


@pytest.mark.parametrize("who", list(CALLERS))
@pytest.mark.parametrize(("name", "method", "path", "data", "allowed"), API, ids=[row[0] for row in API])
def test_the_conversations_api_by_who_asks(talk, agent, who, name, method, path, data, allowed):
    may_read, may_reply = CALLERS[who]
    may = may_read if method == "get" else may_read and may_reply
    unauthenticated = who in ("anonymous", "a wrong token")
    before = Message.objects.count()
    response = api_call(client_for(who, agent), talk, method, path, data)
    assert response.status_code == (allowed if may else 401 if unauthenticated else 403), response.content
    if not may:
        assert Message.objects.count() == before


# --- Query counts -----------------------------------------------------------------------------------------------


def make_conversations(count: int, agent) -> None:
    for index in range(count):
        subscriber = SubscriberFactory(first_name=f"Shopper{index}")
        MessageFactory(subscriber=subscriber, direction="outbound", body="Welcome!", origin="system")
        inbound(subscriber, f"question number {index}?")
        if index % 2:
            inbox.conversation_assign(conversation=subscriber.conversation, assignee=agent)


LIST_QUERIES = 5  # session, user, its two permission reads, the conversations with their last texts


@pytest.mark.parametrize("rows", [5, 30])
def test_the_list_costs_the_same_queries_for_5_or_30_conversations(
    agent_client, agent, rows, django_assert_max_num_queries
):
    make_conversations(rows, agent)
    with django_assert_max_num_queries(LIST_QUERIES):
        page = agent_client.get("/inbox/")
    assert page.content.decode().count('data-conversation="') == rows
    with django_assert_max_num_queries(LIST_QUERIES):
        partial = agent_client.get("/inbox/list/", {"view": "open"}, **HTMX)
    assert partial.content.decode().count('data-conversation="') == rows


def make_thread(ana: Subscriber, agent, texts: int) -> Conversation:
    """A thread of `texts` texts: the shopper's, the welcome quiz's, a campaign's and agents', and some notes."""
    flow_templates_load()
    quiz = Flow.objects.get(name="Welcome quiz")
    run = FlowRun.objects.create(flow=quiz, version=quiz.live_version, subscriber=ana, state={})
    inbound(ana, "do you ship to Canada?")
    talk = Conversation.objects.get(subscriber=ana)
    kinds = [
        {"direction": "inbound", "origin": "subscriber", "status": "received"},
        {"direction": "outbound", "origin": "flow", "origin_id": run.pk},
        {"direction": "outbound", "origin": "agent", "sent_by": agent},
        {"direction": "outbound", "origin": "campaign"},  # origin_id: a campaign recipient, one text each
    ]
    for index in range(texts - 1):
        kind = kinds[index % len(kinds)]
        if kind["origin"] == "campaign":
            kind = {**kind, "origin_id": 1000 + index}
        MessageFactory(subscriber=ana, body=f"text {index}", **kind)
        if index % 10 == 0:
            inbox.conversation_note_add(conversation=talk, body=f"note {index}", author=agent)
    return talk


THREAD_QUERIES = 10  # the texts, their senders, the notes, one label query per app (flows, campaigns), …
CONVERSATION_PAGE_QUERIES = 16


@pytest.mark.parametrize("texts", [5, 50])
def test_the_thread_costs_the_same_queries_for_5_or_50_texts(
    agent_client, agent, ana, texts, django_assert_max_num_queries
):
    talk = make_thread(ana, agent, texts)
    with django_assert_max_num_queries(THREAD_QUERIES):
        thread = agent_client.get(f"/inbox/{talk.pk}/thread/", **HTMX)
    assert thread.content.decode().count('data-message="') == texts
    with django_assert_max_num_queries(CONVERSATION_PAGE_QUERIES):
        page = agent_client.get(f"/inbox/{talk.pk}/")
    assert page.content.decode().count('data-message="') == texts
    assert "Flow: Welcome quiz" in page.content.decode() and "Agent: agent" in page.content.decode()


# --- What an agent sees and does ------------------------------------------------------------------------------


def test_the_thread_labels_automated_texts_and_shows_the_shopper(agent_client, agent, ana):
    talk = make_thread(ana, agent, 5)
    services.subscriber_attributes_set(subscriber=ana, changes={"size": "M"}, source="flow")
    html = agent_client.get(f"/inbox/{talk.pk}/").content.decode()
    assert "Ana Lima" in html and PHONE in html
    assert "Flow: Welcome quiz" in html
    assert "Campaign" in html
    assert "Agent: agent" in html
    assert "do you ship to Canada?" in html
    assert "Note · agent" in html and "note 0" in html
    assert 'id="subscriber-status">Subscribed<' in html
    assert re.search(r'<option value="M" selected>Medium</option>', html)
    assert "Welcome quiz" in html and "automation paused" in html


def test_opening_a_conversation_marks_it_read(agent_client, talk):
    assert talk.unread == 1
    agent_client.get(f"/inbox/{talk.pk}/")
    talk.refresh_from_db()
    assert talk.unread == 0


def test_a_reply_shows_in_the_thread_as_queued_then_sent(agent_client, agent, talk, console):
    response = agent_client.post(f"/inbox/{talk.pk}/reply/", {"body": "Yes, 5-8 business days!"})
    assert (response.status_code, response["Location"]) == (302, f"/inbox/{talk.pk}/")
    reply = Message.objects.get(direction="outbound")
    assert (reply.body, reply.origin, reply.sent_by, reply.status) == (
        "Yes, 5-8 business days!",
        "agent",
        agent,
        "queued",
    )
    thread = agent_client.get(f"/inbox/{talk.pk}/thread/", **HTMX).content.decode()
    assert "Yes, 5-8 business days!" in thread
    assert '<span class="delivery queued">queued</span>' in thread
    console.send_due()
    assert "Yes, 5-8 business days!" in console.printed
    thread = agent_client.get(f"/inbox/{talk.pk}/thread/", **HTMX).content.decode()
    assert '<span class="delivery sent">sent</span>' in thread


def test_an_htmx_reply_answers_with_the_conversation_holding_it(agent_client, talk):
    response = agent_client.post(f"/inbox/{talk.pk}/reply/", {"body": "Hi Ana, yes!"}, **HTMX)
    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith('<section id="conversation"')
    assert "Hi Ana, yes!" in html and "queued" in html


def test_an_empty_reply_is_refused_with_a_message(agent_client, talk):
    html = agent_client.post(f"/inbox/{talk.pk}/reply/", {"body": "   "}, follow=True).content.decode()
    assert "Not sent: the text is empty" in html
    assert not Message.objects.filter(direction="outbound").exists()


def test_a_note_shows_in_the_thread_and_is_never_a_text(agent_client, agent, talk):
    before = Message.objects.count()
    html = agent_client.post(f"/inbox/{talk.pk}/note/", {"body": "VIP, asked twice"}, **HTMX).content.decode()
    assert "VIP, asked twice" in html and "Note · agent" in html
    note = ConversationNote.objects.get()
    assert (note.conversation, note.author, note.body) == (talk, agent, "VIP, asked twice")
    assert Message.objects.count() == before
    assert not Message.objects.filter(body__contains="VIP").exists()


def test_assign_to_me_to_someone_and_to_nobody(agent_client, agent, talk):
    agent_client.post(f"/inbox/{talk.pk}/assign/", {"assignee": "me"})
    talk.refresh_from_db()
    assert talk.assignee == agent
    colleague = UserFactory(username="colleague")
    colleague.groups.add(Group.objects.get(name="Agents"))
    agent_client.post(f"/inbox/{talk.pk}/assign/", {"assignee": str(colleague.pk)})
    talk.refresh_from_db()
    assert talk.assignee == colleague
    agent_client.post(f"/inbox/{talk.pk}/assign/", {"assignee": ""})
    talk.refresh_from_db()
    assert talk.assignee is None
    # Only people who may use the inbox are offered, and taken.
    outsider = UserFactory(username="api-only")
    page = agent_client.get(f"/inbox/{talk.pk}/").content.decode()
    assert ">colleague</option>" in page and ">api-only</option>" not in page
    assert agent_client.post(f"/inbox/{talk.pk}/assign/", {"assignee": str(outsider.pk)}).status_code == 404
    talk.refresh_from_db()
    assert talk.assignee is None


def test_pending_close_and_reopen(agent_client, agent, talk):
    agent_client.post(f"/inbox/{talk.pk}/status/", {"status": "pending"})
    talk.refresh_from_db()
    assert talk.status == "pending"
    html = agent_client.post(f"/inbox/{talk.pk}/status/", {"status": "closed"}, **HTMX).content.decode()
    talk.refresh_from_db()
    assert talk.status == "closed" and talk.closed_at is not None
    assert "Reopen" in html and "automation paused" not in html
    agent_client.post(f"/inbox/{talk.pk}/status/", {"status": "open"})
    talk.refresh_from_db()
    assert (talk.status, talk.closed_at, talk.reason, talk.assignee) == ("open", None, "agent", agent)


def test_editing_answers_records_the_agent_as_the_source(agent_client, agent, talk):
    response = agent_client.post(
        f"/inbox/{talk.pk}/attributes/", {"attribute__size": "m", "attribute__skin_type": "oily"}, **HTMX
    )
    assert response.status_code == 200
    assert "Saved: size, skin_type" in response.content.decode()
    ana = Subscriber.objects.get(phone=PHONE)
    assert ana.attributes == {"size": "M", "skin_type": "oily"}
    changes = AttributeChange.objects.filter(subscriber=ana)
    assert {(c.key, c.new_value, c.source, c.changed_by) for c in changes} == {
        ("size", "M", "agent", agent),
        ("skin_type", "oily", "agent", agent),
    }


def test_an_answer_can_be_cleared(agent_client, talk):
    services.subscriber_attributes_set(subscriber=talk.subscriber, changes={"size": "M"}, source="flow")
    agent_client.post(f"/inbox/{talk.pk}/attributes/", {"attribute__size": ""})
    assert "size" not in Subscriber.objects.get(phone=PHONE).attributes
    assert AttributeChange.objects.get(source="agent").new_value is None


def test_a_bad_answer_is_refused_with_a_message_and_changes_nothing(agent_client, talk):
    response = agent_client.post(
        f"/inbox/{talk.pk}/attributes/", {"attribute__size": "M", "attribute__skin_type": "greasy"}, **HTMX
    )
    html = response.content.decode()
    assert "skin_type must be one of dry, oily, combination, normal or sensitive (got &#x27;greasy&#x27;)" in html
    assert Subscriber.objects.get(phone=PHONE).attributes == {}
    assert not AttributeChange.objects.exists()
    # Without htmx the message is on the page the agent is sent back to.
    page = agent_client.post(f"/inbox/{talk.pk}/attributes/", {"attribute__size": "XXXL"}, follow=True).content.decode()
    assert "size must be one of XS, S, M, L, XL or XXL" in page
    assert Subscriber.objects.get(phone=PHONE).attributes == {}


def test_deselecting_every_option_of_a_multiple_choice_answer_clears_it(agent_client, talk):
    services.subscriber_attributes_set(subscriber=talk.subscriber, changes={"diet": ["vegan"]}, source="flow")
    page = agent_client.get(f"/inbox/{talk.pk}/").content.decode()
    assert '<input type="hidden" name="attribute__diet" value="">' in page
    # What the page's form posts when the agent deselects "vegan": the hidden empty value, and nothing selected.
    form = {f"attribute__{key}": "" for key in ["size", "skin_type", "hair_type", "gift_recipient", "gender", "diet"]}
    agent_client.post(f"/inbox/{talk.pk}/attributes/", form)
    assert "diet" not in Subscriber.objects.get(phone=PHONE).attributes


def test_the_opt_out_button_opts_the_shopper_out_as_the_agent(agent_client, agent, talk):
    response = agent_client.post(f"/inbox/{talk.pk}/opt-out/", **HTMX)
    assert response["HX-Refresh"] == "true"
    ana = Subscriber.objects.get(phone=PHONE)
    assert ana.status == "unsubscribed"
    consent = ConsentEvent.objects.get(kind="opt_out")
    assert (consent.source, consent.details["agent"], consent.details["conversation"]) == ("agent", "agent", talk.pk)
    html = agent_client.get(f"/inbox/{talk.pk}/").content.decode()
    assert f"{PHONE} opted out: they cannot be texted" in html
    assert 'id="reply-body"' not in html and "Opt out this subscriber" not in html


def test_a_reply_to_an_opted_out_shopper_is_refused_plainly(agent_client, talk):
    services.subscriber_opt_out(subscriber=talk.subscriber, source="admin")
    html = agent_client.post(f"/inbox/{talk.pk}/reply/", {"body": "Hello?"}, follow=True).content.decode()
    assert f"Not sent: {PHONE} has opted out; nothing may be sent to them" in html
    assert not Message.objects.filter(direction="outbound", origin="agent").exists()


def test_a_canned_response_is_personalised(agent_client, talk):
    canned = CannedResponse.objects.get(title="Shipping to Canada")
    html = agent_client.get(f"/inbox/{talk.pk}/canned/{canned.pk}/", **HTMX).content.decode()
    assert ">Hi Ana! Yes, we ship to Canada: 5-8 business days, free over $75.</textarea>" in html
    Subscriber.objects.filter(phone=PHONE).update(first_name="")
    html = agent_client.get(f"/inbox/{talk.pk}/canned/{canned.pk}/", **HTMX).content.decode()
    assert ">Hi there! Yes, we ship to Canada" in html


def test_a_canned_response_with_the_shoppers_answers(agent_client, talk):
    services.subscriber_attributes_set(subscriber=talk.subscriber, changes={"size": "L"}, source="flow")
    canned = CannedResponse.objects.create(title="Size", body="{{ first_name }}, size {{ attributes.size }} is in.")
    html = agent_client.get(f"/inbox/{talk.pk}/canned/{canned.pk}/", **HTMX).content.decode()
    assert ">Ana, size L is in.</textarea>" in html


def test_a_canned_response_speaks_the_language_of_every_text(agent_client, talk, settings):
    settings.PARLEY_STORE_NAME = "Acme"
    AttributeDefinition.objects.update_or_create(
        key="size", defaults={"label": "Size", "type": "single_choice", "options": [{"value": "L", "label": "Large"}]}
    )
    services.subscriber_attributes_set(subscriber=talk.subscriber, changes={"size": "L"}, source="flow")
    body = "{{ first_name|upper }}, {{ attributes.size|label|lower }} is in at {{ store }}. {{ First }}"
    canned = CannedResponse.objects.create(title="Size label", body=body)
    html = agent_client.get(f"/inbox/{talk.pk}/canned/{canned.pk}/", **HTMX).content.decode()
    assert ">ANA, large is in at Acme. {{ First }}</textarea>" in html


def test_the_admin_names_what_is_wrong_in_a_canned_response(admin_client):
    response = admin_client.post(
        "/admin/conversations/cannedresponse/add/",
        {"title": "Typo", "body": "Hi {{ frist_name }}, {{ first_name|capfirst }}"},
    )
    assert response.status_code == 200 and not CannedResponse.objects.filter(title="Typo").exists()
    page = response.content.decode()
    assert "unknown variable {{ frist_name }}" in page and "unknown filter &#x27;capfirst&#x27;" in page
    response = admin_client.post(
        "/admin/conversations/cannedresponse/add/", {"title": "Fine", "body": 'Hi {{ first_name|default:"there" }}'}
    )
    assert response.status_code == 302 and CannedResponse.objects.filter(title="Fine").exists()


def test_after_picking_a_canned_response_the_others_are_still_offered(agent_client, talk):
    canned = CannedResponse.objects.get(title="Shipping to Canada")
    html = agent_client.get(f"/inbox/{talk.pk}/canned/{canned.pk}/", **HTMX).content.decode()
    assert ">Returns</option>" in html


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("Hello", "5 characters · GSM-7 · 1 segment"),
        ("x" * 160, "160 characters · GSM-7 · 1 segment"),
        ("x" * 161, "161 characters · GSM-7 · 2 segments"),
        ("Thanks 👍", "9 characters · UCS-2 · 1 segment"),
        ("👍" * 36, "72 characters · UCS-2 · 2 segments"),
    ],
)
def test_the_live_counter_counts_as_the_pipeline_does(agent_client, body, expected):
    response = agent_client.post("/inbox/count/", {"body": body}, **HTMX)
    assert response.content.decode() == expected


def conversation_names(client, **query) -> list[str]:
    html = client.get("/inbox/list/", query, **HTMX).content.decode()
    return re.findall(r'<span class="name">([^<]+)</span>', html)


@pytest.fixture
def several(agent):
    """Four shoppers: Ana (open, mine), Bo (open, nobody's), Cy (pending, a colleague's), Di (closed)."""
    colleague = UserFactory(username="colleague")
    people = {}
    for name, last, phone, said in [
        ("Ana", "Lima", "+14155550100", "do you ship to Canada?"),
        ("Bo", "Berg", "+12125550101", "my parcel never came"),
        ("Cy", "Cole", "+13125550102", "can I swap for a medium"),
        ("Di", "Diaz", "+13055550103", "thanks, all good now"),
    ]:
        people[name] = SubscriberFactory(phone=phone, first_name=name, last_name=last)
        inbound(people[name], said)
    talks = {name: Conversation.objects.get(subscriber=subscriber) for name, subscriber in people.items()}
    inbox.conversation_assign(conversation=talks["Ana"], assignee=agent)
    inbox.conversation_assign(conversation=talks["Cy"], assignee=colleague)
    inbox.conversation_set_status(conversation=talks["Cy"], status="pending")
    inbox.conversation_close(conversation=talks["Di"])
    return talks


@pytest.mark.parametrize(
    ("view", "expected"),
    [("open", {"Ana Lima", "Bo Berg", "Cy Cole"}), ("mine", {"Ana Lima"}), ("unassigned", {"Bo Berg"})]
    + [("closed", {"Di Diaz"})],
)
def test_the_views_filter_the_list(agent_client, several, view, expected):
    assert set(conversation_names(agent_client, view=view)) == expected


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("415", ["Ana Lima"]),
        ("(212) 555-0101", ["Bo Berg"]),
        ("+1 312 555 0102", ["Cy Cole"]),
        ("bo", ["Bo Berg"]),
        ("COLE", ["Cy Cole"]),
        ("canada", ["Ana Lima"]),
        ("parcel never", ["Bo Berg"]),
        ("nothing like this", []),
    ],
)
def test_search_by_phone_name_and_words(agent_client, several, query, expected):
    assert conversation_names(agent_client, view="open", q=query) == expected


def test_search_by_full_name(agent_client, several):
    assert conversation_names(agent_client, view="open", q="Ana Lima") == ["Ana Lima"]


def test_search_finds_words_the_store_wrote_too(agent_client, several):
    inbox.conversation_reply(conversation=several["Bo"], body="We re-sent it by express")
    assert conversation_names(agent_client, view="open", q="express") == ["Bo Berg"]


def test_the_list_shows_unread_badges_and_the_newest_first(agent_client, several):
    ana = several["Ana"].subscriber
    inbound(ana, "also, do you have it in blue?")
    html = agent_client.get("/inbox/list/", {"view": "open"}, **HTMX).content.decode()
    assert re.findall(r'<span class="name">([^<]+)</span>', html) == ["Ana Lima", "Cy Cole", "Bo Berg"]
    assert re.findall(r'<span class="badge" aria-label="(\d+) unread">', html) == ["2", "1", "1"]
    assert "also, do you have it in blue?" in html
    agent_client.get(f"/inbox/{several['Ana'].pk}/")
    html = agent_client.get("/inbox/list/", {"view": "open"}, **HTMX).content.decode()
    assert re.findall(r'<span class="badge" aria-label="(\d+) unread">', html) == ["1", "1"]


def test_a_reply_shows_as_the_lists_preview(agent_client, several):
    inbox.conversation_reply(conversation=several["Bo"], body="We re-sent it today")
    html = agent_client.get("/inbox/list/", {"view": "open"}, **HTMX).content.decode()
    assert re.findall(r'<span class="name">([^<]+)</span>', html)[0] == "Bo Berg"
    assert "You: We re-sent it today" in html


def test_an_agent_starts_a_conversation_by_phone(agent_client, agent):
    bo = SubscriberFactory(phone="+12125550101", first_name="Bo")
    response = agent_client.post("/inbox/start/", {"phone": "(212) 555-0101"})
    started = Conversation.objects.get(subscriber=bo)
    assert (response.status_code, response["Location"]) == (302, f"/inbox/{started.pk}/")
    assert (started.status, started.reason, started.assignee) == ("open", "agent", agent)


def test_starting_with_an_unknown_number_says_so(agent_client):
    html = agent_client.post("/inbox/start/", {"phone": "+12125550199"}, follow=True).content.decode()
    assert "No subscriber has the number +12125550199." in html
    assert not Conversation.objects.exists()


def test_the_panel_shows_the_paused_flow_and_recent_events(agent_client):
    flow_templates_load()
    services.inbound_receive(from_number=PHONE, body="START")
    services.inbound_receive(from_number=PHONE, body="do you ship to Canada?")
    services.event_record(phone=PHONE, type="cart_abandoned")
    talk = Conversation.objects.get(subscriber__phone=PHONE)
    html = agent_client.get(f"/inbox/{talk.pk}/").content.decode()
    assert "Welcome quiz at ask_size · waiting for a reply · paused until this conversation closes" in html
    assert "cart_abandoned" in html
    assert "automation paused" in html


def local_clock(zone: str) -> set[str]:
    """What a clock in `zone` shows now, and a moment later (the test may straddle a minute)."""
    now = timezone.now()
    return {(now + timedelta(seconds=s)).astimezone(ZoneInfo(zone)).strftime("%H:%M") for s in (0, 5)}


def test_at_night_where_the_shopper_is_the_agent_is_warned(agent_client, talk):
    zone = a_zone_where_it_is_night()
    Subscriber.objects.filter(pk=talk.subscriber_id).update(time_zone=zone)
    html = agent_client.get(f"/inbox/{talk.pk}/").content.decode()
    shown = re.search(r"It is (\d\d:\d\d) where they are\. (.*?)</p>", html)
    assert shown, html
    assert shown.group(1) in local_clock(zone)  # their time, not the server's
    assert shown.group(2) == "A reply to their text is fine; anything else waits for the morning."
    Subscriber.objects.filter(pk=talk.subscriber_id).update(last_inbound_at=timezone.now() - timedelta(days=2))
    html = agent_client.get(f"/inbox/{talk.pk}/").content.decode()
    assert "Your text will wait until the send window opens." in html


def test_in_the_daytime_there_is_no_warning(agent_client, talk):
    now = timezone.now()
    zone = next(zone for zone in NIGHT_CANDIDATES if 10 <= now.astimezone(ZoneInfo(zone)).hour < 19)
    Subscriber.objects.filter(pk=talk.subscriber_id).update(time_zone=zone)
    html = agent_client.get(f"/inbox/{talk.pk}/").content.decode()
    assert "where they are." not in html
    assert re.search(r"their time (\d\d:\d\d)", html).group(1) in local_clock(zone)


def test_what_a_shopper_writes_is_shown_as_text_never_as_html(agent_client, ana):
    Subscriber.objects.filter(pk=ana.pk).update(first_name="<b>Ana</b>")
    inbound(ana, '<script>alert("hi")</script>')
    talk = Conversation.objects.get(subscriber=ana)
    for html in (
        agent_client.get(f"/inbox/{talk.pk}/").content.decode(),
        agent_client.get("/inbox/list/", **HTMX).content.decode(),
        agent_client.get(f"/inbox/{talk.pk}/thread/", **HTMX).content.decode(),
    ):
        assert "<script>alert" not in html and "<b>Ana</b>" not in html
    assert "&lt;script&gt;alert" in agent_client.get(f"/inbox/{talk.pk}/thread/", **HTMX).content.decode()
    canned = CannedResponse.objects.get(title="Returns")
    html = agent_client.get(f"/inbox/{talk.pk}/canned/{canned.pk}/", **HTMX).content.decode()
    assert "Hi &lt;b&gt;Ana&lt;/b&gt;, returns are free" in html
