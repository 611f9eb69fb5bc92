"""Flows in version control: export, validated import and publish through the API."""

import pytest
from django.contrib.auth.models import Permission
from rest_framework.test import APIClient

from flows.models import Flow, FlowRun
from flows.services import flow_templates_load, run_start
from tests.factories import SubscriberFactory, UserFactory, api_key_for

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def templates():
    flow_templates_load()


def test_export_then_import_elsewhere_gives_the_same_flow(api):
    gift = Flow.objects.get(name="Gift finder")
    exported = api.get(f"/api/v1/flows/{gift.pk}/export/").json()
    assert exported["format"] == "parley.flow/1" and exported["published_version"] == 1
    assert exported["definition"] == gift.draft and exported["keywords"] == ["gift", "gifts"]

    copy = {**exported, "name": "Gift finder (copy)"}
    response = api.post("/api/v1/flows/import/", copy, format="json")
    assert response.status_code == 201
    made = Flow.objects.get(name="Gift finder (copy)")
    assert (made.status, made.draft, made.trigger) == ("draft", gift.draft, "keyword")
    assert not made.versions.exists()  # importing publishes nothing


def test_importing_a_flow_of_the_same_name_replaces_its_draft_only(api):
    gift = Flow.objects.get(name="Gift finder")
    document = api.get(f"/api/v1/flows/{gift.pk}/export/").json()
    document["definition"]["nodes"][0]["text"] = "Who is the gift for? Partner, parent, child or friend?"
    response = api.post("/api/v1/flows/import/", document, format="json")
    assert response.status_code == 200
    gift.refresh_from_db()
    assert gift.draft["nodes"][0]["text"].startswith("Who is the gift for?")
    assert gift.live_version.definition["nodes"][0]["text"].startswith("Happy to help!")  # live until published


def test_a_broken_import_names_the_node_and_field_and_changes_nothing(api):
    document = {
        "name": "Broken",
        "trigger": "sometimes",
        "definition": {"nodes": [{"id": "q", "type": "ask_question", "text": "Size?", "attribute": "shoe_size"}]},
    }
    response = api.post("/api/v1/flows/import/", document, format="json")
    assert response.status_code == 400
    assert "trigger" in response.json()
    document["trigger"] = "manual"
    response = api.post("/api/v1/flows/import/", document, format="json")
    assert response.status_code == 400
    assert "node q: attribute: 'shoe_size' is not a defined attribute" in response.json()["definition"]
    assert not Flow.objects.filter(name="Broken").exists()


def test_publish_makes_a_new_version_and_runs_keep_theirs(api):
    gift = Flow.objects.get(name="Gift finder")
    earlier = run_start(flow=gift, subscriber=SubscriberFactory(), trigger="api")
    gift.draft["nodes"][0]["text"] = "Who is the gift for? Partner, parent, child or friend?"
    gift.save()
    response = api.post(f"/api/v1/flows/{gift.pk}/publish/")
    assert response.json() == {"version": 2, "status": "active"}
    later = run_start(flow=gift, subscriber=SubscriberFactory(), trigger="api")
    assert (FlowRun.objects.get(pk=earlier.pk).version.number, later.version.number) == (1, 2)


def test_publishing_a_broken_draft_is_refused(api):
    gift = Flow.objects.get(name="Gift finder")
    gift.draft = {"nodes": [{"id": "x", "type": "send_message", "text": "Hi {{ nickname }}", "next": "nowhere"}]}
    gift.save()
    response = api.post(f"/api/v1/flows/{gift.pk}/publish/")
    assert response.status_code == 400
    assert "node x: next: no node has the id 'nowhere'" in response.json()["definition"]
    assert gift.versions.count() == 1


def test_importing_and_publishing_need_the_permission_to_change_flows(db):
    user = UserFactory()
    user.user_permissions.set(Permission.objects.filter(codename="view_flow"))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_key_for(user)}")
    gift = Flow.objects.get(name="Gift finder")
    assert client.get(f"/api/v1/flows/{gift.pk}/export/").status_code == 200
    assert client.post(f"/api/v1/flows/{gift.pk}/publish/").status_code == 403
    assert client.post("/api/v1/flows/import/", {"name": "X"}, format="json").status_code == 403


def test_a_flow_that_starts_itself_cannot_be_published_and_chained_starts_stop(api):
    loop = Flow.objects.create(
        name="Loop",
        trigger="manual",
        draft={
            "nodes": [
                {"id": "hi", "type": "send_message", "text": "Hi", "next": "again"},
                {"id": "again", "type": "start_flow", "flow": "Loop"},
            ]
        },
    )
    response = api.post(f"/api/v1/flows/{loop.pk}/publish/")
    assert response.status_code == 400
    assert response.json()["definition"] == ["node again: flow: it starts the flow it is in, forever"]
    # Two flows that start each other are not caught by the check, but the chain stops.
    ping = Flow.objects.create(name="Ping", draft={"nodes": [{"id": "go", "type": "start_flow", "flow": "Pong"}]})
    pong = Flow.objects.create(name="Pong", draft={"nodes": [{"id": "go", "type": "start_flow", "flow": "Ping"}]})
    for flow in (ping, pong):
        assert api.post(f"/api/v1/flows/{flow.pk}/publish/").status_code == 200
    ping.refresh_from_db()
    shopper = SubscriberFactory()
    assert run_start(flow=ping, subscriber=shopper, trigger="api") is not None
    assert 2 <= FlowRun.objects.filter(subscriber=shopper).count() <= 5  # ping, pong, ping… then it stops
