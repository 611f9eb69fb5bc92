"""Demo data: realistic subscribers with answers, tags, consent, messages and events.

Written for size: rows are made as plain tuples and written in large batches
(COPY on PostgreSQL, multi-row INSERT on SQLite), never one query per row, so
a million subscribers take minutes. Phone numbers are deterministic (the 555
exchange of real US area codes), which makes the command idempotent: running it
again adds only the subscribers that are missing.
"""

import hashlib
import json
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache

import phonenumbers
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from phonenumbers import timezone as phone_timezone

from . import event_types
from .db import insert_rows
from .models import (
    AttributeChange,
    AttributeDefinition,
    ConsentEvent,
    Event,
    Message,
    Subscriber,
    Tag,
)
from .phones import place_for_phone
from .sms.encoding import count_segments

FIRST_NAMES = [
    "Olivia",
    "Liam",
    "Emma",
    "Noah",
    "Ava",
    "Elijah",
    "Sophia",
    "James",
    "Isabella",
    "Lucas",
    "Mia",
    "Mateo",
    "Amelia",
    "Benjamin",
    "Harper",
    "Henry",
    "Evelyn",
    "Theodore",
    "Luna",
    "Levi",
    "Camila",
    "Sebastian",
    "Gianna",
    "Jack",
    "Aria",
    "Daniel",
    "Ella",
    "Ezra",
    "Nora",
    "Maya",
    "Aiden",
    "Priya",
    "Wei",
    "Fatima",
    "Diego",
    "Chloe",
    "Zoe",
    "Omar",
    "Hannah",
    "Jamal",
    "Rosa",
    "Kenji",
    "Leila",
    "Tomás",
    "Grace",
    "Ines",
    "Marcus",
    "Yara",
]
LAST_NAMES = [
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Garcia",
    "Miller",
    "Davis",
    "Rodriguez",
    "Martinez",
    "Hernandez",
    "Lopez",
    "Gonzalez",
    "Wilson",
    "Anderson",
    "Thomas",
    "Taylor",
    "Moore",
    "Jackson",
    "Martin",
    "Lee",
    "Perez",
    "Thompson",
    "White",
    "Harris",
    "Sanchez",
    "Clark",
    "Ramirez",
    "Lewis",
    "Robinson",
    "Walker",
    "Young",
    "Allen",
    "King",
    "Wright",
    "Scott",
    "Torres",
    "Nguyen",
    "Hill",
    "Flores",
    "Green",
    "Patel",
    "Kim",
]
TAGS = {"vip": 0.05, "wholesale": 0.02, "instagram": 0.2, "tiktok": 0.1, "in-store": 0.08, "loyalty": 0.15}
# How often each attribute is answered, and how the answers are spread (weights follow the option order).
ANSWER_RATES = {
    "size": (0.7, [5, 20, 32, 25, 12, 6]),
    "skin_type": (0.45, [20, 15, 30, 20, 15]),
    "hair_type": (0.3, [35, 30, 25, 10]),
    "diet": (0.4, [15, 20, 12, 10, 8, 40]),
    "gift_recipient": (0.5, [55, 20, 8, 7, 7, 3]),
    "gender": (0.55, [58, 36, 3, 3]),
    "age_range": (0.5, [14, 30, 24, 16, 10, 6]),
    "offer_preference": (0.6, [50, 30, 20]),
}
REPLIES = ["Thanks!", "Love it 😍", "Do you have this in blue?", "When does the sale end?", "ok", "Got it, thank you"]
STATUS_WEIGHTS = {Subscriber.Status.SUBSCRIBED: 80, Subscriber.Status.PENDING: 8, Subscriber.Status.UNSUBSCRIBED: 12}
DISCLOSURE = (
    "By submitting this form, you agree to receive recurring automated marketing text messages from "
    "{store} at the number provided. Consent is not a condition of purchase. Msg & data rates may apply. "
    "Msg frequency varies. Reply HELP for help and STOP to cancel."
)
OPT_IN_CONFIRMATION = (
    "{store}: You're in! Up to 6 autodialed marketing msgs/mo. Msg & data rates may apply. "
    "Consent not required to buy. Reply HELP for help, STOP to cancel."
)
STOP_CONFIRMATION = "{store}: You are unsubscribed and will get no more texts from us. Reply START to resubscribe."
SIZE_QUESTION = "What size do you usually wear? Reply S, M, L or XL"
SIZE_REPLY = "Thanks {name}! We'll show you our favourites in {size} first."


