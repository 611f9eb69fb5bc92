"""Staff build a segment in the builder as a person would: pick, watch the count move, save, export."""

import csv
import io
import re
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.utils import timezone
from playwright.sync_api import expect

from segments.compiler import rules_queryset
from segments.models import Segment
from tests.browser.conftest import log_in_admin, wait_for_js
from tests.factories import EventFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PERMISSIONS = ["view_segment", "add_segment", "change_segment", "view_subscriber"]

# Count htmx's finished swaps so each step can wait for its own (no blind sleeps).
COUNT_SWAPS = (
    "document.addEventListener('htmx:afterSettle', () => { window.parleySwaps = (window.parleySwaps || 0) + 1 })"
)


@pytest.fixture
def staff(transactional_db):
    user = UserFactory(username="marketer", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename__in=PERMISSIONS))
    return user


def swaps(page) -> int:
    return page.evaluate("window.parleySwaps || 0")


def edit(page, action) -> None:
    """Do one edit and wait until htmx has posted the form and swapped the builder in again."""
    before = swaps(page)
    with page.expect_response(lambda r: r.url.endswith("/refresh/") and r.request.method == "POST") as response:
        action()
    assert response.value.status == 200, response.value.text()
    wait_for_js(page, "before => (window.parleySwaps || 0) > before", before)


def focused(page) -> str:
    return page.evaluate("document.activeElement ? document.activeElement.id : ''")


def expect_count(page, expected: int) -> None:
    expect(page.locator("#segment-count")).to_have_attribute("data-count", str(expected))
    shown = page.locator("#segment-preview tbody tr")
    assert shown.count() == min(expected, 20)


def test_build_save_and_export_a_segment(page, live_server, staff, screenshot):
    call_command("seed_demo", "--subscribers", "300")
    gift = Segment.objects.get(name="Buying a gift")
    vegan = {"attribute": "diet", "op": "contains", "value": "vegan"}
    ordered = {"event": "order_placed", "op": "happened", "within_days": 30}
    not_gift = {"not": {"any": [{"segment": gift.pk}]}}
    steps = [{"all": [vegan]}, {"all": [vegan, ordered]}, {"all": [vegan, ordered, not_gift]}]
    # The demo's orders mostly fall within 20 days of a shopper's opt-in, up to a year ago: give a few
    # vegans, some of them shopping for a gift, an order this week so that every condition shows.
    vegans = rules_queryset(steps[0]).order_by("id")
    gifting = set(rules_queryset({"segment": gift.pk}).values_list("id", flat=True))
    buyers = [s for s in vegans if s.pk in gifting][:2] + [s for s in vegans if s.pk not in gifting][:4]
    for buyer in buyers:
        EventFactory(subscriber=buyer, occurred_at=timezone.now() - timedelta(days=3))
    counts = [rules_queryset(rules).count() for rules in steps]
    assert counts[0] > counts[1] > counts[2] > 0, counts  # the demo data lets each condition show

    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.add_init_script(COUNT_SWAPS)
    log_in_admin(page, live_server, staff)

    # Segments in the admin, then Add: the builder for a new segment.
    page.click("#content-main .model-segment a:text-is('Segments')")
    page.wait_for_url("**/admin/segments/segment/")
    page.click("a.addlink")
    page.wait_for_url("**/segments/new/")
    expect(page.locator("#r-0__kind")).to_have_value("attribute")
    expect(page.locator("#segment-count")).to_have_attribute("data-count", "")

    # 1. Diet includes Vegan.
    edit(page, lambda: page.select_option("#r-0__attribute", label="Diet"))
    expect(page.locator("#r-0__op")).to_have_value("contains")
    edit(page, lambda: page.select_option("#r-0__op", label="includes"))
    row = page.locator("[data-path='r-0']")
    edit(page, lambda: row.get_by_label("Vegan", exact=True).check())
    expect(row.get_by_label("Vegan", exact=True)).to_be_checked()
    expect_count(page, counts[0])

    # 2. Placed an order in the last 30 days: a new row, switched to an event (the defaults say so).
    edit(page, lambda: page.locator(".builder-root > .builder-add").get_by_role("button", name="+ Condition").click())
    expect(page.locator("#r-1__kind")).to_be_visible()
    expect_count(page, counts[0])  # the unfinished row is left out of the count
    edit(page, lambda: page.select_option("#r-1__kind", label="Event"))
    expect(page.locator("#r-1__event")).to_have_value("order_placed")
    expect(page.locator("#r-1__op")).to_have_value("happened")
    expect(page.locator("#r-1__within_days")).to_have_value("30")
    expect_count(page, counts[1])

    # Typing in a number: the focus stays there across each refresh, and so does the caret (9, a pause, 0 is 90).
    days = page.locator("#r-1__within_days")
    days.click()
    page.keyboard.press("ControlOrMeta+a")
    edit(page, lambda: page.keyboard.type("9"))
    assert focused(page) == "r-1__within_days"
    expect_count(page, rules_queryset({"all": [vegan, {**ordered, "within_days": 9}]}).count())
    edit(page, lambda: page.keyboard.type("0"))
    expect(days).to_have_value("90")
    assert focused(page) == "r-1__within_days"
    expect_count(page, rules_queryset({"all": [vegan, {**ordered, "within_days": 90}]}).count())
    page.keyboard.press("ControlOrMeta+a")
    edit(page, lambda: page.keyboard.type("30"))
    assert focused(page) == "r-1__within_days"
    expect_count(page, counts[1])

    # 3. Not in "Buying a gift": a group matching none of its rows, with an "In segment" row.
    edit(page, lambda: page.locator(".builder-root > .builder-add").get_by_role("button", name="+ Group").click())
    expect(page.locator("#r-2__mode")).to_be_visible()
    edit(page, lambda: page.select_option("#r-2__mode", "none"))
    edit(page, lambda: page.select_option("#r-2-0__kind", "segment"))
    expect_count(page, counts[1])  # no segment chosen yet
    edit(page, lambda: page.select_option("#r-2-0__segment", label="Buying a gift"))
    expect_count(page, counts[2])

    expect(page.locator("#segment-english")).to_have_text(
        "Diet includes Vegan and placed an order in the last 30 days and not in segment Buying a gift."
    )
    assert not page.locator(".errornote, .errorlist").count()
    assert errors == []
    screenshot("segment-builder")

    # Save with a name: the saved segment's page, with the same rule and count.
    page.fill("#segment-name", "Vegan buyers, not gifting")
    page.click("input[name=_save]")
    page.wait_for_url(re.compile(r".*/segments/\d+/$"))
    expect(page.locator(".messagelist .success")).to_contain_text("Vegan buyers, not gifting")
    segment = Segment.objects.get(name="Vegan buyers, not gifting")
    assert page.url == f"{live_server.url}/segments/{segment.pk}/"
    assert segment.rules == steps[2]
    expect_count(page, counts[2])

    # Export the members: a header and one line per member.
    with page.expect_download() as download:
        page.get_by_role("link", name="Export members (CSV)").click()
    rows = list(csv.reader(io.StringIO(Path(download.value.path()).read_text(encoding="utf-8"))))
    assert rows[0][0] == "phone"
    assert len(rows) - 1 == counts[2]
    assert {row[0] for row in rows[1:]} == set(rules_queryset(steps[2]).values_list("phone", flat=True))

    # The API counts the same, with the page's session.
    response = page.request.get(f"{live_server.url}/api/v1/segments/{segment.pk}/count/")
    assert response.ok, response.text()
    assert response.json() == {"count": counts[2]}
    assert errors == []


