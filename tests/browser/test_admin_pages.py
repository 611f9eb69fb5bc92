"""Store staff use the admin as a person would: log in, find shoppers, read and edit their answers."""

import pytest
from django.core.management import call_command

from conversations.models import AttributeChange, Subscriber
from tests.browser.conftest import log_in_admin
from tests.factories import UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def staff(transactional_db):
    return UserFactory(username="owner", is_staff=True, is_superuser=True)


def test_staff_find_a_shopper_and_change_an_answer(page, live_server, staff, screenshot):
    call_command("seed_demo", "--subscribers", "60")
    # A US shopper: the search below types the number the American way.
    shopper = Subscriber.objects.filter(attributes__size="M", phone__startswith="+1").order_by("id").first()
    log_in_admin(page, live_server, staff)
    screenshot("admin-index")

    page.click("#content-main a:text-is('Subscribers')")
    page.wait_for_selector("#result_list")
    # The attribute filter lists the definitions' labels, and filtering keeps only matching shoppers.
    page.click("#changelist-filter a:text-is('Medium')")
    page.wait_for_url("**attribute__size=M**")
    rows = page.locator("#result_list tbody tr")
    assert rows.count() == Subscriber.objects.filter(attributes__size="M").count()
    screenshot("subscriber-list")

    # Search by the phone number typed as a person would.
    national = f"({shopper.phone[2:5]}) {shopper.phone[5:8]}-{shopper.phone[8:]}"
    page.goto(f"{live_server.url}/admin/conversations/subscriber/")
    page.fill("#searchbar", national)
    page.press("#searchbar", "Enter")
    page.wait_for_selector(f"#result_list >> text={shopper.phone}")
    assert page.locator("#result_list tbody tr").count() == 1

    page.click(f"#result_list >> text={shopper.phone}")
    page.wait_for_selector("text=Zero-party data")
    assert page.locator(".field-current_attributes").inner_text().count("Medium") == 1
    assert "Opt-in" in page.locator(".field-consent_history").inner_text()
    assert page.locator(".field-recent_messages tbody tr").count() >= 2
    screenshot("subscriber-page")

    page.select_option("#id_attribute__size", "XL")
    page.click("input[name=_continue]")
    page.wait_for_selector(".messagelist .success")
    assert "Extra large" in page.locator(".field-current_attributes").inner_text()
    assert "api" not in page.locator(".field-attribute_history tbody tr").first.inner_text().lower()
    shopper.refresh_from_db()
    assert shopper.attributes["size"] == "XL"
    change = AttributeChange.objects.filter(subscriber=shopper, key="size").first()
    assert (change.old_value, change.new_value, change.source, change.changed_by) == ("M", "XL", "agent", staff)


def test_api_docs_render_offline(page, live_server):
    requested = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(f"{live_server.url}/api/docs/")
    page.wait_for_selector("text=Parley API")
    page.wait_for_selector("text=/api/v1/subscribers/")
    assert all(url.startswith(live_server.url) for url in requested), requested
