"""Segment rules: the JSON shape, its validation and its reading in plain English.

A rule is a group (`{"all": [...]}`, `{"any": [...]}`, `{"not": rule}`) or one condition;
`segments/README.md` documents every condition and
`segments/rules.schema.json` is the JSON Schema of the shape. `rules_clean` checks a rule
against the store's attribute definitions and segments and returns it with values in
their stored form ("m" becomes "M"), or raises a ValidationError whose messages name the
place of the problem, such as `all[1].value: size must be one of S, M, L or XL (got 'XXL')`.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from django.core.exceptions import ValidationError

from conversations import event_types
from conversations.attributes import clean_value
from conversations.models import AttributeDefinition, ConsentEvent, Subscriber
from conversations.time_zones import zone_names

SCHEMA = json.loads((Path(__file__).resolve().parent / "rules.schema.json").read_text())

GROUP_KEYS = ("all", "any", "not")
MAX_DEPTH = 8
MAX_CONDITIONS = 100
MAX_DAYS = 3650
Type = AttributeDefinition.Type

# The attribute ops each type of attribute allows.
ATTRIBUTE_OPS = {
    Type.SINGLE_CHOICE: ("eq", "ne", "in", "is_set", "not_set"),
    Type.MULTIPLE_CHOICE: ("contains", "in", "is_set", "not_set"),
    Type.TEXT: ("eq", "ne", "in", "contains", "is_set", "not_set"),
    Type.NUMBER: ("eq", "ne", "in", "gt", "gte", "lt", "lte", "is_set", "not_set"),
    Type.DATE: ("eq", "ne", "gt", "gte", "lt", "lte", "is_set", "not_set"),
    Type.YES_NO: ("eq", "is_set", "not_set"),
}
PROPERTY_OPS = ("eq", "ne", "in", "gt", "gte", "lt", "lte", "is_set", "not_set")
EVENT_OPS = ("happened", "not_happened", "count_gte")
ENGAGEMENTS = ("replied", "received", "clicked")
# Condition kinds whose value is one string or a list of them, on a subscriber column.
FIELD_CONDITIONS = {
    "status": "status",
    "consent_source": "consent_source",
    "country": "country",
    "state": "state",
    "time_zone": "time_zone",
}
FIELD_CHOICES = {
    "status": [value for value, _ in Subscriber.Status.choices],
    "consent_source": [value for value, _ in ConsentEvent.Source.choices],
}
EVENT_TYPE_RE = re.compile(r"^[a-z][a-z0-9_.:-]{0,63}$")
# As attribute keys: no double or trailing underscore, which Django lookups would read as a path.
PROPERTY_RE = re.compile(r"^(?:[A-Za-z]|_(?=[A-Za-z0-9]))(?:[A-Za-z0-9]|_(?=[A-Za-z0-9])){0,62}$")
CONDITION_KINDS = (
    "attribute",
    "event",
    "engagement",
    "flow",
    "segment",
    "tag",
    "opted_in",
    *FIELD_CONDITIONS,
)


def rule_kind(rule: Mapping) -> str:
    """The group key or condition kind of a rule ("all", "attribute", …); "" when it has none."""
    for key in (*GROUP_KEYS, *CONDITION_KINDS):
        if key in rule:
            return key
    return ""


@dataclass
class RuleContext:
    """What validation needs to know about the store: attribute definitions and the other segments."""

    definitions: dict[str, AttributeDefinition]
    segment_rules: Callable[[int], Mapping | None]  # a segment's rules by id, None when there is no such segment
    segment_id: int | None = None  # the segment being saved, to refuse a rule that refers to itself
    problems: list[str] = field(default_factory=list)
    conditions: int = 0

    @classmethod
    def current(cls, segment_id: int | None = None, definitions=None) -> RuleContext:
        from .models import Segment

        if definitions is None:
            definitions = list(AttributeDefinition.objects.all())
        return cls(
            definitions={d.key: d for d in definitions},
            segment_rules=lambda pk: Segment.objects.filter(pk=pk).values_list("rules", flat=True).first(),
            segment_id=segment_id,
        )


def rules_clean(rules, context: RuleContext | None = None) -> dict:
    """Return `rules` with values in stored form, or raise ValidationError listing every problem."""
    context = context or RuleContext.current()
    context.problems = []
    context.conditions = 0
    cleaned = _clean(rules, "rules", context, depth=0)
    if context.conditions > MAX_CONDITIONS:
        context.problems.append(f"rules: at most {MAX_CONDITIONS} conditions (got {context.conditions})")
    if not context.problems:
        _check_references(cleaned, context)
    if context.problems:
        raise ValidationError(context.problems)
    return cleaned


def _clean(rule, path: str, context: RuleContext, depth: int):
    problem = context.problems.append
    if depth > MAX_DEPTH:
        problem(f"{path}: groups nest at most {MAX_DEPTH} deep")
        return rule
    if not isinstance(rule, dict):
        problem(f'{path}: a rule is an object such as {{"all": [...]}} or a condition (got {_show(rule)})')
        return rule
    kinds = [key for key in (*GROUP_KEYS, *CONDITION_KINDS) if key in rule]
    if len(kinds) != 1:
        if kinds:
            problem(f"{path}: a rule is one group or one condition, not {' and '.join(kinds)} together")
        else:
            names = ", ".join((*GROUP_KEYS, *CONDITION_KINDS))
            problem(f"{path}: unknown rule {_show(rule)}; a rule has one of the keys {names}")
        return rule
    kind = kinds[0]
    if kind in ("all", "any"):
        _unknown_keys(rule, {kind}, path, context)
        children = rule[kind]
        if not isinstance(children, list) or not children:
            problem(f"{path}.{kind}: a group holds a non-empty list of rules")
            return rule
        return {kind: [_clean(child, f"{path}.{kind}[{i}]", context, depth + 1) for i, child in enumerate(children)]}
    if kind == "not":
        _unknown_keys(rule, {"not"}, path, context)
        return {"not": _clean(rule["not"], f"{path}.not", context, depth + 1)}
    context.conditions += 1
    return CLEANERS[kind](rule, path, context)


def _unknown_keys(rule: Mapping, allowed: set[str], path: str, context: RuleContext) -> None:
    extra = sorted(set(rule) - allowed)
    if extra:
        context.problems.append(f"{path}: unknown key{'s' if len(extra) > 1 else ''} {', '.join(extra)}")


def _show(value) -> str:
    try:
        text = json.dumps(value, ensure_ascii=False, default=str)
    except (RecursionError, ValueError):
        return "(a value too deep to show)"
    return text if len(text) <= 60 else text[:57] + "..."


MAX_ID = 2**31 - 1
MAX_NUMBER = 1e15
MAX_TEXT = 500
MAX_LIST = 100


def _is_plain(value) -> bool:
    """A value the databases can store and compare: text without NUL, a finite number in range, or yes/no."""
    if isinstance(value, bool):
        return True
    if isinstance(value, int | float):
        return math.isfinite(value) and abs(value) <= MAX_NUMBER
    return isinstance(value, str) and "\x00" not in value and len(value) <= MAX_TEXT


def _is_id(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_ID


def _days(rule, key: str, path: str, context: RuleContext, *, required: bool = False):
    if key not in rule:
        if required:
            context.problems.append(f"{path}.{key}: required")
        return None
    days = rule[key]
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_DAYS:
        context.problems.append(f"{path}.{key}: a whole number of days from 1 to {MAX_DAYS} (got {_show(days)})")
    return days


def _clean_attribute(rule, path, context):
    _unknown_keys(rule, {"attribute", "op", "value"}, path, context)
    key, op = rule.get("attribute"), rule.get("op")
    definition = context.definitions.get(key) if isinstance(key, str) else None
    if definition is None:
        known = ", ".join(sorted(context.definitions)) or "none yet"
        context.problems.append(f"{path}.attribute: no attribute {_show(key)} (attributes: {known})")
        return rule
    allowed = ATTRIBUTE_OPS[definition.type]
    if op not in allowed:
        context.problems.append(
            f"{path}.op: a {definition.get_type_display().lower()} attribute takes {', '.join(allowed)} "
            f"(got {_show(op)})"
        )
        return rule
    if op in ("is_set", "not_set"):
        if "value" in rule:
            context.problems.append(f"{path}.value: {op} takes no value")
        return {"attribute": key, "op": op}
    if "value" not in rule:
        context.problems.append(f"{path}.value: required for {op}")
        return rule
    value = _clean_attribute_value(definition, op, rule["value"], f"{path}.value", context)
    return {"attribute": key, "op": op, "value": value}


def _clean_attribute_value(definition, op, value, path, context):
    many = op == "in" or (op == "contains" and definition.type == Type.MULTIPLE_CHOICE and isinstance(value, list))
    if many:
        if not isinstance(value, list) or not value:
            context.problems.append(f"{path}: {op} takes a non-empty list of values (got {_show(value)})")
            return value
        return list(dict.fromkeys(_clean_one(definition, op, item, path, context) for item in value))
    return _clean_one(definition, op, value, path, context)


def _clean_one(definition, op, value, path, context):
    if op == "contains" and definition.type == Type.TEXT:
        if not isinstance(value, str) or not value.strip() or not _is_plain(value):
            context.problems.append(f"{path}: contains takes some text (got {_show(value)})")
            return value
        return value.strip()
    check = definition
    if definition.type == Type.MULTIPLE_CHOICE:
        check = AttributeDefinition(key=definition.key, type=Type.SINGLE_CHOICE, options=definition.options)
    try:
        return clean_value(check, value)
    except ValidationError as error:
        context.problems.append(f"{path}: {error.messages[0]}")
        return value


def _clean_field(rule, path, context):
    kind = rule_kind(rule)
    _unknown_keys(rule, {kind}, path, context)
    value = rule[kind]
    values = value if isinstance(value, list) else [value]
    if not 0 < len(values) <= MAX_LIST or not all(
        isinstance(item, str) and item.strip() and len(item) <= 64 and "\x00" not in item for item in values
    ):
        context.problems.append(f"{path}.{kind}: a value or a list of up to {MAX_LIST} values (got {_show(value)})")
        return rule
    choices = FIELD_CHOICES.get(kind)
    if kind in ("country", "state"):
        values = [item.strip().upper() for item in values]
        choices = None
        bad = [item for item in values if not re.fullmatch(r"[A-Z]{2}", item)]
        if bad:
            context.problems.append(f"{path}.{kind}: two-letter codes such as US or CA (got {_show(bad[0])})")
    if kind == "time_zone":
        bad = [item for item in values if item not in zone_names()]
        if bad:
            context.problems.append(
                f"{path}.time_zone: {_show(bad[0])} is not an IANA time zone such as America/Chicago"
            )
    if choices is not None:
        bad = [item for item in values if item not in choices]
        if bad:
            context.problems.append(f"{path}.{kind}: {_show(bad[0])} is not one of {', '.join(choices)}")
    return {kind: values if isinstance(value, list) else values[0]}


def _clean_tag(rule, path, context):
    _unknown_keys(rule, {"tag"}, path, context)
    tag = rule["tag"]
    if not isinstance(tag, str) or not tag.strip() or len(tag) > 64 or "\x00" in tag:
        context.problems.append(f"{path}.tag: the name of a tag (got {_show(tag)})")
        return rule
    return {"tag": tag.strip()}


def _clean_opted_in(rule, path, context):
    _unknown_keys(rule, {"opted_in"}, path, context)
    window = rule["opted_in"]
    if not isinstance(window, dict) or len(window) != 1 or next(iter(window)) not in ("within_days", "more_than_days"):
        context.problems.append(
            f'{path}.opted_in: {{"within_days": N}} or {{"more_than_days": N}} (got {_show(window)})'
        )
        return rule
    _days(window, next(iter(window)), f"{path}.opted_in", context)
    return {"opted_in": dict(window)}


def _clean_event(rule, path, context):
    _unknown_keys(rule, {"event", "op", "count", "within_days", "where", "since_last"}, path, context)
    event_type, op = rule.get("event"), rule.get("op", "happened")
    cleaned = {"event": event_type, "op": op}
    if not isinstance(event_type, str) or not EVENT_TYPE_RE.fullmatch(event_type):
        context.problems.append(f"{path}.event: an event type such as order_placed (got {_show(event_type)})")
    if op not in EVENT_OPS:
        context.problems.append(f"{path}.op: one of {', '.join(EVENT_OPS)} (got {_show(op)})")
    if op == "count_gte":
        count = rule.get("count")
        if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= 1000:
            context.problems.append(f"{path}.count: count_gte needs a count from 1 to 1000 (got {_show(count)})")
        cleaned["count"] = count
    elif "count" in rule:
        context.problems.append(f"{path}.count: only count_gte takes a count")
    if "within_days" in rule:
        cleaned["within_days"] = _days(rule, "within_days", path, context)
    if "since_last" in rule:
        since = rule["since_last"]
        if not isinstance(since, str) or not EVENT_TYPE_RE.fullmatch(since):
            context.problems.append(f"{path}.since_last: an event type such as cart_abandoned (got {_show(since)})")
        cleaned["since_last"] = since
    if "where" in rule:
        cleaned["where"] = _clean_where(rule["where"], f"{path}.where", context)
    return cleaned


def _clean_where(where, path, context):
    if not isinstance(where, list) or not where:
        context.problems.append(f'{path}: a list of {{"property", "op", "value"}} filters (got {_show(where)})')
        return where
    cleaned = []
    for index, item in enumerate(where):
        here = f"{path}[{index}]"
        if not isinstance(item, dict):
            context.problems.append(f'{here}: a {{"property", "op", "value"}} filter (got {_show(item)})')
            continue
        _unknown_keys(item, {"property", "op", "value"}, here, context)
        name, op = item.get("property"), item.get("op", "eq")
        if not isinstance(name, str) or not PROPERTY_RE.fullmatch(name):
            context.problems.append(
                f"{here}.property: a property name such as total: letters, digits, single inner underscores "
                f"(got {_show(name)})"
            )
        if op not in PROPERTY_OPS:
            context.problems.append(f"{here}.op: one of {', '.join(PROPERTY_OPS)} (got {_show(op)})")
            continue
        one = {"property": name, "op": op}
        if op not in ("is_set", "not_set"):
            value = item.get("value")
            if op == "in":
                if not isinstance(value, list) or not 0 < len(value) <= MAX_LIST or not all(map(_is_plain, value)):
                    context.problems.append(
                        f"{here}.value: in takes a list of 1 to {MAX_LIST} values (got {_show(value)})"
                    )
            elif op in ("gt", "gte", "lt", "lte"):
                if isinstance(value, bool) or not _is_plain(value):
                    context.problems.append(f"{here}.value: {op} compares with a number or a date (got {_show(value)})")
            elif not _is_plain(value):
                context.problems.append(f"{here}.value: a text, number or yes/no value (got {_show(value)})")
            one["value"] = value
        cleaned.append(one)
    return cleaned


def _clean_engagement(rule, path, context):
    _unknown_keys(rule, {"engagement", "op", "within_days"}, path, context)
    what, op = rule.get("engagement"), rule.get("op", "happened")
    if what not in ENGAGEMENTS:
        context.problems.append(f"{path}.engagement: one of {', '.join(ENGAGEMENTS)} (got {_show(what)})")
    if op not in ("happened", "not_happened"):
        context.problems.append(f"{path}.op: happened or not_happened (got {_show(op)})")
    cleaned = {"engagement": what, "op": op}
    if "within_days" in rule:
        cleaned["within_days"] = _days(rule, "within_days", path, context)
    return cleaned


def _clean_flow_answer(rule, path, context):
    _unknown_keys(rule, {"flow", "question", "answer"}, path, context)
    flow, question = rule.get("flow"), rule.get("question")
    if not _is_id(flow):
        context.problems.append(f"{path}.flow: the id of a flow (got {_show(flow)})")
    if not isinstance(question, str) or not question.strip() or not _is_plain(question) or len(question) > 64:
        context.problems.append(f"{path}.question: the id of the question's node (got {_show(question)})")
    cleaned = {"flow": flow, "question": question}
    if "answer" in rule:
        answer = rule["answer"]
        if not _is_plain(answer) or answer == "":  # a yes/no answer is true or false
            context.problems.append(f"{path}.answer: the stored answer, such as M or true (got {_show(answer)})")
        cleaned["answer"] = answer
    return cleaned


def _clean_segment(rule, path, context):
    _unknown_keys(rule, {"segment"}, path, context)
    pk = rule["segment"]
    if not _is_id(pk):
        context.problems.append(f"{path}.segment: the id of a segment (got {_show(pk)})")
    elif context.segment_id is not None and pk == context.segment_id:
        context.problems.append(f"{path}.segment: a segment cannot contain itself")
    elif context.segment_rules(pk) is None:
        context.problems.append(f"{path}.segment: there is no segment {pk}")
    return {"segment": pk}


CLEANERS = {
    "attribute": _clean_attribute,
    "event": _clean_event,
    "engagement": _clean_engagement,
    "flow": _clean_flow_answer,
    "segment": _clean_segment,
    "tag": _clean_tag,
    "opted_in": _clean_opted_in,
    **dict.fromkeys(FIELD_CONDITIONS, _clean_field),
}


def segment_references(rules) -> list[int]:
    """The ids of the segments a rule refers to directly."""
    found = []
    if isinstance(rules, dict):
        if isinstance(rules.get("segment"), int) and not isinstance(rules.get("segment"), bool):
            found.append(rules["segment"])
        for key in ("all", "any"):
            for child in rules.get(key) or []:
                found.extend(segment_references(child))
        if "not" in rules:
            found.extend(segment_references(rules["not"]))
    return found


def attribute_keys(rules) -> list[str]:
    """The attributes a rule tests, in the order they appear."""
    found = []
    if isinstance(rules, dict):
        if isinstance(rules.get("attribute"), str):
            found.append(rules["attribute"])
        for key in ("all", "any"):
            for child in rules.get(key) or []:
                found.extend(attribute_keys(child))
        if "not" in rules:
            found.extend(attribute_keys(rules["not"]))
    return list(dict.fromkeys(found))


MAX_EXPANDED_CONDITIONS = 500


class _Circle(Exception):
    def __init__(self, chain: list[int]):
        self.chain = chain


def _check_references(rules, context: RuleContext) -> None:
    """Refuse a rule whose segments lead back to the segment being saved (naming the chain), or that grows past
    MAX_EXPANDED_CONDITIONS once the segments it uses are counted in. Each segment is expanded once."""
    sizes: dict[int, int] = {}

    def size(rule, chain: list[int]) -> int:
        kind = rule_kind(rule) if isinstance(rule, dict) else ""
        if kind in ("all", "any"):
            return sum(size(child, chain) for child in rule[kind])
        if kind == "not":
            return size(rule["not"], chain)
        if kind != "segment":
            return 1 if kind else 0
        pk = rule["segment"]
        if pk == context.segment_id:
            raise _Circle([context.segment_id, *chain, pk])
        if pk not in sizes and pk not in chain:
            sizes[pk] = size(context.segment_rules(pk) or {}, [*chain, pk])
        return sizes.get(pk, 0)

    try:
        total = size(rules, [])
    except _Circle as circle:
        steps = " → ".join(f"segment {step}" for step in circle.chain)
        context.problems.append(f"rules: segments may not refer to each other in a circle ({steps})")
        return
    if total > MAX_EXPANDED_CONDITIONS:
        context.problems.append(
            f"rules: with the segments it uses the rule has {total} conditions; at most {MAX_EXPANDED_CONDITIONS}"
        )


def rules_expanded(rules, segment_rules: Callable[[int], Mapping | None]):
    """The rule with every {"segment": id} replaced by that segment's rules (as they are now)."""
    if not isinstance(rules, dict):
        return rules
    kind = rule_kind(rules)
    if kind in ("all", "any"):
        return {kind: [rules_expanded(child, segment_rules) for child in rules[kind]]}
    if kind == "not":
        return {"not": rules_expanded(rules["not"], segment_rules)}
    if kind == "segment":
        referred = segment_rules(rules["segment"])
        if referred is None:
            raise ValidationError(f"segment {rules['segment']} no longer exists")
        return rules_expanded(referred, segment_rules)
    return rules


