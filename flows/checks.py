"""The checks the flow editor runs on every change: errors block publishing, warnings only say so.

Pure: the attribute definitions, the other active flows' keywords and the segment counter are passed in.
Every check names the node it is about, so the editor can show it on that node's card.
"""

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from conversations import event_types
from conversations.event_properties import sample_properties, unknown_property
from conversations.templating import parse, render
from conversations.texts import normalize_keyword, selling_links

from . import definition as flow_definition

ERROR, WARNING = "error", "warning"
MAX_SEGMENTS = 2
# First texts of a flow the store starts (an event, a segment, the API) are marketing: CTIA wants the way out.
MARKETING_TRIGGERS = {"event", "manual"}
OPT_OUT_WORDING = re.compile(r"\b(stop|opt[ -]?out|unsubscribe)\b", re.IGNORECASE)
SENDING_TYPES = {"send_message", "ask_question", "send_offer", "handoff_to_agent"}
TRANSACTIONAL = "transactional"  # Flow.Purpose.TRANSACTIONAL: order updates, which may sell nothing
OFFER_CODE = re.compile(r"\{\{\s*offer_code\b")


@dataclass(frozen=True)
class Check:
    level: str  # error or warning
    node: str  # the node's id, or "" for the whole flow
    message: str


def flow_checks(
    definition,
    *,
    attributes: dict[str, dict],
    trigger: str = "manual",
    purpose: str = "marketing",
    keywords: Iterable[str] = (),
    keywords_in_use: dict[str, str] | None = None,
    segments_of: Callable[[str], int] | None = None,
    flow_id: int | None = None,
    flow_name: str = "",
    event_type: str = "",
) -> list[Check]:
    """Everything the editor should say about a definition, errors first.

    `keywords_in_use` maps each keyword of the *other* active flows to that flow's name; `segments_of` counts
    the SMS segments of a text (the pipeline's own counter); `event_type` is the event that starts the flow (trigger
    `event`), whose properties its texts may read.
    """
    found = [_as_check(problem) for problem in flow_definition.problems(definition, attributes)]
    if isinstance(definition, dict) and not found:
        found += event_checks(definition, trigger=trigger, event_type=event_type)
    in_use = keywords_in_use or {}
    for word in keywords:
        word = normalize_keyword(word).replace(" ", "")
        if word in in_use:
            found.append(
                Check(ERROR, "", f"the keyword {word.upper()} already starts the active flow {in_use[word]!r}")
            )
    # A transactional flow's start is checked whatever its definition holds (it says nothing about the definition).
    wrong_start = transactional_start_checks(trigger=trigger, event_type=event_type) if purpose == TRANSACTIONAL else []
    if any(check.level == ERROR for check in found) or not isinstance(definition, dict):
        return wrong_start + found  # the graph checks below need a sound definition
    found = wrong_start + found
    nodes = {node["id"]: node for node in definition["nodes"]}
    start = definition.get("start") or definition["nodes"][0]["id"]
    for node_id in nodes.keys() - reachable(nodes, start):
        found.append(Check(WARNING, node_id, "no path leads to this node: it can never run"))
    for node in definition["nodes"]:
        found += _node_warnings(node, attributes, segments_of, event_type)
        if node["type"] == "start_flow" and str(node.get("flow")) in {str(flow_id), flow_name} - {"", "None"}:
            found.append(Check(ERROR, node["id"], "this node starts the flow it is in: it would start itself forever"))
    if purpose == TRANSACTIONAL:
        found += transactional_checks(definition)
    elif trigger in MARKETING_TRIGGERS:
        first = first_text(nodes, start)
        if first is not None and not OPT_OUT_WORDING.search(first["text"]):
            found.append(
                Check(
                    WARNING,
                    first["id"],
                    "the first text of a flow the store starts is marketing: add how to opt out "
                    '("Reply STOP to opt out")',
                )
            )
    return sorted(found, key=lambda check: check.level != ERROR)


# What a flow started otherwise is, for the error that says why it cannot be transactional.
_MARKETING_STARTS = {
    event_types.CART_ABANDONED: "a cart reminder",
    event_types.CHECKOUT_STARTED: "a cart reminder",
    event_types.BROWSE_ABANDONED: "a browsing reminder",
    event_types.PRODUCT_VIEWED: "a browsing reminder",
    event_types.COLLECTION_VIEWED: "a browsing reminder",
}
_TRIGGER_NAMES = {
    "keyword": "a flow a keyword starts",
    "manual": "a flow started by hand, by the API or for a segment",
    "opt_in": "a welcome",
}


def transactional_start_problem(*, trigger: str, event_type: str) -> str | None:
    """Why a flow with this start may not be transactional (None: it may). Only an event that is an order's own news
    (event_types.TRANSACTIONAL_EVENTS) starts an order update; whatever else starts a flow, its texts are marketing."""
    if trigger == "event" and event_type in event_types.TRANSACTIONAL_EVENTS:
        return None
    if trigger == "event":
        what = _MARKETING_STARTS.get(event_type) or (
            f"a flow started by {event_type}" if event_type else "a flow started by no event type"
        )
    else:
        what = _TRIGGER_NAMES.get(trigger, f"a flow started by {trigger or 'nothing'}")
    return (
        "only a flow started by an order's own news (order placed, shipped, out for delivery, delivered) can be "
        f"transactional: {what} is marketing"
    )


def transactional_start_checks(*, trigger: str, event_type: str) -> list[Check]:
    """The flow-wide error when a transactional flow is started by anything but an order's own news."""
    problem = transactional_start_problem(trigger=trigger, event_type=event_type)
    return [Check(ERROR, "", problem)] if problem else []


