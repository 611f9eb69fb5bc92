"""The flow engine: pure, so that every conversation can be replayed in a unit test.

`step(definition, state, given, context)` takes a flow definition (JSON, see flows/README.md), a run's state
(JSON, as stored on FlowRun; None for a new run), one input (Start, Reply, Timeout or Event, each carrying the
time and a random number, because the engine has no clock and no random source of its own) and what the
engine may know of the subscriber (Context). It returns the new state and the effects for the services to
apply: texts to send, attributes to set, tags, a time to wake up, a hand-off, another flow to start, the end.
It knows nothing of Django, the database, the clock or the network.

A run started by an event keeps that event's properties in its state (`new_state(event=…)`), and every text of
the run reads them as `{{ event.<property> }}`: the reminder sent after a `wait_for_event` timed out still
names the cart that started it. An awaited event that arrives chooses the path (and its `where`), but the texts
keep reading the triggering event, so that one flow's texts are always about one thing.
"""

from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from conversations.templating import render

from . import matching

MAX_STEPS = 50  # nodes run for one input before the loop guard ends the run
DEFAULT_RETRIES = 2
DEFAULT_REPLY_WAIT_MINUTES = 7 * 24 * 60
DEFAULT_NUDGE = "Sorry, I didn't catch that. {question}"
OFFER_CODE = "{{ offer_code }}"  # what a SendOffer's text holds where the services put the claimed code
OFFER_CODE_MARK = "\x00\x00"  # no letters, so that filters leave it as it is

ACTIVE, WAITING, COMPLETED, EXPIRED, INTERRUPTED = "active", "waiting", "completed", "expired", "interrupted"


# --- Inputs ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Start:
    now: datetime
    random: float = 0.5


@dataclass(frozen=True)
class Reply:
    text: str
    now: datetime
    random: float = 0.5


@dataclass(frozen=True)
class Timeout:
    now: datetime
    random: float = 0.5


@dataclass(frozen=True)
class Event:
    type: str
    now: datetime
    properties: dict = field(default_factory=dict)
    random: float = 0.5


# --- What the engine knows ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Question:
    """How answers to an attribute are read: its type and, for choices, its options."""

    type: str  # single_choice, multiple_choice, text, number, date, yes_no
    label: str = ""
    options: tuple[matching.Option, ...] = ()


@dataclass(frozen=True)
class Context:
    first_name: str = ""
    last_name: str = ""
    phone: str = ""
    status: str = "subscribed"
    tags: frozenset[str] = frozenset()
    attributes: dict = field(default_factory=dict)
    time_zone: str = "UTC"
    store: str = ""
    questions: dict[str, Question] = field(default_factory=dict)


# --- Effects ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Send:
    text: str
    node: str
    media_url: str = ""


@dataclass(frozen=True)
class SendOffer:
    """A text with an offer: a fixed code, or one unique code claimed from a pool ({{ offer_code }})."""

    text: str
    node: str
    code: str = ""
    pool: str = ""


@dataclass(frozen=True)
class SetAttribute:
    key: str
    value: object
    node: str


@dataclass(frozen=True)
class AddTag:
    tag: str


@dataclass(frozen=True)
class RemoveTag:
    tag: str


@dataclass(frozen=True)
class Result:
    """An answer (or non-answer) to a question, for the flow's results."""

    node: str
    raw_text: str
    category: str  # the matched value(s) as text, "other" or "no_reply"
    value: object = None


@dataclass(frozen=True)
class WaitUntil:
    at: datetime
    waiting_for: str  # reply, time or event


@dataclass(frozen=True)
class Handoff:
    note: str
    node: str


@dataclass(frozen=True)
class StartFlow:
    flow: int | str


@dataclass(frozen=True)
class End:
    status: str
    reason: str = ""


@dataclass(frozen=True)
class Outcome:
    state: dict
    effects: list
    consumed: bool  # False when the input was not for this run (a reply while it waits for time)


# --- The engine ----------------------------------------------------------------------------------------------


def branch_name(index: int) -> str:
    """A random split's branches are A, B, C… in the order they are listed."""
    return chr(ord("A") + index) if index < 26 else str(index + 1)


