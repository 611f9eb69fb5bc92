"""SMS providers: where an outbound text physically goes.

`console` (the default for `make run`) prints each text to the terminal;
`twilio` sends it through the official SDK. Both answer a SendResult or raise
ProviderError, which says whether trying again is safe.
"""

import sys
import uuid
from dataclasses import dataclass

import requests
import urllib3
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

# Twilio error codes that no retry will fix (compliance.md, section 4).
PERMANENT_ERRORS = {
    "21211": "invalid 'To' number",
    "21408": "sending to this region is not enabled",
    "21610": "the recipient replied STOP to this sender",
    "21612": "this 'To' number cannot be reached from this sender",
    "21614": "'To' is not a mobile number",
    "21617": "the body is over 1600 characters",
    "21602": "the body is empty",
    "30005": "unknown handset: the number is not in service",
    "30006": "landline or unreachable carrier",
    "30007": "filtered by the carrier as spam",
}
UNSUBSCRIBED_ERROR = "21610"


@dataclass(frozen=True)
class SendResult:
    provider_message_id: str
    status: str = "sent"


class ProviderError(Exception):
    """A send that did not go through.

    `retry` is True only when the provider certainly did not take the message
    (a refused connection, a 429 or 5xx answer); a timeout after the request
    left us is ambiguous and never retried, so that no text is sent twice.
    """

    def __init__(self, code: str, message: str, *, retry: bool):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.retry = retry


class ConsoleProvider:
    """Prints every outbound text instead of sending it."""

    name = "console"

    def __init__(self, stream=None):
        self.stream = stream or sys.stdout

    def send(self, *, to: str, body: str, sender: str = "", media_urls=(), **options) -> SendResult:
        message_id = f"console-{uuid.uuid4().hex}"
        lines = [f"[sms] to {to}" + (f" from {sender}" if sender else "") + f" ({message_id})", body]
        lines += [f"[media] {url}" for url in media_urls or []]
        self.stream.write("\n".join(lines) + "\n\n")
        self.stream.flush()
        return SendResult(provider_message_id=message_id)


class TwilioProvider:
    """Sends through Twilio's REST API with the official SDK; TWILIO_API_BASE_URL points it elsewhere in tests."""

    name = "twilio"

    def __init__(self):
        from twilio.http.http_client import TwilioHttpClient
        from twilio.rest import Client

        if not settings.TWILIO_ACCOUNT_SID or not settings.TWILIO_AUTH_TOKEN:
            raise ImproperlyConfigured("SMS_PROVIDER=twilio needs TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN")
        http_client = TwilioHttpClient(timeout=settings.TWILIO_TIMEOUT_SECONDS)
        self.client = Client(settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN, http_client=http_client)
        self.client.api.base_url = settings.TWILIO_API_BASE_URL

    def send(
        self, *, to: str, body: str, sender: str = "", media_urls=(), status_callback="", validity_period=None
    ) -> SendResult:
        from twilio.base.exceptions import TwilioRestException

        options = {"to": to, "body": body}
        if settings.TWILIO_MESSAGING_SERVICE_SID:
            options["messaging_service_sid"] = settings.TWILIO_MESSAGING_SERVICE_SID
        else:
            options["from_"] = sender
        if media_urls:
            options["media_url"] = list(media_urls)
        if status_callback:
            options["status_callback"] = status_callback
        if validity_period:
            options["validity_period"] = validity_period
        try:
            message = self.client.messages.create(**options)
        except TwilioRestException as error:
            code = str(error.code or error.status)
            transient = error.status == 429 or error.status >= 500
            reason = PERMANENT_ERRORS.get(code, error.msg or f"HTTP {error.status}")
            raise ProviderError(code, str(reason), retry=transient and code not in PERMANENT_ERRORS) from error
        except requests.RequestException as error:
            if _never_reached(error):
                raise ProviderError("connection", f"could not reach Twilio ({error})", retry=True) from error
            raise ProviderError(
                "no_answer",
                f"the request left but no answer came back ({error.__class__.__name__}); "
                "the text may have gone, so it is not sent again",
                retry=False,
            ) from error
        return SendResult(provider_message_id=message.sid, status=message.status or "queued")


def _never_reached(error: requests.RequestException) -> bool:
    """True when the request certainly did not reach the provider (no connection was made)."""
    if isinstance(error, requests.ConnectTimeout):
        return True
    if isinstance(error, requests.ConnectionError):
        reason = getattr(error.args[0], "reason", None) if error.args else None
        return isinstance(reason, urllib3.exceptions.NewConnectionError | urllib3.exceptions.NameResolutionError)
    return False


_PROVIDERS = {"console": ConsoleProvider, "twilio": TwilioProvider}


def get_provider():
    """The provider named by the SMS_PROVIDER setting."""
    try:
        provider = _PROVIDERS[settings.SMS_PROVIDER]
    except KeyError:
        raise ImproperlyConfigured(
            f"SMS_PROVIDER must be one of {', '.join(sorted(_PROVIDERS))} (got {settings.SMS_PROVIDER!r})"
        ) from None
    return provider()
