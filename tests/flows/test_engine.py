"""The pure engine: definitions in, states and effects out; replayable conversations."""

import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from flows import engine
from flows.engine import Event, Reply, Start, Timeout
from tests.flows.conftest import NOW

ROOT = Path(__file__).resolve().parents[2]

QUIZ = {
    "nodes": [
        {
            "id": "ask_size",
            "type": "ask_question",
            "text": 'Hi {{ first_name|default:"there" }}! What size do you usually wear? Reply S, M, L or XL',
            "attribute": "size",
            "next": "ask_diet",
            "other": {"nudge": "Just reply S, M, L or XL 🙂", "max_retries": 1, "next": "human"},
            "no_reply": {"after_minutes": 1440, "next": "bye"},
        },
        {
            "id": "ask_diet",
            "type": "ask_question",
            "text": "Any diet? e.g. vegan, gluten free",
            "attribute": "diet",
            "branches": [{"values": ["vegan"], "next": "vegan_offer"}],
            "next": "thanks",
        },
        {
            "id": "vegan_offer",
            "type": "send_offer",
            "text": "Size {{ attributes.size }} and vegan: {{ offer_code }}",
            "code": "VEGAN10",
            "next": "thanks",
        },
        {"id": "thanks", "type": "send_message", "text": "Thanks {{ first_name }}! {{ attributes.size|label }} it is."},
        {"id": "human", "type": "handoff_to_agent", "note": "could not read the size"},
        {"id": "bye", "type": "end"},
    ]
}


def run(definition, inputs, context):
    state, transcript = None, []
    for given in inputs:
        outcome = engine.step(definition, state, given, context)
        state = outcome.state
        transcript.append(outcome)
    return state, transcript


def texts(outcome):
    return [effect.text for effect in outcome.effects if isinstance(effect, engine.Send | engine.SendOffer)]


def sets(outcomes):
    return {e.key: e.value for o in outcomes for e in o.effects if isinstance(e, engine.SetAttribute)}


def test_the_quiz_understands_typos_and_personalizes(context):
    state, steps = run(QUIZ, [Start(NOW), Reply("mediun", NOW), Reply("vegan", NOW)], context)
    assert texts(steps[0]) == ["Hi Ana! What size do you usually wear? Reply S, M, L or XL"]
    assert texts(steps[1]) == ["Any diet? e.g. vegan, gluten free"]
    assert texts(steps[2]) == ["Size M and vegan: {{ offer_code }}", "Thanks Ana! Medium it is."]
    assert sets(steps) == {"size": "M", "diet": ["vegan"]}
    assert state["status"] == engine.COMPLETED
    assert state["path"] == ["ask_size", "ask_diet", "vegan_offer", "thanks"]


def test_a_reply_it_cannot_read_gets_a_nudge_then_a_person(context):
    state, steps = run(QUIZ, [Start(NOW), Reply("idk", NOW), Reply("whatever", NOW)], context)
    assert texts(steps[1]) == ["Just reply S, M, L or XL 🙂"]
    assert state["status"] == engine.COMPLETED
    assert any(isinstance(e, engine.Handoff) for e in steps[2].effects)
    results = [e for o in steps for e in o.effects if isinstance(e, engine.Result)]
    assert [r.category for r in results] == ["other", "other"]


def test_no_reply_times_out_to_its_path_and_not_before(context):
    state, steps = run(QUIZ, [Start(NOW)], context)
    assert state["wake_at"] == (NOW + timedelta(days=1)).isoformat()
    early = engine.step(QUIZ, state, Timeout(NOW + timedelta(hours=2)), context)
    assert (early.consumed, early.effects) == (False, [])
    late = engine.step(QUIZ, state, Timeout(NOW + timedelta(days=2)), context)
    assert late.state["status"] == engine.COMPLETED and late.state["path"][-1] == "bye"
    after = engine.step(QUIZ, late.state, Reply("M", NOW + timedelta(days=2)), context)
    assert after.consumed is False  # a reply after the run ended is not the flow's