def new_state(event: dict | None = None) -> dict:
    """A run's state before its first node; `event`: the properties of the event that starts it, which its texts
    read as {{ event.<property> }} for the whole run (an awaited event decides a path but does not replace it)."""
    state = {
        "node": None,
        "status": ACTIVE,
        "waiting_for": None,
        "wake_at": None,
        "retries": 0,
        "path": [],
        "steps": 0,
        "answers": {},
        "tags_added": [],
        "tags_removed": [],
    }
    if event is not None:
        state["event"] = dict(event)
    return state


def step(definition: dict, state: dict | None, given, context: Context) -> Outcome:
    """Advance a run by one input; see the module docstring."""
    run = _Run(definition, dict(state or new_state()), context, given)
    if run.state["status"] in (COMPLETED, EXPIRED, INTERRUPTED):
        return Outcome(run.state, [], consumed=False)
    if isinstance(given, Start):
        run.goto(definition.get("start") or definition["nodes"][0]["id"])
    elif isinstance(given, Reply):
        if run.state["waiting_for"] != "reply":
            return Outcome(run.state, [], consumed=False)
        run.answer(given.text)
    elif isinstance(given, Timeout):
        wake_at = run.state["wake_at"]
        if run.state["status"] != WAITING or wake_at is None or datetime.fromisoformat(wake_at) > given.now:
            return Outcome(run.state, [], consumed=False)
        run.time_is_up()
    elif isinstance(given, Event):
        expected = run.state["waiting_for"] == "event" and run.node().get("event") == given.type
        if not expected or not _properties_match(run.node().get("where") or {}, given.properties):
            return Outcome(run.state, [], consumed=False)
        run.goto(run.node().get("next"))
    run.advance()
    return Outcome(run.state, run.effects, consumed=True)


