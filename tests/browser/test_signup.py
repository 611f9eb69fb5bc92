"""Shoppers sign up through the pop-up a store embeds, as a person would (issue 10's browser test).

The store's site is a real HTTP server on 127.0.0.1, another origin than Parley's (the live server on localhost),
whose page embeds the pop-up with one script tag. The shopper fills it in with the keyboard, gets the double
opt-in text, and their Y through the inbound API subscribes them, records their consent with the wording they
agreed to and starts the welcome quiz. The pop-up stays away after a close or a sign-up, never shows on a site the
form does not name, fits a phone; the hosted page works without JavaScript; staff see their wording in the admin's
preview before they save.
"""

import json
import time
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler
from xml.etree import ElementTree

import pytest
from django.conf import settings
from django.contrib.auth.models import Permission
from django.core.management import call_command
from playwright.sync_api import expect

from conversations.models import ConsentEvent, Message, SignupAttempt, SignupForm, SignupViews, Subscriber
from flows.models import FlowRun
from tests.browser.conftest import log_in_admin
from tests.factories import UserFactory, api_key_for
from tests.fakes.server import LocalServer

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

STORE_NUMBER = "+18885550000"
HEADLINE = "Get 15% off your first order"
PRODUCT_PATH = "/products/vegan-lip-balm?utm_source=newsletter"
TRIGGER_SECONDS = 1
MEMORY_KEY = "parley-signup:welcome"

STORE_HTML = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Vegan lip balm - Acme Outfitters</title></head>
<body>
<header><input id="search" type="search" aria-label="Search the store" autofocus></header>
<main><h1>Vegan lip balm</h1><p>Shea and candelilla wax.</p><button type="button">Add to cart</button></main>
<script src="{parley}/signup/embed.js" data-form="welcome" async></script>
</body>
</html>
"""


class StoreSite(LocalServer):
    """A store's own site on 127.0.0.1: every page is a product page that embeds Parley's pop-up."""

    def __init__(self, parley_url: str):
        html = STORE_HTML.format(parley=parley_url).encode()
        policy = f"default-src 'self'; script-src 'self' {parley_url}; connect-src {parley_url}; style-src 'self'"

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                if self.path == "/favicon.ico":
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                # A strict policy of the store's own, letting in only Parley's address: the pop-up needs no more.
                self.send_header("Content-Security-Policy", policy)
                self.send_header("Content-Length", str(len(html)))
                self.end_headers()
                self.wfile.write(html)

            def log_message(self, *args):
                pass

        self.url = self.start_server(Handler)


@pytest.fixture
def form(transactional_db):
    """The demo form `welcome` as seed_demo makes it, with the welcome quiz; it opens a second after the load."""
    call_command("seed_demo", "--subscribers", "0")
    form = SignupForm.objects.get(slug="welcome")
    form.trigger_value = TRIGGER_SECONDS
    form.save()
    return form


@pytest.fixture
def store(live_server, form):
    """The store's site, named in the form's allowed origins (as staff would add it in the admin)."""
    with StoreSite(live_server.url) as site:
        form.allowed_origins = f"{form.allowed_origins}\n{site.url}"
        form.save()
        yield site


@pytest.fixture
def stranger(live_server, form):
    """Another site that copied the embed tag but is not one of the form's origins."""
    with StoreSite(live_server.url) as site:
        assert site.url not in form.origins
        yield site


@pytest.fixture
def gateway(transactional_db):
    """The SMS gateway's API token: it may only post inbound texts."""
    user = UserFactory(username="sms-gateway")
    user.user_permissions.set(Permission.objects.filter(codename="add_message"))
    return {"Authorization": f"Token {api_key_for(user)}"}


