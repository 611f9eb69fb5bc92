import pytest
from django.urls import reverse

from flows.models import Flow
from flows.services import flow_templates_load
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
