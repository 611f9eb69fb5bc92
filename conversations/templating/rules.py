"""What a text may say: the variables a caller offers, the filters, and every problem named.

Every text has the subscriber's `first_name`, `last_name` and `phone`, the `store`'s name and the subscriber's
answers as `attributes.<key>` (the defined attributes). A caller adds its own names (flows: `offer_code`;
campaigns: `link`) and, for texts sent for an event, the `event.…` properties.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from .syntax import Template, Variable

STANDARD_NAMES = ("first_name", "last_name", "phone", "store")
FILTERS = {
    # name: takes an argument
    "default": True,  # the argument when the value is missing or empty
    "label": False,  # an attribute's option label instead of its stored value
    "upper": False,
    "lower": False,
    "title": False,
}
FILTERS_IN_WORDS = 'default:"…", label, lower, title and upper'


@dataclass(frozen=True)
class Scope:
    """The variables a kind of text may use.

    `attributes` maps each defined attribute key to its options' labels ({value: label}; {} when it has no
    options); `names` are the caller's own variables; `event` allows `event.<property>…` (`no_event` says why a
    text may not, where that helps: "a campaign goes to a segment and has no event").
    """

    attributes: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    names: tuple[str, ...] = ()
    event: bool = False
    no_event: str = ""  # why this kind of text has no event, for the message when it uses one

    def known(self) -> str:
        names = [*STANDARD_NAMES, *self.names]
        attributes = ", ".join(f"attributes.{key}" for key in sorted(self.attributes)) or "none defined"
        return f"use {', '.join(names[:-1])} or {names[-1]}, or an attribute ({attributes})"


def option_labels(options: Iterable[Mapping]) -> dict[str, str]:
    """{value: label} of an attribute's options (the value when an option has no label)."""
    return {str(option["value"]): str(option.get("label") or option["value"]) for option in options or ()}


@dataclass(frozen=True)
class Problem:
    message: str  # what is wrong, short enough for a flow node's card
    hint: str = ""  # what to write instead, where a longer message fits

    def __str__(self) -> str:
        return f"{self.message}; {self.hint}" if self.hint else self.message


def problems(template: Template, scope: Scope) -> list[Problem]:
    """Everything wrong with `template` in `scope`, each named; [] when it may be used."""
    found = [Problem(message) for message in template.syntax_problems]
    for variable in template.variables:
        found += _variable_problems(variable, scope)
    return list(dict.fromkeys(found))


def _variable_problems(variable: Variable, scope: Scope) -> list[Problem]:
    found = []
    unknown = Problem(f"unknown variable {{{{ {variable.name} }}}}", scope.known())
    root, rest = variable.root, variable.path[1:]
    if root == "attributes":
        if len(rest) != 1 or rest[0] not in scope.attributes:
            return [unknown]
    elif root == "event":
        if not scope.event:
            return [
                Problem(
                    f"unknown variable {{{{ {variable.name} }}}}: event properties exist only in a text sent "
                    "for an event (a flow an event starts)" + (f"; {scope.no_event}" if scope.no_event else "")
                )
            ]
        if not rest:
            return [Problem("{{ event }} needs a property: {{ event.url }}, {{ event.items.0.title }}")]
    elif root not in (*STANDARD_NAMES, *scope.names) or rest:
        return [unknown]
    for text_filter in variable.filters:
        written = variable.source
        if text_filter.name not in FILTERS:
            found.append(
                Problem(f"unknown filter '{text_filter.name}' in {written}", f"the filters are {FILTERS_IN_WORDS}")
            )
        elif FILTERS[text_filter.name] and text_filter.argument is None:
            found.append(
                Problem(f"filter '{text_filter.name}' needs a text in quotes: {{{{ {variable.name}|default:\"…\" }}}}")
            )
        elif not FILTERS[text_filter.name] and text_filter.argument is not None:
            found.append(Problem(f"filter '{text_filter.name}' takes no argument: {written}"))
        elif text_filter.name == "label" and not (root == "attributes" and scope.attributes[rest[0]]):
            found.append(Problem(f"filter 'label' needs an attribute with options: {written}"))
    return found
