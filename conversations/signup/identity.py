"""The signed identifier that lets the pop-up's script report which products a known shopper looks at.

The script on the store's pages reports product and collection views only for a shopper Parley knows: one who
signed up in that browser (the sign-up's answer carries an identifier), or one who came through a tracked link in a
text (the short link's redirect adds one to the store's URL as `?parley_id=…`). The script keeps it in the store's
own localStorage and sends it with each view; Parley checks its signature and age before it records anything.

An identifier is signed with Django's signing (SECRET_KEY, a salt of its own) and dated, honoured for
BROWSE_IDENTITY_DAYS. A link's names the subscriber (`s<id>`); a sign-up's names the sign-up attempt (`a<id>`),
whatever came of it, so that the answer looks the same whether the number was new, already subscribed or opted out
(see signup_submit): only an attempt that texted a confirmation request identifies its shopper.
"""

from urllib.parse import urlencode, urlsplit, urlunsplit

from django.conf import settings
from django.core import signing

from ..models import SignupAttempt, SignupForm

SALT = "parley.browse-identity"
PARAMETER = "parley_id"  # the query parameter the redirect adds and the script takes away
NOBODY = 0  # what an identifier that names no subscriber reads as


class IdentityRefused(Exception):
    """The identifier cannot be honoured; `reason` is forged or expired, the message says so to a person."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


def browse_identity_sign(*, subscriber_id: int | None = None, attempt_id: int | None = None) -> str:
    """A signed, dated identifier for a subscriber (a tracked link's) or a sign-up attempt (a sign-up's)."""
    value = f"s{subscriber_id}" if subscriber_id is not None else f"a{attempt_id}"
    return signing.TimestampSigner(salt=SALT).sign(value)


def browse_identity_read(token: str) -> int:
    """The subscriber id an identifier names, NOBODY for a sign-up that texted no one; IdentityRefused when it is
    forged or expired."""
    signer = signing.TimestampSigner(salt=SALT)
    try:
        value = signer.unsign(token, max_age=settings.BROWSE_IDENTITY_DAYS * 86400)
    except signing.SignatureExpired:
        raise IdentityRefused(
            "expired", f"the shopper's identifier is older than {settings.BROWSE_IDENTITY_DAYS} days"
        ) from None
    except signing.BadSignature:
        raise IdentityRefused("forged", "the shopper's identifier is not one Parley signed") from None
    kind, number = value[:1], value[1:]
    if kind not in ("s", "a") or not number.isdigit() or len(number) > 18:
        raise IdentityRefused("forged", "the shopper's identifier is not one Parley signed")
    if kind == "s":
        return int(number)
    texted = SignupAttempt.objects.filter(pk=int(number), outcome=SignupAttempt.Outcome.REQUESTED)
    return texted.values_list("subscriber_id", flat=True).first() or NOBODY


def origin_of(url: str) -> str:
    """scheme://host[:port] of an http(s) URL as browsers write origins (lower case, no default port); "" if none."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return ""
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return ""
    default = {"http": 80, "https": 443}[parts.scheme]
    host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    return f"{parts.scheme}://{host}" + (f":{port}" if port and port != default else "")


def tracking_origins() -> set[str]:
    """The store's sites where the script reports views: those of the active forms that track browsing."""
    origins = set()
    for allowed in SignupForm.objects.filter(is_active=True, track_browsing=True).values_list(
        "allowed_origins", flat=True
    ):
        origins.update(origin_of(line) for line in allowed.splitlines() if line.strip())
    return origins - {""}


def url_with_identity(url: str, *, subscriber_id: int | None) -> str:
    """`url` with the shopper's identifier added, when it leads to a store site that tracks browsing.

    Any other address (another site, or tracking turned off) is returned as it is: the identifier never leaves for
    a site whose script would not keep it.
    """
    if not subscriber_id or origin_of(url) not in tracking_origins():
        return url
    parts = urlsplit(url)
    added = urlencode({PARAMETER: browse_identity_sign(subscriber_id=subscriber_id)})
    return urlunsplit(parts._replace(query="&".join(p for p in (_query_without_identity(parts.query), added) if p)))


def without_identity(url: str) -> str:
    """`url` without the identifier parameter (a page's address as the script reports it, cleaned once more)."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(query=_query_without_identity(parts.query)))


def _query_without_identity(query: str) -> str:
    """The query string without PARAMETER; the rest stays exactly as written (signed URLs, odd separators)."""
    return "&".join(part for part in query.split("&") if part and part.split("=", 1)[0] != PARAMETER)
