"""Two people editing one flow in the builder never lose each other's work without being told.

Every change is made by a `flow_draft_*` service on the draft as saved, with the flow's row locked: changes made
at the same moment queue up and each applies on top of the other. A card saved from a form older than its node
(someone else saved that node meanwhile), or a change to a node someone else deleted, is refused with the reason,
and the card shows the other person's version. The concurrent tests hold the first change's transaction open in
another thread (another database connection) while the second request runs (tests/test_races.py).
"""

import re

import pytest
from django.contrib.auth import get_user
from django.contrib.auth.models import Permission
from django.http import QueryDict

from conversations.services import attribute_definitions_ensure_defaults
from flows import services
from flows.models import Flow
from flows.services import flow_templates_load
from tests.factories import UserFactory
from tests.test_races import while_held_open


def nodes(flow: Flow) -> dict[str, dict]:
    flow.refresh_from_db()
    return {node["id"]: node for node in flow.draft["nodes"]}


def editor_client(client):
    user = UserFactory(is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename__in=["view_flow", "change_flow"]))
    client.force_login(user)
    return client


@pytest.fixture
def quiz(db):
    flow_templates_load()
    return Flow.objects.get(name="Welcome quiz")


@pytest.fixture
def staff(client, db):
    return editor_client(client)


def open_card(staff, flow: Flow, node_id: str) -> dict:
    """The fields of a card as the builder shows it open for editing, the hidden `seen` among them."""
    html = staff.get(f"/flows/{flow.pk}/?editing={node_id}", HTTP_HX_REQUEST="true").content.decode()
    card = html.split(f'id="card-{node_id}"')[1].split("</article>")[0]
    seen = re.search(r'name="seen" value="([0-9a-f]+)"', card).group(1)
    text = re.search(r'name="f-text"[^>]*>([^<]*)</textarea>', card).group(1)
    return {"seen": seen, "f-text": text}


def test_a_card_saved_after_someone_else_saved_that_node_is_refused_and_shows_their_version(staff, quiz):
    mine = open_card(staff, quiz, "ask_skin")
    theirs = open_card(staff, quiz, "ask_skin")
    saved = staff.post(
        f"/flows/{quiz.pk}/nodes/ask_skin/save/", {**theirs, "f-text": "Their skin question?"}, HTTP_HX_REQUEST="true"
    )
    assert saved.status_code == 200 and "Someone else" not in saved.content.decode()
    refused = staff.post(
        f"/flows/{quiz.pk}/nodes/ask_skin/save/", {**mine, "f-text": "My skin question?"}, HTTP_HX_REQUEST="true"
    )
    html = refused.content.decode()
    assert refused.status_code == 200  # htmx swaps only a 200: the workspace says what happened
    assert "Someone else saved ask_skin while you were editing it, so your changes were not saved" in html
    assert nodes(quiz)["ask_skin"]["text"] == "Their skin question?"
    card = html.split('id="card-ask_skin"')[1].split("</article>")[0]
    assert "Their skin question?</textarea>" in card  # open again, with their version to edit
    again = open_card(staff, quiz, "ask_skin")
    staff.post(f"/flows/{quiz.pk}/nodes/ask_skin/save/", {**again, "f-text": "My skin question?"})
    assert nodes(quiz)["ask_skin"]["text"] == "My skin question?"


def test_changes_to_other_nodes_meanwhile_do_not_refuse_a_card(staff, quiz):
    mine = open_card(staff, quiz, "ask_skin")
    services.flow_draft_node_add(flow_id=quiz.pk, node_type="send_message", after="ask_size")
    services.flow_draft_node_move(flow_id=quiz.pk, node_id="ask_diet", step=-1)
    staff.post(f"/flows/{quiz.pk}/nodes/ask_skin/save/", {**mine, "f-text": "My skin question?"})
    draft = nodes(quiz)
    assert draft["ask_skin"]["text"] == "My skin question?" and "text_1" in draft


def test_a_change_to_a_node_someone_deleted_is_refused_with_the_reason(staff, quiz):
    get_user(staff).user_permissions.add(Permission.objects.get(codename="add_attributedefinition"))
    mine = open_card(staff, quiz, "ask_skin")
    services.flow_draft_node_delete(flow_id=quiz.pk, node_id="ask_skin")
    for path, data in [
        ("save", {**mine, "f-text": "Skin?"}),
        ("move", {"step": "up"}),
        ("delete", {}),
        ("attribute", {"new_key": "skin_tone", "new_type": "text"}),
    ]:
        html = staff.post(f"/flows/{quiz.pk}/nodes/ask_skin/{path}/", data, HTTP_HX_REQUEST="true").content.decode()
        assert "There is no node ask_skin in the draft any more" in html, path
    assert "ask_skin" not in nodes(quiz)
    assert staff.post(f"/flows/{quiz.pk + 1000}/nodes/ask_size/delete/").status_code == 404


