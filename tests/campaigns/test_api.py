"""The campaigns API as a program uses it: drafts, problems named by field, sending, recipients and stats."""

import pytest
from django.contrib.auth.models import Permission
from rest_framework.test import APIClient

from campaigns.fanout import campaigns_fanout_due
from campaigns.models import Campaign
from conversations.models import Message
from tests.factories import UserFactory, api_key_for

STATS_KEYS = {"recipients", "sent", "delivered", "failed", "clicks", "replies", "opt_outs", "orders", "revenue"}


@pytest.fixture
def draft(api, vegans, gift_buyers):
    response = api.post(
        "/api/v1/campaigns/",
        {
            "name": "Lip balms",
            "link_url": "https://shop.example/lip",
            "variants": [
                {"body": "A {{ link }}", "weight": 60},
                {"body": 'Hi {{ first_name|default:"you" }} {{ link }}', "weight": 40},
            ],
            "include_segments": [vegans.pk],
            "exclude_segments": [gift_buyers.pk],
            "holdout_percent": 10,
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    return response.json()


def test_a_draft_round_trips(api, draft, vegans, gift_buyers):
    assert draft["status"] == "draft"
    assert [(v["label"], v["weight"]) for v in draft["variants"]] == [("A", 60), ("B", 40)]
    assert draft["include_segments"] == [vegans.pk] and draft["exclude_segments"] == [gift_buyers.pk]
    changed = api.patch(f"/api/v1/campaigns/{draft['id']}/", {"body": "One text {{ link }}"}, format="json")
    assert changed.status_code == 200
    assert changed.json()["variants"] == [{"label": "A", "body": "One text {{ link }}", "weight": 100}]
    assert api.get("/api/v1/campaigns/").json()["results"][0]["id"] == draft["id"]


@pytest.mark.parametrize(
    ("payload", "field", "words"),
    [
        ({"name": "x"}, "body", "write the text"),
        ({"name": "x", "body": "Hi {{ nickname }}"}, "variants[0]", "unknown variable"),
        ({"name": "x", "body": "Go {{ link }}"}, "variants[0]", "no link URL"),
        (
            {"name": "x", "variants": [{"body": "a", "weight": 50}, {"body": "b", "weight": 40}]},
            "variants",
            "add up to 90",
        ),
        ({"name": "x", "variants": [{"body": str(i), "weight": 10} for i in range(6)]}, "variants", "from 1 to 5"),
        ({"name": "x", "body": "hi", "holdout_percent": 80}, "holdout_percent", "from 0 to 50"),
        ({"name": "x", "body": "hi", "include_segments": [987654]}, "include_segments", "987654"),
        ({"name": "x", "body": "hi", "test_percent": 20}, "test_percent", "at least two variants"),
        ({"name": "x", "body": "hi", "local_time": True}, "send_at", "needs a date and time"),
        ({"name": "", "body": "hi"}, "name", ""),
        ({"name": "x", "body": "hi", "link_url": "http://shop.example/new"}, "link_url", "links must be https"),
        ({"name": "x", "body": "hi", "link_url": "https://bit.ly/abc"}, "link_url", "public link shortener"),
        ({"name": "x", "body": "hi", "variants": [{"body": "a"}]}, "body", "either body or variants"),
    ],
)
def test_problems_are_named_by_field_and_nothing_is_saved(api, vegans, payload, field, words):
    response = api.post("/api/v1/campaigns/", payload, format="json")
    assert response.status_code == 400
    errors = response.json()
    assert field in errors, errors
    assert words in " ".join(errors[field])
    assert not Campaign.objects.exists()


def test_the_same_segment_cannot_be_included_and_excluded(api, vegans):
    response = api.post(
        "/api/v1/campaigns/",
        {"name": "x", "body": "hi", "include_segments": [vegans.pk], "exclude_segments": [vegans.pk]},
        format="json",
    )
    assert response.status_code == 400 and "both included and excluded" in str(response.json())


def test_send_recipients_stats_and_a_sent_campaign_no_longer_changes(api, draft, vegan_people, daytime):
    sent = api.post(f"/api/v1/campaigns/{draft['id']}/send/")
    assert sent.status_code == 200 and sent.json()["status"] == "scheduled"
    campaigns_fanout_due()
    recipients = api.get(f"/api/v1/campaigns/{draft['id']}/recipients/?page_size=100").json()["results"]
    assert len(recipients) == 15
    assert {r["status"] for r in recipients} <= {"queued", "holdout"}
    assert all(r["variant"] in ("A", "B") for r in recipients if r["status"] == "queued")
    stats = api.get(f"/api/v1/campaigns/{draft['id']}/stats/").json()
    assert set(stats) >= STATS_KEYS
    assert stats["recipients"] == 15
    assert api.patch(f"/api/v1/campaigns/{draft['id']}/", {"name": "y"}, format="json").status_code == 400
    assert api.delete(f"/api/v1/campaigns/{draft['id']}/").status_code == 400
    again = api.post(f"/api/v1/campaigns/{draft['id']}/send/")
    assert again.status_code == 400 and "not a draft" in str(again.json())
    assert api.post(f"/api/v1/campaigns/{draft['id']}/cancel/").json()["status"] == "cancelled"
    assert set(Message.objects.filter(origin="campaign").values_list("status", flat=True)) == {"failed"}


def test_a_test_send_goes_to_one_subscribed_number_only(api, draft, vegan_people, daytime):
    person = vegan_people[7]
    response = api.post(
        f"/api/v1/campaigns/{draft['id']}/test/", {"phone": person.phone, "variant": "b"}, format="json"
    )
    assert response.status_code == 202, response.content
    assert response.json()["body"].startswith(f"Hi {person.first_name} https://shop.example/lip?utm_source=parley")
    assert (
        api.post(f"/api/v1/campaigns/{draft['id']}/test/", {"phone": "+12025550999"}, format="json").status_code == 400
    )
    assert api.post(f"/api/v1/campaigns/{draft['id']}/test/", {"phone": "12"}, format="json").status_code == 400


def test_sending_needs_the_send_permission(draft, vegans):
    user = UserFactory(username="composer")
    user.user_permissions.set(
        Permission.objects.filter(codename__in=["view_campaign", "add_campaign", "change_campaign"])
    )
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_key_for(user)}")
    assert client.get(f"/api/v1/campaigns/{draft['id']}/").status_code == 200
    for action in ["send", "pause", "resume", "cancel", "test"]:
        response = client.post(f"/api/v1/campaigns/{draft['id']}/{action}/", {}, format="json")
        assert response.status_code == 403, action
    assert Campaign.objects.get().status == "draft"
    assert APIClient().get("/api/v1/campaigns/").status_code == 401
