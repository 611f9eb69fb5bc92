"""The send gate: the one place that decides whether a text may leave now.

`decide()` is pure: it is given everything it needs (the message's purpose,
the recipient's consent, their recent texts, the clock) and answers send,
hold until a time, or refuse with a reason. `conversations.services` calls it
when a message is queued and again in the transaction that marks it sending.
Callers never check consent themselves.
"""

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from urllib.parse import unquote_plus, urlsplit

from . import windows

SEND = "send"
HOLD = "hold"
REFUSE = "refuse"

# Purposes, as stored on Message.purpose.
MARKETING = "marketing"
CONVERSATIONAL = "conversational"
SYSTEM = "system"
OPT_OUT_CONFIRMATION = "opt_out_confirmation"
TRANSACTIONAL = "transactional"  # an order update: not a solicitation (compliance.md, section 3)

SUBSCRIBED = "subscribed"
UNSUBSCRIBED = "unsubscribed"

CONVERSATION_WINDOW = timedelta(hours=24)  # a reply within 24 h of their text is conversational
# Marketing to someone in a live inbox conversation with a text in the last TALKING_RECENT waits, looked at again
# every TALKING_RECHECK; a conversation left open and quiet stops holding anything.
TALKING_RECENT = timedelta(hours=2)
TALKING_RECHECK = timedelta(minutes=15)
OPT_OUT_CONFIRMATION_WINDOW = timedelta(minutes=5)  # FCC 24-24: presumed lawful within 5 minutes


@dataclass(frozen=True)
class Rules:
    """A store's sending rules (from settings); the defaults are the product rules of compliance.md."""

    window: windows.Window = windows.DEFAULT_WINDOW
    daily_cap: int = 3
    weekly_cap: int | None = None
    default_zone: str = "America/New_York"


DEFAULT_RULES = Rules()


@dataclass(frozen=True)
class Recipient:
    phone: str
    status: str
    opted_out_at: datetime | None
    last_inbound_at: datetime | None
    zones: tuple[str, ...]  # candidate zones: from the number and the subscriber's own zone
    marketing_sent_at: tuple[datetime, ...] = field(default=())  # marketing texts of the last 7 days
    talking: bool = False  # a live inbox conversation with a text in the last TALKING_RECENT


@dataclass(frozen=True)
class Decision:
    action: str
    reason: str = ""
    until: datetime | None = None
    code: str = ""

    @property
    def allowed(self) -> bool:
        return self.action == SEND


def decide(*, purpose: str, recipient: Recipient, now: datetime, rules: Rules = DEFAULT_RULES) -> Decision:
    """Whether a text of `purpose` may go to `recipient` at `now`."""
    if recipient.status == UNSUBSCRIBED:
        if purpose != OPT_OUT_CONFIRMATION:
            return Decision(REFUSE, f"{recipient.phone} has opted out; nothing may be sent to them", code="opted_out")
        if recipient.opted_out_at is None or now - recipient.opted_out_at > OPT_OUT_CONFIRMATION_WINDOW:
            return Decision(
                REFUSE, "the opt-out confirmation may only be sent within 5 minutes of the opt-out", code="too_late"
            )
        return Decision(SEND)
    if purpose == OPT_OUT_CONFIRMATION:
        return Decision(REFUSE, f"{recipient.phone} has not opted out", code="not_opted_out")
    if purpose == SYSTEM:
        return Decision(SEND)
    if purpose == TRANSACTIONAL:
        return _transactional(recipient)
    replying = (
        purpose == CONVERSATIONAL
        and recipient.last_inbound_at is not None
        and now - recipient.last_inbound_at <= CONVERSATION_WINDOW
    )
    if replying:
        return Decision(SEND)
    # Marketing, or a "reply" to someone who has not written in 24 h, which is marketing by another name.
    if recipient.status != SUBSCRIBED:
        return Decision(
            REFUSE,
            f"{recipient.phone} has not given consent to marketing texts (status {recipient.status})",
            code="no_consent",
        )
    timing = _timing(recipient, now, rules)
    if purpose == MARKETING and recipient.talking and timing.action != REFUSE:
        # A blast in the middle of a help-desk chat reads as not listening; it waits for the chat to end.
        until = max(timing.until or now, now + TALKING_RECHECK)
        reason = "; ".join(filter(None, ["a person is talking with them in the inbox", timing.reason]))
        return Decision(HOLD, reason, until=until, code="talking")
    return timing


