"""Tracked links of texts sent to one subscriber (flows): each http(s) link becomes a short link `/l/<code>`, and a
person opening it is a `link_clicked` event saying where the link came from.

Campaigns have codes of their own, computed from the recipient for a million texts at once (campaigns/links.py);
the short-link redirect (`/l/<code>`, campaigns) reads theirs first and hands any other code to `tracked_link_open`.
A code here is 10 letters and digits that starts with a capital letter, so it is never a campaign's (those are
lower-case hex and a letter g-z).
"""

import secrets
import string
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from django.conf import settings
from django.db.models import F
from django.utils import timezone

from .. import event_types, templating
from ..models import Subscriber, TrackedLink
from .events import event_record

CODE_LENGTH = 10
CODE_FIRST = string.ascii_uppercase
CODE_REST = string.ascii_letters + string.digits

__all__ = ["short_link_base", "tracked_link_open", "tracked_links_make"]


def short_link_base() -> str:
    """Where short links point: the store's short domain (SHORT_LINK_BASE_URL) and /l/."""
    return settings.SHORT_LINK_BASE_URL.rstrip("/") + "/l/"


def _new_code() -> str:
    return secrets.choice(CODE_FIRST) + "".join(secrets.choice(CODE_REST) for _ in range(CODE_LENGTH - 1))


def tracked_links_make(*, subscriber: Subscriber, text: str, properties: dict, utm_campaign: str = "") -> str:
    """`text` with each different http(s) link in it replaced by a short link of its own for `subscriber`, whose
    opening records `link_clicked` with `properties` (e.g. {"flow": 3, "run": 41, "node": "reminder"}) and the URL."""
    template = templating.parse(text, links=True)
    urls = template.link_urls()
    if not urls:
        return text
    made = {url: TrackedLink(code=_new_code(), subscriber=subscriber, url=url[:2000]) for url in urls}
    for link in made.values():
        link.properties, link.utm_campaign = dict(properties), utm_campaign[:120]
    TrackedLink.objects.bulk_create(made.values())
    base = short_link_base()
    out = []
    for part in template.parts:
        if isinstance(part, str):
            out.append(part)
        elif isinstance(part, templating.Link):
            out.append(base + made[part.url].code)
        else:  # a {{ … }} the filled-in text still holds (a product named so): as it was
            out.append(part.source)
    return "".join(out)


def tracked_link_open(*, code: str, bot: bool) -> str | None:
    """Count the opening of a tracked link (a person's: `link_clicked`; a bot's: nothing) and return where it
    leads, with UTM parameters; None for a code that is not one."""
    link = TrackedLink.objects.filter(code=code).select_related("subscriber").first()
    if link is None:
        return None
    if not bot:
        TrackedLink.objects.filter(pk=link.pk).update(clicks=F("clicks") + 1)
        event_record(
            subscriber=link.subscriber,
            type=event_types.LINK_CLICKED,
            properties={**link.properties, "url": link.url},
            occurred_at=timezone.now(),
        )
    return _with_utm(link.url, link.utm_campaign)


def _with_utm(url: str, campaign: str) -> str:
    """`url` with utm_source=parley, utm_medium=sms and utm_campaign added (the store's own utm_* values kept)."""
    parts = urlsplit(url)
    present = {key for key, _ in parse_qsl(parts.query, keep_blank_values=True)}
    utm = {"utm_source": "parley", "utm_medium": "sms", "utm_campaign": campaign}
    added = urlencode([(key, value) for key, value in utm.items() if value and key not in present])
    # The store's own query is kept exactly as written (signed URLs, odd separators); ours is appended.
    return urlunsplit(parts._replace(query="&".join(part for part in (parts.query, added) if part)))
