"""A help-desk agent works the inbox as a person would (issue 8's "Done when").

A shopper in the welcome quiz asks a question; the conversation turns up in the open inbox without a reload;
the agent reads it, corrects the shopper's size, answers with a canned response and watches it go from queued
to sent; notes stay internal; closing the conversation lets the paused flow go on.
"""

import importlib
import io
import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import Group, Permission
from django.core.management import call_command
from playwright.sync_api import expect

from conversations.models import AttributeChange, CannedResponse, Conversation, ConversationNote, Message, Subscriber
from conversations.services import inbound_receive
from conversations.sms.encoding import count_segments
from flows.models import FlowRun
from tests.browser.conftest import watch
from tests.factories import UserFactory, api_key_for

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

STORE_NUMBER = "+18885550000"
AGENT_LOGIN = re.compile(r"Agent login \(inbox at /inbox/\): (\S+) / (\S+)")
POLLED = 10000  # ms: the list polls every 4 s and the thread every 3 s; wait for a poll or two, never blindly
QUESTION = "do you ship to Canada?"


@pytest.fixture
def demo(settings, tmp_path, transactional_db):
    """`make run`'s data: the demo store, and the demo agent login that ensure_admin prints."""
    settings.VAR_DIR = tmp_path
    restore_migrated_data()
    call_command("seed_demo", "--subscribers", "50")
    printed = io.StringIO()
    call_command("ensure_admin", stdout=printed)
    match = AGENT_LOGIN.search(printed.getvalue())
    assert match, printed.getvalue()
    return match.groups()


def restore_migrated_data() -> None:
    """The Agents group and the canned responses, as the data migration made them: a transactional test
    empties every table when it ends, so whichever test ran before may have removed them."""
    migration = importlib.import_module("conversations.migrations.0009_agents_group")
    agents, _ = Group.objects.get_or_create(name="Agents")
    agents.permissions.add(
        *Permission.objects.filter(content_type__app_label="conversations", codename__in=migration.AGENT_PERMISSIONS)
    )
    for title, body in migration.CANNED:
        CannedResponse.objects.get_or_create(title=title, defaults={"body": body})


def text(subscriber: Subscriber, body: str):
    """The shopper texts the store (the inbound pipeline, as the inbound API and Twilio's webhook call it)."""
    return inbound_receive(from_number=subscriber.phone, to_number=STORE_NUMBER, body=body)


def log_in(page, live_server, username: str, password: str) -> None:
    page.goto(f"{live_server.url}/inbox/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/inbox/")
    expect(page.locator(".topbar .who")).to_contain_text(username)


def settled(page) -> None:
    """Wait until htmx has settled what it swapped in: until then the new buttons and selects do nothing."""
    expect(page.locator(".htmx-added, .htmx-settling")).to_have_count(0)


def mark_page(page) -> None:
    """A flag on this very page: still there later means nothing reloaded it."""
    page.evaluate("window.parleyNotReloaded = true")


def assert_not_reloaded(page) -> None:
    assert page.evaluate("window.parleyNotReloaded === true"), "the page was reloaded"