def needs_history(purpose: str, recipient: Recipient, now: datetime) -> bool:
    """Whether deciding needs the recipient's recent marketing texts (only texts that meet the caps do)."""
    if recipient.status == UNSUBSCRIBED or purpose in (SYSTEM, OPT_OUT_CONFIRMATION, TRANSACTIONAL):
        return False
    replying = recipient.last_inbound_at is not None and now - recipient.last_inbound_at <= CONVERSATION_WINDOW
    return not (purpose == CONVERSATIONAL and replying)


def _transactional(recipient: Recipient) -> Decision:
    """An order update goes at once, at any hour and beyond the caps (it solicits nothing), to a subscribed number:
    the opt-out was refused above, and someone who never agreed to texts gets none."""
    if recipient.status != SUBSCRIBED:
        return Decision(
            REFUSE,
            f"{recipient.phone} has not agreed to texts (status {recipient.status}), so no order update goes to them",
            code="no_consent",
        )
    return Decision(SEND)


# A link that sells: a discount or coupon applied by the link (Shopify's /discount/<code>, WooCommerce's
# ?coupon=), or a page or a host named for a sale, an offer, a promotion or a deal. A transactional text may carry none.
_LINK = re.compile(r"https?://[^\s<>\"']+", re.IGNORECASE)
# A link typed without its scheme (phones make it a link all the same): a host (labels, a top-level domain of
# letters), then perhaps a port, a path, a query or a fragment. Not part of an e-mail address, a word or a longer name.
_BARE_LINK = re.compile(
    r"(?<![\w@.\-/%])(?P<host>(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+[a-z]{2,24})(?![a-z0-9-])"
    r"(?P<rest>(?::\d+)?[/?#][^\s<>\"']*)?",
    re.IGNORECASE,
)
# A bare domain with no www and no path counts as a link only with one of these top-level domains (so that
# "shipped.Thanks" or "{{ event.url }}" is not one).
_BARE_TLDS = frozenset("com net org co us io shop store biz info app online site uk ca au de fr nl eu me ly".split())
_TRAILING = ".,;:!?)]}'\""
_SELLING = re.compile(
    r"(?<![a-z])(discounts?|coupons?|promos?|promotions?|sales?|offers?|deals?|clearance|vouchers?)(?![a-z])",
    re.IGNORECASE,
)
# The carriers' own tracking pages are never a store's sale, whatever their hosts or paths say.
CARRIER_HOSTS = frozenset(
    {
        "ups.com",
        "fedex.com",
        "usps.com",
        "dhl.com",
        "dhl.de",
        "ontrac.com",
        "lasership.com",
        "purolator.com",
        "canadapost.ca",
        "canadapost-postescanada.ca",
        "royalmail.com",
        "auspost.com.au",
    }
)
# Shopify's order status page (/<shop id>/orders/<token>[/authenticate]?key=…, or the customer account's order): on
# the store's own domain, whatever that domain is called.
_ORDER_STATUS_PATH = re.compile(r"^(?:/\d+/orders/[0-9a-f]+(?:/authenticate)?|(?:/\d+)?/account/orders/\d+)/?$", re.I)


def content_refusal(purpose: str, body: str) -> Decision | None:
    """Whether a text's words are wrong for its purpose: a transactional text may not sell (None: they are fine)."""
    if purpose != TRANSACTIONAL:
        return None
    selling = selling_links(body)
    if selling:
        return Decision(
            REFUSE,
            f"a transactional text may not carry a link to a sale or an offer ({selling[0]}); "
            "send it as marketing, or link to the order or its tracking instead",
            code="selling_link",
        )
    return None


