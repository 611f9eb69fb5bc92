"""A campaign text, parsed once and then filled two ways that give the same result: in Python (previews and test
sends) and as one SQL expression (the fan-out writes a million personalised bodies with `INSERT … SELECT`).

What a body may hold:
- `{{ first_name }}`, `{{ last_name }}`, `{{ attributes.<key> }}`, `{{ store }}`, each optionally with
  `|default:"…"` (used when the value is missing or empty) and, for attributes, `|label` (the option's label);
- `{{ link }}`: the campaign's link, sent as a tracked short link;
- any other http(s) URL, which is sent as a tracked short link too.

Pure: no database, no settings. Attribute definitions and the short-link base URL are passed in.
"""

import hashlib
import re
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError

VARIABLE = re.compile(r"\{\{\s*([^{}|]*?)\s*((?:\|[^{}|]*)*)\}\}")
FILTER = re.compile(r"^\s*([a-z_]+)\s*(?::\s*\"([^\"]*)\"\s*)?$")
URL = re.compile(r"https?://[^\s<>\"{}]+", re.IGNORECASE)
URL_TRAILING = ".,!?;:)]'"
LINK_LETTERS = "ghijklmnopqrstuvwxyz"  # never hex digits: a code is <recipient id in hex><letter><check>
CHECK_LENGTH = 8  # 32 bits: forging one recipient's click takes billions of tries
NAME_FIELDS = ("first_name", "last_name")


@dataclass(frozen=True)
class Variable:
    name: str  # "first_name", "last_name", "store" or "attributes.<key>"
    default: str = ""
    label: bool = False

    @property
    def attribute(self) -> str | None:
        return self.name.split(".", 1)[1] if self.name.startswith("attributes.") else None


@dataclass(frozen=True)
class LinkPart:
    letter: str
    url: str


@dataclass
class Template:
    parts: list = field(default_factory=list)  # str | Variable | LinkPart, in order
    links: dict[str, str] = field(default_factory=dict)  # letter -> original URL

    @property
    def has_links(self) -> bool:
        return bool(self.links)


def parse(body: str, *, link_url: str = "", attributes: dict | None = None, max_links: int | None = None) -> Template:
    """Parse `body`, or raise ValidationError naming every problem.

    `attributes` maps attribute keys to {"type": …, "labels": {value: label}}; a variable naming any other key,
    or a filter other than default and label, is refused. Links must be https and not on a public shortener
    (carriers filter those), and a text may hold at most `max_links` different ones (compliance.md, section 7).
    """
    attributes = attributes or {}
    problems: list[str] = []
    template = Template()
    letters: dict[str, str] = {}  # url -> letter

    def add_link(url: str) -> LinkPart:
        problems.extend(link_problems(url))
        if url not in letters:
            if len(letters) == len(LINK_LETTERS):
                problems.append(f"a text may hold at most {len(LINK_LETTERS)} different links")
                return LinkPart("g", url)
            letters[url] = LINK_LETTERS[len(letters)]
            template.links[letters[url]] = url
        return LinkPart(letters[url], url)

    def add_text(text: str) -> None:
        position = 0
        for match in URL.finditer(text):
            url = match.group(0).rstrip(URL_TRAILING)
            template.parts.append(text[position : match.start()])
            template.parts.append(add_link(url))
            position = match.start() + len(url)
        template.parts.append(text[position:])

    position = 0
    for match in VARIABLE.finditer(body):
        add_text(body[position : match.start()])
        position = match.end()
        name, filters = match[1], [f for f in match[2].split("|") if f.strip()]
        if name == "link":
            if filters:
                problems.append("{{ link }} takes no filters")
            if not link_url:
                problems.append("the text uses {{ link }} but the campaign has no link URL")
            else:
                template.parts.append(add_link(link_url))
            continue
        variable = _variable(name, filters, attributes, problems)
        if variable:
            template.parts.append(variable)
    add_text(body[position:])
    if "{{" in VARIABLE.sub("", body) or "}}" in VARIABLE.sub("", body):
        problems.append('a "{{" or "}}" is not part of a variable; write variables as {{ first_name }}')
    if max_links is not None and len(template.links) > max_links:
        problems.append(
            f"a text may hold at most {max_links} link{'s' if max_links != 1 else ''} "
            f"(this one has {len(template.links)}): carriers distrust texts full of links"
        )
    if problems:
        raise ValidationError(list(dict.fromkeys(problems)))
    template.parts = [part for part in template.parts if part != ""]
    return template


