"""Checking a flow definition before it is saved: the JSON Schema (flows/definition.schema.json), then the
rules a schema cannot say (targets exist, ids are unique, attributes are defined, answers are no keywords).

Pure: the attribute definitions are passed in. Each problem names the node and the field.
"""

import json
from functools import lru_cache
from pathlib import Path

from django.core.exceptions import ValidationError
from jsonschema import Draft202012Validator

from conversations import templating
from conversations.attributes import clean_value
from conversations.models import AttributeDefinition
from conversations.texts import is_reserved_keyword

SCHEMA_FILE = Path(__file__).with_name("definition.schema.json")


@lru_cache(maxsize=1)
def _validator() -> Draft202012Validator:
    return Draft202012Validator(json.loads(SCHEMA_FILE.read_text()))


def problems(definition, attributes: dict[str, dict]) -> list[str]:
    """Everything wrong with `definition`, each naming its node and field; [] when it may be saved.

    `attributes` maps each defined attribute key to {"type": …, "options": [{"value", "label", "synonyms"}]}.
    """
    if not isinstance(definition, dict):
        return ["the definition must be a JSON object with a list of nodes"]
    found = []
    for error in sorted(_validator().iter_errors(definition), key=lambda e: list(e.absolute_path)):
        found.append(_describe(error, definition))
    if found:
        return list(dict.fromkeys(found))
    nodes = definition["nodes"]
    ids = [node["id"] for node in nodes]
    for node_id in {i for i in ids if ids.count(i) > 1}:
        found.append(f"node {node_id}: id is used by more than one node")
    known = set(ids)
    if definition.get("start") and definition["start"] not in known:
        found.append(f"start: no node has the id {definition['start']!r}")
    for node in nodes:
        found += [f"node {node['id']}: {problem}" for problem in _node_problems(node, known, attributes)]
    return found


def text_scope(attributes: dict[str, dict]) -> templating.Scope:
    """What a flow's texts may use: the standard variables, the defined attributes, {{ offer_code }} and the
    starting event's {{ event.… }} (whether an event starts the flow is the flow checks' business: checks.py)."""
    labels = {key: templating.option_labels(spec.get("options") or []) for key, spec in attributes.items()}
    return templating.Scope(labels, names=("offer_code",), event=True)


def _nudge(node: dict):
    other = node.get("other")
    return other.get("nudge") if isinstance(other, dict) else None


def _node_problems(node: dict, known: set[str], attributes: dict[str, dict]) -> list[str]:
    found = []
    scope = text_scope(attributes)
    for field, target in node_targets(node):
        if target is not None and target not in known:
            found.append(f"{field}: no node has the id {target!r}")
    attribute = node.get("attribute")
    if attribute is not None and attribute not in attributes:
        found.append(f"attribute: {attribute!r} is not a defined attribute")
    for field, text in (("text", node.get("text")), ("note", node.get("note")), ("other.nudge", _nudge(node))):
        if isinstance(text, str):
            found += [f"{field}: {problem.message}" for problem in templating.problems(templating.parse(text), scope)]
    if node["type"] == "ask_question":
        options = node.get("options") or (attributes.get(attribute, {}).get("options") if attribute else None) or []
        for option in options:
            for word in [option["value"], option.get("label", ""), *option.get("synonyms", [])]:
                if word and is_reserved_keyword(word):
                    found.append(
                        f"options: {word!r} is a compliance keyword (STOP, HELP, START…) and cannot be an answer"
                    )
        values = {option["value"] for option in options}
        for branch in node.get("branches", []):
            for value in branch["values"]:
                if options and value not in values and value not in ("yes", "no"):
                    found.append(f"branches: {value!r} is not one of the answers ({', '.join(sorted(values))})")
    if node["type"] == "set_attribute" and attribute in attributes:
        spec = attributes[attribute]
        definition = AttributeDefinition(
            key=attribute, label=spec.get("label", attribute), type=spec["type"], options=spec.get("options", [])
        )
        try:
            clean_value(definition, node["value"])
        except ValidationError as error:
            found.append(f"value: {error.messages[0]}")
    if node["type"] == "split_random":
        total = sum(branch["percent"] for branch in node["branches"])
        if abs(total - 100) > 0.001:
            found.append(f"branches: the percentages add up to {total:g}, not 100")
    return found


def node_targets(node: dict):
    yield "next", node.get("next")
    yield "else", node.get("else")
    yield "timeout_next", node.get("timeout_next")
    yield "other.next", (node.get("other") or {}).get("next")
    yield "no_reply.next", (node.get("no_reply") or {}).get("next")
    for index, branch in enumerate(node.get("branches", [])):
        if isinstance(branch, dict):
            yield f"branches[{index}].next", branch.get("next")


def _describe(error, definition) -> str:
    path = list(error.absolute_path)
    where = "definition"
    if len(path) >= 2 and path[0] == "nodes" and isinstance(path[1], int):
        node = definition["nodes"][path[1]]
        node_id = node.get("id", f"#{path[1] + 1}") if isinstance(node, dict) else f"#{path[1] + 1}"
        field = ".".join(str(part) for part in path[2:]) or _missing_field(error) or "node"
        where = f"node {node_id}: {field}"
    elif path:
        where = ".".join(str(part) for part in path)
    message = error.message
    if error.validator == "oneOf":
        choices = [" and ".join(option.get("required", [])) for option in error.validator_value]
        where = where.removesuffix(": node")
        message = f"needs exactly one of {' or '.join(choices)}"
    if error.validator == "additionalProperties":
        message = message.replace("Additional properties are not allowed", "unknown field(s)")
    return f"{where}: {message}"


def _missing_field(error) -> str:
    if error.validator == "required":
        return error.message.split("'")[1] if "'" in error.message else ""
    return ""
