"""Filling a text in Python: flows, the inbox's canned responses, campaign previews and test sends.

Rendering never fails: a variable the values do not hold is empty, a filter that does not exist is skipped
and what could not be read stays as written (the checks name all three before a text is saved).
"""

from collections.abc import Callable, Mapping

from .syntax import Link, Template, Variable, parse


def render(
    template: Template | str,
    values: Mapping,
    *,
    labels: Mapping[str, Mapping[str, str]] | None = None,
    link_for: Callable[[str | None], str] | None = None,
) -> str:
    """`template` filled from `values` ({"first_name": …, "attributes": {…}, "store": …, "event": {…}}).

    `labels` maps attribute keys to their options' labels (for |label); `link_for(url)` gives the text of each
    link part (url None: {{ link }}), without it a link stays as written.
    """
    if isinstance(template, str):
        template = parse(template)
    out = []
    for part in template.parts:
        if isinstance(part, str):
            out.append(part)
        elif isinstance(part, Link):
            out.append(link_for(part.url) if link_for else part.url or part.source)
        else:
            out.append(variable_text(part, values, labels or {}))
    return "".join(out)


def variable_text(variable: Variable, values: Mapping, labels: Mapping[str, Mapping[str, str]]) -> str:
    value = lookup(values, variable.path)
    # |label reads the stored value, so it comes first wherever it is written.
    if variable.has("label") and variable.root == "attributes" and len(variable.path) == 2:
        value = labelled(value, labels.get(variable.path[1]) or {})
    text = value_text(value)
    for text_filter in variable.filters:
        text = apply(text_filter.name, text, text_filter.argument)
    return text


def apply(filter_name: str, text: str, argument: str | None) -> str:
    if filter_name == "default":
        return text or (argument or "")
    if filter_name == "upper":
        return text.upper()
    if filter_name == "lower":
        return text.lower()
    if filter_name == "title":
        return text.title()
    return text  # label (applied first) and filters that do not exist


def lookup(values, path: tuple[str, ...]):
    """The value at `path`: keys of objects, indexes of lists (event.items.0.title); None when absent."""
    current = values
    for part in path:
        if isinstance(current, Mapping) and part in current:
            current = current[part]
        elif isinstance(current, list | tuple) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        else:
            return None
    return current


def labelled(value, labels: Mapping[str, str]):
    if isinstance(value, str):
        return labels.get(value, value)
    if isinstance(value, list):
        return [labels.get(item, item) if isinstance(item, str) else item for item in value]
    return value


def value_text(value) -> str:
    """How a value reads in a text: lists joined with ", ", yes/no for booleans, nothing for missing or objects."""
    if isinstance(value, list | tuple):
        return ", ".join(_scalar_text(item) for item in value)
    return _scalar_text(value)


def _scalar_text(value) -> str:
    if value is None or isinstance(value, dict | list | tuple):
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)
