"""Is a signed Twilio webhook made of exactly the parameters Twilio sends? Pure checks, no Django.

Twilio's signature is an HMAC of the URL followed by every parameter's name and value, sorted by name, joined
with no separator. A captured request can therefore be re-split without breaking its signature: `MessageSid`
= `SM1f…` may become `MessageSi` = `dSM1f…`, and a text that loses its MessageSid is no longer recognised as
one already stored. So a signature alone proves too little. These checks also require:

- every parameter name is one Twilio documents for SMS/MMS webhooks (or one the store allows in
  TWILIO_EXTRA_WEBHOOK_PARAMETERS, for a parameter Twilio adds later), each given once;
- the message's sid is present and has Twilio's exact form, and the older names for it agree;
- every value but the free text (Body, ErrorMessage) has its documented form. A re-split moves characters
  from one value into its neighbour's; with fixed forms no neighbour can take in another parameter's name
  and value (a city holds no digits, a sid no lower-case name), so a forged split is always refused.
"""

import re

MESSAGE_SID = re.compile(r"(SM|MM)[0-9a-f]{32}")
ACCOUNT_SID = re.compile(r"AC[0-9a-f]{32}")
SERVICE_SID = re.compile(r"MG[0-9a-f]{32}")
# A phone number (E.164 or national digits), a short code, or an alphanumeric sender ID (at most 11 characters).
ADDRESS = re.compile(r"\+?[0-9]{3,15}|(?=[A-Za-z0-9 ]{1,11}\Z)[A-Za-z0-9 ]*[A-Za-z][A-Za-z0-9 ]*")
SMALL_NUMBER = re.compile(r"[0-9]{1,2}")
PLACE = re.compile(r"(?:[^\W\d_]|[ .'\-]){0,60}")  # city, state and country names, any script: never digits or '+'
ZIP = re.compile(r"[A-Za-z0-9 \-]{0,10}")
WORD = re.compile(r"[A-Za-z_\-]{0,30}")
API_VERSION = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
ERROR_CODE = re.compile(r"[0-9]{0,6}")
MEDIA_URL = re.compile(r"https://[A-Za-z0-9.\-]+\.twilio\.com/[A-Za-z0-9/_.\-]{1,300}")
MEDIA_TYPE = re.compile(r"[a-z]+/[A-Za-z0-9.+\-]{1,100}")
MEDIA_PARAMETER = re.compile(r"(MediaUrl|MediaContentType)([0-9])")
FREE_TEXT = None  # any text: the shopper's own words

# Twilio's incoming-message webhook for SMS and MMS (docs: "Twilio's request to your incoming message
# Webhook URL"); MediaUrlN / MediaContentTypeN are checked by pattern.
INBOUND = {
    "MessageSid": MESSAGE_SID,
    "SmsSid": MESSAGE_SID,
    "SmsMessageSid": MESSAGE_SID,
    "AccountSid": ACCOUNT_SID,
    "MessagingServiceSid": SERVICE_SID,
    "From": ADDRESS,
    "To": ADDRESS,
    "Body": FREE_TEXT,
    "NumMedia": SMALL_NUMBER,
    "NumSegments": SMALL_NUMBER,
    "ReferralNumMedia": SMALL_NUMBER,
    "SmsStatus": WORD,
    "OptOutType": WORD,
    "ApiVersion": API_VERSION,
    "FromCity": PLACE,
    "FromState": PLACE,
    "FromZip": ZIP,
    "FromCountry": PLACE,
    "ToCity": PLACE,
    "ToState": PLACE,
    "ToZip": ZIP,
    "ToCountry": PLACE,
}
# Twilio's status callback for an outbound message.
STATUS = {
    "MessageSid": MESSAGE_SID,
    "SmsSid": MESSAGE_SID,
    "AccountSid": ACCOUNT_SID,
    "MessagingServiceSid": SERVICE_SID,
    "From": ADDRESS,
    "To": ADDRESS,
    "MessageStatus": WORD,
    "SmsStatus": WORD,
    "ErrorCode": ERROR_CODE,
    "ErrorMessage": FREE_TEXT,
    "ApiVersion": API_VERSION,
    "RawDlrDoneDate": re.compile(r"[0-9]{10,14}"),
}


def _problem(params, known: dict, *, account_sid: str, extra: list[str]) -> str | None:
    for name in params:
        values = params.getlist(name) if hasattr(params, "getlist") else [params[name]]
        if len(values) != 1:
            return f"parameter {name} is given {len(values)} times; Twilio sends each once"
        pattern = known.get(name)
        media = MEDIA_PARAMETER.fullmatch(name) if known is INBOUND else None
        if media:
            pattern = MEDIA_URL if media.group(1) == "MediaUrl" else MEDIA_TYPE
        elif name not in known:
            if name in extra:
                continue
            return f"parameter {name!r} is not one Twilio sends (allow it in TWILIO_EXTRA_WEBHOOK_PARAMETERS)"
        if pattern is not None and not pattern.fullmatch(values[0]):
            return f"parameter {name} is not in Twilio's form"
    sid = params.get("MessageSid") or ""
    if not sid:
        return "MessageSid is missing"
    for other in ("SmsSid", "SmsMessageSid"):
        if params.get(other, sid) != sid:
            return f"{other} differs from MessageSid"
    if not params.get("AccountSid"):
        return "AccountSid is missing"
    if account_sid and params["AccountSid"] != account_sid:
        return "AccountSid is not this store's Twilio account"
    return None


def inbound_problem(params, *, account_sid: str = "", extra: list[str] = ()) -> str | None:
    """Why a signed incoming-message webhook is not one Twilio sent as it is, or None when it is."""
    problem = _problem(params, INBOUND, account_sid=account_sid, extra=list(extra))
    if problem is None and not params.get("From"):
        return "From is missing"
    return problem


def status_problem(params, *, account_sid: str = "", extra: list[str] = ()) -> str | None:
    """Why a signed status callback is not one Twilio sent as it is, or None when it is."""
    problem = _problem(params, STATUS, account_sid=account_sid, extra=list(extra))
    if problem is None and not (params.get("MessageStatus") or params.get("SmsStatus")):
        return "MessageStatus is missing"
    return problem
