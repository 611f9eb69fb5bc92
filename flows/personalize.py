"""Fill a flow text's variables: {{ first_name|default:"there" }}, {{ attributes.size }}, {{ offer_code }}.

Pure and deliberately small (no template engine): a variable is a dotted name, optionally followed by
filters `default:"…"`, `upper`, `lower`, `title` and `label` (an attribute's option label instead of its
value). A variable that is not known renders as empty text (the flow checks report it before publishing).
"""

import re

VARIABLE = re.compile(r"\{\{\s*([a-z_][a-z0-9_.]*)\s*((?:\|\s*[a-z]+(?::\s*\"[^\"]*\")?\s*)*)\}\}")
FILTER = re.compile(r"\|\s*([a-z]+)(?::\s*\"([^\"]*)\")?")
KNOWN_ROOTS = {"first_name", "last_name", "phone", "attributes", "offer_code", "store"}


def variables_in(text: str) -> list[str]:
    """The dotted names a text uses, in order."""
    return [match[1] for match in VARIABLE.finditer(text)]


def unknown_variables(text: str, attribute_keys: set[str]) -> list[str]:
    unknown = []
    for name in variables_in(text):
        root, _, rest = name.partition(".")
        if root not in KNOWN_ROOTS or (root == "attributes" and rest.split(".")[0] not in attribute_keys):
            unknown.append(name)
    return unknown


def render(text: str, values: dict, labels: dict[str, dict[str, str]] | None = None) -> str:
    """`text` with its variables filled from `values` ({"first_name": …, "attributes": {…}, …})."""
    labels = labels or {}

    def fill(match: re.Match) -> str:
        name, filters = match[1], FILTER.findall(match[2] or "")
        value = _lookup(values, name)
        for filter_name, _argument in filters:
            if filter_name == "label" and name.startswith("attributes."):
                key = name.split(".")[1]
                options = labels.get(key, {})
                value = [options.get(v, v) for v in value] if isinstance(value, list) else options.get(value, value)
        text_value = _as_text(value)
        for filter_name, argument in filters:
            if filter_name == "default" and not text_value:
                text_value = argument
            elif filter_name == "upper":
                text_value = text_value.upper()
            elif filter_name == "lower":
                text_value = text_value.lower()
            elif filter_name == "title":
                text_value = text_value.title()
        return text_value

    return VARIABLE.sub(fill, text)


def _lookup(values: dict, name: str):
    current = values
    for part in name.split("."):
        if not isinstance(current, dict) or part not in current:
            return None
        current = current[part]
    return current


def _as_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)
