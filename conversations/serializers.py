"""The JSON shapes of the public API. Serializers parse and present; services decide."""

import re
from decimal import Decimal, InvalidOperation

from rest_framework import serializers

from . import event_types
from .middleware import UnreadableInput, check_json
from .models import AttributeChange, AttributeDefinition, Conversation, Message, Subscriber


class StrictCharField(serializers.CharField):
    """A CharField that takes only JSON strings: DRF's would turn 0 or 1.5 into "0" and "1.5"."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class SubscriberSerializer(serializers.ModelSerializer):
    tags = serializers.SlugRelatedField(many=True, read_only=True, slug_field="name")
    email = serializers.CharField(read_only=True, help_text="E-mail address, or empty when unknown.")

    class Meta:
        model = Subscriber
        fields = [
            "id",
            "phone",
            "status",
            "first_name",
            "last_name",
            "email",
            "time_zone",
            "country",
            "state",
            "tags",
            "attributes",
            "consent_source",
            "opted_in_at",
            "opted_out_at",
            "last_inbound_at",
            "last_outbound_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class _SubscriberWriteFields(serializers.Serializer):
    first_name = StrictCharField(max_length=100, required=False, allow_blank=True)
    last_name = StrictCharField(max_length=100, required=False, allow_blank=True)
    email = serializers.EmailField(required=False, allow_blank=True)
    time_zone = StrictCharField(max_length=64, required=False, help_text="IANA zone, e.g. America/Chicago")
    tags = serializers.ListField(child=StrictCharField(max_length=64), required=False)
    attributes = serializers.DictField(
        child=serializers.JSONField(allow_null=True),
        required=False,
        help_text="Attribute key to value; each value is checked against its definition. null removes a key.",
    )


class SubscriberCreateSerializer(_SubscriberWriteFields):
    phone = StrictCharField(max_length=32, help_text="Any format; stored as E.164.")
    status = serializers.ChoiceField(
        choices=[Subscriber.Status.PENDING, Subscriber.Status.SUBSCRIBED],
        default=Subscriber.Status.PENDING,
        help_text="`subscribed` records an opt-in with source `api`; use it only with consent you can prove.",
    )
    consent = serializers.DictField(
        required=False,
        help_text="Required with status `subscribed`: proof of consent kept with the opt-in record "
        "(how and when they agreed: form, page URL, disclosure text and version, time…).",
    )


class SubscriberUpdateSerializer(_SubscriberWriteFields):
    phone = StrictCharField(max_length=32, required=False, help_text="Any format; stored as E.164.")
    status = serializers.ChoiceField(
        choices=[Subscriber.Status.UNSUBSCRIBED],
        required=False,
        help_text="Only `unsubscribed` (opt out). A subscriber resubscribes by texting START.",
    )


class AttributeChangeSerializer(serializers.ModelSerializer):
    changed_by = serializers.SlugRelatedField(
        read_only=True, allow_null=True, slug_field="username", help_text="The user who made it, if a person did."
    )

    class Meta:
        model = AttributeChange
        fields = ["id", "key", "old_value", "new_value", "source", "reference", "changed_by", "changed_at"]
        read_only_fields = fields


class AttributeOptionSerializer(serializers.Serializer):
    value = StrictCharField()
    label = StrictCharField()
    synonyms = serializers.ListField(child=serializers.CharField())


class AttributeDefinitionSerializer(serializers.ModelSerializer):
    options = AttributeOptionSerializer(many=True, read_only=True)

    class Meta:
        model = AttributeDefinition
        fields = ["key", "label", "type", "options"]
        read_only_fields = fields


# Declared field by field rather than as ModelSerializers: they are on the hot inbound path, and a
# ModelSerializer introspects the model again for every response.
class MessageSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    subscriber = serializers.IntegerField(source="subscriber_id", read_only=True)
    direction = serializers.ChoiceField(choices=Message.Direction.choices, read_only=True)
    sender = serializers.CharField(read_only=True)
    body = serializers.CharField(read_only=True)
    media_urls = serializers.ListField(child=serializers.CharField(), read_only=True)
    status = serializers.ChoiceField(choices=Message.Status.choices, read_only=True)
    purpose = serializers.ChoiceField(choices=Message.Purpose.choices, read_only=True)
    origin = serializers.ChoiceField(choices=Message.Origin.choices, read_only=True)
    segments = serializers.IntegerField(read_only=True)
    encoding = serializers.ChoiceField(choices=Message.Encoding.choices, read_only=True)
    provider_message_id = serializers.CharField(read_only=True, allow_null=True)
    error_code = serializers.CharField(read_only=True)
    error_message = serializers.CharField(read_only=True)
    hold_reason = serializers.CharField(read_only=True, help_text="Why a queued message waits (quiet hours, caps).")
    not_before = serializers.DateTimeField(read_only=True, allow_null=True)
    in_reply_to = serializers.IntegerField(source="in_reply_to_id", read_only=True, allow_null=True)
    created_at = serializers.DateTimeField(read_only=True)
    sent_at = serializers.DateTimeField(read_only=True, allow_null=True)
    delivered_at = serializers.DateTimeField(read_only=True, allow_null=True)
    warnings = serializers.ListField(child=serializers.CharField(), read_only=True)


class ReplySerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    body = serializers.CharField(read_only=True)
    status = serializers.ChoiceField(choices=Message.Status.choices, read_only=True)
    purpose = serializers.ChoiceField(choices=Message.Purpose.choices, read_only=True)
    not_before = serializers.DateTimeField(read_only=True, allow_null=True)
    hold_reason = serializers.CharField(read_only=True)


class SubscriberBriefSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    phone = serializers.CharField(read_only=True)
    status = serializers.ChoiceField(choices=Subscriber.Status.choices, read_only=True)
    attributes = serializers.DictField(read_only=True)


class InboundRequestSerializer(serializers.Serializer):
    # "from" is a Python keyword, so the field is declared under another name and renamed below.
    from_ = StrictCharField(max_length=32, help_text="The shopper's number, any format.")
    to = StrictCharField(
        max_length=32,
        required=False,
        allow_blank=True,
        default="",
        help_text="The store's number the text was sent to.",
    )
    body = StrictCharField(required=False, allow_blank=True, default="", max_length=5000, trim_whitespace=False)
    provider_message_id = StrictCharField(
        max_length=64,
        required=False,
        allow_blank=True,
        allow_null=True,
        default=None,
        help_text="The provider's id; the same id again is answered from the first result, processed once.",
    )
    media_urls = serializers.ListField(
        child=serializers.URLField(max_length=1000), required=False, default=list, max_length=10
    )

    def get_fields(self):
        fields = super().get_fields()
        fields["from"] = fields.pop("from_")
        return fields


class InboundResultSerializer(serializers.Serializer):
    message = MessageSerializer()
    subscriber = SubscriberBriefSerializer()
    replies = ReplySerializer(many=True)


class MessageCreateSerializer(serializers.Serializer):
    subscriber = serializers.IntegerField(min_value=1, help_text="The subscriber's id.")
    body = StrictCharField(max_length=5000, trim_whitespace=False)
    purpose = serializers.ChoiceField(
        choices=[Message.Purpose.MARKETING, Message.Purpose.CONVERSATIONAL],
        default=Message.Purpose.CONVERSATIONAL,
        help_text="`marketing` obeys quiet hours and frequency caps; `conversational` is a reply to the "
        "subscriber's own text of the last 24 h (otherwise it is treated as marketing).",
    )
    media_urls = serializers.ListField(
        child=serializers.URLField(max_length=1000), required=False, default=list, max_length=10
    )


class SendRefusedSerializer(serializers.Serializer):
    detail = StrictCharField(help_text="Why the send gate refused the text.")
    code = StrictCharField(help_text="opted_out, no_consent, …")


class JSONTextField(serializers.DictField):
    """A JSON object whose text PostgreSQL can store."""

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        try:  # the middleware's check, for a value that did not come in through it
            check_json(value, self.field_name)
        except UnreadableInput as error:
            raise serializers.ValidationError(str(error)) from None
        return value


class EventRequestSerializer(serializers.Serializer):
    phone = StrictCharField(max_length=32, help_text="The subscriber's number, any format.")
    type = serializers.RegexField(r"^[a-z][a-z0-9_]{0,63}$", help_text="e.g. order_placed, cart_abandoned")
    properties = JSONTextField(required=False, default=dict)
    occurred_at = serializers.DateTimeField(required=False, allow_null=True, default=None)
    idempotency_key = StrictCharField(
        max_length=128, required=False, allow_null=True, default=None, help_text="The same key again is stored once."
    )

    def validate(self, data):
        if data["type"] == event_types.ORDER_PLACED:
            _check_order(data.get("properties") or {})
        return data


def _check_order(properties: dict) -> None:
    """An order's `total` (a number, or a number as text) and `currency` (ISO 4217) feed campaign revenue."""
    problems = {}
    total = properties.get("total")
    if total is not None:
        try:
            amount = Decimal(str(total)) if not isinstance(total, bool) else None
        except (InvalidOperation, ValueError):
            amount = None
        if amount is None or not amount.is_finite() or not 0 <= amount < Decimal("1e12"):
            problems["properties.total"] = [f"an order's total is a number from 0, e.g. 42.50 (got {total!r})"]
    currency = properties.get("currency")
    if currency is not None and not (isinstance(currency, str) and re.fullmatch(r"[A-Za-z]{3}", currency)):
        problems["properties.currency"] = [f"a three-letter currency code such as USD (got {currency!r})"]
    if problems:
        raise serializers.ValidationError(problems)


class EventSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    subscriber = serializers.IntegerField(source="subscriber_id", read_only=True)
    type = serializers.CharField(read_only=True)
    properties = serializers.DictField(read_only=True)
    occurred_at = serializers.DateTimeField(read_only=True)
    idempotency_key = serializers.CharField(read_only=True, allow_null=True)
    created_at = serializers.DateTimeField(read_only=True)


class ConversationSubscriberSerializer(serializers.ModelSerializer):
    class Meta:
        model = Subscriber
        fields = ["id", "phone", "first_name", "last_name", "status", "attributes"]
        read_only_fields = fields


class ConversationSerializer(serializers.ModelSerializer):
    subscriber = ConversationSubscriberSerializer(read_only=True)
    assignee = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)

    class Meta:
        model = Conversation
        fields = [
            "id",
            "subscriber",
            "status",
            "assignee",
            "unread",
            "reason",
            "handoff_note",
            "last_message_at",
            "opened_at",
            "closed_at",
        ]
        read_only_fields = fields


class ConversationReplySerializer(serializers.Serializer):
    body = StrictCharField(max_length=1600, help_text="The agent's reply; it goes through the send gate.")