def watch(page, allowed_origins: list[str]) -> dict:
    """Every request the page makes, its script errors and failed responses."""
    seen = {"requests": [], "problems": []}
    page.on("request", lambda request: seen["requests"].append(request.url))
    page.on("pageerror", lambda error: seen["problems"].append(f"script error: {error}"))
    page.on(
        "response",
        lambda response: (
            seen["problems"].append(f"{response.status} {response.url}") if response.status >= 400 else None
        ),
    )
    seen["allowed"] = allowed_origins
    return seen


def third_party(seen: dict) -> list[str]:
    return [url for url in seen["requests"] if not any(url.startswith(f"{origin}/") for origin in seen["allowed"])]


def popup(page):
    """The pop-up, found the way a screen reader finds it: a dialog named by its headline."""
    return page.get_by_role("dialog", name=HEADLINE)


def open_store_page(page, store, live_server) -> None:
    """Load the product page and wait until the script has fetched the form's settings."""
    with page.expect_response(f"{live_server.url}/signup/welcome/config.json") as config:
        page.goto(f"{store.url}{PRODUCT_PATH}")
    assert config.value.status == 200


def focused(page) -> dict:
    """The element that has the keyboard focus, looking into shadow roots, and whether it is in the pop-up."""
    return page.evaluate(
        """() => {
            let node = document.activeElement;
            const inPopup = !!(node && node.closest && node.closest("[data-parley-signup]"));
            while (node && node.shadowRoot && node.shadowRoot.activeElement) node = node.shadowRoot.activeElement;
            if (!node) return {tag: null, name: null, inPopup};
            const name = node.getAttribute("aria-label") || node.name || node.id || node.textContent.trim();
            return {tag: node.tagName.toLowerCase(), name, inPopup};
        }"""
    )


def memory(page) -> dict | None:
    raw = page.evaluate(f"localStorage.getItem({json.dumps(MEMORY_KEY)})")
    return json.loads(raw) if raw is not None else None


def stays_away(page, seconds: float = TRIGGER_SECONDS + 1.5) -> None:
    """Nothing opens for well past the trigger time (a check that something does not happen needs a wait)."""
    page.wait_for_timeout(seconds * 1000)
    expect(page.get_by_role("dialog")).to_have_count(0)
    expect(page.locator("[data-parley-signup]")).to_have_count(0)


