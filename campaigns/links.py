"""A campaign's text and its links: the shared template language (conversations.templating) plus tracked links.

Every link in a campaign text (`{{ link }}`, the campaign's link URL, and any other http(s) URL) is sent as a
short link on the store's short domain: `<base>/l/<recipient id in hex><letter><check>`. Each different link of
a text has a letter (g, h, i…, never a hex digit); the check makes codes unguessable without the campaign's
secret. The text is filled in Python (previews, test sends) or as one SQL expression (the fan-out); both give
the same text.
"""

import hashlib
import re
from dataclasses import dataclass

from django.core.exceptions import ValidationError

from conversations import templating
from conversations.templating import sql as templating_sql

LINK_LETTERS = "ghijklmnopqrstuvwxyz"  # never hex digits: a code is <recipient id in hex><letter><check>
CHECK_LENGTH = 8  # 32 bits: forging one recipient's click takes billions of tries
PUBLIC_SHORTENERS = {"bit.ly", "tinyurl.com", "goo.gl", "t.co", "ow.ly", "is.gd", "buff.ly", "rebrand.ly", "cutt.ly"}
CODE = re.compile(rf"^([0-9a-f]{{1,12}})([{LINK_LETTERS}])([0-9a-f]{{{CHECK_LENGTH}}})$")


@dataclass(frozen=True)
class CampaignText:
    template: templating.Template
    links: dict[str, str]  # letter -> URL
    link_url: str = ""

    @property
    def has_links(self) -> bool:
        return bool(self.links)

    def letter(self, url: str | None) -> str:
        """The letter of a link part ({{ link }} when url is None)."""
        wanted = url or self.link_url
        return next(letter for letter, link in self.links.items() if link == wanted)

    def render(self, values: dict, *, labels: dict, store: str, link_for) -> str:
        """The text for one subscriber; `link_for(letter, url)` gives each link's text."""
        return templating.render(
            self.template,
            {**values, "store": store},
            labels=labels,
            link_for=lambda url: link_for(self.letter(url), url or self.link_url),
        )

    def sql(self, connection, *, labels: dict, store: str, link_base: str, secret: str) -> tuple[str, list]:
        """One SQL expression of the text over the subscriber `s` and the campaign recipient `r`; (sql, params)."""
        return templating_sql.to_sql(
            self.template,
            connection=connection,
            labels=labels,
            constants={"store": store},
            link_sql=lambda url: code_sql(connection, link_base=link_base, secret=secret, letter=self.letter(url)),
        )


def campaign_text(body: str, *, link_url: str, scope: templating.Scope, max_links: int | None = None) -> CampaignText:
    """Read `body`, or raise ValidationError naming every problem.

    Links must be https and not on a public shortener (carriers filter those), and a text may hold at most
    `max_links` different ones (compliance.md, section 7).
    """
    template = templating.parse(body, links=True)
    problems = [str(problem) for problem in templating.problems(template, scope)]
    if any(link.url is None for link in template.links) and not link_url:
        problems.append("the text uses {{ link }} but the campaign has no link URL")
    for link in template.links:
        problems += link_problems(link.url or link_url) if (link.url or link_url) else []
    urls = template.link_urls(link_url)
    if len(urls) > len(LINK_LETTERS):
        problems.append(f"a text may hold at most {len(LINK_LETTERS)} different links")
    if max_links is not None and len(urls) > max_links:
        problems.append(
            f"a text may hold at most {max_links} link{'s' if max_links != 1 else ''} "
            f"(this one has {len(urls)}): carriers distrust texts full of links"
        )
    if problems:
        raise ValidationError(list(dict.fromkeys(problems)))
    return CampaignText(template, dict(zip(LINK_LETTERS, urls, strict=False)), link_url)


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


# --- Short link codes --------------------------------------------------------------------------------------


def link_check(secret: str, recipient_id: int, letter: str) -> str:
    return hashlib.md5(f"{secret}:{recipient_id}:{letter}".encode(), usedforsecurity=False).hexdigest()[:CHECK_LENGTH]


def link_code(secret: str, recipient_id: int, letter: str) -> str:
    """The short link's code: the recipient's id in hex, the link's letter, and a check that makes codes unguessable."""
    return f"{recipient_id:x}{letter}{link_check(secret, recipient_id, letter)}"


def code_parts(code: str) -> tuple[int, str, str] | None:
    """(recipient id, letter, check) of a well-formed code, else None."""
    match = CODE.match(code or "")
    if not match:
        return None
    return int(match[1], 16), match[2], match[3]


def code_sql(connection, *, link_base: str, secret: str, letter: str) -> tuple[str, list]:
    """`link_base + link_code(secret, r.id, letter)` in SQL, over the campaign recipient `r`."""
    hex_id = templating_sql.dialect(connection).hex("r.id")
    return (
        f"CAST(%s AS TEXT) || {hex_id} || CAST(%s AS TEXT) || "
        f"substr(md5(CAST(%s AS TEXT) || CAST(r.id AS TEXT) || CAST(%s AS TEXT)), 1, {CHECK_LENGTH})",
        [link_base, letter, f"{secret}:", f":{letter}"],
    )
