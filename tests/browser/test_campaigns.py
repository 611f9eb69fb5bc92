"""Staff send a campaign as a person would (the campaigns issue's "Done when").

The demo store is loaded (with its draft "New vegan lip balms"); a marketer composes a campaign to Vegans, leaving
out those buying a gift, with two texts and a 10 % holdout, watches the live count and preview, reviews the number
of people and sends. The worker fans it out and the outbox sends it through the console provider: the texts carry
short links. A shopper opens one on their phone: it leads to the store with UTM parameters and counts as a click;
their order, posted by the store through the API, shows as the campaign's revenue. A subscriber who texted STOP
before the send gets nothing, and one who texts STOP while it goes out is refused at the send gate.

Marketing texts go out only between 09:00 and 20:00 in the recipient's own time: the test's shoppers live where it
is early afternoon now (their numbers tell the gate their zone), and the demo's US shoppers may be held till morning.
"""

import csv
import io
import re
from decimal import Decimal
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.utils import timezone
from playwright.sync_api import expect

from campaigns.fanout import campaigns_fanout_due
from campaigns.models import Attribution, Campaign, Click, Recipient
from conversations.models import Message, Subscriber
from conversations.services import subscriber_create
from segments.compiler import rules_queryset
from segments.models import Segment
from tests.browser.conftest import log_in_admin, watch
from tests.factories import UserFactory, api_key_for

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PERMISSIONS = ["view_campaign", "add_campaign", "change_campaign", "send_campaign", "view_subscriber"]
STORE_NUMBER = "+18885550000"
STORE_PAGE = "https://shop.example.com/collections/vegan-lip-balm?sort=new"
NAME = "Vegan lip balms launch"
TEXT_A = "New vegan lip balms are in: {{ link }}"
TEXT_B = 'Hi {{ first_name|default:"there" }}! Our vegan lip balms just landed: {{ link }}'
HOLDOUT = 10
# A phone's browser (a headless browser's own user agent is taken for a link scanner, and its click not counted).
PHONE_BROWSER = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.5 Mobile/15E148 Safari/604.1"
)
LINK_PREVIEW_BOT = "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)"

# Places whose numbers the send gate reads as a single zone; at any moment one of them is within three hours
# of 14:00 local time, well inside the 09:00-20:00 marketing window.
PLACES = [
    ("Pacific/Auckland", "+64 9 300 12{:02d}"),
    ("Asia/Tokyo", "+81 3 1234 56{:02d}"),
    ("Asia/Kolkata", "+91 22 2345 67{:02d}"),
    ("Europe/London", "+44 20 7946 09{:02d}"),  # not the demo's world shoppers (+44 20 7946 01xx)
    ("America/Sao_Paulo", "+55 11 98765 43{:02d}"),
    ("America/Mexico_City", "+52 55 1234 56{:02d}"),
]
SHOPPERS = ["Ana", "Bea", "Cai", "Dov", "Eli", "Fen", "Gus", "Hal"]


def minutes_from_two_pm(zone: str) -> int:
    local = timezone.now().astimezone(ZoneInfo(zone))
    return abs(local.hour * 60 + local.minute - 14 * 60)


def daytime_place() -> tuple[str, str]:
    """A zone where it is now early afternoon, and a pattern of phone numbers there."""
    zone, pattern = min(PLACES, key=lambda place: minutes_from_two_pm(place[0]))
    assert minutes_from_two_pm(zone) <= 180, zone
    return zone, pattern


def vegan(phone: str, first_name: str) -> Subscriber:
    """A vegan who signed up at checkout, through the same service the subscribers API uses."""
    return subscriber_create(
        phone=phone,
        first_name=first_name,
        attributes={"diet": ["vegan"]},
        subscribed=True,
        consent_details={"form": "checkout", "disclosure": "Text me offers", "ip": "203.0.113.7"},
    )


def to_store(url: str) -> bool:
    return url.startswith("https://shop.example.com/")


