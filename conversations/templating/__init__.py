"""The one language of `{{ }}` in texts: flows, campaigns and the inbox's canned responses all speak it.

    Hi {{ first_name|default:"there" }}! {{ attributes.size|label }} is back in stock: {{ link }}

Variables (rules.py says which a kind of text may use):
- `first_name`, `last_name`, `phone`: the subscriber's; `store`: the store's name;
- `attributes.<key>`: an answer (a defined attribute); a list reads "a, b", yes/no answers read "yes" / "no";
- the caller's own: `offer_code` in flows, `link` in campaigns (every URL in a campaign text is a link too);
- `event.<property>…` (`event.url`, `event.items.0.title`) where the caller supplies an event.

Filters, applied left to right: `default:"…"` (when the value is missing or empty), `label` (an attribute's
option label instead of its stored value; it reads the stored value, so it comes first wherever it is
written), `upper`, `lower`, `title`.

A text is read once (`parse`, cached), checked against what its kind of text offers (`problems`: each problem
named, e.g. "unknown variable {{ frist_name }}"), and filled in Python (`render`: flows, canned responses,
previews, test sends) or compiled to one SQL expression (`templating.sql.to_sql`: the campaign fan-out). Both
fillings give the same text. Everything imported here is pure Python, so the flow engine may use it; `sql` asks
the connection which database it speaks to and is imported by name where it is needed.
"""

from .render import lookup, render, value_text
from .rules import FILTERS, STANDARD_NAMES, Problem, Scope, option_labels, problems
from .syntax import Filter, Link, Template, Variable, parse


def validated(text: str, scope: Scope, *, links: bool = False) -> Template:
    """`text` read, or a ValidationError listing every problem (with its hint)."""
    from django.core.exceptions import ValidationError  # only callers inside Django validate

    template = parse(text, links=links)
    found = problems(template, scope)
    if found:
        raise ValidationError([str(problem) for problem in found])
    return template


__all__ = [
    "FILTERS",
    "STANDARD_NAMES",
    "Filter",
    "Link",
    "Problem",
    "Scope",
    "Template",
    "Variable",
    "lookup",
    "option_labels",
    "parse",
    "problems",
    "render",
    "validated",
    "value_text",
]