@dataclass
class Rows:
    subscribers: list[tuple] = field(default_factory=list)
    consent: list[tuple] = field(default_factory=list)
    changes: list[tuple] = field(default_factory=list)
    messages: list[tuple] = field(default_factory=list)
    events: list[tuple] = field(default_factory=list)
    tags: list[tuple] = field(default_factory=list)


def demo_area_codes() -> list[tuple[int, str]]:
    """US area codes whose 555 numbers libphonenumber accepts, with the zone stored for them."""
    codes = []
    for area in range(201, 990):
        number = phonenumbers.parse(f"+1{area}5550123")
        if not phonenumbers.is_valid_number(number) or phonenumbers.region_code_for_number(number) != "US":
            continue
        zones = [zone for zone in phone_timezone.time_zones_for_number(number) if zone != "Etc/Unknown"]
        if 1 <= len(zones) <= 4:
            codes.append((area, zones[0]))
    return codes


FICTIONAL_LINES = 100  # 555-0100 to 555-0199 are reserved for fiction in every area code


def demo_phone(index: int, area_codes: list[tuple[int, str]]) -> tuple[str, str]:
    """Demo number `index`: the fictional 555-01XX block first, then the rest of the 555 exchange (benchmarks)."""
    area, zone = area_codes[index % len(area_codes)]
    line = index // len(area_codes)
    suffix = 100 + line if line < FICTIONAL_LINES else 200 + (line - FICTIONAL_LINES)
    if suffix > 9999:
        raise ValueError(f"demo data holds at most {(FICTIONAL_LINES + 9800) * len(area_codes)} subscribers")
    return f"+1{area}555{suffix:04d}", zone


def fictional_capacity(area_codes: list[tuple[int, str]]) -> int:
    return FICTIONAL_LINES * len(area_codes)