def test_agent_answers_a_question_from_a_shopper_in_a_flow(page, live_server, demo, console, screenshot):
    username, password = demo
    problems = watch(page)

    # A new shopper texts START: subscribed, and the welcome quiz asks their size.
    # (A shopper who is already subscribed and texts START again changes nothing, as compliance.md says.)
    shopper = Subscriber.objects.filter(status=Subscriber.Status.PENDING).exclude(first_name="").order_by("id").first()
    assert shopper is not None
    text(shopper, "START")
    shopper.refresh_from_db()
    assert shopper.status == Subscriber.Status.SUBSCRIBED
    run = FlowRun.objects.get(subscriber=shopper)
    assert (run.flow.name, run.current_node, run.waiting_for, run.paused_at) == (
        "Welcome quiz",
        "ask_size",
        "reply",
        None,
    )
    assert not Conversation.objects.filter(subscriber=shopper).exists()

    # The agent logs in with the printed demo login: the demo's open conversations, not this shopper.
    log_in(page, live_server, username, password)
    demo_open = Conversation.objects.filter(status="open").count()
    assert demo_open == 3
    expect(page.locator("#conversation-list li[data-conversation]")).to_have_count(demo_open)
    mark_page(page)

    # Mid-quiz the shopper asks a question, delivered through the inbound API by the store's SMS gateway: it
    # opens a conversation, which turns up in the open inbox without a reload.
    gateway = UserFactory(username="sms-gateway")
    gateway.user_permissions.set(Permission.objects.filter(codename="add_message"))
    response = page.request.post(
        f"{live_server.url}/api/v1/messages/inbound/",
        headers={"Authorization": f"Token {api_key_for(gateway)}"},
        data={"from": shopper.phone, "to": STORE_NUMBER, "body": QUESTION, "provider_message_id": "SM-canada"},
    )
    assert response.status == 201, response.text()
    assert response.json()["replies"] == []  # no automated answer: a person will
    conversation = Conversation.objects.get(subscriber=shopper)
    assert (conversation.status, conversation.reason, conversation.unread) == ("open", "inbound", 1)
    run.refresh_from_db()
    assert run.paused_at is not None and run.current_node == "ask_size"
    row = page.locator(f"#conversation-list li[data-conversation='{conversation.pk}']")
    expect(row).to_be_visible(timeout=POLLED)
    expect(row.locator(".badge")).to_have_text("1")
    expect(row.locator(".name")).to_have_text(shopper.full_name)
    expect(row.locator(".preview")).to_have_text(QUESTION)
    assert_not_reloaded(page)

    # The agent opens it: the question in the thread, the quiz shown paused beside it, the badge gone.
    # Their local time (the server's clock is UTC) is read between two clock readings around the page's making,
    # as a minute may turn meanwhile.
    zone = ZoneInfo(shopper.time_zone)
    before = datetime.now(zone).strftime("%H:%M")
    row.locator("a").click()
    page.wait_for_url(f"{live_server.url}/inbox/{conversation.pk}/**")
    thread = page.locator("#thread")
    expect(thread.locator("li.inbound").last).to_contain_text(QUESTION)
    expect(thread.locator("li.outbound", has_text="Quick quiz")).to_contain_text("Flow: Welcome quiz")
    expect(page.locator("#panel .panel-flow")).to_contain_text("Welcome quiz")
    expect(page.locator("#panel .panel-flow")).to_contain_text("paused until this conversation closes")
    expect(page.locator(".status-line")).to_contain_text("automation paused")
    status_line = page.locator(".status-line").inner_text()
    after = datetime.now(zone).strftime("%H:%M")
    assert f"their time {before}" in status_line or f"their time {after}" in status_line, status_line
    expect(thread.locator("li.inbound").last).to_be_in_viewport()  # the thread opens at its newest text
    expect(page.locator(f"#conversation-list li[data-conversation='{conversation.pk}'] .badge")).to_have_count(0)
    conversation.refresh_from_db()
    assert conversation.unread == 0
    mark_page(page)

    # The agent sets their size in the Answers form: recorded as the agent's change.
    old_size = shopper.attributes.get("size")
    new_size = "L" if old_size != "L" else "XL"
    page.select_option("#attribute__size", new_size)
    page.get_by_role("button", name="Save answers").click()
    expect(page.locator("#panel .flash")).to_contain_text("Saved: size")
    expect(page.locator("#attribute__size")).to_have_value(new_size)
    settled(page)
    shopper.refresh_from_db()
    assert shopper.attributes["size"] == new_size
    change = AttributeChange.objects.filter(subscriber=shopper, key="size").order_by("-id").first()
    assert (change.old_value, change.new_value, change.source, change.changed_by.username) == (
        old_size,
        new_size,
        AttributeChange.Source.AGENT,
        username,
    )

    # A canned response fills the reply box, with the shopper's first name; the counter counts it.
    page.select_option("select[aria-label='Canned responses']", label="Shipping to Canada")
    reply = f"Hi {shopper.first_name}! Yes, we ship to Canada: 5-8 business days, free over $75."
    box = page.locator("#reply-body")
    expect(box).to_have_value(reply)
    settled(page)
    counted = count_segments(reply)
    expect(page.locator("#reply-count")).to_have_text(f"{counted.units} characters · {counted.encoding} · 1 segment")
    # The counter follows the typing: past 160 GSM-7 characters it is two segments.
    box.click()
    page.keyboard.press("End")
    extra = " Order by Friday and it ships Monday, tracked all the way. Anything else I can help you with today?"
    page.keyboard.type(extra)
    reply += extra
    counted = count_segments(reply)
    assert counted.segments == 2
    expect(page.locator("#reply-count")).to_have_text(f"{counted.units} characters · {counted.encoding} · 2 segments")
    # The other canned responses are still there to pick from.
    expect(page.locator("select[aria-label='Canned responses'] option")).to_have_count(4)

    # Before sending, an internal note and taking the conversation: the reply being written stays.
    page.fill("#note-body", "Told them about Canada shipping; check back Friday")
    page.get_by_role("button", name="Add note").click()
    expect(page.locator("#note-body")).to_have_value("")  # the conversation was drawn again (a poll may be first)
    settled(page)
    expect(thread.locator("li.note")).to_contain_text("Told them about Canada shipping")
    expect(thread.locator("li.note")).to_contain_text(f"Note · {username}")
    expect(thread.locator("li.note")).to_be_in_viewport()
    page.select_option("#assignee", "me")
    expect(page.locator("#assignee option:checked")).to_have_text(username)
    settled(page)
    expect(box).to_have_value(reply)
    expect(page.locator("#reply-count")).to_have_text(f"{counted.units} characters · {counted.encoding} · 2 segments")
    conversation.refresh_from_db()
    assert conversation.assignee.username == username
    assert ConversationNote.objects.filter(conversation=conversation).count() == 1

    # Send: the reply is in the thread, queued.
    page.get_by_role("button", name="Send").click()
    sent_row = thread.locator("li.outbound", has_text="Order by Friday")
    expect(sent_row).to_contain_text(f"Agent: {username}")
    expect(sent_row.locator(".delivery")).to_have_text("queued")
    message = Message.objects.get(subscriber=shopper, origin=Message.Origin.AGENT)
    assert (message.body, message.status, message.sent_by.username) == (reply, "queued", username)
    expect(box).to_have_value("")

    # The outbox worker sends it through the console provider; the thread shows it sent, without a reload.
    console.send_due()
    expect(sent_row.locator(".delivery")).to_have_text("sent", timeout=POLLED)
    assert f"[sms] to {shopper.phone}" in console.printed
    assert reply in console.printed
    assert_not_reloaded(page)

    # The note was never sent.
    assert "check back Friday" not in console.printed
    assert not Message.objects.filter(body__contains="check back Friday").exists()

    # The shopper answers while the thread is open: it appears there, in sight, without a reload.
    text(shopper, "Great, thank you! Ordering now")
    expect(thread.locator("li.inbound").last).to_contain_text("Ordering now", timeout=POLLED)
    expect(thread.locator("li.inbound").last).to_be_in_viewport()
    assert_not_reloaded(page)
    run.refresh_from_db()
    assert run.paused_at is not None and run.current_node == "ask_size"  # the quiz did not take it as a size
    listed = page.locator(f"#conversation-list li[data-conversation='{conversation.pk}']")
    expect(listed.locator(".preview")).to_have_text("Great, thank you! Ordering now", timeout=POLLED)
    expect(listed.locator(".meta")).to_have_text(f"Open · {username}")
    expect(listed.locator(".badge")).to_have_count(0, timeout=POLLED)  # read: the agent has it open
    screenshot("inbox")

    # The agent closes the conversation: the quiz goes on where it was.
    page.click("#close-conversation")
    expect(page.locator(".status-line")).to_contain_text("Closed")
    expect(page.get_by_role("button", name="Reopen")).to_be_visible()
    expect(page.locator("#panel .panel-flow")).not_to_contain_text("paused")
    conversation.refresh_from_db()
    assert conversation.status == Conversation.Status.CLOSED
    run.refresh_from_db()
    assert (run.paused_at, run.current_node, run.waiting_for) == (None, "ask_size", "reply")
    expect(page.locator(f"#conversation-list li[data-conversation='{conversation.pk}']")).to_have_count(
        0, timeout=POLLED
    )
    assert problems == []