def campaign_texts(subscriber: Subscriber):
    return Message.objects.filter(subscriber=subscriber, origin=Message.Origin.CAMPAIGN)


def printed_to(console, phone: str) -> list[str]:
    """The bodies the console provider printed to `phone`."""
    blocks = [block for block in console.printed.split("\n\n") if block.strip()]
    return [block.split("\n", 1)[1] for block in blocks if block.startswith(f"[sms] to {phone} ")]


@pytest.fixture
def store(settings, live_server, transactional_db):
    """The demo store, its short links on Parley's own address (the store points its short domain at Parley)."""
    settings.SHORT_LINK_BASE_URL = live_server.url
    call_command("seed_demo", "--subscribers", "60")
    return live_server


@pytest.fixture
def staff(transactional_db):
    user = UserFactory(username="marketer", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename__in=PERMISSIONS))
    return user


@pytest.fixture
def token_for(transactional_db):
    """An API token for a user with exactly these permissions (the store's backend, its SMS gateway)."""

    def make(username: str, *codenames: str) -> dict:
        user = UserFactory(username=username)
        user.user_permissions.set(Permission.objects.filter(codename__in=codenames))
        return {"Authorization": f"Token {api_key_for(user)}"}

    return make


def test_compose_send_click_and_order(page, browser, store, staff, token_for, console, settings, screenshot):
    live_server = store
    settings.SMS_SENDER_MPS = 1  # a long code's pace for the estimates shown; the outbox is sped up before sending
    problems = watch(page)
    short_link = re.compile(re.escape(live_server.url) + r"/l/([0-9a-f]+[g-z][0-9a-f]{8})\b")

    # The demo's draft is there, as seed_demo made it.
    demo = Campaign.objects.get(name="New vegan lip balms")
    vegans, gift = Segment.objects.get(name="Vegans"), Segment.objects.get(name="Buying a gift")
    assert demo.status == Campaign.Status.DRAFT
    assert (list(demo.include_segments.all()), list(demo.exclude_segments.all())) == ([vegans], [gift])
    assert [(v.label, v.weight) for v in demo.variants.all()] == [("A", 50), ("B", 50)]
    assert demo.holdout_percent == HOLDOUT

    # Vegans where it is early afternoon now; one of them texts STOP before anything is sent.
    _zone, pattern = daytime_place()
    shoppers = [vegan(pattern.format(index), name) for index, name in enumerate(SHOPPERS)]
    stopped = vegan(pattern.format(len(SHOPPERS)), "Sam")
    gateway = token_for("sms-gateway", "add_message")
    response = page.request.post(
        f"{live_server.url}/api/v1/messages/inbound/",
        headers=gateway,
        data={"from": stopped.phone, "to": STORE_NUMBER, "body": "STOP", "provider_message_id": "SM-stop-1"},
    )
    assert response.status == 201, response.text()
    stopped.refresh_from_db()
    assert stopped.status == Subscriber.Status.UNSUBSCRIBED

    # The audience as the segments define it: subscribed vegans not buying a gift (the demo has some of those).
    audience_rules = {"all": [{"segment": vegans.pk}, {"not": {"any": [{"segment": gift.pk}]}}]}
    audience = set(rules_queryset(audience_rules).filter(status=Subscriber.Status.SUBSCRIBED))
    gifting_vegans = rules_queryset({"all": [{"segment": vegans.pk}, {"segment": gift.pk}]})
    assert set(shoppers) <= audience and stopped not in audience
    assert gifting_vegans.filter(status=Subscriber.Status.SUBSCRIBED).exists()
    texted = len(audience) - len(audience) * HOLDOUT // 100

    # Campaigns from the admin's home: the demo draft is listed; New campaign.
    log_in_admin(page, live_server, staff)
    page.locator("#parley-tools").get_by_role("link", name="Campaigns", exact=True).click()
    page.wait_for_url(f"{live_server.url}/campaigns/")
    draft_row = page.locator("#campaigns tbody tr", has_text="New vegan lip balms")
    expect(draft_row.locator("td").nth(0)).to_have_text("Draft")
    expect(draft_row.locator("td").nth(1)).to_have_text("Vegans")
    page.click("a.addlink")
    page.wait_for_url(f"{live_server.url}/campaigns/new/")
    expect(page.locator("#campaign-count")).to_have_attribute("data-count", "")

    # Name, link, the first text; two variants; who gets it; a 10 % holdout.
    page.fill("#campaign-name", NAME)
    page.fill("#campaign-link", STORE_PAGE)
    page.fill("#body-A", TEXT_A)
    page.select_option("#variant-count", "2")
    expect(page.locator("#body-B")).to_be_visible()
    expect(page.locator("#weight-A")).to_have_value("50")
    expect(page.locator("#weight-B")).to_have_value("50")
    page.fill("#body-B", TEXT_B)
    page.locator(".form-row:has(> label:text-is('Send to'))").get_by_label("Vegans").check()
    page.locator(".form-row:has(> label:text-is('Leave out'))").get_by_label("Buying a gift").check()
    page.fill("#holdout", str(HOLDOUT))

    # The live summary counts them, estimates the texts, and previews both texts with a short link.
    expect(page.locator("#campaign-count")).to_have_attribute("data-count", str(len(audience)))
    expect(page.locator("#campaign-count")).to_have_text(str(len(audience)))
    expect(page.locator("#estimate-texts")).to_have_text(f"{texted} ({HOLDOUT} % held out)")
    expect(page.locator("#estimate-segments")).to_have_text(str(texted))  # one segment each
    expect(page.locator("#estimate-duration")).to_have_text(f"about {texted} seconds at 1 segment/s")
    sample = Subscriber.objects.get(pk=page.locator("#summary select[name=sample]").input_value())
    bubble_a, bubble_b = page.locator("[data-preview=A]"), page.locator("[data-preview=B]")
    expect(bubble_a).to_have_text(re.compile(r"^New vegan lip balms are in: " + short_link.pattern + "$"))
    greeting = f"Hi {sample.first_name or 'there'}! Our vegan lip balms just landed: "
    expect(bubble_b).to_have_text(re.compile("^" + re.escape(greeting) + short_link.pattern + "$"))
    assert not page.locator(".errornote, .errorlist").count()
    screenshot("campaign-compose")

    # Save and review sending: the confirm page says how many people it goes to.
    page.get_by_role("button", name="Save and review sending").click()
    page.wait_for_url(re.compile(r".*/campaigns/\d+/send/$"))
    campaign = Campaign.objects.get(name=NAME)
    assert campaign.status == Campaign.Status.DRAFT
    assert [(v.label, v.body, v.weight) for v in campaign.variants.all()] == [("A", TEXT_A, 50), ("B", TEXT_B, 50)]
    assert (list(campaign.include_segments.all()), list(campaign.exclude_segments.all())) == ([vegans], [gift])
    assert (campaign.link_url, campaign.holdout_percent) == (STORE_PAGE, HOLDOUT)
    expect(page.locator("#confirm-question")).to_have_text(f"Send “{NAME}” to {len(audience)} people?")
    held_out = len(audience) - texted
    expect(page.locator("#content-main")).to_contain_text(
        f"{texted} texts; about {held_out} {'person' if held_out == 1 else 'people'} ({HOLDOUT} %, drawn when it is "
        f"sent) {'is held out and gets' if held_out == 1 else 'are held out and get'} nothing."
    )
    expect(page.locator("#content-main")).to_contain_text("To Vegans, leaving out Buying a gift.")
    expect(page.locator("#content-main")).to_contain_text("A/B test: A 50 %, B 50 %.")
    send = page.locator("#confirm-send")
    expect(send).to_have_value(f"Send to {len(audience)} people")

    # Send: the results page, the campaign scheduled to go at once.
    send.click()
    page.wait_for_url(f"{live_server.url}/campaigns/{campaign.pk}/results/")
    expect(page.locator(".messagelist .success")).to_contain_text(f"{NAME} is on its way.")
    campaign.refresh_from_db()
    assert (campaign.status, campaign.sent_by) == (Campaign.Status.SCHEDULED, staff)

    # The worker fans it out: every member a recipient, about a tenth held out, a queued text for each of the rest.
    queued = campaigns_fanout_due()
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.SENT
    recipients = {r.subscriber: r for r in Recipient.objects.filter(campaign=campaign).select_related("subscriber")}
    assert set(recipients) == audience
    getting = {s: r for s, r in recipients.items() if r.status == Recipient.Status.QUEUED}
    assert set(recipients) - set(getting) == {s for s, r in recipients.items() if r.status == Recipient.Status.HOLDOUT}
    texts = Message.objects.filter(origin=Message.Origin.CAMPAIGN, origin_id__in=[r.pk for r in recipients.values()])
    assert queued == len(getting) == texts.count()
    assert not Recipient.objects.filter(subscriber=stopped).exists()
    ours = [s for s in shoppers if s in getting]
    assert len(ours) >= 2, "nearly all of the eight should get a text (a tenth of people are held out)"

    # One of them texts STOP while the campaign goes out: the send gate refuses their text.
    leaving, *ours = ours
    response = page.request.post(
        f"{live_server.url}/api/v1/messages/inbound/",
        headers=gateway,
        data={"from": leaving.phone, "to": STORE_NUMBER, "body": "stop", "provider_message_id": "SM-stop-2"},
    )
    assert response.status == 201, response.text()

    # The outbox sends through the console provider: each text with its own short link to the store.
    settings.SMS_SENDER_MPS = 1000  # tests do not wait for the pace of a long code
    console.send_due()
    codes = {}
    for shopper in ours:
        message = campaign_texts(shopper).get()
        assert message.status == Message.Status.SENT, (message.status, message.hold_reason, message.error_message)
        variant = getting[shopper].variant.label
        first = "New vegan lip balms are in: " if variant == "A" else f"Hi {shopper.first_name}! Our vegan lip balms "
        assert message.body.startswith(first), message.body
        assert printed_to(console, shopper.phone) == [message.body]
        codes[shopper] = short_link.search(message.body)[1]
    assert len(set(codes.values())) == len(ours)  # a link of one's own
    refused = campaign_texts(leaving).get()
    assert refused.status == Message.Status.FAILED and "opted_out" in refused.error_code, refused.error_code
    assert not short_link.search("".join(printed_to(console, leaving.phone)))
    # The demo's shoppers in the US get theirs now if it is daytime where they are; if not, it waits (for the
    # morning, or a cap, or a chat in the inbox to end), never dropped.
    for message in texts.filter(status=Message.Status.QUEUED):
        assert message.not_before > timezone.now() and message.hold_reason, message.hold_reason

    # A link preview fetches the first shopper's link: it answers with the way to the store, and is not a click.
    clicker = ours[0]
    link = f"{live_server.url}/l/{codes[clicker]}"
    variant = getting[clicker].variant.label
    landing = dict(parse_qsl(urlsplit(STORE_PAGE).query))
    landing.update(utm_source="parley", utm_medium="sms", utm_campaign="vegan-lip-balms-launch", utm_content=variant)
    preview = page.request.get(link, headers={"User-Agent": LINK_PREVIEW_BOT}, max_redirects=0)
    assert preview.status == 302
    location = urlsplit(preview.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == STORE_PAGE.split("?")[0]
    assert dict(parse_qsl(location.query)) == landing
    assert Click.objects.filter(recipient=getting[clicker], is_bot=True).count() == 1

    # The shopper taps the link in the text on their phone: a 302 to the store's page, with UTM parameters.
    # (The store's host does not exist here: the phone's browser is given its page. Chromium lets Playwright
    # answer the redirect of a navigation a page starts, as a tap does, not of one page.goto starts.)
    phone = browser.new_context(user_agent=PHONE_BROWSER, viewport={"width": 390, "height": 844})
    try:
        shop = phone.new_page()
        shop.route(
            "https://shop.example.com/**",
            lambda route: route.fulfill(status=200, content_type="text/html", body="<h1>Vegan lip balms</h1>"),
        )
        sms = printed_to(console, clicker.phone)[0]
        shop.set_content(f"<p>{sms.replace(link, f'<a href={link!r}>{link}</a>')}</p>")
        with (
            shop.expect_request(lambda request: to_store(request.url) and request.redirected_from) as redirected,
            shop.expect_response(lambda response: to_store(response.url)) as landed,
        ):
            shop.get_by_role("link", name=link).click()
        hop = redirected.value.redirected_from
        assert (hop.url, hop.response().status) == (link, 302)
        assert redirected.value.url == landed.value.url
        assert landed.value.status == 200
        assert urlsplit(landed.value.url).path == urlsplit(STORE_PAGE).path
        assert dict(parse_qsl(urlsplit(landed.value.url).query)) == landing
        expect(shop.locator("h1")).to_have_text("Vegan lip balms")
        assert shop.url == landed.value.url
    finally:
        phone.close()
    assert Click.objects.filter(recipient=getting[clicker], is_bot=False).count() == 1

    # The results page counts the click (the preview's fetch is not one).
    page.reload()
    row = page.locator(f"#stats tbody tr[data-group='{variant}']")
    expect(row.locator("td").nth(4)).to_have_text("1")
    expect(page.locator("#stats-total td").nth(4)).to_have_text("1")
    expect(page.locator("#campaign-status")).to_contain_text(
        "Sending" if texts.filter(status=Message.Status.QUEUED).exists() else "Sent"
    )

    # The store's backend posts the shopper's order: the campaign is credited with it.
    response = page.request.post(
        f"{live_server.url}/api/v1/events/",
        headers=token_for("store-backend", "add_event"),
        data={
            "phone": clicker.phone,
            "type": "order_placed",
            "properties": {"total": 42.5, "currency": "USD", "order_id": "1001"},
            "idempotency_key": "order-1001",
        },
    )
    assert response.status == 201, response.text()
    attribution = Attribution.objects.get()
    assert (attribution.campaign, attribution.recipient, attribution.touch, attribution.revenue) == (
        campaign,
        getting[clicker],
        Attribution.Touch.CLICK,
        Decimal("42.50"),
    )

    # The results page shows the revenue, on the variant they got and in the total.
    page.reload()
    expect(page.locator("#stats thead")).to_contain_text("Revenue (USD)")
    expect(row.locator("td").nth(8)).to_have_text("1")
    expect(row.locator("td").nth(9)).to_have_text("42.50")
    expect(page.locator("#total-orders")).to_have_text("1")
    expect(page.locator("#total-revenue")).to_have_text("42.50")
    expect(page.locator("[data-group=holdout] th")).to_have_text("Holdout (no text)")
    screenshot("campaign-results")

    # The recipients' export agrees.
    with page.expect_download() as download:
        page.get_by_role("link", name="Export recipients and results (CSV)").click()
    rows = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text(encoding="utf-8"))))
    assert len(rows) == len(audience)
    exported = next(r for r in rows if r["phone"] == clicker.phone)
    assert (exported["variant"], exported["text_status"], exported["clicks"], exported["revenue"]) == (
        variant,
        "sent",
        "1",
        "42.50",
    )

    # The subscriber who texted STOP before the send got no campaign text: only the opt-out confirmation.
    assert not campaign_texts(stopped).exists()
    assert not Recipient.objects.filter(subscriber=stopped).exists()
    sent_to_stopped = printed_to(console, stopped.phone)
    assert len(sent_to_stopped) == 1 and "You are unsubscribed" in sent_to_stopped[0], sent_to_stopped
    assert problems == []