class DemoSeeder:
    """Adds demo subscriber number 0…n-1 that do not exist yet; see the module docstring."""

    batch_size = 20000

    def __init__(self, *, seed: int = 7, now: datetime | None = None, stdout=None):
        self.seed = seed
        self.now = now or timezone.now()
        self.stdout = stdout
        self.store = settings.PARLEY_STORE_NAME
        self.area_codes = demo_area_codes()
        self.definitions = {d.key: d for d in AttributeDefinition.objects.filter(key__in=ANSWER_RATES)}
        self.tag_ids = self._ensure_tags()
        self.disclosure = DISCLOSURE.format(store=self.store)
        self.disclosure_sha256 = hashlib.sha256(self.disclosure.encode()).hexdigest()

    def _ensure_tags(self) -> dict[str, int]:
        Tag.objects.bulk_create([Tag(name=name) for name in TAGS], ignore_conflicts=True)
        return dict(Tag.objects.filter(name__in=TAGS).values_list("name", "id"))

    def run(self, count: int) -> int:
        created = 0
        for start in range(0, count, self.batch_size):
            indexes = range(start, min(start + self.batch_size, count))
            phones = {demo_phone(i, self.area_codes)[0]: i for i in indexes}
            existing = set(Subscriber.objects.filter(phone__in=list(phones)).values_list("phone", flat=True))
            missing = [i for phone, i in phones.items() if phone not in existing]
            if missing:
                created += self._write_batch(missing)
            if self.stdout:
                self.stdout.write(
                    f"  {min(start + self.batch_size, count):>9,} of {count:,} checked, {created:,} added"
                )
        return created

    def _write_batch(self, indexes: list[int]) -> int:
        rng = random.Random(self.seed * 1_000_003 + indexes[0])
        rows = Rows()
        plans = [self._plan_subscriber(i, rng) for i in indexes]
        rows.subscribers = [plan["row"] for plan in plans]
        with transaction.atomic():
            _insert(Subscriber, SUBSCRIBER_COLUMNS, rows.subscribers)
            ids = dict(
                Subscriber.objects.filter(phone__in=[plan["phone"] for plan in plans]).values_list("phone", "id")
            )
            for plan in plans:
                self._plan_history(ids[plan["phone"]], plan, rng, rows)
            _insert(ConsentEvent, CONSENT_COLUMNS, rows.consent)
            _insert(AttributeChange, CHANGE_COLUMNS, rows.changes)
            _insert(Message, MESSAGE_COLUMNS, rows.messages)
            _insert(Event, EVENT_COLUMNS, rows.events)
            _insert(Subscriber.tags.through, ["subscriber_id", "tag_id"], rows.tags)
        return len(plans)

    def _plan_subscriber(self, index: int, rng: random.Random) -> dict:
        phone, zone = demo_phone(index, self.area_codes)
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        email = f"{first}.{last}{index}@example.com".lower() if rng.random() < 0.6 else ""
        status = rng.choices(list(STATUS_WEIGHTS), weights=list(STATUS_WEIGHTS.values()))[0]
        created = self.now - timedelta(days=rng.uniform(1, 365), seconds=rng.randint(0, 86399))
        source = rng.choices([ConsentEvent.Source.WEB, ConsentEvent.Source.KEYWORD], weights=[65, 35])[0]
        attributes = {}
        if status != Subscriber.Status.PENDING:
            for key, (rate, weights) in ANSWER_RATES.items():
                definition = self.definitions.get(key)
                if definition is None or rng.random() >= rate:
                    continue
                values = definition.option_values
                if definition.type == AttributeDefinition.Type.MULTIPLE_CHOICE:
                    picked = set(rng.choices(values[:-1], weights=weights[:-1], k=rng.randint(1, 2)))
                    answer = values[-1:] if rng.random() < weights[-1] / 100 else [v for v in values if v in picked]
                else:
                    answer = rng.choices(values, weights=weights)[0]
                attributes[key] = answer
        opted_in = created + timedelta(minutes=rng.randint(1, 30)) if status != Subscriber.Status.PENDING else None
        opted_out = (
            opted_in + timedelta(days=rng.uniform(0.1, max(0.2, (self.now - opted_in).days)))
            if status == Subscriber.Status.UNSUBSCRIBED
            else None
        )
        if opted_out and opted_out > self.now:
            opted_out = self.now - timedelta(minutes=5)
        last_inbound = opted_in + timedelta(minutes=2) if attributes else None
        row = (
            phone,
            status,
            first,
            last,
            email,
            zone,
            *place_for_phone(phone),
            source if opted_in else "",
            opted_in,
            opted_out,
            json.dumps(attributes),
            last_inbound,
            opted_in,
            created,
            self.now,
        )
        return {
            "phone": phone,
            "row": row,
            "status": status,
            "source": source,
            "first_name": first,
            "attributes": attributes,
            "created": created,
            "opted_in": opted_in,
            "opted_out": opted_out,
        }

    def _plan_history(self, subscriber_id: int, plan: dict, rng: random.Random, rows: Rows) -> None:
        phone, opted_in = plan["phone"], plan["opted_in"]
        for name, share in TAGS.items():
            if rng.random() < share:
                rows.tags.append((subscriber_id, self.tag_ids[name]))
        if opted_in is None:
            return
        if plan["source"] == ConsentEvent.Source.WEB:
            details = {
                "page_url": "https://shop.example.com/",
                "form": "welcome-popup",
                "disclosure": self.disclosure,
                "disclosure_version": "2026-01",
                "disclosure_sha256": self.disclosure_sha256,
                "checkbox": True,
                "ip": f"203.0.113.{rng.randint(1, 254)}",
                "user_agent": "Mozilla/5.0 (iPhone; demo)",
            }
            raw = "Y"
        else:
            details = {"keyword": "JOIN", "program_terms_version": "2026-01"}
            raw = "JOIN"
        rows.consent.append(
            (
                subscriber_id,
                phone,
                ConsentEvent.Kind.OPT_IN,
                plan["source"],
                raw,
                json.dumps(details),
                opted_in,
                opted_in,
            )
        )
        self._message(
            rows,
            subscriber_id,
            Message.Direction.INBOUND,
            raw,
            Message.Origin.SUBSCRIBER,
            opted_in - timedelta(seconds=5),
        )
        self._message(
            rows,
            subscriber_id,
            Message.Direction.OUTBOUND,
            OPT_IN_CONFIRMATION.format(store=self.store),
            Message.Origin.SYSTEM,
            opted_in,
            purpose=Message.Purpose.SYSTEM,
        )
        size = plan["attributes"].get("size")
        if size:
            self._message(
                rows,
                subscriber_id,
                Message.Direction.OUTBOUND,
                SIZE_QUESTION,
                Message.Origin.FLOW,
                opted_in + timedelta(seconds=30),
            )
            self._message(
                rows,
                subscriber_id,
                Message.Direction.INBOUND,
                size.lower(),
                Message.Origin.SUBSCRIBER,
                opted_in + timedelta(minutes=2),
            )
            self._message(
                rows,
                subscriber_id,
                Message.Direction.OUTBOUND,
                SIZE_REPLY.format(name=plan["first_name"], size=size),
                Message.Origin.FLOW,
                opted_in + timedelta(minutes=2, seconds=3),
            )
        for offset, (key, value) in enumerate(plan["attributes"].items()):
            rows.changes.append(
                (
                    subscriber_id,
                    key,
                    None,
                    json.dumps(value),
                    AttributeChange.Source.FLOW,
                    "flow:welcome",
                    opted_in + timedelta(minutes=2, seconds=offset),
                )
            )
        # Orders: about 45 % bought, some more than once, spread over the last 90 days since they opted in.
        orders = rng.choices([0, 1, 2, 3], weights=[55, 30, 10, 5])[0]
        days_in = max(0.1, min(90.0, (self.now - opted_in).total_seconds() / 86400))
        for number in range(orders):
            at = self.now - timedelta(days=rng.uniform(0, days_in))
            properties = {
                "order_id": f"D{subscriber_id}-{number + 1}",
                "total": round(rng.uniform(18, 240), 2),
                "currency": "USD",
                "items": rng.randint(1, 4),
            }
            key = f"demo-order-{phone}-{number + 1}"
            rows.events.append((subscriber_id, event_types.ORDER_PLACED, json.dumps(properties), at, key, at))
        if rng.random() < 0.2:
            at = opted_in + timedelta(days=rng.uniform(0, 30))
            if at < self.now:
                rows.events.append(
                    (
                        subscriber_id,
                        event_types.CART_ABANDONED,
                        json.dumps({"cart_value": round(rng.uniform(20, 300), 2), "items": rng.randint(1, 5)}),
                        at,
                        f"demo-cart-{phone}",
                        at,
                    )
                )
        if plan["status"] == Subscriber.Status.SUBSCRIBED:
            self._plan_engagement(subscriber_id, opted_in, rng, rows)
        if plan["opted_out"]:
            rows.consent.append(
                (
                    subscriber_id,
                    phone,
                    ConsentEvent.Kind.OPT_OUT,
                    ConsentEvent.Source.KEYWORD,
                    "STOP",
                    json.dumps({"matched": "keyword:STOP"}),
                    plan["opted_out"],
                    plan["opted_out"],
                )
            )
            self._message(
                rows, subscriber_id, Message.Direction.INBOUND, "STOP", Message.Origin.SUBSCRIBER, plan["opted_out"]
            )
            self._message(
                rows,
                subscriber_id,
                Message.Direction.OUTBOUND,
                STOP_CONFIRMATION.format(store=self.store),
                Message.Origin.SYSTEM,
                plan["opted_out"] + timedelta(seconds=2),
                purpose=Message.Purpose.OPT_OUT_CONFIRMATION,
            )

    def _plan_engagement(self, subscriber_id: int, opted_in: datetime, rng: random.Random, rows: Rows) -> None:
        """Recent replies and link clicks, so that engagement segments ("engaged in the last 30 days") have members."""
        days_in = max(0.1, min(60.0, (self.now - opted_in).total_seconds() / 86400))
        if rng.random() < 0.25:
            at = self.now - timedelta(days=rng.uniform(0, days_in))
            self._message(
                rows, subscriber_id, Message.Direction.INBOUND, rng.choice(REPLIES), Message.Origin.SUBSCRIBER, at
            )
        if rng.random() < 0.2:
            at = self.now - timedelta(days=rng.uniform(0, days_in))
            properties = {"url": rng.choice(["https://shop.example.com/new", "https://shop.example.com/sale"])}
            rows.events.append((subscriber_id, event_types.LINK_CLICKED, json.dumps(properties), at, None, at))

    def _message(self, rows: Rows, subscriber_id, direction, body, origin, at, purpose="conversational") -> None:
        inbound = direction == Message.Direction.INBOUND
        counted = _count_segments(body)
        rows.messages.append(
            (
                subscriber_id,
                direction,
                body,
                "[]",
                Message.Status.RECEIVED if inbound else Message.Status.DELIVERED,
                counted.segments,
                counted.encoding,
                origin,
                at,
                None if inbound else at,
                None if inbound else at + timedelta(seconds=3),
                at,
                "",
                "",
                "",
                purpose,
                "",
                0 if inbound else 1,
                at if inbound else None,
            )
        )