def test_an_opted_out_shopper_cannot_be_texted(page, live_server, demo):
    username, password = demo
    problems = watch(page)
    gone = Subscriber.objects.filter(status=Subscriber.Status.UNSUBSCRIBED).order_by("id").first()
    log_in(page, live_server, username, password)

    # The agent starts a conversation with someone who opted out: the page says plainly they cannot be texted.
    page.fill("input[name=phone]", gone.phone)
    page.get_by_role("button", name="Start").click()
    conversation = Conversation.objects.get(subscriber=gone)
    page.wait_for_url(f"{live_server.url}/inbox/{conversation.pk}/")
    expect(page.locator("#cannot-text")).to_have_text(
        f"{gone.phone} opted out: they cannot be texted. Only they can opt back in, by texting START."
    )
    expect(page.locator("#reply-body")).to_have_count(0)
    expect(page.locator("#subscriber-status")).to_have_text("Unsubscribed")
    # Notes still work: they are never sent.
    page.fill("#note-body", "Asked us by email to stop")
    page.get_by_role("button", name="Add note").click()
    expect(page.locator("#note-body")).to_have_value("")
    settled(page)
    expect(page.locator("#thread li.note")).to_contain_text("Asked us by email to stop")
    expect(page.locator("#cannot-text")).to_be_visible()
    assert not Message.objects.filter(body__contains="email to stop").exists()

    # A subscribed shopper whose words meant stop: one click opts them out, and the reply box says so.
    shopper = Subscriber.objects.filter(status=Subscriber.Status.SUBSCRIBED).order_by("id").first()
    text(shopper, "i don't want these anymore")
    conversation = Conversation.objects.get(subscriber=shopper)
    page.goto(f"{live_server.url}/inbox/{conversation.pk}/")
    expect(page.locator("#reply-body")).to_be_visible()
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Opt out this subscriber").click()
    expect(page.locator("#cannot-text")).to_contain_text(f"{shopper.phone} opted out: they cannot be texted.")
    expect(page.locator("#subscriber-status")).to_have_text("Unsubscribed")
    shopper.refresh_from_db()
    assert shopper.status == Subscriber.Status.UNSUBSCRIBED
    assert problems == []
