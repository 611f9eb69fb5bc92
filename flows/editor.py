"""The flow editor's work on a draft definition: add, change, delete and move nodes (pure functions).

Each node type has a list of fields the editor shows; `node_from_form` reads a node's card form back into the
node, keeping the fields the form does not show (a `where` filter, a label). Nothing here checks the flow as
a whole: flows/checks.py does, on every change.
"""

import copy
import hashlib
import json
import math
import re

from conversations import event_types

NODE_TYPES = {
    "send_message": "Send a text",
    "ask_question": "Ask a question",
    "split_by_attribute": "Split by answer, tag or status",
    "split_random": "Split at random (A/B)",
    "wait": "Wait",
    "wait_for_event": "Wait for an event",
    "set_attribute": "Set an answer",
    "add_tag": "Add a tag",
    "remove_tag": "Remove a tag",
    "send_offer": "Send an offer",
    "handoff_to_agent": "Hand off to an agent",
    "start_flow": "Start another flow",
    "end": "End",
}
# (field, kind, label) per node type; a dotted field is nested ("other.next").
FIELDS = {
    "send_message": [("text", "text", "Text"), ("media_url", "line", "Picture URL"), ("next", "next", "Then")],
    "ask_question": [
        ("text", "text", "Question"),
        ("attribute", "attribute", "Saves the answer as"),
        ("answer_type", "answer_type", "Answer type (without an attribute)"),
        ("other.nudge", "line", "If the answer matches nothing, ask again with"),
        ("other.max_retries", "int", "Ask again at most (times)"),
        ("other.next", "next", "Then, still no answer"),
        ("no_reply.after_minutes", "int", "No reply after (minutes)"),
        ("no_reply.next", "next", "Then, without a reply"),
        ("next", "next", "Any other answer goes to"),
    ],
    "split_by_attribute": [("else", "next", "Otherwise")],
    "split_random": [],
    "wait": [
        ("minutes", "int", "Wait (minutes)"),
        ("until_local_time", "line", "…or until this local time (HH:MM)"),
        ("next", "next", "Then"),
    ],
    "wait_for_event": [
        ("event", "line", "Event"),
        ("within_minutes", "int", "Within (minutes)"),
        ("next", "next", "When it happens"),
        ("timeout_next", "next", "If it does not"),
    ],
    "set_attribute": [("attribute", "attribute", "Answer"), ("value", "line", "Value"), ("next", "next", "Then")],
    "add_tag": [("tag", "line", "Tag"), ("next", "next", "Then")],
    "remove_tag": [("tag", "line", "Tag"), ("next", "next", "Then")],
    "send_offer": [
        ("text", "text", "Text (use {{ offer_code }})"),
        ("code", "line", "Code for everyone"),
        ("pool", "line", "…or one code each from the pool"),
        ("next", "next", "Then"),
    ],
    "handoff_to_agent": [
        ("text", "text", "Text to the shopper"),
        ("note", "line", "Note for the agent"),
        ("next", "next", "Then"),
    ],
    "start_flow": [("flow", "line", "Flow (id or name)")],
    "end": [],
}
BRANCHING = {"ask_question", "split_random", "split_by_attribute"}
SPLIT_OPS = ["eq", "ne", "in", "is_set", "not_set"]


def new_node(node_type: str, node_id: str) -> dict:
    """A new node of a type, with what it needs to be valid."""
    starts = {
        "send_message": {"text": 'Hi {{ first_name|default:"there" }}!'},
        "ask_question": {"text": "Your question?", "answer_type": "text"},
        "split_by_attribute": {"branches": [{"attribute": "", "op": "is_set", "next": None}]},
        "split_random": {"branches": [{"percent": 50, "next": None}, {"percent": 50, "next": None}]},
        "wait": {"minutes": 60},
        "wait_for_event": {"event": event_types.ORDER_PLACED, "within_minutes": 60},
        "set_attribute": {"attribute": "", "value": ""},
        "add_tag": {"tag": "tag"},
        "remove_tag": {"tag": "tag"},
        "send_offer": {"text": "Here is {{ offer_code }} for 15 % off.", "code": "WELCOME15"},
        "handoff_to_agent": {"note": "please follow up"},
        "start_flow": {"flow": ""},
        "end": {},
    }
    return {"id": node_id, "type": node_type, **copy.deepcopy(starts[node_type])}


def node_add(definition: dict, node_type: str, *, after: str | None = None) -> tuple[dict, str]:
    """The definition with a new node after `after` (or last); returns it and the new node's id."""
    if node_type not in NODE_TYPES:
        raise ValueError(f"unknown node type {node_type!r}")
    definition = copy.deepcopy(definition) if definition else {"nodes": []}
    nodes = definition.setdefault("nodes", [])
    node_id = _free_id(nodes, node_type)
    index = next((i + 1 for i, node in enumerate(nodes) if node.get("id") == after), len(nodes))
    node = new_node(node_type, node_id)
    previous = nodes[index - 1] if after and index > 0 else None
    if previous is not None and previous.get("next") and node_type != "end":
        # Inserted into the path: the node before leads to it, and it leads where that node led.
        node["next"], previous["next"] = previous["next"], node_id
    nodes.insert(index, node)
    return definition, node_id


