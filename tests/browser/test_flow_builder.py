"""Staff build, check, try and publish flows in the flow builder as a person would (issue 6).

1. A small quiz from scratch: made in the admin, built card by card in the editor, answered in the simulator,
   published; then a real text to the inbound API follows the version just published.
2. The issue's "Done when": the demo's welcome quiz gets a hair-type question; the checks flag the missing
   no-reply path until it is fixed, the simulator chats through it (a typo, a timeout), and after publishing a
   new run asks about hair while a run started earlier finishes on the old version.
"""

import json
import os
import re
from pathlib import Path

import pytest
from django.contrib.auth.models import Permission
from django.core.management import call_command
from playwright.sync_api import expect

from conversations.models import Subscriber
from conversations.services import attribute_definitions_ensure_defaults
from flows.models import Flow, FlowRun
from tests.browser.conftest import log_in_admin, wait_for_js
from tests.factories import UserFactory, api_key_for

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

STORE_NUMBER = "+18885550000"
# Count htmx's settled swaps per target (#workspace, #simulator, a counter) so that each step waits for its own.
COUNT_SWAPS = """
document.addEventListener('htmx:afterSettle', (event) => {
  const id = event.detail.target && event.detail.target.id;
  window.parleySettled = window.parleySettled || {};
  window.parleySettled[id] = (window.parleySettled[id] || 0) + 1;
});
"""


@pytest.fixture
def staff(transactional_db):
    return UserFactory(username="owner", is_staff=True, is_superuser=True)


@pytest.fixture
def inbound(browser, live_server, transactional_db):
    """Text the store as a shopper would, through the inbound API of the running server (a gateway's token)."""
    gateway = UserFactory(username="sms-gateway")
    gateway.user_permissions.set(Permission.objects.filter(codename="add_message"))
    key = api_key_for(gateway)
    context = browser.new_context()  # no staff session: the token alone
    texted = []

    def text(phone: str, body: str) -> list[str]:
        texted.append(body)
        response = context.request.post(
            f"{live_server.url}/api/v1/messages/inbound/",
            data={"from": phone, "to": STORE_NUMBER, "body": body, "provider_message_id": f"SM{len(texted):06d}"},
            headers={"Authorization": f"Token {key}"},
        )
        assert response.status == 201, response.text()
        return [reply["body"] for reply in response.json()["replies"]]

    yield text
    context.close()


def watch(page) -> list[str]:
    """The page's script errors and failed requests; each test ends by asserting there were none."""
    problems = []
    page.on("pageerror", lambda error: problems.append(f"script error: {error}"))
    page.on(
        "response",
        lambda response: problems.append(f"{response.status} {response.url}") if response.status >= 400 else None,
    )
    return problems


def settled(page, target: str) -> int:
    return page.evaluate("id => (window.parleySettled || {})[id] || 0", target)


def swap(page, action, *targets: str) -> None:
    """Do one thing and wait until htmx has swapped the answers into the targets (#workspace by default)."""
    targets = targets or ("workspace",)
    before = {target: settled(page, target) for target in targets}
    action()
    for target, count in before.items():
        wait_for_js(page, "([id, count]) => ((window.parleySettled || {})[id] || 0) > count", [target, count])


def change(page, action) -> None:
    """A change to the draft: the cards, checks and diagram come back, and the simulator runs the new draft."""
    swap(page, action, "workspace", "simulator")


def add_node(page, label: str, after: str = "") -> str:
    """Add a node from the form below the cards; its card opens for editing. Returns the new node's id."""
    page.select_option("#new-node-type", label=label)
    page.select_option("#new-node-after", after)
    change(page, lambda: page.click(".add-node button[type=submit]"))
    card = page.locator(".card:has(form.card-form)")
    expect(card).to_have_count(1)
    return card.get_attribute("data-node")


def open_card(page, node_id: str):
    card = page.locator(f"#card-{node_id}")
    swap(page, lambda: card.get_by_role("button", name="Edit").click())
    expect(card.locator("form.card-form")).to_be_visible()
    return card


def save(page, card) -> None:
    change(page, lambda: card.get_by_role("button", name="Save").click())
    expect(card.locator("form.card-form")).to_have_count(0)


def checks_on(card) -> list[str]:
    return card.locator(".check").all_inner_texts()


def simulate(page, action) -> None:
    swap(page, action, "simulator")


def say(page, text: str) -> None:
    """Type as the pretend shopper in the simulator and send it."""
    simulator = page.locator("#simulator")
    simulator.locator("input[name=text]").fill(text)
    simulate(page, lambda: simulator.get_by_role("button", name="Send").click())


