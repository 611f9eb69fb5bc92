"""The flow editor: draft operations (pure) and the pages that use them, through HTTP with real templates."""

import json
import re

import pytest
from django.contrib.auth import get_user
from django.contrib.auth.models import Permission
from django.db.models import Count
from django.http import QueryDict

from conversations.models import Message, Subscriber
from flows import editor
from flows.diagram import layout
from flows.models import Flow, FlowResult, FlowRun
from flows.selectors import RunCounts, flow_run_counts
from flows.services import flow_templates_load, run_resume, run_start
from tests.factories import EventFactory, SubscriberFactory, UserFactory

QUIZ = {
    "nodes": [
        {"id": "ask", "type": "ask_question", "attribute": "size", "text": "Size?", "next": "thanks"},
        {"id": "thanks", "type": "send_message", "text": "Thanks!", "next": "end"},
        {"id": "end", "type": "end"},
    ]
}


def form(**fields) -> QueryDict:
    data = QueryDict(mutable=True)
    for key, value in fields.items():
        data.setlist(key.replace("__", "-").replace("_DOT_", "."), value if isinstance(value, list) else [value])
    return data


def test_a_node_added_after_another_is_put_into_its_path():
    definition, new_id = editor.node_add(QUIZ, "ask_question", after="ask")
    ids = [node["id"] for node in definition["nodes"]]
    assert ids == ["ask", new_id, "thanks", "end"]
    assert definition["nodes"][0]["next"] == new_id and definition["nodes"][1]["next"] == "thanks"
    assert QUIZ["nodes"][0]["next"] == "thanks"  # the original is untouched


def test_deleting_a_node_leaves_nothing_pointing_at_it():
    definition = editor.node_delete(QUIZ, "thanks")
    assert [node["id"] for node in definition["nodes"]] == ["ask", "end"]
    assert "next" not in definition["nodes"][0] or definition["nodes"][0]["next"] is None


def test_moving_a_card():
    assert [n["id"] for n in editor.node_move(QUIZ, "thanks", -1)["nodes"]] == ["thanks", "ask", "end"]
    assert [n["id"] for n in editor.node_move(QUIZ, "ask", -1)["nodes"]] == ["ask", "thanks", "end"]


def test_a_card_form_is_read_back_into_the_node_keeping_what_it_does_not_show():
    node = {**QUIZ["nodes"][0], "label": "kept"}
    data = form(
        **{
            "f-text": "What size?",
            "f-other.nudge": "S, M or L?",
            "f-other.max_retries": "2",
            "f-no_reply.after_minutes": "60",
            "f-no_reply.next": "end",
            "f-next": "thanks",
        }
    )
    changed = editor.node_from_form(node, data)
    assert changed["text"] == "What size?" and changed["label"] == "kept"
    assert changed["other"] == {"nudge": "S, M or L?", "max_retries": 2}
    assert changed["no_reply"] == {"after_minutes": 60, "next": "end"}


def test_branches_are_added_edited_and_removed_from_the_form():
    node = dict(QUIZ["nodes"][0])
    node = editor.node_from_form(node, form(action="add_branch"))
    assert node["branches"] == [{"values": [], "next": None}]
    node = editor.node_from_form(node, form(**{"b-0-values": ["M", "L"], "b-0-next": "end"}))
    assert node["branches"] == [{"values": ["M", "L"], "next": "end"}]
    node = editor.node_from_form(node, form(**{"b-0-next": "end", "b-0-values": ["M"], "action": "remove_branch:0"}))
    assert "branches" not in node


def test_the_diagram_places_nodes_by_distance_and_labels_edges():
    definition = {
        "nodes": [
            {
                "id": "ask",
                "type": "ask_question",
                "attribute": "size",
                "text": "Size?",
                "branches": [{"values": ["M"], "next": "m"}],
                "no_reply": {"after_minutes": 5, "next": "end"},
                "next": "end",
            },
            {"id": "m", "type": "send_message", "text": "M!", "next": "end"},
            {"id": "end", "type": "end"},
            {"id": "lost", "type": "end"},
        ]
    }
    counts = RunCounts(nodes={"ask": 7, "m": 4}, steps={("ask", "m"): 4, ("ask", "end"): 3}, stopped={"ask": 2})
    diagram = layout(definition, editor.NODE_TYPES, counts)
    boxes = {box.id: box for box in diagram.boxes}
    assert boxes["ask"].y < boxes["m"].y and (boxes["ask"].runs, boxes["ask"].stopped) == (7, 2)
    assert not boxes["lost"].reachable
    texts = {(e.source, e.target, e.text) for e in diagram.edges}
    assert ("ask", "m", "M · 4 runs") in texts
    # Two edges from ask to end (no reply, other answers): the runs are told once.
    between = sorted(text for source, target, text in texts if (source, target) == ("ask", "end"))
    assert between == ["no reply", "other answers · 3 runs"]


