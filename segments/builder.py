"""The builder's form: segment rules as a tree of rows, read back from the posted form.

The page renders the rules as nested groups and condition rows whose inputs are named
by the row's place (`r-1-0__op` is the op of the first condition of the root's second
group). Each htmx request posts the whole form: the rules as last rendered (a hidden
JSON field), the inputs, and maybe an action (add a condition, add a group, remove a
row). `tree_from_post` applies them and `rules_from_tree` gives the rules to check,
count and save. No state lives on the server between requests.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from conversations import event_types
from conversations.models import AttributeDefinition

from .rules import ATTRIBUTE_OPS, FIELD_CONDITIONS, MAX_DEPTH, rule_kind

ROOT = "r"
GROUP_MODES = {"all": "all of", "any": "any of", "none": "none of"}
KIND_LABELS = {
    "attribute": "Answer (attribute)",
    "event": "Event",
    "engagement": "Engagement",
    "tag": "Tag",
    "segment": "In segment",
    "status": "Subscription status",
    "consent_source": "Consent source",
    "opted_in": "Opt-in date",
    "country": "Phone country",
    "state": "Phone state / province",
    "time_zone": "Time zone",
    "flow": "Flow answer",
}
OP_LABELS = {
    "eq": "is",
    "ne": "is not",
    "in": "is any of",
    "contains": "includes",
    "is_set": "is known",
    "not_set": "is not known",
    "gt": "is more than",
    "gte": "is at least",
    "lt": "is less than",
    "lte": "is at most",
    "happened": "happened",
    "not_happened": "did not happen",
    "count_gte": "happened at least",
}
MULTI_VALUE_OPS = {"in", "contains"}


@dataclass
class Group:
    mode: str = "all"
    children: list = field(default_factory=list)


def tree_from_rules(rules: Mapping | None) -> Group:
    """The rules as a root group of groups and conditions (a bare condition becomes a group of one)."""
    if not rules:
        return Group()
    node = _node(rules)
    return node if isinstance(node, Group) else Group("all", [node])


def _node(rule):
    kind = rule_kind(rule) if isinstance(rule, dict) else ""
    if kind in ("all", "any"):
        return Group(kind, [_node(child) for child in rule[kind]])
    if kind == "not":
        inner = rule["not"]
        if isinstance(inner, dict) and rule_kind(inner) == "any":
            return Group("none", [_node(child) for child in inner["any"]])
        return Group("none", [_node(inner)])
    return dict(rule) if isinstance(rule, dict) else {}


def rules_from_tree(group: Group) -> dict:
    children = [rules_from_tree(child) if isinstance(child, Group) else child for child in group.children]
    if group.mode == "none":
        return {"not": {"any": children}}
    return {group.mode: children}


def tree_from_post(post, definitions: list[AttributeDefinition]) -> Group:
    """Rebuild the tree from the posted form: last rules, then the inputs, then the action."""
    try:
        tree = tree_from_rules(json.loads(post.get("rules_json") or "{}", parse_constant=_refuse_constant))
    except (ValueError, TypeError, RecursionError):
        tree = Group("all", [new_condition(definitions)])  # unreadable: start again from one row
    by_key = {definition.key: definition for definition in definitions}
    _apply_inputs(tree, ROOT, post, by_key)
    action, _, path = (post.get("action") or "").partition(":")
    if action in ("add_condition", "add_group"):
        target = _find(tree, path)
        if isinstance(target, Group) and _depth(path) < MAX_DEPTH:
            target.children.append(
                Group("all", [new_condition(definitions)]) if action == "add_group" else new_condition(definitions)
            )
    elif action == "remove" and path != ROOT:
        parent_path, _, index = path.rpartition("-")
        parent = _find(tree, parent_path)
        if isinstance(parent, Group) and _is_index(index) and int(index) < len(parent.children):
            del parent.children[int(index)]
    return tree


def _find(tree: Group, path: str):
    node = tree
    for index in path.split("-")[1:]:
        if not isinstance(node, Group) or not _is_index(index) or int(index) >= len(node.children):
            return None
        node = node.children[int(index)]
    return node


def _is_index(text: str) -> bool:
    return text.isascii() and text.isdecimal() and len(text) <= 4


def _depth(path: str) -> int:
    return path.count("-")


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not a JSON number")


def new_condition(definitions: list[AttributeDefinition]) -> dict:
    return default_for_kind("attribute", definitions)


def default_for_kind(kind: str, definitions: list[AttributeDefinition]) -> dict:
    if kind == "attribute":
        first = definitions[0] if definitions else None
        if first is None:
            return {"attribute": "", "op": "eq"}
        return {"attribute": first.key, "op": ATTRIBUTE_OPS[first.type][0]}
    if kind == "event":
        return {"event": event_types.ORDER_PLACED, "op": "happened", "within_days": 30}
    if kind == "engagement":
        return {"engagement": "replied", "op": "happened", "within_days": 30}
    if kind == "opted_in":
        return {"opted_in": {"within_days": 30}}
    if kind == "flow":
        return {"flow": "", "question": ""}
    if kind == "segment":
        return {"segment": ""}
    if kind == "status":
        return {"status": "subscribed"}
    return {kind: ""}


def _apply_inputs(group: Group, path: str, post, definitions: dict[str, AttributeDefinition]) -> None:
    mode = post.get(f"{path}__mode")
    if mode in GROUP_MODES:
        group.mode = mode
    for index, child in enumerate(group.children):
        child_path = f"{path}-{index}"
        if isinstance(child, Group):
            _apply_inputs(child, child_path, post, definitions)
        else:
            group.children[index] = _condition_from_post(child, child_path, post, definitions)


def _condition_from_post(rule: dict, path: str, post, definitions) -> dict:
    def get(name: str) -> str | None:
        value = post.get(f"{path}__{name}")
        return value.strip() if isinstance(value, str) else None

    if f"{path}__kind" not in post:
        return rule  # the row's inputs were not posted: keep it as it was
    old_kind = rule_kind(rule)
    kind = get("kind") or old_kind
    if kind not in KIND_LABELS:
        return rule
    if kind != old_kind:
        return default_for_kind(kind, list(definitions.values()))
    if kind == "attribute":
        return _attribute_from_post(rule, path, post, get, definitions)
    if kind == "event":
        built = {"event": get("event") or "", "op": get("op") or "happened"}
        if built["op"] == "count_gte":
            built["count"] = _number(get("count") or "2")
        if get("within_days"):
            built["within_days"] = _number(get("within_days"))
        if get("since_last"):
            built["since_last"] = get("since_last")
        if get("where_property"):
            where = {"property": get("where_property"), "op": get("where_op") or "eq"}
            if where["op"] not in ("is_set", "not_set"):
                old = (
                    ((rule.get("where") or [{}])[0] or {}).get("value") if isinstance(rule.get("where"), list) else None
                )
                where["value"] = _kept(old, get("where_value") or "", _json_scalar)
            built["where"] = [where]
        return built
    if kind == "engagement":
        built = {"engagement": get("engagement") or "replied", "op": get("op") or "happened"}
        if get("within_days"):
            built["within_days"] = _number(get("within_days"))
        return built
    if kind == "opted_in":
        how = get("how") if get("how") in ("within_days", "more_than_days") else "within_days"
        return {"opted_in": {how: _number(get("days") or "")}}
    if kind == "flow":
        built = {"flow": _number(get("flow") or ""), "question": get("question") or ""}
        if get("answer"):
            # Choice answers are stored as text ("2" stays "2"); yes/no answers as true/false.
            built["answer"] = _kept(rule.get("answer"), get("answer"), _yes_no_or_text)
        return built
    if kind == "segment":
        return {"segment": _number(get("segment") or "")}
    if kind in FIELD_CONDITIONS and kind not in ("status", "consent_source"):
        values = [item.strip() for item in (get(kind) or "").split(",") if item.strip()]
        return {kind: values if len(values) > 1 else (values[0] if values else "")}
    return {kind: get(kind) or ""}


def _attribute_from_post(rule, path, post, get, definitions) -> dict:
    key = get("attribute") or rule.get("attribute", "")
    definition = definitions.get(key)
    if definition is None:
        return {"attribute": key, "op": get("op") or "eq"}
    allowed = ATTRIBUTE_OPS[definition.type]
    op = get("op") if get("op") in allowed else None
    if key != rule.get("attribute") or op is None:
        op = op or allowed[0]
        return {"attribute": key, "op": op}  # a new attribute or op: pick its value afresh
    built = {"attribute": key, "op": op}
    if op in ("is_set", "not_set"):
        return built
    if definition.is_choice and op in MULTI_VALUE_OPS:
        values = [value for value in post.getlist(f"{path}__value") if value]
        if op == "contains" and len(values) == 1:
            built["value"] = values[0]
        elif values:
            built["value"] = values
        return built
    raw = get("value")
    if raw:
        if definition.type == AttributeDefinition.Type.NUMBER:
            built["value"] = _number(raw)
        elif op == "in":
            built["value"] = [item.strip() for item in raw.split(",") if item.strip()]
        else:
            built["value"] = raw
    return built


def _kept(old, text: str, parse):
    """The value as it was when its input still shows it (so `true` or "1234" keep their type), else parsed."""
    if old is not None and not isinstance(old, list | dict) and _shown(old) == text:
        return old
    return parse(text)


def _shown(value) -> str:
    return str(value)  # what the template printed into the input


def _json_scalar(text: str):
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    return _number(text)


def _yes_no_or_text(text: str):
    lowered = text.lower()
    return lowered == "true" if lowered in ("true", "false") else text


_INTEGER = re.compile(r"^-?\d{1,9}$")
_DECIMAL = re.compile(r"^-?\d{0,12}\.\d{1,6}$")


def _number(text: str):
    """A whole number or a decimal when the text is one; the text itself otherwise (validation names it)."""
    if _INTEGER.match(text):
        return int(text)
    if _DECIMAL.match(text):
        return float(text)
    return text


def problems_by_path(problems: list[str]) -> tuple[dict[str, list[str]], list[str]]:
    """Map "rules.all[1].not.any[0].value: …" to the builder row "r-1-0"; the rest stay general."""
    by_path: dict[str, list[str]] = {}
    general = []
    for problem in problems:
        place, _, message = problem.partition(": ")
        indices = re.findall(r"\[(\d+)\]", place.split(".where")[0])
        if place.startswith("rules.") and indices:
            by_path.setdefault("-".join([ROOT, *indices]), []).append(message)
        else:
            general.append(problem)
    return by_path, general


def is_incomplete(rule: Mapping) -> bool:
    """A row the user has not finished (no value picked yet): left out of the count, refused on save."""
    kind = rule_kind(rule)
    if kind == "attribute":
        return rule.get("op") not in ("is_set", "not_set") and rule.get("value") in (None, "", [])
    if kind == "flow":
        return rule.get("flow") == "" or not rule.get("question")
    if kind == "opted_in":
        return "" in (rule.get("opted_in") or {"": ""}).values()
    if kind in ("event", "segment", "tag", *FIELD_CONDITIONS):
        return rule.get(kind) in ("", [], None)
    return False


def incomplete_paths(group: Group, path: str = ROOT) -> set[str]:
    """The places of unfinished rows, and of groups with no rows yet."""
    found = set() if group.children else {path}
    for index, child in enumerate(group.children):
        child_path = f"{path}-{index}"
        if isinstance(child, Group):
            found |= incomplete_paths(child, child_path)
        elif is_incomplete(child):
            found.add(child_path)
    return found


def without_incomplete(group: Group) -> Group:
    """The tree without unfinished rows and the groups they leave empty."""
    children = []
    for child in group.children:
        if isinstance(child, Group):
            child = without_incomplete(child)
            if child.children:
                children.append(child)
        elif not is_incomplete(child):
            children.append(child)
    return Group(group.mode, children)
