"""Customers and their SMS marketing consent: Shopify's REST Customer and its marketing-consent webhook.

Shopify describes a customer's SMS consent as `sms_marketing_consent` (shopify.dev, REST Customer resource):

    {"state": "subscribed", "opt_in_level": "single_opt_in", "consent_updated_at": "2026-11-30T10:15:00-05:00",
     "consent_collected_from": "SHOPIFY"}

state is one of subscribed, not_subscribed, unsubscribed, pending (Shopify's own double opt-in is waiting) and
redacted (the customer's data was erased); opt_in_level single_opt_in, confirmed_opt_in or unknown;
consent_collected_from SHOPIFY (Shopify's checkout or online store) or OTHER (an app or the API).

customers/create and customers/update carry the whole customer; from API version 2025-01 on they no longer hold
`sms_marketing_consent`, which comes in customers_marketing_consent/update instead: the customer's id, phone and
that object.
"""

from dataclasses import dataclass
from datetime import datetime

from .reading import SHOPIFY, PayloadError, Reader, as_object, kind_of

SUBSCRIBED = "subscribed"
NOT_SUBSCRIBED = "not_subscribed"
UNSUBSCRIBED = "unsubscribed"
PENDING = "pending"
REDACTED = "redacted"
SMS_STATES = (SUBSCRIBED, NOT_SUBSCRIBED, UNSUBSCRIBED, PENDING, REDACTED)


@dataclass(frozen=True)
class SmsConsent:
    state: str  # one of SMS_STATES, or what Shopify sent when it is none of them (lower case)
    opt_in_level: str  # single_opt_in, confirmed_opt_in, unknown, or ""
    updated_at: datetime | None  # consent_updated_at: when the shopper decided, as Shopify says
    collected_from: str  # SHOPIFY, OTHER, or ""

    def as_details(self) -> dict:
        """The consent as Shopify stated it, for the consent record."""
        return {
            "state": self.state,
            "opt_in_level": self.opt_in_level,
            "consent_updated_at": self.updated_at.isoformat() if self.updated_at else None,
            "consent_collected_from": self.collected_from,
        }


@dataclass(frozen=True)
class Customer:
    platform: str
    id: str
    phone: str  # as typed in the store; "" when it has none
    first_name: str
    last_name: str
    email: str
    sms_consent: SmsConsent | None  # None: the payload says nothing about SMS consent


def shopify_customer(payload) -> Customer:
    """customers/create, customers/update and customers_marketing_consent/update."""
    customer = Reader(as_object(payload, "body"))
    # The consent webhook names the customer `id` (as every Shopify resource does); some versions `customer_id`.
    customer_id = customer.id("id", required=False) or customer.id("customer_id", required=False)
    if not customer_id:
        raise PayloadError("id is missing")
    return Customer(
        platform=SHOPIFY,
        id=customer_id,
        phone=customer.text("phone", max_length=64),
        first_name=customer.text("first_name", max_length=100),
        last_name=customer.text("last_name", max_length=100),
        email=customer.text("email", max_length=254),
        sms_consent=_sms_consent(customer),
    )


def _sms_consent(customer: Reader) -> SmsConsent | None:
    if customer.data.get("sms_marketing_consent") is None:
        return None
    consent = customer.sub("sms_marketing_consent")
    state = consent.data.get("state")
    if state is None:
        return None  # Shopify's example of this webhook: every field null, nothing decided
    if not isinstance(state, str):
        raise PayloadError(f"{consent.place('state')} must be text such as subscribed (got {kind_of(state)})")
    return SmsConsent(
        state=state.strip().lower()[:32],
        opt_in_level=consent.text("opt_in_level", max_length=32).lower(),
        updated_at=consent.when("consent_updated_at"),
        collected_from=consent.text("consent_collected_from", max_length=32).upper(),
    )
