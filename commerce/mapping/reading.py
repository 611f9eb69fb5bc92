"""Reading a platform's JSON: each field checked and named by its place in the payload (`line_items[2].price`)."""

import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

SHOPIFY = "shopify"
WOOCOMMERCE = "woocommerce"

MAX_ID_LENGTH = 64
MAX_MONEY = Decimal("1e10")  # fits DecimalField(max_digits=12, decimal_places=2)
MAX_QUANTITY = 10**9  # fits a 32-bit integer column on every database
_DIGITS = re.compile(r"^[0-9]{1,64}$")
_CURRENCY = re.compile(r"^[A-Za-z]{3}$")
# Shopify's single-variant products carry this option, which says nothing.
_NO_OPTION = {("title", "default title")}


class PayloadError(ValueError):
    """The payload is not shaped as its topic documents; the message names the field."""


@dataclass
class Reader:
    """Reads fields of one JSON object, naming each by its place in the payload (`line_items[2].price`)."""

    data: dict
    where: str = ""

    def place(self, key: str) -> str:
        return f"{self.where}.{key}" if self.where else key

    def sub(self, key: str) -> "Reader":
        """A nested object; a missing one (or null) reads as empty."""
        value = self.data.get(key)
        if value is None:
            return Reader({}, self.place(key))
        return Reader(as_object(value, self.place(key)), self.place(key))

    def items(self, key: str) -> list["Reader"]:
        value = self.data.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            raise PayloadError(f"{self.place(key)} must be a list (got {kind_of(value)})")
        return [
            Reader(as_object(item, f"{self.place(key)}[{index}]"), f"{self.place(key)}[{index}]")
            for index, item in enumerate(value)
        ]

    def id(self, key: str, *, required: bool = True) -> str:
        return read_id(self.data.get(key), self.place(key), required=required)

    def text(self, key: str, *, max_length: int = 255) -> str:
        return read_text(self.data.get(key), self.place(key), max_length=max_length)

    def money(self, key: str) -> Decimal | None:
        return read_money(self.data.get(key), self.place(key))

    def integer(self, key: str, *, minimum: int = 0) -> int | None:
        return read_integer(self.data.get(key), self.place(key), minimum=minimum)

    def when(self, key: str, *, naive_is_utc: bool = False) -> datetime | None:
        return read_datetime(self.data.get(key), self.place(key), naive_is_utc=naive_is_utc)

    def url(self, key: str) -> str:
        """A web address (http or https); anything else is left out, never shown as a link."""
        value = self.data.get(key)
        if isinstance(value, str) and value.strip().startswith(("https://", "http://")) and len(value.strip()) <= 2000:
            return value.strip()
        return ""


def as_object(value, where: str) -> dict:
    if not isinstance(value, dict):
        raise PayloadError(f"{where} must be a JSON object (got {kind_of(value)})")
    return value


def kind_of(value) -> str:
    return {dict: "an object", list: "a list", str: "text", bool: "true/false", type(None): "null"}.get(
        type(value), "a number"
    )


def read_id(value, where: str, *, required: bool = True) -> str:
    """A platform id: a whole number above 0 (Shopify's pass 2**53, so text of digits is taken too)."""
    if isinstance(value, bool) or not (value is None or isinstance(value, int | str)):
        raise PayloadError(f"{where} must be a whole number id (got {kind_of(value)})")
    digits = "" if value is None else str(value).strip()
    if digits and not _DIGITS.match(digits):
        raise PayloadError(f"{where} must be a whole number id (got {str(value)[:20]!r})")
    digits = digits.lstrip("0")
    if not digits and required:
        raise PayloadError(f"{where} is missing")
    return digits


def read_text(value, where: str, *, max_length: int = 255) -> str:
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise PayloadError(f"{where} must be text (got {kind_of(value)})")
    return str(value).strip()[:max_length]


def read_money(value, where: str) -> Decimal | None:
    """An amount as the platforms write them: "19.99", 19.99 or 20; empty is unknown."""
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise PayloadError(f"{where} must be an amount such as 19.99 (got {kind_of(value)})")
    if isinstance(value, float) and not math.isfinite(value):
        raise PayloadError(f"{where} must be a finite amount")
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        raise PayloadError(f"{where} must be an amount such as 19.99 (got {str(value)[:20]!r})") from None
    if not amount.is_finite() or not 0 <= amount < MAX_MONEY:
        raise PayloadError(f"{where} must be an amount from 0 to {MAX_MONEY:,.0f} (got {str(value)[:20]!r})")
    return amount.quantize(Decimal("0.01"))


def as_number(amount: Decimal | None):
    """A money amount for an event's properties: a JSON number, so that segments compare it as one."""
    if amount is None:
        return None
    return int(amount) if amount == amount.to_integral_value() else float(amount)


def read_integer(value, where: str, *, minimum: int = 0) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str) and re.fullmatch(r"-?[0-9]{1,12}", value.strip()):
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int):
        raise PayloadError(f"{where} must be a whole number (got {kind_of(value)})")
    if not minimum <= value <= MAX_QUANTITY:
        raise PayloadError(f"{where} must be a whole number from {minimum} to {MAX_QUANTITY:,} (got {value})")
    return value


def read_datetime(value, where: str, *, naive_is_utc: bool = False) -> datetime | None:
    """ISO 8601 with an offset (Shopify), or without one in UTC (WooCommerce's *_gmt fields)."""
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > 40:
        raise PayloadError(f"{where} must be a date and time such as 2026-11-30T10:00:00-05:00")
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise PayloadError(f"{where} must be a date and time such as 2026-11-30T10:00:00-05:00") from None
    if moment.tzinfo is None:
        if not naive_is_utc:
            raise PayloadError(f"{where} must say its UTC offset, e.g. 2026-11-30T10:00:00-05:00")
        moment = moment.replace(tzinfo=UTC)
    return moment


def read_currency(value, where: str) -> str:
    if value in (None, ""):
        return ""
    if not isinstance(value, str) or not _CURRENCY.match(value.strip()):
        raise PayloadError(f"{where} must be a three-letter currency code such as USD")
    return value.strip().upper()


def read_phones(*candidates: tuple[str, object]) -> tuple[tuple[str, str], ...]:
    """The phone numbers an order holds, in the order they are tried, each once; blanks and non-text skipped."""
    seen, phones = set(), []
    for source, value in candidates:
        if isinstance(value, str) and value.strip() and value.strip() not in seen:
            seen.add(value.strip())
            phones.append((source, value.strip()[:64]))
    return tuple(phones)


def meaningful_options(pairs) -> tuple[tuple[str, str], ...]:
    return tuple(
        (name, value)
        for name, value in pairs
        if name and value and (name.casefold(), value.casefold()) not in _NO_OPTION
    )
