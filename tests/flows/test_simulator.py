"""The simulator runs a draft through the real engine for a pretend shopper: nothing sent, nothing stored."""

import json
from datetime import UTC, datetime
from pathlib import Path

from conversations.models import AttributeDefinition, Message, Subscriber
from flows import engine
from flows.matching import Option
from flows.simulator import Simulation, simulation_event, simulation_fast_forward, simulation_reply, simulation_start
from tests.conftest import load_data

TEMPLATES = Path(__file__).resolve().parents[2] / "flows" / "flow_templates"
NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
SPECS = load_data("attributes.json")
QUESTIONS = {
    s["key"]: engine.Question(
        s["type"], s["label"], tuple(Option(o["value"], o["label"], tuple(o["synonyms"])) for o in s["options"])
    )
    for s in SPECS
}
DEFINITIONS = {
    s["key"]: AttributeDefinition(key=s["key"], label=s["label"], type=s["type"], options=s["options"]) for s in SPECS
}
KNOWN = {"questions": QUESTIONS, "definitions": DEFINITIONS}


def template(name: str) -> dict:
    return json.loads((TEMPLATES / f"{name}.json").read_text())["definition"]


def said(simulation: Simulation, who: str = "flow") -> list[str]:
    return [line["text"] for line in simulation.transcript if line["who"] == who]


def test_a_typo_is_understood_and_saved_on_the_pretend_shopper():
    simulation = simulation_start(template("welcome_quiz"), now=NOW, **KNOWN)
    assert "What size do you usually wear?" in said(simulation)[0]
    assert simulation.node == "ask_size" and simulation.waiting_for == "reply"
    simulation_reply(simulation, "mediun", **KNOWN)
    assert simulation.attributes["size"] == "M"
    assert "size = M" in said(simulation, "note")
    assert simulation.node == "ask_skin"


def test_a_no_reply_timeout_can_be_fast_forwarded_and_the_state_survives_a_round_trip():
    simulation = simulation_start(template("welcome_quiz"), now=NOW, **KNOWN)
    kept = json.loads(json.dumps(simulation.as_dict()))  # as the session keeps it: no copy of the draft
    assert "definition" not in kept
    simulation = Simulation.from_dict(kept, template("welcome_quiz"))
    simulation_fast_forward(simulation, **KNOWN)
    assert simulation.now > NOW
    assert simulation.node != "ask_size" or simulation.ended


def test_an_event_the_run_waits_for_moves_it_on():
    simulation = simulation_start(template("cart_abandonment"), now=NOW, **KNOWN)
    assert simulation.waiting_for == "event"
    assert len(said(simulation)) == 1  # the reminder, at once
    simulation_event(simulation, "order_placed", {}, **KNOWN)
    assert simulation.ended and len(said(simulation)) == 1  # the order came in: no offer


def test_nothing_is_sent_or_stored(db):
    simulation = simulation_start(template("welcome_quiz"), now=NOW, **KNOWN)
    simulation_reply(simulation, "2", **KNOWN)
    assert not Message.objects.exists() and not Subscriber.objects.exists()


def test_a_reply_when_the_flow_waits_for_time_is_noted():
    simulation = simulation_start(template("cart_abandonment"), now=NOW, **KNOWN)
    simulation_reply(simulation, "hello?", **KNOWN)
    assert "The flow is not waiting for a reply now." in said(simulation, "note")