# Demo bodies repeat a few hundred texts; counting each once keeps a million subscribers fast.
_count_segments = lru_cache(maxsize=4096)(count_segments)

SUBSCRIBER_COLUMNS = [
    "phone",
    "status",
    "first_name",
    "last_name",
    "email",
    "time_zone",
    "country",
    "state",
    "consent_source",
    "opted_in_at",
    "opted_out_at",
    "attributes",
    "last_inbound_at",
    "last_outbound_at",
    "created_at",
    "updated_at",
]
CONSENT_COLUMNS = ["subscriber_id", "phone", "kind", "source", "raw_text", "details", "occurred_at", "recorded_at"]
CHANGE_COLUMNS = ["subscriber_id", "key", "old_value", "new_value", "source", "reference", "changed_at"]
MESSAGE_COLUMNS = [
    "subscriber_id",
    "direction",
    "body",
    "media_urls",
    "status",
    "segments",
    "encoding",
    "origin",
    "created_at",
    "sent_at",
    "delivered_at",
    "updated_at",
    "sender",
    "error_code",
    "error_message",
    "purpose",
    "hold_reason",
    "attempts",
    "processed_at",
]
EVENT_COLUMNS = ["subscriber_id", "type", "properties", "occurred_at", "idempotency_key", "created_at"]