def transactional_checks(definition: dict) -> list[Check]:
    """A transactional flow (order updates) texts at any hour because it sells nothing: no offer node, no
    {{ offer_code }} and no link to a sale or an offer in its texts (the send gate would refuse that text)."""
    found = []
    for node in definition["nodes"]:
        if node["type"] == "send_offer":
            found.append(
                Check(
                    ERROR,
                    node["id"],
                    "a transactional flow (order updates) may not send an offer: take this node out, or make the "
                    "flow marketing",
                )
            )
            continue
        other = node.get("other")
        texts = [node.get("text"), other.get("nudge") if isinstance(other, dict) else None]
        for text in (text for text in texts if isinstance(text, str)):
            if OFFER_CODE.search(text):
                found.append(
                    Check(ERROR, node["id"], "a transactional flow may not text an offer code ({{ offer_code }})")
                )
            for link in selling_links(text):
                found.append(
                    Check(
                        ERROR,
                        node["id"],
                        f"a transactional flow may not link to a sale or an offer ({link}): link to the order or its "
                        "tracking instead",
                    )
                )
    return found


def _as_check(problem: str) -> Check:
    match = re.match(r"node ([^:]+): (.*)", problem)
    return Check(ERROR, match[1], match[2]) if match else Check(ERROR, "", problem)


def event_checks(definition: dict, *, trigger: str, event_type: str) -> list[Check]:
    """`{{ event.… }}` only in a flow an event starts (an error elsewhere: there is no event to read), and a warning
    for a property its event type is not known to carry (conversations/event_properties.py)."""
    found = []
    for node in definition["nodes"]:
        for text in node_texts(node):
            for variable in parse(text).variables:
                if variable.root != "event" or len(variable.path) < 2:
                    continue
                if trigger != "event":
                    found.append(
                        Check(
                            ERROR,
                            node["id"],
                            f"{variable.source}: no event starts this flow (its trigger is {trigger}), so there "
                            "are no event properties to read; start it with an event, or take the variable out",
                        )
                    )
                    continue
                why = unknown_property(event_type, variable.path[1:])
                if why:
                    found.append(Check(WARNING, node["id"], f"{variable.source} may be empty: {why}"))
    return list(dict.fromkeys(found))


def node_texts(node: dict) -> list[str]:
    """The texts of a node that are filled in for the shopper: its text, an agent's note, a nudge."""
    other = node.get("other")
    texts = [node.get("text"), node.get("note"), other.get("nudge") if isinstance(other, dict) else None]
    return [text for text in texts if isinstance(text, str)]


def _node_warnings(node: dict, attributes: dict[str, dict], segments_of, event_type: str = "") -> list[Check]:
    found = []
    kind = node["type"]
    if kind == "ask_question":
        if not node.get("other") and _answer_type(node, attributes) != "text":  # any text answers a text question
            found.append(Check(WARNING, node["id"], "no path for an answer that matches nothing (other)"))
        if not node.get("no_reply"):
            found.append(Check(WARNING, node["id"], "no path for when they do not reply (no_reply)"))
    if kind not in ("end", "start_flow", "split_random", "split_by_attribute") and not _targets(node):
        found.append(
            Check(WARNING, node["id"], "nothing comes after this node: the flow ends here without an end node")
        )
    if segments_of and isinstance(node.get("text"), str) and kind in SENDING_TYPES:
        segments = segments_of(_sample(node["text"], event_type))
        if segments > MAX_SEGMENTS:
            found.append(
                Check(WARNING, node["id"], f"the text is {segments} SMS segments; keep it to {MAX_SEGMENTS} or fewer")
            )
    return found


def _answer_type(node: dict, attributes: dict[str, dict]) -> str:
    """How the engine reads the answers to a question: its own options, else its attribute's type (an
    `answer_type` left over from before the attribute was picked does not count), else its answer type."""
    if node.get("options"):
        return node.get("answer_type") or "single_choice"
    if node.get("attribute") in attributes:
        return attributes[node["attribute"]]["type"]
    return node.get("answer_type") or "text"


def _sample(text: str, event_type: str = "") -> str:
    """The text as a typical subscriber would get it (with a sample of its event), to count its segments."""
    sample = {"first_name": "Alexandra", "last_name": "Johnson", "phone": "+14155550100", "offer_code": "SAVE15"}
    event = sample_properties(event_type)
    return render(text, {**sample, "attributes": {}, "store": "Acme Outfitters", "event": event})


def _targets(node: dict) -> list[str]:
    return [target for _, target in flow_definition.node_targets(node) if target]


def reachable(nodes: dict[str, dict], start: str) -> set[str]:
    """The ids of the nodes some path from `start` reaches."""
    seen, todo = set(), [start]
    while todo:
        node_id = todo.pop()
        if node_id in seen or node_id not in nodes:
            continue
        seen.add(node_id)
        todo.extend(_targets(nodes[node_id]))
    return seen


def first_text(nodes: dict[str, dict], start: str) -> dict | None:
    """The first node on the main path that texts the subscriber (following `next` through waits and splits)."""
    node_id, seen = start, set()
    while node_id in nodes and node_id not in seen:
        seen.add(node_id)
        node = nodes[node_id]
        if node["type"] in SENDING_TYPES and isinstance(node.get("text"), str):
            return node
        targets = _targets(node)
        node_id = node.get("next") or (targets[0] if targets else None)
    return None
