"""The flow simulator: a draft run through the real engine and matching, for a pretend shopper.

Nothing is sent and nothing is stored but the simulation itself (a plain dict the editor keeps in the
session): the engine's effects are applied to the pretend shopper (answers, tags) and written as a
transcript. Time is the simulation's own: fast-forwarding fires the wait or no-reply timeout the run is at.
A flow an event starts is tried with a sample of that event's properties (conversations/event_properties.py),
which the store may edit, so that its texts show `{{ event.url }}` and the like filled in.
"""

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError

from conversations.attributes import clean_value
from conversations.event_properties import sample_properties
from conversations.models import AttributeDefinition

from . import engine

PRETEND_CODE = "TEST-CODE"
KEPT_LINES = 100  # of the chat, in the session
MAX_EVENT_CHARACTERS = 20_000  # of the sample event's JSON a store may type


@dataclass
class Simulation:
    definition: dict
    now: datetime
    first_name: str = "Sam"
    attributes: dict = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    event: dict = field(default_factory=dict)  # the properties of the pretend event that started the run
    state: dict | None = None
    transcript: list[dict] = field(default_factory=list)  # {"who": flow|shopper|note, "text", "node"}

    @property
    def node(self) -> str:
        return (self.state or {}).get("node") or ""

    @property
    def ended(self) -> bool:
        return (self.state or {}).get("status") in (engine.COMPLETED, engine.EXPIRED, engine.INTERRUPTED)

    @property
    def waiting_for(self) -> str:
        return (self.state or {}).get("waiting_for") or ""

    def as_dict(self) -> dict:
        """What the session keeps: the draft only by its fingerprint, and the last lines of the chat."""
        return {
            "draft": draft_fingerprint(self.definition),
            "now": self.now.isoformat(),
            "first_name": self.first_name,
            "attributes": self.attributes,
            "tags": self.tags,
            "event": self.event,
            "state": self.state,
            "transcript": self.transcript[-KEPT_LINES:],
        }

    @classmethod
    def from_dict(cls, data: dict, definition: dict) -> "Simulation | None":
        """The simulation kept in the session, or None when the draft has changed since (it starts again)."""
        if data.get("draft") != draft_fingerprint(definition):
            return None
        fields = {key: value for key, value in data.items() if key != "draft"}
        return cls(definition=definition, **{**fields, "now": datetime.fromisoformat(data["now"])})


def draft_fingerprint(definition: dict) -> str:
    return hashlib.sha256(json.dumps(definition, sort_keys=True, default=str).encode()).hexdigest()[:16]


class BadSampleEvent(ValueError):
    """The sample event the store typed cannot be read; the message says why."""


def event_from_text(text: str) -> dict:
    """The sample event's properties as the store typed them (a JSON object); BadSampleEvent saying what is wrong."""
    if len(text) > MAX_EVENT_CHARACTERS:
        raise BadSampleEvent(f"the sample event is over {MAX_EVENT_CHARACTERS:,} characters")
    try:
        properties = json.loads(text or "{}")
    except (ValueError, RecursionError) as error:
        raise BadSampleEvent(f"the sample event is not JSON ({error.__class__.__name__})") from None
    if not isinstance(properties, dict):
        raise BadSampleEvent('the sample event must be a JSON object of properties: {"url": "https://…"}')
    return properties


def simulation_start(
    definition: dict,
    *,
    now: datetime,
    questions: dict,
    definitions: dict[str, AttributeDefinition],
    event: dict | None = None,
) -> Simulation:
    """A fresh pretend shopper who has just entered the flow (started by an event with `event`'s properties)."""
    simulation = Simulation(definition=definition, now=now, event=dict(event or {}))
    simulation.state = engine.new_state(event=simulation.event if event is not None else None)
    _step(simulation, engine.Start(now, random=0.5), questions, definitions)
    return simulation


def sample_event(event_type: str) -> dict:
    """Made-up properties of an `event_type` event for the simulator ({} for a type Parley does not know)."""
    return sample_properties(event_type)