def chat(page) -> list[str]:
    return page.locator("#chat li").all_inner_texts()


def shoot_diagram(page, name: str) -> None:
    """A screenshot of the diagram alone when PARLEY_SCREENSHOTS is set, in a window wide enough to show all of
    it (in a narrower one its box scrolls sideways)."""
    folder = os.environ.get("PARLEY_SCREENSHOTS")
    if not folder:
        return
    Path(folder).mkdir(parents=True, exist_ok=True)
    viewport = page.viewport_size
    width = viewport["width"]
    while page.evaluate("() => { const d = document.querySelector('.diagram'); return d.scrollWidth > d.clientWidth }"):
        width += 200
        page.set_viewport_size({"width": width, "height": viewport["height"]})
    page.locator("#flow-diagram").screenshot(path=str(Path(folder) / f"{name}.png"))
    page.set_viewport_size(viewport)


def test_build_a_quiz_from_scratch_try_it_publish_it_and_text_it(page, live_server, staff, inbound, screenshot):
    attribute_definitions_ensure_defaults()  # the store's attributes (size…), as the data migration made them
    problems = watch(page)
    page.add_init_script(COUNT_SWAPS)
    log_in_admin(page, live_server, staff)

    # The admin index links the flow builder: the list of flows (none yet).
    page.click("#parley-tools a:text-is('Flow builder')")
    page.wait_for_url("**/flows/")
    expect(page.locator("#flow-list tbody")).to_contain_text("No flows yet.")

    # A new keyword flow in the admin: Flows, Add; a draft that only ends.
    page.goto(f"{live_server.url}/admin/")
    page.click("#content-main .model-flow a.addlink")
    page.wait_for_url("**/admin/flows/flow/add/")
    page.fill("#id_name", "Size quiz")
    page.select_option("#id_trigger", label="Keyword")
    page.fill("#id_keywords", '["quiz"]')
    page.fill("#id_draft", json.dumps({"nodes": [{"id": "end", "type": "end"}]}))
    page.click("input[name=_save]")
    page.wait_for_url("**/admin/flows/flow/")
    expect(page.locator(".messagelist .success")).to_contain_text("Size quiz")
    flow = Flow.objects.get(name="Size quiz")
    assert (flow.status, flow.trigger, flow.keywords) == ("draft", "keyword", ["quiz"])

    # Opened in the editor from the flow list: one card, the end.
    page.click("#site-name a")
    page.click("#parley-tools a:text-is('Flow builder')")
    expect(page.locator("#flow-list tbody td")).to_have_text(["Size quiz", "Draft", "Keyword (QUIZ)", "0", "0", "–"])
    page.click("#flow-list a:text-is('Size quiz')")
    page.wait_for_url(f"**/flows/{flow.pk}/")
    wait_for_js(page, "(window.parleySettled || {}).simulator > 0")
    expect(page.locator(".cards .card")).to_have_count(1)
    expect(page.locator("#check-summary")).to_have_text("0 errors, 0 warnings")

    # 1. Ask a question: added after the end, it can never run until it is moved up to be the first card.
    ask = add_node(page, "Ask a question")
    assert ask == "ask_1"
    card = page.locator(f"#card-{ask}")
    expect(card.locator(".check.warning").first).to_contain_text("no path leads to this node")
    card.locator("[name='f-text']").fill("What size do you wear? Reply S, M, L or XL")
    expect(card.locator(".counter")).to_have_text("42 characters · GSM-7 · 1 segment")
    card.locator("[name='f-attribute']").select_option("size")
    card.locator("[name='f-answer_type']").select_option("")
    card.locator("[name='f-other.nudge']").fill("Sorry, which size? S, M, L or XL")
    card.locator("[name='f-other.max_retries']").fill("1")
    card.locator("[name='f-other.next']").select_option("end")
    card.locator("[name='f-no_reply.after_minutes']").fill("60")
    card.locator("[name='f-no_reply.next']").select_option("end")
    save(page, card)
    expect(card.locator(".card-body .text")).to_have_text("What size do you wear? Reply S, M, L or XL")
    expect(card.locator(".card-body .targets")).to_contain_text("no reply (60 min) → end")
    change(page, lambda: card.get_by_role("button", name=f"Move {ask} up").click())
    expect(page.locator(".cards .card").first).to_have_attribute("id", f"card-{ask}")
    expect(page.locator("#check-summary")).to_have_text("0 errors, 0 warnings")
    # The simulator follows each change: the pretend shopper is asked the new first question.
    expect(page.locator("#sim-node")).to_have_text(ask)
    assert chat(page) == ["What size do you wear? Reply S, M, L or XL"]

    # A card added by mistake is deleted again, once confirmed.
    stray = add_node(page, "Wait")
    expect(page.locator(".cards .card")).to_have_count(3)
    page.once("dialog", lambda dialog: dialog.accept())
    change(page, lambda: page.get_by_role("button", name=f"Delete {stray}").click())
    expect(page.locator(".cards .card")).to_have_count(2)
    expect(page.locator(f"#card-{stray}")).to_have_count(0)

    # 2. Send a text, personal: a misspelt variable is an error that blocks publishing, until it is fixed.
    thanks = add_node(page, "Send a text", after=ask)
    card = page.locator(f"#card-{thanks}")
    expect(card.locator(".check.warning").first).to_contain_text("no path leads to this node")
    card.locator("[name='f-text']").fill("Great, size {{ attributes.sise }} it is!")
    card.locator("[name='f-next']").select_option("end")
    save(page, card)
    expect(card.locator(".check.error")).to_have_text("text: unknown variable {{ attributes.sise }}")
    expect(page.locator("#check-summary")).to_have_text(re.compile(r"^1 error, \d+ warnings?$"))
    expect(page.locator("#publish")).to_be_disabled()
    card = open_card(page, thanks)
    card.locator("[name='f-text']").fill("Great, size {{ attributes.size }} it is!")
    save(page, card)
    expect(card.locator(".check.error")).to_have_count(0)
    assert checks_on(card) == ["no path leads to this node: it can never run"]

    # Wired: any answer to the question goes to the text.
    card = open_card(page, ask)
    card.locator("[name='f-next']").select_option(thanks)
    save(page, card)
    expect(card.locator(".card-body .targets")).to_contain_text(f"then → {thanks}")
    expect(page.locator(".check")).to_have_count(0)
    expect(page.locator("#check-summary")).to_have_text("0 errors, 0 warnings")
    expect(page.locator("#publish")).to_be_enabled()
    expect(page.locator("#flow-diagram .box")).to_have_count(3)
    screenshot("flow-editor")

    # 3. The simulator, on the draft as it is now: a typo is understood, the answer saved on the pretend
    # shopper, and the reply is personal.
    simulator = page.locator("#simulator")
    expect(page.locator("#sim-node")).to_have_text(ask)
    assert chat(page) == ["What size do you wear? Reply S, M, L or XL"]
    say(page, "mediun")
    expect(simulator).to_contain_text("size=M")
    assert chat(page)[1:] == ["mediun", "size = M", "Great, size M it is!", "The flow ended (completed)"]
    expect(simulator.locator(".sim-state")).to_contain_text("ended")

    # …and no reply: fast-forwarding fires the question's timeout, which goes to the end.
    simulate(page, lambda: simulator.get_by_role("button", name="Reset").click())
    expect(page.locator("#sim-node")).to_have_text(ask)
    simulate(page, lambda: simulator.get_by_role("button", name="Fast-forward »").click())
    lines = chat(page)
    assert lines[1].startswith("»") and "The flow ended" in lines[-1], lines
    assert not Subscriber.objects.exists()  # nobody real was touched

    # 4. Publish: version 1, live.
    with page.expect_navigation():
        page.click("#publish")
    expect(page.locator(".flash .success")).to_contain_text("Published version 1")
    expect(page.locator(".editor-status")).to_contain_text("The draft is live as version 1")
    expect(page.locator("#publish")).to_be_disabled()
    flow.refresh_from_db()
    assert flow.status == "active" and flow.live_version.definition == flow.draft

    # 5. A new number texts the keyword: the question; the answer, typo and all: the new version's reply.
    phone = "+12125550142"
    assert inbound(phone, "QUIZ") == ["What size do you wear? Reply S, M, L or XL"]
    assert inbound(phone, "mediun") == ["Great, size M it is!"]
    run = FlowRun.objects.get(subscriber__phone=phone)
    assert (run.flow, run.version.number, run.status) == (flow, 1, "completed")
    assert Subscriber.objects.get(phone=phone).attributes == {"size": "M"}
    assert problems == []