PUBLIC_SHORTENERS = {"bit.ly", "tinyurl.com", "goo.gl", "t.co", "ow.ly", "is.gd", "buff.ly", "rebrand.ly", "cutt.ly"}


def link_problems(url: str) -> list[str]:
    """Why carriers would filter a link: not https, or on a public shortener."""
    problems = []
    if not url.lower().startswith("https://"):
        problems.append(f"links must be https: {url}")
    host = url.split("://", 1)[-1].split("/", 1)[0].split("?", 1)[0].split(":", 1)[0].lower()
    if host.removeprefix("www.") in PUBLIC_SHORTENERS:
        problems.append(
            f"{host} is a public link shortener, which carriers filter: link to the store's own domain "
            "(Parley shortens it on the store's short domain)"
        )
    return problems


def _variable(name: str, filters: list[str], attributes: dict, problems: list[str]) -> Variable | None:
    known = name in (*NAME_FIELDS, "store") or (name.startswith("attributes.") and name[11:] in attributes)
    if not known:
        keys = ", ".join(f"attributes.{key}" for key in sorted(attributes)) or "none defined"
        problems.append(
            f"unknown variable {{{{ {name} }}}}; use first_name, last_name, store, link or an attribute ({keys})"
        )
        return None
    default, label = "", False
    for text in filters:
        match = FILTER.match(text)
        if match and match[1] == "default" and match[2] is not None:
            default = match[2]
        elif match and match[1] == "label" and match[2] is None and name.startswith("attributes."):
            if not attributes[name[11:]].get("labels"):
                problems.append(f"{{{{ {name}|label }}}}: {name[11:]} has no options with labels")
            label = True
        else:
            problems.append(
                f'{{{{ {name}|{text.strip()} }}}}: the filters a campaign text may use are default:"…" and '
                "label (attributes with options)"
            )
    return Variable(name, default, label)


# --- Short links -----------------------------------------------------------------------------------------


def link_check(secret: str, recipient_id: int, letter: str) -> str:
    return hashlib.md5(f"{secret}:{recipient_id}:{letter}".encode(), usedforsecurity=False).hexdigest()[:CHECK_LENGTH]


def link_code(secret: str, recipient_id: int, letter: str) -> str:
    """The short link's code: the recipient's id in hex, the link's letter, and a check that makes codes unguessable."""
    return f"{recipient_id:x}{letter}{link_check(secret, recipient_id, letter)}"


CODE = re.compile(rf"^([0-9a-f]{{1,12}})([{LINK_LETTERS}])([0-9a-f]{{{CHECK_LENGTH}}})$")


def code_parts(code: str) -> tuple[int, str, str] | None:
    """(recipient id, letter, check) of a well-formed code, else None."""
    match = CODE.match(code or "")
    if not match:
        return None
    return int(match[1], 16), match[2], match[3]


# --- Filling in Python ---------------------------------------------------------------------------------------


def render(template: Template, subscriber: dict, *, store: str, link_for) -> str:
    """The text for one subscriber ({"first_name", "last_name", "attributes"}); `link_for(letter, url)` gives each
    link's text."""
    out = []
    for part in template.parts:
        if isinstance(part, str):
            out.append(part)
        elif isinstance(part, LinkPart):
            out.append(link_for(part.letter, part.url))
        else:
            out.append(_value(part, subscriber, store) or part.default)
    return "".join(out)


def _value(variable: Variable, subscriber: dict, store: str) -> str:
    if variable.name == "store":
        return store
    if variable.attribute is None:
        return subscriber.get(variable.name) or ""
    value = (subscriber.get("attributes") or {}).get(variable.attribute)
    labels = subscriber.get("labels", {}).get(variable.attribute, {}) if variable.label else {}
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(labels.get(item, str(item)) for item in value)
    if value is None or isinstance(value, dict):
        return ""
    return labels.get(value, str(value))