def test_an_edit_reads_and_writes_the_flow_once(staff, quiz, django_assert_max_num_queries):
    # The lock is the read the view made before: one SELECT … FOR UPDATE and one UPDATE, then the workspace (the
    # two more here are the savepoint of the test's transaction, a BEGIN and COMMIT outside tests).
    staff.get(f"/flows/{quiz.pk}/")  # the editor is open: the user's permissions are known
    with django_assert_max_num_queries(15):
        staff.post(f"/flows/{quiz.pk}/nodes/ask_skin/save/", {"f-text": "Skin?"}, HTTP_HX_REQUEST="true")


def test_publishing_publishes_the_draft_as_saved_not_as_the_caller_loaded_it(quiz):
    stale = Flow.objects.get(pk=quiz.pk)
    services.flow_draft_node_add(flow_id=quiz.pk, node_type="send_message", after="ask_size")
    version = services.flow_publish(flow=stale)
    assert "text_1" in {node["id"] for node in version.definition["nodes"]}


def test_the_settings_page_changes_only_its_fields_and_keeps_the_builders_draft(quiz):
    stale = Flow.objects.get(pk=quiz.pk)
    services.flow_draft_node_add(flow_id=quiz.pk, node_type="end")
    services.flow_update(flow=stale, changes={"description": "Asks three questions."})
    quiz.refresh_from_db()
    assert quiz.description == "Asks three questions." and "end_1" in nodes(quiz)


@pytest.fixture
def quiz_committed(transactional_db):
    """The welcome quiz, committed (other connections see it); a transactional test starts from empty tables."""
    attribute_definitions_ensure_defaults()
    flow_templates_load()
    return Flow.objects.get(name="Welcome quiz")


def test_two_editors_adding_nodes_at_the_same_moment_get_two_nodes(client, quiz_committed):
    quiz, staff = quiz_committed, editor_client(client)
    response = while_held_open(
        lambda: services.flow_draft_node_add(flow_id=quiz.pk, node_type="send_message", after="ask_size"),
        lambda: staff.post(f"/flows/{quiz.pk}/nodes/add/", {"type": "send_message"}, HTTP_HX_REQUEST="true"),
    )
    assert response.status_code == 200
    draft = nodes(quiz)
    assert {"text_1", "text_2"} <= set(draft)  # the second was made on the first's draft: a new id, both kept
    assert draft["ask_size"]["next"] == "text_1"


def test_a_card_saved_while_another_editor_adds_a_node_keeps_both(client, quiz_committed):
    quiz, staff = quiz_committed, editor_client(client)
    mine = open_card(staff, quiz, "ask_skin")
    response = while_held_open(
        lambda: services.flow_draft_node_add(flow_id=quiz.pk, node_type="end"),
        lambda: staff.post(
            f"/flows/{quiz.pk}/nodes/ask_skin/save/", {**mine, "f-text": "Skin type?"}, HTTP_HX_REQUEST="true"
        ),
    )
    assert response.status_code == 200 and "Someone else" not in response.content.decode()
    draft = nodes(quiz)
    assert draft["ask_skin"]["text"] == "Skin type?" and "end_1" in draft


def test_the_same_card_saved_by_two_editors_at_once_refuses_the_second(client, quiz_committed):
    quiz, staff = quiz_committed, editor_client(client)
    mine = open_card(staff, quiz, "ask_skin")

    form = QueryDict(mutable=True)
    form["f-text"] = "Their question?"
    response = while_held_open(
        lambda: services.flow_draft_node_save(flow_id=quiz.pk, node_id="ask_skin", form=form, seen=mine["seen"]),
        lambda: staff.post(
            f"/flows/{quiz.pk}/nodes/ask_skin/save/", {**mine, "f-text": "My question?"}, HTTP_HX_REQUEST="true"
        ),
    )
    assert "Someone else saved ask_skin" in response.content.decode()
    assert nodes(quiz)["ask_skin"]["text"] == "Their question?"
