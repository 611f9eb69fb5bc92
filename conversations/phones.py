"""Phone numbers: parse anything a person types into E.164, and tell its time zones.

Every phone number that enters Parley passes through `normalize_phone`, so the
database only ever holds E.164 strings ("+14155550100").
"""

import json
from functools import lru_cache
from pathlib import Path

import phonenumbers
from django.conf import settings
from django.core.exceptions import ValidationError
from phonenumbers import NumberParseException
from phonenumbers import timezone as phone_timezone

from .time_zones import zones_by_country

_PARSE_ERRORS = {
    NumberParseException.INVALID_COUNTRY_CODE: (
        "its country code is missing or unknown (start it with + and the country code)"
    ),
    NumberParseException.NOT_A_NUMBER: "it is not a phone number",
    NumberParseException.TOO_SHORT_AFTER_IDD: "it is too short after the international prefix",
    NumberParseException.TOO_SHORT_NSN: "it is too short",
    NumberParseException.TOO_LONG: "it is too long",
}

# A number that spans more zones than this (toll-free numbers span 42) says
# nothing useful about where its owner lives.
_MAX_CANDIDATE_ZONES = 4


def normalize_phone(raw: str, region: str | None = None) -> str:
    """Return `raw` as E.164, or raise ValidationError saying why it is not a usable number."""
    if not isinstance(raw, str) or not raw.strip():
        raise ValidationError("Enter a phone number.", code="required")
    region = region or settings.PARLEY_DEFAULT_REGION
    try:
        number = phonenumbers.parse(raw, region)
    except NumberParseException as error:
        reason = _PARSE_ERRORS.get(error.error_type, "it could not be read")
        raise ValidationError(f"{raw!r} is not a valid phone number: {reason}.", code="invalid") from error
    if not phonenumbers.is_possible_number(number):
        raise ValidationError(
            f"{raw!r} is not a valid phone number: it has the wrong number of digits.", code="invalid"
        )
    if not phonenumbers.is_valid_number(number):
        where = phonenumbers.region_code_for_number(number) or region
        raise ValidationError(f"{raw!r} is not a valid phone number: no such number exists in {where}.", code="invalid")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


@lru_cache(maxsize=4096)
def normalize_phone_field(raw: str) -> str:
    """normalize_phone, with its problem filed under the field `phone` (what the services and the API report)."""
    try:
        return normalize_phone(raw)
    except ValidationError as error:
        raise ValidationError({"phone": error.messages}) from None


def time_zones_for_phone(phone: str) -> tuple[str, ...]:
    """The IANA zones libphonenumber maps this E.164 number to; empty when unknown or too broad.

    Where libphonenumber only knows the calling code (+1 is shared by 25 countries) but the number's
    country has a single zone (Jamaica, American Samoa), that zone is used.
    """
    number = phonenumbers.parse(phone, None)
    zones = tuple(zone for zone in phone_timezone.time_zones_for_number(number) if zone != "Etc/Unknown")
    if 0 < len(zones) <= _MAX_CANDIDATE_ZONES:
        return zones
    country_zones = zones_by_country().get(phonenumbers.region_code_for_number(number) or "", ())
    return country_zones if len(country_zones) == 1 else ()


def default_time_zone_for_phone(phone: str) -> str:
    """The zone stored on a new subscriber: the number's first zone, else the store's default."""
    zones = time_zones_for_phone(phone)
    return zones[0] if zones else settings.PARLEY_DEFAULT_TIME_ZONE


def country_for_phone(phone: str) -> str:
    """ISO 3166 region of an E.164 number ("US"), or "" when unknown."""
    return phonenumbers.region_code_for_number(phonenumbers.parse(phone, None)) or ""


# libphonenumber's geocoder names a North American number's place as "City, ST" or as the full state or
# province name; segments filter on the two-letter code (scripts/nanp_states.py makes the area-code table).
NORTH_AMERICAN_REGIONS = {
    "Alabama": "AL", "Alaska": "AK", "Arizona": "AZ", "Arkansas": "AR", "California": "CA", "Colorado": "CO",
    "Connecticut": "CT", "Delaware": "DE", "District of Columbia": "DC", "Washington D.C.": "DC", "Florida": "FL",
    "Georgia": "GA", "Hawaii": "HI", "Idaho": "ID", "Illinois": "IL", "Indiana": "IN", "Iowa": "IA", "Kansas": "KS",
    "Kentucky": "KY", "Louisiana": "LA", "Maine": "ME", "Maryland": "MD", "Massachusetts": "MA", "Michigan": "MI",
    "Minnesota": "MN", "Mississippi": "MS", "Missouri": "MO", "Montana": "MT", "Nebraska": "NE", "Nevada": "NV",
    "New Hampshire": "NH", "New Jersey": "NJ", "New Mexico": "NM", "New York": "NY", "North Carolina": "NC",
    "North Dakota": "ND", "Ohio": "OH", "Oklahoma": "OK", "Oregon": "OR", "Pennsylvania": "PA", "Rhode Island": "RI",
    "South Carolina": "SC", "South Dakota": "SD", "Tennessee": "TN", "Texas": "TX", "Utah": "UT", "Vermont": "VT",
    "Virginia": "VA", "Washington": "WA", "West Virginia": "WV", "Wisconsin": "WI", "Wyoming": "WY",
    "Puerto Rico": "PR", "Alberta": "AB", "British Columbia": "BC", "Manitoba": "MB", "New Brunswick": "NB",
    "Newfoundland and Labrador": "NL", "Nova Scotia": "NS", "Ontario": "ON", "Prince Edward Island": "PE",
    "Quebec": "QC", "Saskatchewan": "SK", "Northwest Territories": "NT", "Nunavut": "NU", "Yukon": "YT",
}  # fmt: skip


@lru_cache(maxsize=8192)
def place_for_phone(phone: str) -> tuple[str, str]:
    """(country, state or province) of an E.164 number, e.g. ("US", "CA"); parts that are unknown are ""."""
    try:
        number = phonenumbers.parse(phone, None)
    except NumberParseException:
        return "", ""
    country = phonenumbers.region_code_for_number(number) or ""
    region = ""
    if country in ("US", "CA"):
        region = _nanp_states().get(str(number.national_number)[:3], "")
    return country, region


@lru_cache(maxsize=1)
def _nanp_states() -> dict[str, str]:
    """Area code to state/province, made from libphonenumber's geocoder by scripts/nanp_states.py."""
    return json.loads((Path(__file__).resolve().parent / "data" / "nanp_states.json").read_text())


def country_calling_code(region: str) -> str:
    """ "+1" for US, "+44" for GB…; empty for a region libphonenumber does not know."""
    code = phonenumbers.country_code_for_region((region or "").upper())
    return f"+{code}" if code else ""