def test_run_counts_per_node_step_and_drop_off_on_this_database(db):
    flow_templates_load()
    quiz = Flow.objects.get(name="Welcome quiz")
    answered = run_start(flow=quiz, subscriber=SubscriberFactory(), trigger="api")
    run_resume(run=FlowRun.objects.get(pk=answered.pk), text="M")
    stopped = run_start(flow=quiz, subscriber=SubscriberFactory(), trigger="api")
    FlowRun.objects.filter(pk=stopped.pk).update(status="expired")
    counts = flow_run_counts(quiz)
    assert counts.nodes["ask_size"] == 2 and counts.nodes["ask_skin"] == 1
    assert counts.steps[("ask_size", "ask_skin")] == 1
    assert counts.stopped == {"ask_size": 1}


@pytest.fixture
def staff(client, db):
    flow_templates_load()
    user = UserFactory(is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename__in=["view_flow", "change_flow", "add_flowrun"]))
    client.force_login(user)
    return client


def test_the_editor_adds_a_question_flags_it_and_the_fix_clears_the_flag(staff):
    quiz = Flow.objects.get(name="Welcome quiz")
    html = staff.post(
        f"/flows/{quiz.pk}/nodes/add/", {"type": "ask_question", "after": "ask_skin"}, HTTP_HX_REQUEST="true"
    ).content.decode()
    new_id = re.search(r'id="card-(ask_\d+)"', html).group(1)
    assert "no path for when they do not reply (no_reply)" in html
    fields = {
        "f-text": "Hair type? Straight, wavy or curly?",
        "f-attribute": "hair_type",
        "f-other.nudge": "Straight, wavy or curly?",
        "f-other.next": "ask_diet",
        "f-no_reply.after_minutes": "1440",
        "f-no_reply.next": "ask_diet",
        "f-next": "ask_diet",
    }
    html = staff.post(f"/flows/{quiz.pk}/nodes/{new_id}/save/", fields, HTTP_HX_REQUEST="true").content.decode()
    assert "0 errors, 0 warnings" in html
    quiz.refresh_from_db()
    assert [n for n in quiz.draft["nodes"] if n["id"] == new_id][0]["attribute"] == "hair_type"
    assert staff.post(f"/flows/{quiz.pk}/publish/").status_code == 302
    assert quiz.versions.count() == 2


def test_the_simulator_runs_the_draft_and_keeps_its_shopper_in_the_session(staff):
    quiz = Flow.objects.get(name="Welcome quiz")
    start = staff.post(f"/flows/{quiz.pk}/simulator/", {"action": "reset"}, HTTP_HX_REQUEST="true").content.decode()
    assert 'sim-node">ask_size<' in start
    reply = staff.post(f"/flows/{quiz.pk}/simulator/", {"action": "reply", "text": "lrg"}, HTTP_HX_REQUEST="true")
    assert "size=L" in reply.content.decode()
    assert not Message.objects.exists() and not Subscriber.objects.exists()


def test_editing_needs_the_permission_to_change_flows(client, db):
    flow_templates_load()
    quiz = Flow.objects.get(name="Welcome quiz")
    user = UserFactory(is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename="view_flow"))
    client.force_login(user)
    assert client.get(f"/flows/{quiz.pk}/").status_code == 200
    assert client.post(f"/flows/{quiz.pk}/nodes/add/", {"type": "end"}).status_code == 403
    assert client.post(f"/flows/{quiz.pk}/publish/").status_code == 403
    assert client.get("/flows/").status_code == 200


