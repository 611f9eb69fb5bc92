"""Reading a text: literal text, variables with their filters and, where the caller asks, links.

    Hi {{ first_name|default:"there" }}! Size {{ attributes.size|label|lower }}: {{ link }}

A variable is a dotted path: a root in lower case (`first_name`, `attributes`, `event`…), then keys or list
indexes (`attributes.size`, `event.items.0.title`). Filters follow, each after a `|`, with at most one argument
in double (or single) quotes. Which paths and filters exist is the rules' business (rules.py); reading is
pure and cached, and never fails: what cannot be read stays literal text and is listed in `syntax_problems`.
"""

import re
from dataclasses import dataclass
from functools import lru_cache

PATH = r"[a-z_][a-z0-9_]*(?:\.[A-Za-z0-9_]+)*"
ARGUMENT = r"\"[^\"]*\"|'[^']*'"
FILTER = rf"\|\s*[a-z_]+\s*(?::\s*(?:{ARGUMENT}))?\s*"
VARIABLE = re.compile(rf"\{{\{{\s*({PATH})\s*((?:{FILTER})*)\}}\}}")
ONE_FILTER = re.compile(rf"\|\s*([a-z_]+)\s*(?::\s*({ARGUMENT}))?")
UNREAD = re.compile(r"\{\{((?:(?!\{\{|\}\}).)*)\}\}", re.DOTALL)  # a {{ … }} that is not a variable
URL = re.compile(r"https?://[^\s<>\"{}]+", re.IGNORECASE)
URL_TRAILING = ".,!?;:)]'"


@dataclass(frozen=True)
class Filter:
    name: str
    argument: str | None = None  # the text between the quotes; None when there is no argument


@dataclass(frozen=True)
class Variable:
    path: tuple[str, ...]
    filters: tuple[Filter, ...] = ()
    source: str = ""  # as written, for messages: {{ first_name|default:"there" }}

    @property
    def name(self) -> str:
        return ".".join(self.path)

    @property
    def root(self) -> str:
        return self.path[0]

    def has(self, filter_name: str) -> bool:
        return any(f.name == filter_name for f in self.filters)


@dataclass(frozen=True)
class Link:
    """A link the caller fills (a campaign's tracked short link): a URL in the text, or {{ link }} (url None)."""

    url: str | None
    source: str = ""


@dataclass(frozen=True)
class Template:
    source: str
    parts: tuple = ()  # str | Variable | Link, in order
    syntax_problems: tuple[str, ...] = ()

    @property
    def variables(self) -> list[Variable]:
        return [part for part in self.parts if isinstance(part, Variable)]

    @property
    def links(self) -> list[Link]:
        return [part for part in self.parts if isinstance(part, Link)]

    def uses_filter(self, name: str) -> bool:
        return any(variable.has(name) for variable in self.variables)

    def link_urls(self, link_url: str = "") -> list[str]:
        """The different links in order of appearance, {{ link }} standing for `link_url` (left out when empty)."""
        urls = [link.url or link_url for link in self.links]
        return list(dict.fromkeys(url for url in urls if url))


@lru_cache(maxsize=2048)
def parse(text: str, *, links: bool = False) -> Template:
    """Read `text`; with `links`, every http(s) URL and {{ link }} become Link parts for the caller to fill."""
    parts: list = []
    problems: list[str] = []

    def add_text(chunk: str) -> None:
        if not chunk:
            return
        for unread in UNREAD.finditer(chunk):
            problems.append(
                f"cannot read {unread[0]}: a variable is a name such as first_name or attributes.size, "
                'then filters such as |default:"there"'
            )
        if "{{" in UNREAD.sub("", chunk) or "}}" in UNREAD.sub("", chunk):
            problems.append('a "{{" or "}}" is not part of a variable; write variables as {{ first_name }}')
        if not links:
            parts.append(chunk)
            return
        position = 0
        for match in URL.finditer(chunk):
            url = match[0].rstrip(URL_TRAILING)
            parts.append(chunk[position : match.start()])
            parts.append(Link(url, url))
            position = match.start() + len(url)
        parts.append(chunk[position:])

    position = 0
    for match in VARIABLE.finditer(text):
        add_text(text[position : match.start()])
        position = match.end()
        filters = tuple(
            Filter(name, argument[1:-1] if argument else None) for name, argument in ONE_FILTER.findall(match[2])
        )
        if links and match[1] == "link":
            if filters:
                problems.append("{{ link }} takes no filters")
            parts.append(Link(None, match[0]))
            continue
        parts.append(Variable(tuple(match[1].split(".")), filters, match[0]))
    add_text(text[position:])
    return Template(text, tuple(part for part in parts if part != ""), tuple(dict.fromkeys(problems)))