def node_delete(definition: dict, node_id: str) -> dict:
    """The definition without the node; what pointed at it now points nowhere (the checks will say so)."""
    definition = copy.deepcopy(definition)
    definition["nodes"] = [node for node in definition["nodes"] if node.get("id") != node_id]
    for node in definition["nodes"]:
        _retarget(node, node_id, None)
    if definition.get("start") == node_id:
        definition.pop("start")
    return definition


def node_move(definition: dict, node_id: str, step: int) -> dict:
    """The definition with the node moved up (-1) or down (+1) among the cards (the order is only for reading,
    except that the first node is where the flow starts unless `start` says otherwise)."""
    definition = copy.deepcopy(definition)
    nodes = definition["nodes"]
    index = next((i for i, node in enumerate(nodes) if node.get("id") == node_id), None)
    if index is not None and 0 <= index + step < len(nodes):
        nodes[index], nodes[index + step] = nodes[index + step], nodes[index]
    return definition


def node_replace(definition: dict, node_id: str, node: dict) -> dict:
    definition = copy.deepcopy(definition)
    definition["nodes"] = [node if n.get("id") == node_id else n for n in definition["nodes"]]
    return definition


def node_fingerprint(node: dict) -> str:
    """A short digest of a node as a card shows it: the card's form sends it back, so that saving a card someone else
    changed meanwhile is noticed (flows.services.flow_draft_node_save)."""
    text = json.dumps(node, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def node_from_form(node: dict, form) -> dict:
    """The node as its card's form says (fields the form does not show are kept)."""
    node = copy.deepcopy(node)
    for field, kind, _ in FIELDS.get(node["type"], []):
        if f"f-{field}" not in form:
            continue
        raw = form.get(f"f-{field}", "").strip()
        value = _parse(raw, kind)
        _set(node, field, value)
    if node["type"] in BRANCHING:
        node["branches"] = _branches_from_form(node, form)
    action = form.get("action", "")
    if action == "add_branch" and node["type"] in BRANCHING:
        node.setdefault("branches", []).append(_new_branch(node["type"]))
    elif action.startswith("remove_branch:") and action[14:].isascii() and action[14:].isdecimal():
        index = int(action[14:])
        if index < len(node.get("branches", [])):
            del node["branches"][index]
    if node["type"] == "ask_question" and not node.get("branches"):
        node.pop("branches", None)  # a question needs no branches: any answer goes to `next`
    for parent in ("other", "no_reply"):
        if parent in node and not node[parent]:
            del node[parent]
    return node


def _parse(raw: str, kind: str):
    if raw == "":
        return None
    if kind == "int":
        return int(raw) if re.fullmatch(r"-?\d{1,9}", raw) else raw  # the checks name a bad number
    return raw


def _set(node: dict, field: str, value) -> None:
    parent, _, leaf = field.rpartition(".")
    target = node.setdefault(parent, {}) if parent else node
    if value is None:
        target.pop(leaf, None)
    else:
        target[leaf] = value


def _branches_from_form(node: dict, form) -> list[dict]:
    branches = []
    for index, old in enumerate(node.get("branches", [])):
        if f"b-{index}-next" not in form:
            branches.append(old)
            continue
        branch = dict(old)
        branch["next"] = form.get(f"b-{index}-next") or None
        if node["type"] == "ask_question":
            branch["values"] = [value for value in form.getlist(f"b-{index}-values") if value]
        elif node["type"] == "split_random":
            branch["percent"] = _number(form.get(f"b-{index}-percent", ""))
        else:
            for name in ("attribute", "op", "value", "tag"):
                value = form.get(f"b-{index}-{name}", "").strip()
                if value:
                    branch[name] = value
                else:
                    branch.pop(name, None)
        branches.append(branch)
    return branches


def _new_branch(node_type: str) -> dict:
    if node_type == "ask_question":
        return {"values": [], "next": None}
    if node_type == "split_random":
        return {"percent": 0, "next": None}
    return {"attribute": "", "op": "eq", "value": "", "next": None}


def _number(text: str):
    """A number when the text is a finite one in range; the text itself otherwise (the checks name it)."""
    try:
        number = float(text) if "." in text or "e" in text.lower() else int(text)
    except ValueError:
        return text
    return number if math.isfinite(number) and abs(number) <= 1e9 else text


def _retarget(node: dict, old: str, new) -> None:
    for key in ("next", "else", "timeout_next"):
        if node.get(key) == old:
            node[key] = new
    for parent in ("other", "no_reply"):
        if isinstance(node.get(parent), dict) and node[parent].get("next") == old:
            node[parent]["next"] = new
    for branch in node.get("branches", []):
        if isinstance(branch, dict) and branch.get("next") == old:
            branch["next"] = new


def _free_id(nodes: list[dict], node_type: str) -> str:
    taken = {node.get("id") for node in nodes}
    base = {"ask_question": "ask", "send_message": "text"}.get(node_type, node_type)
    number = 1
    while f"{base}_{number}" in taken:
        number += 1
    return f"{base}_{number}"