def test_versions_diff_and_revert(staff):
    quiz = Flow.objects.get(name="Welcome quiz")
    staff.post(f"/flows/{quiz.pk}/nodes/add/", {"type": "send_message", "after": "ask_size"}, HTTP_HX_REQUEST="true")
    html = staff.get(f"/flows/{quiz.pk}/versions/").content.decode()
    assert "text_1</strong> added" in html and "ask_size</strong> changed" in html and "next: ask_skin → text_1" in html
    assert staff.post(f"/flows/{quiz.pk}/publish/").status_code == 302
    assert staff.post(f"/flows/{quiz.pk}/versions/1/revert/").status_code == 302
    quiz.refresh_from_db()
    assert quiz.draft == quiz.versions.get(number=1).definition and quiz.versions.count() == 2


def test_a_new_attribute_is_made_from_a_questions_card(staff):
    quiz = Flow.objects.get(name="Welcome quiz")
    get_user(staff).user_permissions.add(Permission.objects.get(codename="add_attributedefinition"))
    data = {
        "new_key": "hair_length",
        "new_label": "Hair length",
        "new_type": "single_choice",
        "new_options": "short, long",
    }
    html = staff.post(f"/flows/{quiz.pk}/nodes/ask_skin/attribute/", data, HTTP_HX_REQUEST="true").content.decode()
    assert "Made the attribute hair_length" in html
    quiz.refresh_from_db()
    assert [n for n in quiz.draft["nodes"] if n["id"] == "ask_skin"][0]["attribute"] == "hair_length"
    bad = staff.post(
        f"/flows/{quiz.pk}/nodes/ask_skin/attribute/", {**data, "new_key": "Hair Length!"}, HTTP_HX_REQUEST="true"
    )
    assert "The attribute was not made" in bad.content.decode()


def test_results_show_answers_and_random_branches(staff):
    quiz = Flow.objects.get(name="Welcome quiz")
    for reply in ("M", "mediun", "L"):
        run = run_start(flow=quiz, subscriber=SubscriberFactory(), trigger="api")
        run_resume(run=FlowRun.objects.get(pk=run.pk), text=reply)
    html = staff.get(f"/flows/{quiz.pk}/results/").content.decode()
    assert "<strong>3</strong> runs" in html
    assert re.search(
        r"<td>M</td><td class=\"bar-cell\"><svg class=\"bar\"[^>]*><rect width=\"100\" height=\"1\"/></svg> 2</td>",
        html,
    )

    ab = Flow.objects.create(
        name="A/B",
        draft={
            "nodes": [
                {
                    "id": "split",
                    "type": "split_random",
                    "branches": [{"percent": 50, "next": "a"}, {"percent": 50, "next": "b"}],
                },
                {"id": "a", "type": "send_message", "text": "A! Reply STOP to opt out", "next": "end"},
                {"id": "b", "type": "send_message", "text": "B! Reply STOP to opt out", "next": "end"},
                {"id": "end", "type": "end"},
            ]
        },
    )
    staff.post(f"/flows/{ab.pk}/publish/")
    for _ in range(6):
        shopper = SubscriberFactory()
        run_start(flow=ab, subscriber=shopper, trigger="api")
        EventFactory(subscriber=shopper, type="order_placed")
    branches = dict(FlowResult.objects.filter(node="split").values_list("category").annotate(n=Count("id")))
    html = staff.get(f"/flows/{ab.pk}/results/").content.decode()
    assert "Random split split" in html
    for name, runs in branches.items():
        assert f"<td>{name}</td><td>{runs}</td><td>{runs}</td><td>100 %</td>" in html


def test_export_and_import_in_the_pages(staff):
    from django.core.files.uploadedfile import SimpleUploadedFile

    get_user(staff).user_permissions.add(Permission.objects.get(codename="add_flow"))
    gift = Flow.objects.get(name="Gift finder")
    response = staff.get(f"/flows/{gift.pk}/export.json")
    assert response["Content-Disposition"] == 'attachment; filename="gift-finder.json"'
    document = json.loads(response.content)
    document["name"] = "Gift finder II"
    upload = SimpleUploadedFile("gift.json", json.dumps(document).encode(), content_type="application/json")
    response = staff.post("/flows/import/", {"file": upload})
    copy = Flow.objects.get(name="Gift finder II")
    assert response["Location"] == f"/flows/{copy.pk}/" and copy.draft == gift.draft
    broken = SimpleUploadedFile("x.json", b"{not json", content_type="application/json")
    page = staff.post("/flows/import/", {"file": broken}, follow=True).content.decode()
    assert "Not imported: the file is not JSON" in page