def selling_links(body: str) -> list[str]:
    """The links in a text that lead to a sale or an offer: a word of one in the hostname's labels, or in the path,
    query or fragment once percent-decoded; links typed without a scheme (www.…, a domain with a path) too. Tracking
    (the carriers' own hosts) and order-status links pass. Each link is given as written."""
    found = []
    links = [link.rstrip(_TRAILING) for link in _LINK.findall(body)]
    rest = _LINK.sub(" ", body)
    for match in _BARE_LINK.finditer(rest):
        host, tail = match["host"], match["rest"] or ""
        if tail or host.lower().startswith("www.") or host.rsplit(".", 1)[1].lower() in _BARE_TLDS:
            links.append((host + tail).rstrip(_TRAILING))
    for link in links:
        if _sells(link if "://" in link else f"http://{link}"):
            found.append(link)
    return found


def _sells(link: str) -> bool:
    try:
        parts = urlsplit(link)
        host = _decoded(parts.hostname or "").lower().rstrip(".")
    except ValueError:  # not a link a phone could open either; judge its words
        return bool(_SELLING.search(_decoded(link)))
    if any(host == carrier or host.endswith("." + carrier) for carrier in CARRIER_HOSTS):
        return False
    path = _decoded(parts.path)
    if _SELLING.search(_decoded(parts.query)) or _SELLING.search(_decoded(parts.fragment)):
        return True
    if _ORDER_STATUS_PATH.match(path):
        return False  # the order's own page, on the store's domain whatever it is called
    return bool(_SELLING.search(host) or _SELLING.search(path))


def _decoded(text: str) -> str:
    """Percent-decoded (and + as a space) until nothing changes: /%73ale and /%2573ale are /sale."""
    for _ in range(5):
        decoded = unquote_plus(text)
        if decoded == text:
            break
        text = decoded
    return text


def _timing(recipient: Recipient, now: datetime, rules: Rules) -> Decision:
    """Hold a marketing text until the window is open and the caps allow it; never drop it."""
    zones = list(recipient.zones) or [rules.default_zone]
    states = windows.us_state_rules_for(recipient.phone)
    at = now
    reasons = []
    for _ in range(10):  # caps and windows move each other forward; a few rounds settle it
        capped_until = _cap_frees_at(recipient.marketing_sent_at, at, rules)
        if capped_until > at:
            reasons.append(f"frequency cap reached until {capped_until:%Y-%m-%d %H:%M} UTC")
            at = capped_until
        opens = windows.next_open(at, zones, rules.window, states)
        if opens is None:
            return Decision(REFUSE, "the send window never opens in the recipient's time zones", code="no_window")
        if opens > at:
            reasons.append(f"quiet hours in {', '.join(zones)} until {opens:%Y-%m-%d %H:%M} UTC")
            at = opens
        if _cap_frees_at(recipient.marketing_sent_at, at, rules) <= at:
            break
    if at == now:
        return Decision(SEND)
    return Decision(HOLD, "; ".join(dict.fromkeys(reasons)), until=at, code="held")


def _cap_frees_at(sent: tuple[datetime, ...], at: datetime, rules: Rules) -> datetime:
    """The earliest time at or after `at` when one more marketing text fits under every cap."""
    frees = at
    for cap, period in ((rules.daily_cap, timedelta(days=1)), (rules.weekly_cap, timedelta(days=7))):
        if cap is None:
            continue
        recent = sorted(moment for moment in sent if at - period < moment <= at)
        if len(recent) >= cap:
            # The oldest text that must leave the period before one more fits.
            frees = max(frees, recent[len(recent) - cap] + period)
    return frees


def validity_period(now: datetime, recipient: Recipient, rules: Rules = DEFAULT_RULES) -> int | None:
    """Seconds a marketing text may wait at the provider before it would land in quiet hours (1-36000)."""
    zones = list(recipient.zones) or [rules.default_zone]
    closes = windows.closes_at(now, zones, rules.window, windows.us_state_rules_for(recipient.phone))
    if closes is None:
        return None
    return max(1, min(36000, int((closes - now).total_seconds())))
