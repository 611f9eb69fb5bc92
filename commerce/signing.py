"""What both platforms' webhooks share: an HMAC-SHA256 of the raw body, base64, under a shared secret."""

import base64
import hashlib
import hmac
from dataclasses import dataclass

from .models import WebhookRefusal

Reason = WebhookRefusal.Reason


@dataclass(frozen=True)
class Refusal:
    """A request answered before anything in it is read or stored (only counted)."""

    status: int
    reason: str  # WebhookRefusal.Reason
    message: str


def signature_of(body: bytes, secret: str) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def signature_matches(body: bytes, signature: str, secrets: list[str]) -> bool:
    """Whether `signature` is the body's under any of the secrets (the current one, the previous during a rotation).

    Compared in constant time, as bytes: a header is any Latin-1 text, never an error.
    """
    given = signature.strip().encode("latin-1", "replace")
    return any(hmac.compare_digest(signature_of(body, secret).encode(), given) for secret in secrets if secret)


def signature_refusal(body: bytes, signature: str, secrets: list[str], header: str) -> Refusal | None:
    if not signature:
        return Refusal(401, Reason.MISSING_SIGNATURE, f"Missing {header}.")
    if not signature_matches(body, signature, secrets):
        return Refusal(401, Reason.WRONG_SIGNATURE, f"Invalid {header}: check the webhook secret.")
    return None


def header_text(request, name: str, max_length: int) -> str:
    """A header's value as Parley stores it: printable characters only, cut to the column's length."""
    return "".join(char for char in request.headers.get(name, "") if char.isprintable()).strip()[:max_length]