def eventually(check, timeout: float = 5.0):
    """Poll the database for what a request the page made in the background (the beacon) has written."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.1)


def sign_up(dialog, national_number: str, answer: str | None = None) -> None:
    dialog.get_by_label("Mobile number").fill(national_number)
    if answer:
        dialog.get_by_label("Who are you shopping for?").select_option(label=answer)
    dialog.get_by_role("checkbox").check()
    dialog.get_by_role("button", name="Text me the code").click()


def test_a_shopper_signs_up_on_the_store_site_and_confirms_by_text(page, live_server, store, form, gateway, console):
    seen = watch(page, [store.url, live_server.url])
    open_store_page(page, store, live_server)
    assert focused(page)["name"] == "Search the store"

    # The pop-up opens after its delay: a modal dialog named by its headline, the focus in the phone field.
    dialog = popup(page)
    expect(dialog).to_be_visible()
    expect(dialog).to_have_attribute("aria-modal", "true")
    expect(dialog.get_by_text(form.offer_text)).to_be_visible()
    expect(dialog.get_by_label("Country code")).to_have_value("US")
    expect(dialog.get_by_label("Country code").locator("option:checked")).to_have_text("US +1")
    expect(dialog.get_by_label("Mobile number")).to_be_focused()
    assert focused(page) == {"tag": "input", "name": "phone", "inPopup": True}
    expect(dialog.get_by_role("checkbox", name=form.disclosure)).not_to_be_checked()

    # The keyboard stays inside the dialog, both ways round.
    names = []
    for _ in range(8):
        page.keyboard.press("Tab")
        where = focused(page)
        assert where["inPopup"], f"Tab left the pop-up for {where}"
        names.append(where["name"])
    assert {"Close", "Country code", "phone", "answer", "consent", "Text me the code"} <= set(names), names
    dialog.get_by_role("button", name="Close").focus()
    page.keyboard.press("Shift+Tab")
    assert focused(page) == {"tag": "button", "name": "Text me the code", "inPopup": True}
    page.keyboard.press("Tab")
    assert focused(page) == {"tag": "button", "name": "Close", "inPopup": True}

    # The beacon counted the showing.
    assert eventually(lambda: SignupViews.objects.filter(form=form, views=1).exists())

    # Submitting without ticking the box is refused before anything is sent.
    dialog.get_by_label("Mobile number").fill("(415) 555-0171")
    dialog.get_by_role("button", name="Text me the code").click()
    expect(dialog.get_by_role("alert")).to_have_text("Tick the box to agree to receive our texts.")
    expect(dialog.get_by_role("checkbox")).to_be_focused()
    assert not SignupAttempt.objects.exists()

    # A number that cannot be one: the server says so in the pop-up.
    dialog.get_by_label("Mobile number").fill("555-12")
    dialog.get_by_role("checkbox").check()
    dialog.get_by_role("button", name="Text me the code").click()
    expect(dialog.get_by_role("alert")).to_contain_text("is not a valid phone number")
    assert [attempt.outcome for attempt in SignupAttempt.objects.all()] == ["invalid"]

    # The phone number, who they shop for, the box: the thank-you message, read out and focused.
    sign_up(dialog, "(415) 555-0171", answer="Partner")
    expect(dialog.get_by_role("status")).to_contain_text(form.thank_you_text)
    expect(dialog.get_by_role("status")).to_be_focused()
    expect(dialog.get_by_label("Mobile number")).to_have_count(0)

    # Pending, with the answer; the double opt-in text is in the outbox and goes out through the console.
    shopper = Subscriber.objects.get(phone="+14155550171")
    assert shopper.status == Subscriber.Status.PENDING
    assert shopper.attributes == {"gift_recipient": "partner"}
    (request_text,) = Message.objects.filter(subscriber=shopper)
    assert request_text.direction == Message.Direction.OUTBOUND
    assert request_text.status == Message.Status.QUEUED
    assert request_text.body.startswith(f"{settings.PARLEY_STORE_NAME}: Reply Y to confirm")
    console.send_due()
    request_text.refresh_from_db()
    assert request_text.status == Message.Status.SENT
    assert "Reply Y to confirm" in console.printed and "+14155550171" in console.printed

    # The consent request keeps the proof: the exact wording and its version, the page, IP and browser.
    (requested,) = ConsentEvent.objects.filter(subscriber=shopper)
    user_agent = page.evaluate("navigator.userAgent")
    assert (requested.kind, requested.source, requested.raw_text) == ("requested", "web", form.disclosure)
    details = requested.details
    assert details["disclosure"] == form.disclosure and details["disclosure_version"] == form.disclosure_version == 1
    assert details["form"] == "welcome" and details["checkbox"] is True
    assert details["page_url"] == f"{store.url}{PRODUCT_PATH}"
    assert details["ip"] == "127.0.0.1"
    assert details["user_agent"] == user_agent
    attempt = SignupAttempt.objects.get(outcome="requested")
    assert (attempt.phone, attempt.subscriber, attempt.confirmed_at) == ("+14155550171", shopper, None)

    # Their Y, as the SMS gateway posts it: subscribed, consent recorded with the wording, the welcome quiz starts.
    response = page.request.post(
        f"{live_server.url}/api/v1/messages/inbound/",
        headers=gateway,
        data={"from": "+14155550171", "to": STORE_NUMBER, "body": "Y", "provider_message_id": "SM-signup-y"},
    )
    assert response.status == 201, response.text()
    assert "You're in!" in response.json()["replies"][0]["body"]
    shopper.refresh_from_db()
    assert shopper.status == Subscriber.Status.SUBSCRIBED
    opt_in = ConsentEvent.objects.get(subscriber=shopper, kind=ConsentEvent.Kind.OPT_IN)
    assert (opt_in.source, opt_in.raw_text) == ("web", "Y")
    assert opt_in.details["disclosure"] == form.disclosure and opt_in.details["disclosure_version"] == 1
    assert opt_in.details["page_url"] == f"{store.url}{PRODUCT_PATH}" and opt_in.details["requested"] == requested.pk
    run = FlowRun.objects.get(subscriber=shopper)
    assert run.flow.name == "Welcome quiz"
    attempt.refresh_from_db()
    assert attempt.confirmed_at is not None

    # Nothing but the store and Parley was asked for anything, and nothing failed but the bad number.
    assert third_party(seen) == []
    assert seen["problems"] == [f"400 {live_server.url}/signup/welcome/"]
    assert memory(page) == {"signedUp": True}


def test_a_closed_pop_up_stays_away_and_a_signed_up_shopper_never_sees_it_again(
    page, browser, live_server, store, form
):
    # Escape closes it and gives the focus back to where it was (the store's search field).
    open_store_page(page, store, live_server)
    expect(popup(page)).to_be_visible()
    page.keyboard.press("Escape")
    expect(popup(page)).to_have_count(0)
    assert focused(page) == {"tag": "input", "name": "Search the store", "inPopup": False}
    closed = memory(page)
    assert set(closed) == {"closedAt"}

    # Back on the page: not again, for the days the form says.
    open_store_page(page, store, live_server)
    stays_away(page)
    assert memory(page) == closed
    assert SignupViews.objects.get(form=form).views == 1

    # Once the form's 14 days have passed, it is back.
    page.clock.install(time=datetime.now() + timedelta(days=form.hide_days_after_close, hours=1))
    open_store_page(page, store, live_server)
    expect(popup(page)).to_be_visible()

    # Another shopper signs up, then closes the thank-you: never again, not on the next visit, nor weeks later.
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        shopper = context.new_page()
        open_store_page(shopper, store, live_server)
        dialog = popup(shopper)
        sign_up(dialog, "(415) 555-0172")
        expect(dialog.get_by_role("status")).to_contain_text(form.thank_you_text)
        shopper.keyboard.press("Escape")
        expect(popup(shopper)).to_have_count(0)
        assert memory(shopper).get("signedUp") is True
        open_store_page(shopper, store, live_server)
        stays_away(shopper)
        shopper.clock.install(time=datetime.now() + timedelta(days=form.hide_days_after_close * 4))
        open_store_page(shopper, store, live_server)
        stays_away(shopper)
    finally:
        context.close()
    assert Subscriber.objects.get(phone="+14155550172").status == Subscriber.Status.PENDING


def test_a_site_the_form_does_not_name_gets_no_pop_up(page, live_server, stranger, form):
    # The script loads, but the browser refuses it the form's settings: nothing opens, nothing is remembered.
    config_url = f"{live_server.url}/signup/welcome/config.json"
    with page.expect_event("requestfailed", predicate=lambda request: request.url == config_url) as refused:
        page.goto(f"{stranger.url}{PRODUCT_PATH}")
    assert refused.value.failure == "net::ERR_FAILED"
    answer = page.request.get(config_url, headers={"Origin": stranger.url})
    assert answer.status == 403 and "access-control-allow-origin" not in answer.headers
    stays_away(page)
    assert memory(page) is None
    assert page.evaluate("localStorage.length") == 0

    # A page there that posts to the form itself gets nowhere either, preflighted or not.
    outcomes = page.evaluate(
        """async (url) => {
            const tries = [
                {method: "POST", headers: {"Content-Type": "application/json"},
                 body: JSON.stringify({phone: "+14155550173", consent: true})},
                {method: "POST", body: new URLSearchParams({phone: "+14155550173", consent: "on"})},
            ];
            const outcomes = [];
            for (const options of tries) {
                try { outcomes.push(String((await fetch(url, options)).status)); }
                catch (error) { outcomes.push(error.name); }
            }
            return outcomes;
        }""",
        f"{live_server.url}/signup/welcome/",
    )
    assert outcomes == ["TypeError", "TypeError"]
    assert not Subscriber.objects.filter(phone="+14155550173").exists()
    assert not SignupAttempt.objects.exists()
    assert not ConsentEvent.objects.filter(kind="requested").exists()
    assert not SignupViews.objects.exists()


def test_the_hosted_page_works_without_javascript(browser, live_server, form):
    context = browser.new_context(java_script_enabled=False, viewport={"width": 390, "height": 844})
    try:
        page = context.new_page()
        page.set_default_timeout(10000)
        images = []
        page.on("response", lambda response: images.append(response) if "/qr.svg" in response.url else None)
        page.goto(f"{live_server.url}/join/welcome/")
        expect(page.get_by_role("heading", level=1)).to_have_text(HEADLINE)

        # The text-to-join link and its QR code, a real SVG image.
        link = page.get_by_role("link", name=f"Text {form.keyword} to {settings.SMS_SENDER}")
        expect(link).to_have_attribute("href", f"sms:{settings.SMS_SENDER}?body={form.keyword}")
        qr = page.get_by_role("img", name=f"QR code: text {form.keyword} to {settings.SMS_SENDER}")
        expect(qr).to_be_visible()
        (image,) = images
        assert image.status == 200 and image.headers["content-type"] == "image/svg+xml"
        svg = ElementTree.fromstring(image.body())
        assert svg.tag == "{http://www.w3.org/2000/svg}svg"
        assert svg.find("{http://www.w3.org/2000/svg}path") is not None
        box = qr.bounding_box()
        assert box["width"] == 180 and box["height"] == 180

        # A bad number: a clear error, what they typed kept.
        page.get_by_label("Mobile number").fill("555-12")
        page.get_by_role("checkbox").check()
        page.get_by_role("button", name="Text me the code").click()
        alert = page.get_by_role("alert")
        expect(alert).to_contain_text("is not a valid phone number")
        expect(page.get_by_label("Mobile number")).to_have_value("555-12")
        expect(page.get_by_role("checkbox")).to_be_checked()
        assert [attempt.outcome for attempt in SignupAttempt.objects.all()] == ["invalid"]
        assert not ConsentEvent.objects.filter(kind="requested").exists()

        # A good one, with who they shop for: the thank-you and the double opt-in text.
        page.get_by_label("Mobile number").fill("415 555 0174")
        page.get_by_label("Who are you shopping for?").select_option(label="A friend")
        page.get_by_role("button", name="Text me the code").click()
        expect(page.get_by_role("status")).to_contain_text(form.thank_you_text)
        shopper = Subscriber.objects.get(phone="+14155550174")
        assert (shopper.status, shopper.attributes) == (Subscriber.Status.PENDING, {"gift_recipient": "friend"})
        assert Message.objects.filter(subscriber=shopper, body__contains="Reply Y to confirm").exists()
        requested = ConsentEvent.objects.get(subscriber=shopper, kind="requested")
        assert requested.details["page_url"] == f"{live_server.url}/join/welcome/"
        assert requested.raw_text == form.disclosure
        assert SignupViews.objects.get().views == 1  # the page was shown once (the posts are not views)
    finally:
        context.close()


def test_staff_see_their_wording_in_the_preview_before_saving(page, live_server, form, screenshot):
    staff = UserFactory(username="owner", is_staff=True, is_superuser=True)
    log_in_admin(page, live_server, staff)
    page.goto(f"{live_server.url}/admin/conversations/signupform/{form.pk}/change/")
    preview = page.frame_locator("#signup-preview")
    dialog = preview.get_by_role("dialog", name=HEADLINE)
    expect(dialog).to_be_visible()
    expect(dialog.get_by_label("Who are you shopping for?")).to_be_visible()
    expect(dialog.get_by_label("E-mail (optional)")).to_have_count(0)

    # Typing a headline as a person types, pausing halfway: the preview follows and the focus stays in the field.
    headline = page.locator("#id_headline")
    headline.click()
    headline.press("Control+A")
    page.keyboard.type("Free shipping", delay=30)
    expect(preview.get_by_role("dialog", name="Free shipping")).to_be_visible()
    page.keyboard.type(" on your first order", delay=30)
    expect(headline).to_have_value("Free shipping on your first order")
    expect(headline).to_be_focused()
    expect(preview.get_by_role("dialog", name="Free shipping on your first order")).to_be_visible()
    expect(preview.get_by_label("Mobile number")).to_have_value("")

    # Asking for an e-mail, another button: followed too, and nothing is saved.
    page.check("#id_ask_email")
    expect(preview.get_by_role("dialog").get_by_label("E-mail (optional)")).to_be_visible()
    page.fill("#id_button_text", "Send my code")
    expect(preview.get_by_role("button", name="Send my code")).to_be_visible()
    screenshot("signup-admin")
    form.refresh_from_db()
    assert (form.headline, form.ask_email, form.button_text) == (HEADLINE, False, "Text me the code")

    # The preview neither counts a view nor remembers anything.
    assert not SignupViews.objects.exists()
    stored = preview.locator("body").evaluate("() => Object.keys(localStorage)")
    assert not [key for key in stored if key.startswith("parley-signup")], stored


def phone_page(browser, width: int, height: int):
    context = browser.new_context(viewport={"width": width, "height": height}, is_mobile=True, has_touch=True)
    page = context.new_page()
    page.set_default_timeout(10000)
    return context, page


def test_on_a_phone_the_pop_up_is_a_sheet_across_the_bottom(browser, live_server, store, form):
    context, page = phone_page(browser, 375, 667)
    try:
        open_store_page(page, store, live_server)
        dialog = popup(page)
        expect(dialog).to_be_visible()
        box = dialog.bounding_box()
        assert abs(box["x"]) <= 1 and abs(box["width"] - 375) <= 1, box
        assert abs(box["y"] + box["height"] - 667) <= 1, box
        assert box["y"] > 0, box  # the store's page shows above it
        for field in (dialog.get_by_label("Mobile number"), dialog.get_by_role("button", name="Text me the code")):
            field_box = field.bounding_box()
            assert field_box["x"] >= 0 and field_box["x"] + field_box["width"] <= 375, field_box
    finally:
        context.close()

    # A small phone, and the form asks for an e-mail too: taller than the screen, it scrolls within it, and the
    # close button can be reached and tapped.
    form.ask_email = True
    form.save()
    context, page = phone_page(browser, 320, 568)
    try:
        open_store_page(page, store, live_server)
        dialog = popup(page)
        expect(dialog).to_be_visible()
        box = dialog.bounding_box()
        assert (box["x"], box["width"]) == (0, 320) and box["y"] >= 0 and box["y"] + box["height"] <= 568, box
        close = dialog.get_by_role("button", name="Close")
        close.scroll_into_view_if_needed()
        close.tap()
        expect(popup(page)).to_have_count(0)
    finally:
        context.close()


def test_the_demo_store_page_shows_the_pop_up(page, live_server, form, screenshot):
    form.trigger_value = 3  # as seed_demo made it
    form.save()
    seen = watch(page, [live_server.url])
    page.goto(f"{live_server.url}/demo/store/")
    expect(page.get_by_role("heading", name="New arrivals")).to_be_visible()
    dialog = popup(page)
    expect(dialog).to_be_visible()
    expect(dialog.get_by_label("Mobile number")).to_be_focused()
    screenshot("signup-popup")
    assert eventually(lambda: SignupViews.objects.filter(form=form, views=1).exists())
    assert third_party(seen) == [] and seen["problems"] == []