# --- Filling in SQL -----------------------------------------------------------------------------------------


def sql(template: Template, *, vendor: str, attributes: dict, store: str, link_base: str, secret: str):
    """One SQL expression of the text, over the subscriber `s` and the campaign recipient `r`; (sql, params)."""
    pieces, params = [], []
    for part in template.parts:
        if isinstance(part, str):
            pieces.append("CAST(%s AS TEXT)")
            params.append(part)
        elif isinstance(part, LinkPart):
            hex_id = "to_hex(r.id)" if vendor == "postgresql" else "printf('%%x', r.id)"
            pieces.append(
                f"(CAST(%s AS TEXT) || {hex_id} || CAST(%s AS TEXT) || "
                f"substr(md5(CAST(%s AS TEXT) || CAST(r.id AS TEXT) || CAST(%s AS TEXT)), 1, {CHECK_LENGTH}))"
            )
            params += [link_base, part.letter, f"{secret}:", f":{part.letter}"]
        else:
            value_sql, value_params = _value_sql(part, vendor, attributes, store)
            pieces.append(f"COALESCE(NULLIF({value_sql}, ''), CAST(%s AS TEXT))")
            params += [*value_params, part.default]
    if not pieces:
        return "CAST('' AS TEXT)", []
    return " || ".join(pieces), params


def _value_sql(variable: Variable, vendor: str, attributes: dict, store: str):
    if variable.name == "store":
        return "CAST(%s AS TEXT)", [store]
    if variable.attribute is None:
        return f"s.{variable.name}", []
    key = variable.attribute
    spec = attributes[key]
    labels = spec.get("labels", {}) if variable.label else {}
    postgres = vendor == "postgresql"
    path = key if postgres else f'$."{key}"'
    if spec["type"] == "multiple_choice":
        item, item_params = _labelled("e.value", labels)
        if postgres:
            return (
                f"(SELECT string_agg({item}, ', ' ORDER BY e.ordinality) "
                "FROM jsonb_array_elements_text(CASE jsonb_typeof(s.attributes -> %s) WHEN 'array' "
                "THEN s.attributes -> %s END) WITH ORDINALITY AS e)",
                [*item_params, key, key],
            )
        return (
            f"(SELECT group_concat({item}, ', ') FROM (SELECT e.value FROM json_each(s.attributes, %s) AS e "
            "WHERE json_type(s.attributes, %s) = 'array' ORDER BY e.key) AS e)",
            [*item_params, path, path],
        )
    if spec["type"] == "yes_no":
        kind = "jsonb_typeof(s.attributes -> %s)" if postgres else "json_type(s.attributes, %s)"
        truth = "s.attributes ->> %s" if postgres else "json_type(s.attributes, %s)"
        return (
            f"CASE WHEN {kind} = 'boolean' OR {kind} IN ('true', 'false') THEN "
            f"CASE {truth} WHEN 'true' THEN 'yes' ELSE 'no' END END",
            [path, path, path],
        )
    text = "(s.attributes ->> %s)" if postgres else "CAST(json_extract(s.attributes, %s) AS TEXT)"
    kind = "jsonb_typeof(s.attributes -> %s)" if postgres else "json_type(s.attributes, %s)"
    scalar = f"CASE WHEN {kind} IN ('string', 'text', 'number', 'integer', 'real') THEN {text} END"
    return _labelled(scalar, labels, [path, path])


def _labelled(value_sql: str, labels: dict, params: list | None = None):
    params = list(params or [])
    if not labels:
        return value_sql, params
    whens = " ".join("WHEN CAST(%s AS TEXT) THEN CAST(%s AS TEXT)" for _ in labels)
    label_params = [item for pair in labels.items() for item in map(str, pair)]
    return f"(CASE {value_sql} {whens} ELSE {value_sql} END)", [*params, *label_params, *params]