def test_typing_is_kept_while_the_count_refreshes(page, live_server, staff):
    call_command("seed_demo", "--subscribers", "20")
    page.add_init_script(COUNT_SWAPS)
    log_in_admin(page, live_server, staff)
    page.goto(f"{live_server.url}/segments/new/")
    edit(page, lambda: page.select_option("#r-0__kind", label="Event"))

    # A refresh that takes a while (a big store): what is typed meanwhile stays, and is counted next.
    def slow(route):
        response = route.fetch()
        time.sleep(0.3)
        route.fulfill(response=response)

    page.route("**/refresh/", slow)
    page.click("#r-0__within_days")
    page.keyboard.press("ControlOrMeta+a")
    before = swaps(page)
    with page.expect_request("**/refresh/"):
        page.keyboard.type("9")
    page.keyboard.type("0")
    assert swaps(page) == before  # the 0 was typed while the refresh for 9 was on its way
    wait_for_js(page, """() => document.querySelector("input[name=rules_json]").value.includes('"within_days": 90')""")
    expect(page.locator("#r-0__within_days")).to_have_value("90")
    assert focused(page) == "r-0__within_days"
    page.unroute("**/refresh/")

    # A list typed with a pause after the comma keeps its comma and space.
    edit(page, lambda: page.select_option("#r-0__kind", label="Phone state / province"))
    page.click("#r-0__state")
    edit(page, lambda: page.keyboard.type("CA, "))
    expect(page.locator("#r-0__state")).to_have_value("CA, ")
    edit(page, lambda: page.keyboard.type("NY"))
    expect(page.locator("#segment-english")).to_have_text("State is CA or NY.")
    expect(page.locator("#r-0__state")).to_have_value("CA, NY")