def test_waits_and_events(context):
    cart = {
        "nodes": [
            {"id": "wait", "type": "wait", "minutes": 60, "next": "check"},
            {
                "id": "check",
                "type": "wait_for_event",
                "event": "order_placed",
                "within_minutes": 1,
                "next": "done",
                "timeout_next": "nudge",
            },
            {"id": "nudge", "type": "send_message", "text": "Still thinking it over?"},
            {"id": "done", "type": "end"},
        ]
    }
    state, _ = run(cart, [Start(NOW)], context)
    assert (state["waiting_for"], state["wake_at"]) == ("time", (NOW + timedelta(hours=1)).isoformat())
    assert engine.step(cart, state, Reply("hi", NOW), context).consumed is False
    state = engine.step(cart, state, Timeout(NOW + timedelta(hours=1)), context).state
    assert state["waiting_for"] == "event"
    ordered = engine.step(cart, state, Event("order_placed", NOW + timedelta(minutes=61)), context)
    assert ordered.state["path"][-1] == "done" and texts(ordered) == []
    other = engine.step(cart, state, Event("page_viewed", NOW), context)
    assert other.consumed is False
    timed_out = engine.step(cart, state, Timeout(NOW + timedelta(hours=2)), context)
    assert texts(timed_out) == ["Still thinking it over?"]


def test_wait_until_a_local_time(context):
    definition = {"nodes": [{"id": "w", "type": "wait", "until_local_time": "10:00"}]}
    state = engine.step(definition, None, Start(NOW), context).state  # 12:00 in New York
    assert state["wake_at"] == "2026-11-25T15:00:00+00:00"  # tomorrow 10:00 local


def test_splits(context):
    definition = {
        "nodes": [
            {
                "id": "split",
                "type": "split_by_attribute",
                "branches": [
                    {"attribute": "size", "op": "in", "value": ["L", "XL"], "next": "big"},
                    {"tag": "vip", "next": "vip"},
                ],
                "else": "other",
            },
            {"id": "big", "type": "end"},
            {"id": "vip", "type": "end"},
            {"id": "other", "type": "end"},
        ]
    }
    assert engine.step(definition, None, Start(NOW), context).state["path"] == ["split", "other"]
    big = context.__class__(**{**context.__dict__, "attributes": {"size": "XL"}})
    assert engine.step(definition, None, Start(NOW), big).state["path"] == ["split", "big"]
    vip = context.__class__(**{**context.__dict__, "tags": frozenset({"vip"})})
    assert engine.step(definition, None, Start(NOW), vip).state["path"] == ["split", "vip"]
    ab = {
        "nodes": [
            {
                "id": "ab",
                "type": "split_random",
                "branches": [{"percent": 30, "next": "a"}, {"percent": 70, "next": "b"}],
            },
            {"id": "a", "type": "end"},
            {"id": "b", "type": "end"},
        ]
    }
    assert engine.step(ab, None, Start(NOW, random=0.1), context).state["path"] == ["ab", "a"]
    assert engine.step(ab, None, Start(NOW, random=0.9), context).state["path"] == ["ab", "b"]


def test_the_loop_guard_ends_a_flow_that_never_waits(context):
    loop = {
        "nodes": [
            {"id": "a", "type": "add_tag", "tag": "x", "next": "b"},
            {"id": "b", "type": "remove_tag", "tag": "x", "next": "a"},
        ]
    }
    outcome = engine.step(loop, None, Start(NOW), context)
    assert outcome.state["status"] == engine.INTERRUPTED
    assert "loop guard" in outcome.effects[-1].reason


def test_the_engine_loads_no_django_and_no_database_code():
    """The engine is pure (architecture.md): importing it alone loads nothing of Django, so it runs anywhere."""
    script = "import sys, flows.engine; print(sorted(m for m in sys.modules if m.split('.')[0] == 'django'))"
    loaded = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=ROOT, env={"PATH": ""}
    )
    assert loaded.stdout.strip() == "[]"