def _insert(model, columns: list[str], rows: list[tuple]) -> None:
    """Write many rows of `model` in a few statements (COPY on PostgreSQL)."""
    insert_rows(model._meta.db_table, columns, rows)


# Shoppers abroad, on numbers reserved for fiction (Ofcom's London drama range, ACMA's Sydney one): with them,
# someone in the demo is inside the 09:00-20:00 marketing window at any hour, so a campaign tried at night (US
# time) still prints texts, while the US shoppers' texts wait for their morning.
WORLD_SHOPPERS = [
    ("+442079460101", "Olivia", "Hughes", {"diet": ["vegan"], "size": "S"}, []),
    ("+442079460102", "Harry", "Patel", {"diet": ["vegan"], "size": "L"}, []),
    ("+442079460103", "Amelia", "Clarke", {"diet": ["vegetarian"], "size": "M"}, []),
    ("+442079460104", "Noah", "Evans", {"diet": ["vegan"], "size": "M"}, ["gift"]),
    ("+61255500101", "Charlotte", "Nguyen", {"diet": ["vegan"], "size": "M"}, []),
    ("+61255500102", "Jack", "Wilson", {"diet": ["vegan"], "size": "XL"}, []),
    ("+61255500103", "Mia", "Taylor", {"diet": ["gluten_free"], "size": "S"}, []),
    ("+61255500104", "Liam", "Brown", {"diet": ["vegan"], "size": "L"}, []),
]


def world_shoppers_load() -> list[str]:
    """Add the shoppers abroad that are missing (subscribed at checkout, with a consent record)."""
    from .models import AttributeDefinition, Subscriber
    from .services import subscriber_create

    keys = set(AttributeDefinition.objects.values_list("key", flat=True))
    added = []
    for phone, first_name, last_name, attributes, tags in WORLD_SHOPPERS:
        if Subscriber.objects.filter(phone=phone).exists():
            continue
        known = {key: value for key, value in attributes.items() if key in keys}
        subscriber_create(
            phone=phone,
            first_name=first_name,
            last_name=last_name,
            attributes=known,
            tags=tags,
            subscribed=True,
            consent_source="web",
            consent_details={"form": "demo checkout", "disclosure": "demo data"},
            attribute_source="import",
        )
        added.append(f"{first_name} ({phone})")
    return added
