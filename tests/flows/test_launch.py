"""Starting a flow for every member of a segment: from the admin, in resumable batches."""

import pytest
from django.contrib.auth.models import Permission
from django.core.exceptions import ValidationError

from conversations.models import Message
from flows.models import Flow, FlowLaunch, FlowRun
from flows.services import flow_launch, flow_templates_load, launches_process_due, run_start
from segments.services import segment_create
from tests.factories import SubscriberFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def gift_finder():
    flow_templates_load()
    return Flow.objects.get(name="Gift finder")


@pytest.fixture
def vegans():
    people = {
        name: SubscriberFactory(first_name=name, attributes={"diet": ["vegan"]}) for name in ("ana", "bo", "cy", "di")
    }
    people["ed"] = SubscriberFactory(first_name="ed", attributes={"diet": ["vegan"]}, status="unsubscribed")
    people["fay"] = SubscriberFactory(first_name="fay", attributes={"diet": ["keto"]})
    segment = segment_create(name="Vegans", rules={"attribute": "diet", "op": "contains", "value": "vegan"})
    return segment, people


def test_a_launch_starts_the_flow_for_members_in_batches_once_each(gift_finder, vegans):
    segment, people = vegans
    welcome = Flow.objects.get(name="Welcome quiz")
    assert run_start(flow=welcome, subscriber=people["di"], trigger="api") is not None  # busy in another flow

    launch = flow_launch(flow=gift_finder, segment=segment)
    assert launch.audience == 5
    SubscriberFactory(first_name="late", attributes={"diet": ["vegan"]})  # joined after the launch: not in it

    assert launches_process_due(max_seconds=0, batch_size=2) == 2  # one batch, then out of time
    launch.refresh_from_db()
    assert launch.status == FlowLaunch.Status.QUEUED and launch.started == 2
    launches_process_due(batch_size=2)
    launches_process_due(batch_size=2)  # nothing left to do: no run starts twice
    launch.refresh_from_db()
    assert launch.status == FlowLaunch.Status.DONE and launch.finished_at
    assert (launch.started, launch.skipped) == (3, 2)

    runs = FlowRun.objects.filter(flow=gift_finder)
    assert sorted(runs.values_list("subscriber__first_name", flat=True)) == ["ana", "bo", "cy"]
    assert set(runs.values_list("trigger", flat=True)) == {"segment"}
    assert FlowRun.objects.live().get(subscriber=people["di"]).flow == welcome  # not interrupted
    asked = Message.objects.filter(direction="outbound", body__startswith="Happy to help!")
    assert sorted(asked.values_list("subscriber__first_name", flat=True)) == ["ana", "bo", "cy"]
    assert not Message.objects.filter(subscriber=people["ed"]).exists()  # opted out: never texted


def test_a_flow_deactivated_mid_launch_cancels_it(gift_finder, vegans):
    segment, _ = vegans
    launch = flow_launch(flow=gift_finder, segment=segment)
    Flow.objects.filter(pk=gift_finder.pk).update(status=Flow.Status.ARCHIVED)
    launches_process_due()
    launch.refresh_from_db()
    assert launch.status == FlowLaunch.Status.CANCELLED and "deactivated" in launch.end_reason
    assert not FlowRun.objects.exists()


def test_an_inactive_flow_cannot_be_launched(vegans):
    segment, _ = vegans
    draft = Flow.objects.create(name="Draft", draft={"nodes": []})
    with pytest.raises(ValidationError, match="not active"):
        flow_launch(flow=draft, segment=segment)


def test_staff_count_then_confirm_in_the_admin(client, gift_finder, vegans):
    segment, _ = vegans
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    change = client.get(f"/admin/flows/flow/{gift_finder.pk}/change/").content.decode()
    assert f"/admin/flows/flow/{gift_finder.pk}/launch/" in change

    url = f"/admin/flows/flow/{gift_finder.pk}/launch/"
    counted = client.post(url, {"segment": segment.pk}).content.decode()
    assert "Start for 5 subscribers" in counted
    assert not FlowLaunch.objects.exists()  # counting starts nothing

    response = client.post(url, {"segment": segment.pk, "confirmed_segment": segment.pk})
    assert response.status_code == 302
    launch = FlowLaunch.objects.get()
    assert (launch.segment_name, launch.audience) == ("Vegans", 5)
    assert "Vegans" in client.get(response["Location"]).content.decode()  # listed on the flow's page


def test_a_confirmation_for_another_segment_only_counts(client, gift_finder, vegans):
    segment, _ = vegans
    other = segment_create(name="Keto", rules={"attribute": "diet", "op": "contains", "value": "keto"})
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    url = f"/admin/flows/flow/{gift_finder.pk}/launch/"
    html = client.post(url, {"segment": other.pk, "confirmed_segment": segment.pk}).content.decode()
    assert "Start for 1 subscriber" in html and not FlowLaunch.objects.exists()


def test_launching_needs_the_permission_to_start_runs(client, gift_finder, vegans):
    user = UserFactory(is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename__in=["view_flow", "change_flow", "view_segment"]))
    client.force_login(user)
    assert client.get(f"/admin/flows/flow/{gift_finder.pk}/launch/").status_code == 403
    user.user_permissions.add(Permission.objects.get(codename="add_flowrun"))
    assert client.get(f"/admin/flows/flow/{gift_finder.pk}/launch/").status_code == 200


def test_a_second_start_while_the_first_is_queued_is_refused(client, gift_finder, vegans):
    segment, _ = vegans
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    url = f"/admin/flows/flow/{gift_finder.pk}/launch/"
    client.post(url, {"segment": segment.pk, "confirmed_segment": segment.pk})
    client.post(url, {"segment": segment.pk, "confirmed_segment": segment.pk})  # a double click
    assert FlowLaunch.objects.count() == 1
    launches_process_due()
    asked = Message.objects.filter(direction="outbound", body__startswith="Happy to help!")
    assert asked.count() == 4  # once each: ana, bo, cy, di


def test_a_launch_copies_the_segments_it_uses(gift_finder, vegans):
    segment, _ = vegans
    wrapper = segment_create(name="Vegans again", rules={"segment": segment.pk})
    launch = flow_launch(flow=gift_finder, segment=wrapper)
    assert launch.rules == {"attribute": "diet", "op": "contains", "value": "vegan"}