class _Run:
    def __init__(self, definition: dict, state: dict, context: Context, given):
        self.definition = definition
        self.nodes = {node["id"]: node for node in definition["nodes"]}
        self.state = state
        self.state["path"] = list(state.get("path", []))
        self.state["answers"] = dict(state.get("answers", {}))
        self.context = context
        self.given = given
        self.now: datetime = given.now
        self.effects: list = []
        self.steps = 0

    # -- moving around

    def node(self) -> dict:
        return self.nodes[self.state["node"]]

    def goto(self, node_id: str | None) -> None:
        self.state.update(waiting_for=None, wake_at=None, retries=0)
        if node_id is None:
            self.end(COMPLETED)
            return
        self.state.update(node=node_id, status=ACTIVE)

    def end(self, status: str, reason: str = "") -> None:
        self.state.update(status=status, waiting_for=None, wake_at=None)
        self.effects.append(End(status, reason))

    def wait(self, until: datetime | None, waiting_for: str) -> None:
        self.state.update(status=WAITING, waiting_for=waiting_for, wake_at=until.isoformat() if until else None)
        if until is not None:
            self.effects.append(WaitUntil(until, waiting_for))

    def advance(self) -> None:
        """Run nodes until the run waits or ends; the loop guard stops a flow that never does."""
        while self.state["status"] == ACTIVE:
            self.steps += 1
            if self.steps > MAX_STEPS:
                self.end(INTERRUPTED, f"loop guard: {MAX_STEPS} steps without waiting")
                return
            node = self.node()
            self.state["path"].append(node["id"])
            getattr(self, f"_{node['type']}")(node)

    # -- personalization

    def values(self) -> dict:
        context = self.context
        return {
            "first_name": context.first_name,
            "last_name": context.last_name,
            "phone": context.phone,
            "attributes": {**context.attributes, **self.state["answers"]},
            "store": context.store,
            # The triggering event's properties (none for a run no event started, or one started before runs kept it).
            "event": self.state.get("event") or {},
        }

    def labels(self) -> dict:
        return {key: {o.value: o.label for o in question.options} for key, question in self.context.questions.items()}

    def text(self, template: str, **extra) -> str:
        return render(template, {**self.values(), **extra}, labels=self.labels())

    # -- nodes

    def _send_message(self, node):
        self.effects.append(Send(self.text(node["text"]), node["id"], node.get("media_url", "")))
        self.goto(node.get("next"))

    def _ask_question(self, node):
        self.effects.append(Send(self.text(node["text"]), node["id"], node.get("media_url", "")))
        self._await_reply(node)

    def _await_reply(self, node):
        # Without a no_reply path a run still never waits forever: it expires after DEFAULT_REPLY_WAIT.
        minutes = (node.get("no_reply") or {}).get("after_minutes") or DEFAULT_REPLY_WAIT_MINUTES
        self.wait(self.now + timedelta(minutes=minutes), "reply")

    def answer(self, text: str) -> None:
        node = self.node()
        found = self._match(node, text)
        if found is None:
            self.effects.append(Result(node["id"], text, "other"))
            other = node.get("other") or {}
            retries = self.state["retries"] + 1
            if retries <= other.get("max_retries", DEFAULT_RETRIES):
                nudge = other.get("nudge") or DEFAULT_NUDGE.format(question=node["text"])
                self.effects.append(Send(self.text(nudge), node["id"]))
                self._await_reply(node)
                self.state["retries"] = retries
                return
            if other.get("next"):
                self.goto(other["next"])
            else:
                self.end(COMPLETED, "no answer after the nudges")
            return
        value, category = found
        self.effects.append(Result(node["id"], text, category, value))
        if node.get("attribute"):
            self.state["answers"][node["attribute"]] = value
            self.effects.append(SetAttribute(node["attribute"], value, node["id"]))
        self.goto(self._branch_for(node, value))

    def _match(self, node: dict, text: str):
        question = self._question(node)
        if question.type in ("single_choice", "multiple_choice"):
            found = matching.match_choice(
                text,
                list(question.options),
                multiple=question.type == "multiple_choice",
                question_words=tuple(question.label.split()),
            )
            if found is None:
                return None
            category = ", ".join(found.value) if isinstance(found.value, list) else found.value
            return found.value, category
        if question.type == "yes_no":
            yes = matching.match_yes_no(text)
            return None if yes is None else (yes, "yes" if yes else "no")
        if question.type == "number":
            number = matching.match_number(text)
            return None if number is None else (number, str(number))
        if question.type == "date":
            day = matching.match_date(text, today=self.now.astimezone(ZoneInfo(self.context.time_zone)).date())
            return None if day is None else (day.isoformat(), day.isoformat())
        cleaned = text.strip()
        return (cleaned, "text") if cleaned else None

    def _question(self, node: dict) -> Question:
        if node.get("options"):
            options = tuple(
                matching.Option(o["value"], o.get("label", o["value"]), tuple(o.get("synonyms", [])))
                for o in node["options"]
            )
            return Question(node.get("answer_type", "single_choice"), node.get("label", ""), options)
        if node.get("attribute") in self.context.questions:
            return self.context.questions[node["attribute"]]
        return Question(node.get("answer_type", "text"))

    def _branch_for(self, node: dict, value) -> str | None:
        chosen = value if isinstance(value, list) else [value]
        chosen = ["yes" if v is True else "no" if v is False else str(v) for v in chosen]
        for branch in node.get("branches", []):
            if set(branch.get("values", [])) & set(chosen):
                return branch["next"]
        return node.get("next")

    def time_is_up(self) -> None:
        node = self.node()
        waiting_for = self.state["waiting_for"]
        if waiting_for == "reply":
            self.effects.append(Result(node["id"], "", "no_reply"))
            following = (node.get("no_reply") or {}).get("next")
            if following:
                self.goto(following)
            else:
                self.end(EXPIRED, "no reply in time")
        elif waiting_for == "event":
            following = node.get("timeout_next")
            if following:
                self.goto(following)
            else:
                self.end(COMPLETED, f"no {node.get('event')} in time")
        else:
            self.goto(node.get("next"))

    def _split_by_attribute(self, node):
        for branch in node.get("branches", []):
            if _condition_holds(branch, self.values()["attributes"], self.current_tags(), self.context.status):
                self.goto(branch["next"])
                return
        self.goto(node.get("else"))

    def current_tags(self) -> set[str]:
        return (set(self.context.tags) | set(self.state.get("tags_added", []))) - set(
            self.state.get("tags_removed", [])
        )

    def _split_random(self, node):
        point, total = self.given.random * 100, 0.0
        chosen = len(node["branches"]) - 1
        for index, branch in enumerate(node["branches"]):
            total += branch["percent"]
            if point < total:
                chosen = index
                break
        # The branch taken is a result ("A", "B"…), so that the flow's results can compare the branches.
        self.effects.append(Result(node["id"], "", branch_name(chosen), branch_name(chosen)))
        self.goto(node["branches"][chosen]["next"])

    def _wait(self, node):
        if node.get("until_local_time"):
            zone = ZoneInfo(self.context.time_zone)
            wanted = time.fromisoformat(node["until_local_time"])
            local = self.now.astimezone(zone)
            at = datetime.combine(local.date(), wanted, tzinfo=zone)
            if at <= local:
                at = datetime.combine(local.date() + timedelta(days=1), wanted, tzinfo=zone)
            until = at.astimezone(self.now.tzinfo)
        else:
            until = self.now + timedelta(minutes=node.get("minutes", 0))
        self.wait(until, "time")

    def _wait_for_event(self, node):
        self.wait(self.now + timedelta(minutes=node["within_minutes"]), "event")

    def _set_attribute(self, node):
        self.state["answers"][node["attribute"]] = node["value"]
        self.effects.append(SetAttribute(node["attribute"], node["value"], node["id"]))
        self.goto(node.get("next"))

    def _add_tag(self, node):
        self.state["tags_added"] = sorted(set(self.state.get("tags_added", [])) | {node["tag"]})
        self.state["tags_removed"] = [t for t in self.state.get("tags_removed", []) if t != node["tag"]]
        self.effects.append(AddTag(node["tag"]))
        self.goto(node.get("next"))

    def _remove_tag(self, node):
        self.state["tags_removed"] = sorted(set(self.state.get("tags_removed", [])) | {node["tag"]})
        self.state["tags_added"] = [t for t in self.state.get("tags_added", []) if t != node["tag"]]
        self.effects.append(RemoveTag(node["tag"]))
        self.goto(node.get("next"))

    def _send_offer(self, node):
        self.effects.append(
            SendOffer(self.text_keeping_offer(node["text"]), node["id"], node.get("code", ""), node.get("pool", ""))
        )
        self.goto(node.get("next"))

    def text_keeping_offer(self, template: str) -> str:
        # The code is only known once the services claim it: leave {{ offer_code }} for them to fill.
        return self.text(template, offer_code=OFFER_CODE_MARK).replace(OFFER_CODE_MARK, OFFER_CODE)

    def _handoff_to_agent(self, node):
        self.effects.append(Handoff(self.text(node.get("note", "")), node["id"]))
        if node.get("text"):
            self.effects.append(Send(self.text(node["text"]), node["id"]))
        self.goto(node.get("next"))

    def _start_flow(self, node):
        self.effects.append(StartFlow(node["flow"]))
        self.end(COMPLETED, f"started flow {node['flow']}")

    def _end(self, node):
        self.end(COMPLETED)


def _condition_holds(branch: dict, attributes: dict, tags: set[str], status: str) -> bool:
    if "tag" in branch:
        return branch["tag"] in tags
    if "status" in branch:
        return status == branch["status"]
    value = attributes.get(branch["attribute"])
    op = branch.get("op", "eq")
    values = value if isinstance(value, list) else [value]
    if op == "is_set":
        return value not in (None, "", [])
    if op == "not_set":
        return value in (None, "", [])
    if op == "eq":
        return branch["value"] in values
    if op == "ne":
        return branch["value"] not in values
    if op == "in":
        return bool(set(map(str, values)) & set(map(str, branch["value"])))
    raise ValueError(f"unknown condition op {op!r}")


def _properties_match(where: dict, properties: dict) -> bool:
    return all(properties.get(key) == value for key, value in where.items())


__all__ = [
    "step",
    "new_state",
    "Start",
    "Reply",
    "Timeout",
    "Event",
    "Context",
    "Question",
    "Outcome",
    "Send",
    "SendOffer",
    "SetAttribute",
    "AddTag",
    "RemoveTag",
    "Result",
    "WaitUntil",
    "Handoff",
    "StartFlow",
    "End",
]
