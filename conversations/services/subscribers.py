"""Every write to subscribers, attributes and consent goes through these functions.

Each one validates first and writes in one transaction, so a refused change
leaves nothing behind. Called inside a caller's transaction they join it
(no savepoint): they fail or succeed with it.
"""

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_slug
from django.db import IntegrityError, transaction
from django.utils import timezone

from .. import attributes as attribute_rules
from ..models import AttributeChange, AttributeDefinition, ConsentEvent, Subscriber, Tag
from ..outbox import OPTED_OUT, OPTED_OUT_REASON, messages_cancel
from ..phones import default_time_zone_for_phone, normalize_phone_field
from ..signals import send_isolated, subscriber_opted_out
from ..time_zones import zone_names

_UNSET = object()


class AttributeErrors(ValidationError):
    """Refused attribute values; `by_key` keeps each message under the attribute it is about."""

    def __init__(self, by_key: dict[str, list[str]]):
        self.by_key = by_key
        super().__init__({"attributes": [message for messages in by_key.values() for message in messages]})


def time_zone_check(value: str) -> str:
    """Return `value` if it names an IANA time zone, else raise a ValidationError on time_zone."""
    if value not in zone_names():
        raise ValidationError({"time_zone": [f"{value!r} is not an IANA time zone such as America/New_York"]})
    return value


def _check_tag_names(names: Iterable[str]) -> list[str]:
    cleaned = []
    for name in names:
        try:
            if not isinstance(name, str):
                raise ValidationError("")
            validate_slug(name.strip())
        except ValidationError:
            raise ValidationError({"tags": [f"{name!r} is not a tag: use letters, numbers, - and _ only"]}) from None
        cleaned.append(name.strip().lower())
    return sorted(set(cleaned))


class PhoneTaken(ValidationError):
    """Another subscriber already has this number."""


def phone_check_available(phone: str, *, exclude_id: int | None = None) -> None:
    """Raise PhoneTaken (a ValidationError on `phone`) if another subscriber has this number."""
    existing = Subscriber.objects.filter(phone=phone).exclude(pk=exclude_id).values_list("pk", flat=True).first()
    if existing is not None:
        raise PhoneTaken({"phone": [f"subscriber {existing} already has the number {phone}"]})


def attributes_validate(changes: Mapping[str, Any]) -> dict[str, Any]:
    """Clean a set of attribute writes (`None` removes a key); raise one error naming every bad key."""
    if not isinstance(changes, Mapping):
        raise ValidationError({"attributes": ["attributes must be an object of key: value"]})
    definitions = AttributeDefinition.objects.in_bulk(list(changes), field_name="key")
    cleaned: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    for key, value in changes.items():
        definition = definitions.get(key)
        if definition is None and value is None:
            cleaned[key] = None  # removing a value whose definition is gone is always allowed
        elif definition is None:
            errors[key] = [f"{key!r} is not a defined attribute; define it first (known: {_known_keys()})"]
        elif value is None:
            cleaned[key] = None
        else:
            try:
                cleaned[key] = attribute_rules.clean_value(definition, value)
            except ValidationError as error:
                errors[key] = error.messages
    if errors:
        raise AttributeErrors(errors)
    return cleaned


def _known_keys() -> str:
    return ", ".join(AttributeDefinition.objects.values_list("key", flat=True)) or "none yet"


def subscriber_attributes_set(
    *,
    subscriber: Subscriber,
    changes: Mapping[str, Any],
    source: str,
    reference: str = "",
    user=None,
) -> list[AttributeChange]:
    """Validate and save attribute values on a subscriber, recording each real change with its provenance."""
    if source not in AttributeChange.Source.values:
        raise ValueError(f"unknown attribute change source {source!r}")
    cleaned = attributes_validate(changes)
    with transaction.atomic(savepoint=False):
        locked = Subscriber.objects.select_for_update().get(pk=subscriber.pk)
        current = dict(locked.attributes)
        records = []
        for key, value in cleaned.items():
            old = current.get(key)
            if old == value:
                continue
            if value is None:
                current.pop(key, None)
            else:
                current[key] = value
            records.append(
                AttributeChange(
                    subscriber=locked,
                    key=key,
                    old_value=old,
                    new_value=value,
                    source=source,
                    reference=reference,
                    changed_by=user,
                )
            )
        if records:
            locked.attributes = current
            locked.save(update_fields=["attributes", "updated_at"])
            AttributeChange.objects.bulk_create(records)
    subscriber.attributes = current
    return records