# --- Plain English -------------------------------------------------------------------------------------------

OP_WORDS = {
    "eq": "is",
    "ne": "is not",
    "in": "is one of",
    "gt": "is more than",
    "gte": "is at least",
    "lt": "is less than",
    "lte": "is at most",
}


def describe(rules, *, definitions: Mapping[str, AttributeDefinition], segment_names: Mapping[int, str]) -> str:
    """The rule as a sentence a store's staff can check: "diet includes Vegan and placed an order…"."""
    return _describe(rules, definitions, segment_names, top=True)


def _describe(rule, definitions, names, top=False) -> str:
    kind = rule_kind(rule) if isinstance(rule, dict) else ""
    if kind in ("all", "any"):
        parts = [_describe(child, definitions, names) for child in rule[kind]]
        text = (" and " if kind == "all" else " or ").join(parts)
        return text if top or len(parts) == 1 else f"({text})"
    if kind == "not":
        inner = rule["not"]
        if rule_kind(inner) in ("all", "any") and len(inner[rule_kind(inner)]) == 1:
            return "not " + _describe(inner[rule_kind(inner)][0], definitions, names)
        if rule_kind(inner) == "any":
            return "none of (" + "; ".join(_describe(c, definitions, names, top=True) for c in inner["any"]) + ")"
        return "not " + _describe(inner, definitions, names)
    if kind == "attribute":
        return _describe_attribute(rule, definitions.get(rule["attribute"]))
    if kind == "event":
        return _describe_event(rule)
    if kind == "engagement":
        verb = {"replied": "replied", "received": "received a text", "clicked": "clicked a link"}[rule["engagement"]]
        text = ("has " if rule["op"] == "happened" else "has not ") + verb
        return text + _window(rule)
    if kind == "flow":
        text = f"answered question {rule['question']} of flow {rule['flow']}"
        if "answer" not in rule:
            return text
        answer = rule["answer"]
        return text + f" with {('yes' if answer else 'no') if isinstance(answer, bool) else answer}"
    if kind == "segment":
        return f"in segment {names.get(rule['segment'], rule['segment'])}"
    if kind == "tag":
        return f"tagged {rule['tag']}"
    if kind == "opted_in":
        ((how, days),) = rule["opted_in"].items()
        return f"opted in {'in the last' if how == 'within_days' else 'more than'} {_days_text(days)}" + (
            " ago" if how == "more_than_days" else ""
        )
    if kind in FIELD_CONDITIONS:
        values = rule[kind] if isinstance(rule[kind], list) else [rule[kind]]
        label = {"state": "state", "time_zone": "time zone", "consent_source": "consent source"}.get(kind, kind)
        return f"{label} is {' or '.join(str(value) for value in values)}"
    return "(unknown rule)"


