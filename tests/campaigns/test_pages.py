"""The staff pages: compose with a live summary, save, confirm with the number of people, send, control."""

import pytest
from django.contrib.auth.models import Permission

from campaigns.fanout import campaigns_fanout_due
from campaigns.models import Campaign
from tests.factories import UserFactory

PERMS = ["view_campaign", "add_campaign", "change_campaign", "send_campaign", "view_segment", "view_subscriber"]


@pytest.fixture
def staff(client, db):
    user = UserFactory(username="marketer", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename__in=PERMS))
    client.force_login(user)
    return user


def form(vegans, gift_buyers, **extra):
    return {
        "name": "Lip balms",
        "link_url": "https://shop.example/lip",
        "variant_count": "2",
        "body_A": "New vegan lip balms are in: {{ link }}",
        "body_B": 'Hi {{ first_name|default:"there" }}: {{ link }}',
        "weight_A": "50",
        "weight_B": "50",
        "include_segments": [str(vegans.pk)],
        "exclude_segments": [str(gift_buyers.pk)],
        "holdout_percent": "10",
        "schedule": "now",
        **extra,
    }


def test_the_live_summary_counts_estimates_and_previews(client, staff, vegan_people, vegans, gift_buyers, settings):
    settings.SMS_PRICE_PER_SEGMENT = "0.01"
    settings.SMS_SENDER_MPS = 1
    response = client.post("/campaigns/new/refresh/", form(vegans, gift_buyers), HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    page = response.content.decode()
    assert 'data-count="15"' in page  # 20 vegans, 5 of them buying a gift
    assert "14 (10 % held out)" in page  # 15 less the 10 % holdout, rounded down
    assert "about 0.14" in page and "about 14 seconds" in page
    assert "/l/" in page and "GSM-7" in page
    assert "<html" not in page  # only the summary


def test_problems_are_shown_and_nothing_is_saved(client, staff, vegans, gift_buyers):
    response = client.post("/campaigns/new/", form(vegans, gift_buyers, body_B="Hi {{ nickname }}", weight_B="40"))
    assert response.status_code == 200
    page = response.content.decode()
    assert "unknown variable {{ nickname }}" in page and "add up to 90 %" in page
    assert not Campaign.objects.exists()


def test_save_confirm_and_send(daytime, client, staff, vegan_people, vegans, gift_buyers):
    response = client.post("/campaigns/new/", {**form(vegans, gift_buyers), "next": "send"})
    campaign = Campaign.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/campaigns/{campaign.pk}/send/"
    confirm = client.get(response["Location"]).content.decode()
    assert "to 15 people?" in confirm and "held out" in confirm
    response = client.post(f"/campaigns/{campaign.pk}/send/")
    assert response["Location"] == f"/campaigns/{campaign.pk}/results/"
    campaigns_fanout_due()
    results = client.get(response["Location"]).content.decode()
    assert "Text A" in results and "Text B" in results
    assert client.post(f"/campaigns/pause/{campaign.pk}/").status_code == 302
    campaign.refresh_from_db()
    assert campaign.status == "paused"
    client.post(f"/campaigns/resume/{campaign.pk}/")
    campaign.refresh_from_db()
    assert campaign.status == "sending"
    # A sent campaign's compose page leads to its results.
    assert client.get(f"/campaigns/{campaign.pk}/")["Location"] == f"/campaigns/{campaign.pk}/results/"


def test_a_test_send_from_the_page(daytime, client, staff, vegan_people, vegans, gift_buyers):
    client.post("/campaigns/new/", form(vegans, gift_buyers))
    campaign = Campaign.objects.get()
    person = vegan_people[9]
    response = client.post(f"/campaigns/{campaign.pk}/test/", {"phone": person.phone, "variant": "B"})
    assert f"Hi {person.first_name}: https://shop.example/lip?utm_source=parley" in response.content.decode()
    response = client.post(f"/campaigns/{campaign.pk}/test/", {"phone": "not a phone", "variant": "A"})
    assert "errornote" in response.content.decode()


def test_the_list_and_the_admin_index_link_to_campaigns(client, staff, vegans, gift_buyers):
    client.post("/campaigns/new/", form(vegans, gift_buyers))
    assert b"Lip balms" in client.get("/campaigns/").content
    assert b'href="/campaigns/"' in client.get("/admin/").content


def test_a_text_that_needs_ucs2_is_flagged_before_sending(client, staff, vegan_people, vegans, gift_buyers):
    data = form(vegans, gift_buyers, body_A="Fresh balms ✨ {{ link }}", body_B="Plain text {{ link }}")
    page = client.post("/campaigns/new/refresh/", data).content.decode()
    assert 'data-ucs2="A"' in page and "UCS-2 because of ✨" in page
    assert 'data-ucs2="B"' not in page
    client.post("/campaigns/new/", data)
    confirm = client.get(f"/campaigns/{Campaign.objects.get().pk}/send/").content.decode()
    assert "Text A is sent as UCS-2 because of ✨" in confirm