def subscriber_create(
    *,
    phone: str,
    first_name: str = "",
    last_name: str = "",
    email: str = "",
    time_zone: str | None = None,
    tags: Iterable[str] = (),
    attributes: Mapping[str, Any] | None = None,
    subscribed: bool = False,
    consent_source: str = ConsentEvent.Source.API,
    consent_details: Mapping[str, Any] | None = None,
    attribute_source: str = AttributeChange.Source.API,
    user=None,
) -> Subscriber:
    """Create a subscriber (pending unless `subscribed`, which records an opt-in), with tags and attributes."""
    phone = normalize_phone_field(phone)
    phone_check_available(phone)
    if subscribed:
        _check_may_subscribe(phone, consent_details)
    if time_zone:
        time_zone_check(time_zone)
    tag_names = _check_tag_names(tags)
    cleaned_attributes = attributes_validate(attributes or {})
    with transaction.atomic(savepoint=False):
        try:
            with transaction.atomic():  # a savepoint: the same number created at the same moment elsewhere
                subscriber = Subscriber.objects.create(
                    phone=phone,
                    first_name=first_name,
                    last_name=last_name,
                    email=email,
                    time_zone=time_zone or default_time_zone_for_phone(phone),
                )
        except IntegrityError:
            phone_check_available(phone)  # the other one won: PhoneTaken, as if it had come first
            raise
        _tags_replace(subscriber, tag_names)
        if cleaned_attributes:
            subscriber_attributes_set(
                subscriber=subscriber, changes=cleaned_attributes, source=attribute_source, user=user
            )
        if subscribed:
            subscriber_opt_in(subscriber=subscriber, source=consent_source, details=consent_details)
    return subscriber


def _check_may_subscribe(phone: str, consent_details) -> None:
    """Only with proof of consent, and never for a number whose last word was an opt-out."""
    if not consent_details:
        raise ValidationError(
            {"consent": ["subscribing needs proof of consent: how and when they agreed (form, page, disclosure…)"]}
        )
    last = ConsentEvent.objects.filter(phone=phone).exclude(kind=ConsentEvent.Kind.HELP).order_by("-occurred_at")
    last = last.values_list("kind", "occurred_at").first()
    if last and last[0] == ConsentEvent.Kind.OPT_OUT:
        raise ValidationError(
            {"status": [f"{phone} opted out on {last[1]:%Y-%m-%d}; only the shopper can resubscribe, by texting START"]}
        )


def phone_change_check(subscriber: Subscriber, new_phone: str) -> None:
    """A number's consent belongs to that number: only a pending subscriber's number may change."""
    if new_phone != subscriber.phone and subscriber.status != Subscriber.Status.PENDING:
        raise ValidationError(
            {
                "phone": [
                    f"the number of a {subscriber.status} subscriber cannot change, because their consent "
                    "belongs to it; create a new subscriber for the new number"
                ]
            }
        )


def subscriber_update(
    *,
    subscriber: Subscriber,
    phone: str | object = _UNSET,
    first_name: str | object = _UNSET,
    last_name: str | object = _UNSET,
    email: str | object = _UNSET,
    time_zone: str | object = _UNSET,
    tags: Iterable[str] | object = _UNSET,
    attributes: Mapping[str, Any] | object = _UNSET,
    attribute_source: str = AttributeChange.Source.API,
    user=None,
) -> Subscriber:
    """Change the given fields of a subscriber; attributes merge (None removes a key). All or nothing."""
    fields: dict[str, Any] = {}
    if phone is not _UNSET:
        fields["phone"] = normalize_phone_field(phone)
        phone_check_available(fields["phone"], exclude_id=subscriber.pk)
        phone_change_check(subscriber, fields["phone"])
        # A zone derived from the old number follows the number; one set by hand stays.
        derived = subscriber.time_zone == default_time_zone_for_phone(subscriber.phone)
        if time_zone is _UNSET and fields["phone"] != subscriber.phone and derived:
            fields["time_zone"] = default_time_zone_for_phone(fields["phone"])
    for name, value in (("first_name", first_name), ("last_name", last_name), ("email", email)):
        if value is not _UNSET:
            fields[name] = value
    if time_zone is not _UNSET:
        fields["time_zone"] = time_zone_check(time_zone)
    tag_names = _check_tag_names(tags) if tags is not _UNSET else None
    cleaned_attributes = attributes_validate(attributes) if attributes is not _UNSET else {}
    with transaction.atomic(savepoint=False):
        if fields:
            for name, value in fields.items():
                setattr(subscriber, name, value)
            subscriber.save(update_fields=[*fields, "updated_at"])
        if tag_names is not None:
            _tags_replace(subscriber, tag_names)
        if cleaned_attributes:
            subscriber_attributes_set(
                subscriber=subscriber, changes=cleaned_attributes, source=attribute_source, user=user
            )
    return subscriber


