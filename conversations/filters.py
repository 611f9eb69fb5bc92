"""The API's list filters, as django-filter FilterSets that the configured DRF filter backend runs.

They read a query string strictly, as the API always has: a parameter that is given is applied, even empty
(`?status=` is refused, `?tag=` finds no one), and a value that cannot be applied answers 400 under the
parameter's name, saying what was wrong: {"status": ["status must be one of pending, subscribed, unsubscribed"]}.
django-filter's stock filters skip an empty value and word their own messages, so `GivenFilter` builds on its
`Filter` with a form field that answers None only for a parameter that is absent.
"""

from collections.abc import Callable

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from drf_spectacular.utils import extend_schema_field

from .models import Conversation, Message, Subscriber
from .params import whole_number
from .phones import normalize_phone


class GivenField(forms.Field):
    """A query parameter's text, read by `parse` (which raises ValidationError); None when it is absent."""

    def __init__(self, *, parse: Callable[[str], object], **kwargs):
        self.parse = parse
        super().__init__(**kwargs)

    def to_python(self, value):
        if value is None:
            return None
        try:
            return self.parse(value)
        except ValidationError as error:
            # A message may quote the value, % signs and all: it goes in as a parameter, never as a format.
            raise ValidationError(
                [ValidationError("%(message)s", code="invalid", params={"message": text}) for text in error.messages]
            ) from None


class GivenFilter(django_filters.Filter):
    """Filter on `field_name` (or through `apply(queryset, value)`) whenever the parameter is given."""

    field_class = GivenField

    def __init__(self, *, parse: Callable[[str], object], apply: Callable | None = None, **kwargs):
        self.apply = apply
        super().__init__(parse=parse, **kwargs)

    def filter(self, queryset, value):
        if value is None:
            return queryset
        if self.apply is not None:
            return self.apply(queryset, value)
        return queryset.filter(**{f"{self.field_name}__{self.lookup_expr}": value})


def given(filter_: GivenFilter, schema: dict) -> GivenFilter:
    """`filter_`, with the OpenAPI schema of its parameter (its type, enum and description)."""
    return extend_schema_field(schema)(filter_)


def choice_filter(name: str, choices: list[str]) -> GivenFilter:
    """`?name=` must be one of `choices` exactly; anything else, empty included, is refused."""

    def parse(text: str) -> str:
        if text not in choices:
            raise ValidationError(f"{name} must be one of {', '.join(choices)}")
        return text

    return given(GivenFilter(field_name=name, parse=parse), {"type": "string", "enum": list(choices)})


def _subscriber_id(text: str) -> int:
    subscriber_id = whole_number(text)
    if subscriber_id is None:
        raise ValidationError("subscriber must be a subscriber id (a whole number)")
    return subscriber_id


class SubscriberFilter(django_filters.FilterSet):
    phone = given(
        GivenFilter(field_name="phone", parse=normalize_phone),
        {"type": "string", "description": "Any format that normalizes to the E.164 number."},
    )
    status = choice_filter("status", Subscriber.Status.values)
    tag = given(
        GivenFilter(parse=lambda text: text.strip().lower(), apply=lambda subscribers, tag: subscribers.with_tag(tag)),
        {"type": "string", "description": "Only subscribers with this tag."},
    )


class MessageFilter(django_filters.FilterSet):
    subscriber = given(
        GivenFilter(field_name="subscriber_id", parse=_subscriber_id),
        {"type": "integer", "description": "Only this subscriber's messages."},
    )
    direction = choice_filter("direction", Message.Direction.values)
    status = choice_filter("status", Message.Status.values)


class ConversationFilter(django_filters.FilterSet):
    status = choice_filter("status", Conversation.Status.values)
