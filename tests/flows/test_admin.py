import json
import re

import pytest
from django.urls import reverse

from flows.models import Flow
from flows.services import flow_draft_node_add, flow_templates_load
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client):
    client.force_login(UserFactory(username="staff", is_staff=True, is_superuser=True))
    flow_templates_load()
    return client


@pytest.mark.parametrize("name", ["flow", "flowversion", "flowrun", "offercode"])
def test_flow_admin_lists_render(staff_client, name):
    assert staff_client.get(reverse(f"admin:flows_{name}_changelist")).status_code == 200


def test_saving_a_broken_draft_names_the_node_and_field(staff_client):
    flow = Flow.objects.get(name="Welcome quiz")
    url = reverse("admin:flows_flow_change", args=[flow.pk])
    response = staff_client.post(
        url,
        {
            "name": flow.name,
            "trigger": "opt_in",
            "keywords": "[]",
            "event_type": "",
            "event_filter": "{}",
            "reentry": "once",
            "reentry_days": "0",
            "draft": '{"nodes": [{"id": "q", "type": "ask_question", "text": "Size?", "attribute": "shoe_size"}]}',
        },
    )
    assert "node q: attribute: &#x27;shoe_size&#x27; is not a defined attribute" in response.content.decode()
    flow.refresh_from_db()
    assert flow.draft["nodes"][0]["id"] == "ask_size"


def test_a_whole_draft_posted_over_a_builder_change_is_refused_and_the_change_kept(staff_client):
    """The admin page posts the draft whole: a page opened before the builder added a node must not undo it."""
    flow = Flow.objects.get(name="Welcome quiz")
    url = reverse("admin:flows_flow_change", args=[flow.pk])
    page = staff_client.get(url).content.decode()
    seen = re.search(r'name="draft_seen" value="(\w+)"', page).group(1)
    _, added = flow_draft_node_add(flow_id=flow.pk, node_type="send_message")  # a colleague, in the builder
    stale = json.loads(json.dumps(flow.draft))  # the draft as the page showed it, edited there
    stale["nodes"][0]["text"] = "What size do you usually wear?"
    form = {
        "name": flow.name,
        "trigger": "opt_in",
        "keywords": json.dumps(flow.keywords),
        "event_type": "",
        "event_filter": "{}",
        "reentry": flow.reentry,
        "reentry_days": str(flow.reentry_days),
        "draft": json.dumps(stale),
        "draft_seen": seen,
        "launches-TOTAL_FORMS": "0",
        "launches-INITIAL_FORMS": "0",
    }
    response = staff_client.post(url, form)
    assert response.status_code == 200
    assert "The draft was changed in the builder since this page was opened" in response.content.decode()
    flow.refresh_from_db()
    assert added in [node["id"] for node in flow.draft["nodes"]]
    # Reloaded, the page shows the builder's draft, and the same edit then saves.
    page = staff_client.get(url).content.decode()
    form["draft_seen"] = re.search(r'name="draft_seen" value="(\w+)"', page).group(1)
    fresh = json.loads(json.dumps(flow.draft))
    fresh["nodes"][0]["text"] = "What size do you usually wear?"
    form["draft"] = json.dumps(fresh)
    response = staff_client.post(url, form)
    assert response.status_code == 302, re.findall(r'class="errorlist[^"]*">(.*?)</ul>', response.content.decode())
    flow.refresh_from_db()
    assert flow.draft["nodes"][0]["text"] == "What size do you usually wear?" and added in str(flow.draft)