def _tags_replace(subscriber: Subscriber, names: list[str]) -> None:
    existing = {tag.name: tag for tag in Tag.objects.filter(name__in=names)}
    missing = [Tag(name=name) for name in names if name not in existing]
    if missing:
        Tag.objects.bulk_create(missing, ignore_conflicts=True)
        existing = {tag.name: tag for tag in Tag.objects.filter(name__in=names)}
    subscriber.tags.set(existing.values())


def _consent_record(subscriber, kind, source, raw_text, details, at) -> ConsentEvent:
    return ConsentEvent.objects.create(
        subscriber=subscriber,
        phone=subscriber.phone,
        kind=kind,
        source=source,
        raw_text=raw_text,
        details=dict(details or {}),
        occurred_at=at,
    )


def subscriber_opt_in(
    *,
    subscriber: Subscriber,
    source: str,
    raw_text: str = "",
    details: Mapping[str, Any] | None = None,
    at=None,
) -> ConsentEvent:
    """Subscribe a number and record the consent that allowed it."""
    at = at or timezone.now()
    with transaction.atomic(savepoint=False):
        subscriber.status = Subscriber.Status.SUBSCRIBED
        subscriber.opted_in_at = at
        subscriber.consent_source = source
        subscriber.save(update_fields=["status", "opted_in_at", "consent_source", "updated_at"])
        return _consent_record(subscriber, ConsentEvent.Kind.OPT_IN, source, raw_text, details, at)


def subscriber_opt_out(
    *,
    subscriber: Subscriber,
    source: str,
    raw_text: str = "",
    details: Mapping[str, Any] | None = None,
    at=None,
) -> ConsentEvent:
    """Unsubscribe a number at once, record the revocation and cancel every text waiting for them."""
    at = at or timezone.now()
    with transaction.atomic(savepoint=False):
        subscriber.status = Subscriber.Status.UNSUBSCRIBED
        subscriber.opted_out_at = at
        subscriber.save(update_fields=["status", "opted_out_at", "updated_at"])
        event = _consent_record(subscriber, ConsentEvent.Kind.OPT_OUT, source, raw_text, details, at)
        messages_cancel(subscriber=subscriber, code=OPTED_OUT, reason=OPTED_OUT_REASON, at=at)
        send_isolated(subscriber_opted_out, sender=Subscriber, subscriber=subscriber, consent_event=event)
        return event


def subscriber_opt_out_reported(sender, *, subscriber_id: int, details: Mapping[str, Any], **signal) -> None:
    """The provider says the number unsubscribed at the carrier (signals.provider_reported_opt_out): opt out here."""
    subscriber = Subscriber.objects.get(pk=subscriber_id)
    if subscriber.status != Subscriber.Status.UNSUBSCRIBED:
        subscriber_opt_out(subscriber=subscriber, source="provider", details=details)


def subscriber_delete(*, subscriber: Subscriber) -> None:
    """Delete a subscriber and their history; consent records stay, keyed by phone, as the law asks."""
    subscriber.delete()


def attribute_definition_save(*, definition: AttributeDefinition) -> AttributeDefinition:
    """Validate and save an attribute definition (key format, type, options without clashes)."""
    errors = attribute_rules.validate_definition(key=definition.key, type=definition.type, options=definition.options)
    if errors:
        raise ValidationError(errors)
    if definition.is_choice:
        definition.options = [
            {"value": o["value"].strip(), "label": o["label"].strip(), "synonyms": list(o.get("synonyms", []))}
            for o in definition.options
        ]
    definition.save()
    return definition


DEFAULT_ATTRIBUTES_FILE = Path(__file__).resolve().parent.parent / "fixtures" / "attributes.json"


def attribute_definitions_ensure_defaults() -> list[str]:
    """Create the default attribute definitions a store starts with; return the keys that were missing."""
    added = []
    for item in json.loads(DEFAULT_ATTRIBUTES_FILE.read_text()):
        if AttributeDefinition.objects.filter(key=item["key"]).exists():
            continue
        attribute_definition_save(
            definition=AttributeDefinition(
                key=item["key"], label=item["label"], type=item["type"], options=item["options"]
            )
        )
        added.append(item["key"])
    return added


__all__ = [
    "AttributeErrors",
    "PhoneTaken",
    "time_zone_check",
    "phone_check_available",
    "phone_change_check",
    "attributes_validate",
    "subscriber_attributes_set",
    "subscriber_create",
    "subscriber_update",
    "subscriber_opt_in",
    "subscriber_opt_out",
    "subscriber_delete",
    "attribute_definition_save",
    "attribute_definitions_ensure_defaults",
]