def simulation_reply(simulation: Simulation, text: str, *, questions: dict, definitions: dict) -> None:
    """The pretend shopper texts `text`."""
    simulation.transcript.append({"who": "shopper", "text": text, "node": simulation.node})
    if not _step(simulation, engine.Reply(text, simulation.now, random=0.5), questions, definitions):
        simulation.transcript.append({"who": "note", "text": "The flow is not waiting for a reply now.", "node": ""})


def simulation_fast_forward(simulation: Simulation, *, questions: dict, definitions: dict) -> None:
    """Jump to the time the run waits for (a wait's end, a no-reply timeout) and let it fire."""
    wake_at = (simulation.state or {}).get("wake_at")
    if not wake_at:
        simulation.transcript.append({"who": "note", "text": "Nothing is waiting for time.", "node": ""})
        return
    simulation.now = max(simulation.now, datetime.fromisoformat(wake_at)) + timedelta(seconds=1)
    simulation.transcript.append({"who": "note", "text": f"» {simulation.now:%a %H:%M}", "node": simulation.node})
    _step(simulation, engine.Timeout(simulation.now, random=0.5), questions, definitions)


def simulation_event(
    simulation: Simulation, event_type: str, properties: dict, *, questions: dict, definitions: dict
) -> None:
    """A store event (order_placed…) for the pretend shopper."""
    simulation.transcript.append({"who": "note", "text": f"Event: {event_type}", "node": simulation.node})
    given = engine.Event(event_type, simulation.now, dict(properties), random=0.5)
    if not _step(simulation, given, questions, definitions):
        simulation.transcript.append({"who": "note", "text": "The flow is not waiting for this event.", "node": ""})


def _step(simulation: Simulation, given, questions: dict, definitions: dict) -> bool:
    context = engine.Context(
        first_name=simulation.first_name,
        tags=frozenset(simulation.tags),
        attributes=dict(simulation.attributes),
        time_zone="UTC",
        store="Your store",
        questions=questions,
    )
    outcome = engine.step(simulation.definition, simulation.state, given, context)
    if not outcome.consumed:
        return False
    simulation.state = outcome.state
    for effect in outcome.effects:
        _apply(simulation, effect, definitions)
    return True


def _apply(simulation: Simulation, effect, definitions: dict[str, AttributeDefinition]) -> None:
    say = simulation.transcript.append
    if isinstance(effect, engine.Send):
        say({"who": "flow", "text": effect.text, "node": effect.node})
    elif isinstance(effect, engine.SendOffer):
        say(
            {
                "who": "flow",
                "text": effect.text.replace(engine.OFFER_CODE, effect.code or PRETEND_CODE),
                "node": effect.node,
            }
        )
    elif isinstance(effect, engine.SetAttribute):
        definition = definitions.get(effect.key)
        try:
            value = clean_value(definition, effect.value) if definition else effect.value
        except ValidationError as error:
            say({"who": "note", "text": f"Not saved: {error.messages[0]}", "node": effect.node})
            return
        if value is None:
            simulation.attributes.pop(effect.key, None)
        else:
            simulation.attributes[effect.key] = value
        say({"who": "note", "text": f"{effect.key} = {value}", "node": effect.node})
    elif isinstance(effect, engine.AddTag) and effect.tag not in simulation.tags:
        simulation.tags.append(effect.tag)
        say({"who": "note", "text": f"tag + {effect.tag}", "node": ""})
    elif isinstance(effect, engine.RemoveTag) and effect.tag in simulation.tags:
        simulation.tags.remove(effect.tag)
        say({"who": "note", "text": f"tag − {effect.tag}", "node": ""})
    elif isinstance(effect, engine.Handoff):
        say({"who": "note", "text": f"Handed to an agent: {effect.note}", "node": effect.node})
    elif isinstance(effect, engine.StartFlow):
        say({"who": "note", "text": f"Would start flow {effect.flow}", "node": ""})
    elif isinstance(effect, engine.WaitUntil) and effect.waiting_for != "reply":
        say({"who": "note", "text": f"Waits for {effect.waiting_for} until {effect.at:%a %H:%M}", "node": ""})
    elif isinstance(effect, engine.End):
        say(
            {
                "who": "note",
                "text": f"The flow ended ({effect.status}{': ' + effect.reason if effect.reason else ''})",
                "node": "",
            }
        )
