"""Reads: members, counts, plain English and the CSV export of a segment."""

import csv
from collections.abc import Iterator, Mapping

from django.db.models import QuerySet
from django.utils import timezone

from conversations.models import AttributeDefinition, Subscriber

from .compiler import rules_queryset
from .models import Segment
from .rules import describe, segment_references


def rules_members(rules: Mapping, *, now=None) -> QuerySet[Subscriber]:
    """The subscribers that cleaned `rules` match, now; one query."""
    return rules_queryset(rules, now=now or timezone.now())


def segment_members(segment: Segment, *, now=None) -> QuerySet[Subscriber]:
    """The members of `segment`, computed when asked."""
    return rules_members(segment.rules, now=now)


def rules_english(
    rules: Mapping, definitions: list[AttributeDefinition] | None = None, segment_names: dict[int, str] | None = None
) -> str:
    """The rule as a sentence, with attribute labels and segment names (pass both when describing many rules)."""
    if definitions is None:
        definitions = list(AttributeDefinition.objects.all())
    names = segment_names
    if names is None:
        names = dict(Segment.objects.filter(pk__in=segment_references(rules)).values_list("id", "name"))
    return describe(rules, definitions={d.key: d for d in definitions}, segment_names=names)


EXPORT_FIELDS = ["phone", "first_name", "last_name", "email", "status", "country", "state", "time_zone", "opted_in_at"]


def members_csv_lines(members: QuerySet[Subscriber], definitions: list[AttributeDefinition]) -> Iterator[str]:
    """The members as CSV lines, one attribute per column; streamed from a cursor at constant memory."""
    keys = [definition.key for definition in definitions]
    buffer = CSVLine()
    writer = csv.writer(buffer)
    writer.writerow([*EXPORT_FIELDS, *keys])
    yield buffer.take()
    columns = ["phone", "first_name", "last_name", "email", "status", "country", "state", "time_zone"]
    rows = members.order_by("pk").values_list(*columns, "opted_in_at", "attributes")
    for phone, *fields, opted_in_at, attributes in rows.iterator(chunk_size=5000):
        values = [_cell(attributes.get(key)) for key in keys]
        fields = [_defused(value) for value in fields]
        writer.writerow([phone, *fields, opted_in_at.isoformat() if opted_in_at else "", *values])
        yield buffer.take()


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return _defused(";".join(str(item) for item in value))
    if isinstance(value, bool):
        return "yes" if value else "no"
    return _defused(value) if isinstance(value, str) else str(value)


def _defused(text: str) -> str:
    """Text a spreadsheet would run as a formula (=, +, -, @) is written with a leading apostrophe."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


class CSVLine:
    """A file-like object for csv.writer that hands back each written line."""

    def __init__(self):
        self.text = ""

    def write(self, text: str) -> None:
        self.text += text

    def take(self) -> str:
        text, self.text = self.text, ""
        return text