def _describe_attribute(rule, definition) -> str:
    label = definition.label if definition else rule["attribute"]
    op = rule["op"]
    if op == "is_set":
        return f"{label} is known"
    if op == "not_set":
        return f"{label} is not known"

    def shown(value):
        if isinstance(value, bool):
            return "yes" if value else "no"
        return definition.option_label(value) if definition and definition.is_choice else str(value)

    value = rule["value"]
    if op == "contains":
        if isinstance(value, list):
            return f"{label} includes {' and '.join(shown(v) for v in value)}"
        return f"{label} includes {shown(value)}" if definition and definition.is_choice else f'{label} has "{value}"'
    if op == "in":
        many = definition and definition.type == Type.MULTIPLE_CHOICE
        return f"{label} {'includes any of' if many else 'is one of'} {', '.join(shown(v) for v in value)}"
    words = DATE_OP_WORDS if definition and definition.type == Type.DATE else OP_WORDS
    text = f"{label} {words.get(op, OP_WORDS[op])} {shown(value)}"
    return text + (" (or not known)" if op == "ne" else "")


DATE_OP_WORDS = {"gt": "is after", "gte": "is on or after", "lt": "is before", "lte": "is on or before"}
EVENT_NAMES = {
    event_types.ORDER_PLACED: ("placed an order", "placed no order"),
    event_types.CART_ABANDONED: ("abandoned a cart", "abandoned no cart"),
    event_types.CHECKOUT_STARTED: ("started a checkout", "started no checkout"),
    event_types.BROWSE_ABANDONED: ("browsed without buying", "did not browse without buying"),
    event_types.LINK_CLICKED: ("clicked a link", "clicked no link"),
}


def _describe_event(rule) -> str:
    event, op = rule["event"], rule["op"]
    did, did_not = EVENT_NAMES.get(event, (f"had {event}", f"had no {event}"))
    if op == "count_gte":
        text = f"{did} at least {rule['count']} time{'s' if rule['count'] != 1 else ''}"
    else:
        text = did if op == "happened" else did_not
    if rule.get("where"):
        text += " where " + " and ".join(
            f"{w['property']} {OP_WORDS.get(w['op'], w['op'].replace('_', ' '))}"
            + (f" {w['value']}" if "value" in w else "")
            for w in rule["where"]
        )
    if rule.get("since_last"):
        text += f" since the last {rule['since_last']}"
    return text + _window(rule)


def _window(rule) -> str:
    return f" in the last {_days_text(rule['within_days'])}" if rule.get("within_days") else ""


def _days_text(days: int) -> str:
    return "day" if days == 1 else f"{days} days"
