"""SMS providers: where an outbound text physically goes.

`SMS_PROVIDER=console` (the default for `make run`) prints each text to the
terminal; the Twilio provider arrives with the two-way pipeline.
"""

import sys
import uuid
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


@dataclass(frozen=True)
class SendResult:
    provider_message_id: str


class ConsoleProvider:
    """Prints every outbound text instead of sending it."""

    name = "console"

    def __init__(self, stream=None):
        self.stream = stream or sys.stdout

    def send(self, *, to: str, body: str, sender: str = "", media_urls: list[str] | None = None) -> SendResult:
        message_id = f"console-{uuid.uuid4().hex}"
        lines = [f"[sms] to {to}" + (f" from {sender}" if sender else "") + f" ({message_id})", body]
        lines += [f"[media] {url}" for url in media_urls or []]
        self.stream.write("\n".join(lines) + "\n\n")
        self.stream.flush()
        return SendResult(provider_message_id=message_id)


_PROVIDERS = {"console": ConsoleProvider}


def get_provider():
    """The provider named by the SMS_PROVIDER setting."""
    try:
        return _PROVIDERS[settings.SMS_PROVIDER]()
    except KeyError:
        raise ImproperlyConfigured(
            f"SMS_PROVIDER must be one of {', '.join(sorted(_PROVIDERS))} (got {settings.SMS_PROVIDER!r})"
        ) from None