def test_add_a_hair_question_to_the_welcome_quiz_while_earlier_runs_finish_on_theirs(
    page, live_server, staff, inbound, screenshot
):
    call_command("seed_demo", "--subscribers", "50")
    quiz = Flow.objects.get(name="Welcome quiz")
    assert (quiz.status, quiz.live_version.number) == ("active", 1)
    pending = list(Subscriber.objects.filter(status="pending").order_by("id")[:2])
    assert len(pending) == 2, "the demo data has shoppers who never opted in"

    # Before the edit: two shoppers text START; one answers their size and is asked about their skin.
    early, dropped = pending
    assert "What size do you usually wear?" in inbound(early.phone, "START")[-1]
    assert inbound(early.phone, "mediun")[-1].startswith("Got it, medium. What's your skin type?")
    assert "What size do you usually wear?" in inbound(dropped.phone, "START")[-1]
    early_run = FlowRun.objects.get(subscriber=early)
    assert (early_run.version.number, early_run.current_node) == (1, "ask_skin")

    problems = watch(page)
    page.add_init_script(COUNT_SWAPS)
    log_in_admin(page, live_server, staff)
    page.click("#parley-tools a:text-is('Flow builder')")
    row = page.locator("#flow-list tbody tr:has(a:text-is('Welcome quiz')) td")
    expect(row).to_have_text(["Welcome quiz", "Active", "Opt-in (welcome)", "2", "0", "0 %"])
    page.click("#flow-list a:text-is('Welcome quiz')")
    page.wait_for_url(f"**/flows/{quiz.pk}/")
    wait_for_js(page, "(window.parleySettled || {}).simulator > 0")

    # The diagram: a box per node with the runs that passed it (two asked their size, one their skin type).
    diagram = page.locator("#flow-diagram")
    expect(diagram.locator(".box")).to_have_count(len(quiz.draft["nodes"]))
    expect(diagram.locator(".box[data-node=ask_size]")).to_contain_text("Ask a question · 2 runs")
    expect(diagram.locator(".box[data-node=ask_skin]")).to_contain_text("Ask a question · 1 run")
    expect(diagram.locator(".box[data-node=ask_diet]")).to_contain_text("Ask a question · 0 runs")
    expect(page.locator("#card-ask_size header")).to_contain_text("2 runs")
    expect(page.locator("#check-summary")).to_have_text("0 errors, 0 warnings")
    assert page.evaluate("getComputedStyle(document.querySelector('#flow-diagram .edge path')).fill") == "none"
    shoot_diagram(page, "flow-diagram")

    # A question about hair after the skin question: it goes into the path, and the checks flag it.
    hair = add_node(page, "Ask a question", after="ask_skin")
    card = page.locator(f"#card-{hair}")
    expect(card.locator("[name='f-next']")).to_have_value("ask_diet")
    expect(page.locator("#card-ask_skin .card-body .targets")).to_contain_text(f"then → {hair}")
    assert checks_on(card) == ["no path for when they do not reply (no_reply)"]  # any text answers it so far
    expect(page.locator("#check-summary")).to_have_text("0 errors, 1 warning")
    card.locator("[name='f-text']").fill("And your hair? Straight, wavy or curly?")
    card.locator("[name='f-attribute']").select_option("hair_type")  # the answer type is left as it was
    save(page, card)
    # Saved as hair types, a reply can match none of them: that path is missing too.
    assert checks_on(card) == [
        "no path for an answer that matches nothing (other)",
        "no path for when they do not reply (no_reply)",
    ]
    expect(page.locator("#check-summary")).to_have_text("0 errors, 2 warnings")
    card = open_card(page, hair)
    card.locator("[name='f-other.nudge']").fill("Reply straight, wavy or curly.")
    card.locator("[name='f-other.next']").select_option("ask_diet")
    save(page, card)
    expect(card.locator(".card-body .targets")).to_contain_text("no match → ask_diet · then → ask_diet")
    assert checks_on(card) == ["no path for when they do not reply (no_reply)"]
    expect(page.locator("#check-summary")).to_have_text("0 errors, 1 warning")

    # Fixed from the diagram: its box opens the card; no reply in a day goes on to the diet question.
    diagram.locator(f".box[data-node={hair}]").click()
    page.wait_for_url(f"**/flows/{quiz.pk}/?editing={hair}#card-{hair}")
    wait_for_js(page, "(window.parleySettled || {}).simulator > 0")
    card = page.locator(f"#card-{hair}")
    expect(card.locator("form.card-form")).to_be_visible()
    card.locator("[name='f-no_reply.after_minutes']").fill("1440")
    card.locator("[name='f-no_reply.next']").select_option("ask_diet")
    save(page, card)
    expect(card.locator(".check")).to_have_count(0)
    expect(page.locator("#check-summary")).to_have_text("0 errors, 0 warnings")

    # Curly hair gets a tip first: a text after the question, and a branch for curly (and coily) hair to it.
    tip = add_node(page, "Send a text", after=hair)
    card = page.locator(f"#card-{tip}")
    curls = 'Curls! Our curl cream is 20% off this week, {{ first_name|default:"friend" }}.'
    card.locator("[name='f-text']").fill(curls)
    expect(card.locator("[name='f-next']")).to_have_value("ask_diet")
    save(page, card)
    card = open_card(page, hair)
    card.locator("[name='f-next']").select_option("ask_diet")
    change(page, lambda: card.get_by_role("button", name="+ Branch").click())
    card = page.locator(f"#card-{hair}")
    card.locator("[name='b-0-values']").select_option(["curly", "coily"])
    card.locator("[name='b-0-next']").select_option(tip)
    save(page, card)
    expect(card.locator(".card-body .targets")).to_contain_text(f"curly, coily → {tip}")
    expect(page.locator("#check-summary")).to_have_text("0 errors, 0 warnings")
    expect(diagram.locator(f".box[data-node={hair}]")).to_contain_text("Ask a question · 0 runs")

    # The simulator: through the new question with a typo…
    simulator = page.locator("#simulator")
    simulate(page, lambda: simulator.get_by_role("button", name="Reset").click())
    expect(page.locator("#sim-node")).to_have_text("ask_size")
    say(page, "mediun")
    say(page, "oily")
    expect(page.locator("#sim-node")).to_have_text(hair)
    assert chat(page)[-1] == "And your hair? Straight, wavy or curly?"
    say(page, "curlyy")
    expect(page.locator("#sim-node")).to_have_text("ask_diet")
    assert chat(page)[-4:] == [
        "curlyy",
        "hair_type = curly",
        "Curls! Our curl cream is 20% off this week, Sam.",
        "Any diet we should know for our snacks? Vegan, vegetarian, gluten free, dairy free, keto, or none.",
    ]
    expect(simulator.locator(".sim-state")).to_contain_text("size=M, skin_type=oily, hair_type=curly")
    screenshot("flow-simulator")

    # …and without a reply: fast-forwarding a day fires the new no-reply path to the diet question.
    simulate(page, lambda: simulator.get_by_role("button", name="Reset").click())
    say(page, "L")
    say(page, "dry")
    expect(page.locator("#sim-node")).to_have_text(hair)
    simulate(page, lambda: simulator.get_by_role("button", name="Fast-forward »").click())
    expect(page.locator("#sim-node")).to_have_text("ask_diet")
    assert chat(page)[-1].startswith("Any diet we should know")
    assert "hair_type" not in simulator.locator(".sim-state").inner_text()

    # Publish: version 2.
    with page.expect_navigation():
        page.click("#publish")
    expect(page.locator(".flash .success")).to_contain_text("Published version 2")
    expect(page.locator(".editor-status")).to_contain_text("The draft is live as version 2")
    expect(page.locator("#publish")).to_be_disabled()
    quiz.refresh_from_db()
    assert quiz.live_version.number == 2 and hair in {node["id"] for node in quiz.live_version.definition["nodes"]}

    # The run started before finishes on version 1: no hair question.
    assert inbound(early.phone, "oily") == [
        "Any diet we should know for our snacks? Vegan, vegetarian, gluten free, dairy free, keto, or none."
    ]
    inbound(early.phone, "vegan")
    inbound(early.phone, "me")
    assert inbound(early.phone, "1")[0].startswith("Thanks")
    early_run.refresh_from_db()
    assert (early_run.status, early_run.version.number) == ("completed", 1)
    assert hair not in early_run.state["path"]

    # A new shopper after publishing: version 2, and the hair question.
    newcomer = "+12125550177"
    assert "What size do you usually wear?" in inbound(newcomer, "START")[-1]
    inbound(newcomer, "M")
    assert inbound(newcomer, "oily") == ["And your hair? Straight, wavy or curly?"]
    assert inbound(newcomer, "wavey") == [
        "Any diet we should know for our snacks? Vegan, vegetarian, gluten free, dairy free, keto, or none."
    ]
    run = FlowRun.objects.get(subscriber__phone=newcomer)
    assert run.version.number == 2
    assert Subscriber.objects.get(phone=newcomer).attributes["hair_type"] == "wavy"
    assert problems == []
