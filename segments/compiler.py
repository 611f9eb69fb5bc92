"""Segment rules to one query: `rules_queryset(rules)` is a `Subscriber` QuerySet.

Every condition becomes a `Q` on the subscriber row (a column, a JSON test on
`attributes`) or an `EXISTS` subquery (tags, events, messages), and groups combine
them with AND, OR and NOT, so a segment of any shape is one SQL statement with one
row per subscriber. Relative windows ("in the last 30 days") are measured from `now`,
so a segment is computed when asked and never goes stale.

PostgreSQL and SQLite store JSON differently; this module is the one place that
says how each tests it. Every condition is two-valued (never NULL), so that `not`
means what it says on both: "not (age > 30)" includes people whose age is unknown.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Exists, F, Func, OuterRef, Q, Subquery, Value
from django.db.models.fields.json import HasKey, KeyTransform
from django.utils import timezone

from conversations import event_types
from conversations.db import is_postgresql
from conversations.models import AttributeDefinition, Event, Message, Subscriber

from .rules import FIELD_CONDITIONS, rule_kind

SegmentRules = Callable[[int], Mapping | None]
COMPARISONS = {"gt", "gte", "lt", "lte"}


def rules_queryset(
    rules: Mapping, *, now: datetime | None = None, segment_rules: SegmentRules | None = None, using: str = "default"
) -> models.QuerySet:
    """The subscribers who match `rules` (already cleaned by `rules_clean`), as one query."""
    compiler = RuleCompiler(now=now or timezone.now(), segment_rules=segment_rules, postgres=is_postgresql(using))
    return Subscriber.objects.using(using).filter(compiler.q(rules))


def _segment_rules_from_database(pk: int) -> Mapping | None:
    from .models import Segment

    return Segment.objects.filter(pk=pk).values_list("rules", flat=True).first()


class RuleCompiler:
    def __init__(self, *, now: datetime, segment_rules: SegmentRules | None, postgres: bool):
        self.now = now
        self.segment_rules = segment_rules or _segment_rules_from_database
        self.postgres = postgres  # else SQLite
        self._inside: list[int] = []  # segments being expanded, to stop a circle
        self._text_attributes: set[str] | None = None

    def q(self, rule: Mapping, negated: bool = False) -> Q:
        """The rule as a Q; `negated` says it sits under an odd number of NOTs (it picks cheaper forms)."""
        kind = rule_kind(rule)
        if kind == "all":
            return _combine([self.q(child, negated) for child in rule["all"]], Q.AND)
        if kind == "any":
            return _combine([self.q(child, negated) for child in rule["any"]], Q.OR)
        if kind == "not":
            return ~self.q(rule["not"], not negated)
        if kind == "attribute":
            return self.json_test("attributes", rule["attribute"], rule["op"], rule.get("value"), negated=negated)
        if kind == "segment":
            return self._segment(rule, negated)
        return getattr(self, f"_{kind}")(rule)

    # --- conditions on the subscriber row -------------------------------------------------------------------

    def _tag(self, rule) -> Q:
        tagged = Subscriber.tags.through.objects.filter(subscriber_id=OuterRef("pk"), tag__name=rule["tag"])
        return Q(Exists(tagged))

    def _opted_in(self, rule) -> Q:
        ((how, days),) = rule["opted_in"].items()
        cutoff = self.now - timedelta(days=days)
        if how == "within_days":
            return Q(opted_in_at__isnull=False, opted_in_at__gte=cutoff)
        return Q(opted_in_at__isnull=False, opted_in_at__lt=cutoff)

    def _field(self, rule) -> Q:
        kind = rule_kind(rule)
        values = rule[kind] if isinstance(rule[kind], list) else [rule[kind]]
        return Q(**{f"{FIELD_CONDITIONS[kind]}__in": values})

    _status = _consent_source = _country = _state = _time_zone = _field

    def _segment(self, rule, negated: bool) -> Q:
        pk = rule["segment"]
        if pk in self._inside:
            raise ValidationError(f"segment {pk} refers back to itself")
        rules = self.segment_rules(pk)
        if rules is None:
            raise ValidationError(f"segment {pk} no longer exists; edit the rule that refers to it")
        self._inside.append(pk)
        try:
            return self.q(rules, negated)
        finally:
            self._inside.pop()

    # --- behaviour: events and messages -----------------------------------------------------------------------

    def _event(self, rule) -> Q:
        events = Event.objects.filter(subscriber_id=OuterRef("pk"), type=rule["event"])
        if rule.get("within_days"):
            events = events.filter(occurred_at__gte=self.now - timedelta(days=rule["within_days"]))
        for where in rule.get("where") or ():
            events = events.filter(self.json_test("properties", where["property"], where["op"], where.get("value")))
        if rule.get("since_last"):
            last = Event.objects.filter(subscriber_id=OuterRef(OuterRef("pk")), type=rule["since_last"])
            events = events.filter(occurred_at__gt=Subquery(last.order_by("-occurred_at").values("occurred_at")[:1]))
        if rule["op"] == "count_gte":
            # "At least N" is EXISTS (… OFFSET N-1): the database stops at the Nth row instead of counting them all.
            return Q(Exists(events.order_by()[rule["count"] - 1 : rule["count"]]))
        found = Q(Exists(events))
        return found if rule["op"] == "happened" else ~found

    def _engagement(self, rule) -> Q:
        cutoff = self.now - timedelta(days=rule["within_days"]) if rule.get("within_days") else None
        what = rule["engagement"]
        if what == "clicked":
            rows = Event.objects.filter(subscriber_id=OuterRef("pk"), type=event_types.LINK_CLICKED)
            rows = rows.filter(occurred_at__gte=cutoff) if cutoff else rows
        elif what == "replied":
            rows = Message.objects.filter(subscriber_id=OuterRef("pk"), direction=Message.Direction.INBOUND)
            rows = rows.filter(created_at__gte=cutoff) if cutoff else rows
        else:
            rows = Message.objects.filter(
                subscriber_id=OuterRef("pk"),
                direction=Message.Direction.OUTBOUND,
                status__in=[Message.Status.SENT, Message.Status.DELIVERED],
            )
            rows = rows.filter(sent_at__gte=cutoff) if cutoff else rows
        found = Q(Exists(rows))
        return found if rule["op"] == "happened" else ~found

    def _flow(self, rule) -> Q:
        answers = Event.objects.filter(subscriber_id=OuterRef("pk"), type=event_types.FLOW_ANSWER)
        answers = answers.filter(self.json_test("properties", "flow", "eq", rule["flow"]))
        answers = answers.filter(self.json_test("properties", "question", "eq", rule["question"]))
        if "answer" in rule:
            answers = answers.filter(self.json_test("properties", "answer", "contains", rule["answer"]))
        return Q(Exists(answers))

    # --- JSON tests, the one place where the backends differ ----------------------------------------------------

    def json_test(self, field: str, key: str, op: str, value, *, negated: bool = False) -> Q:
        """A test of `field[key]` (a JSON object column), two-valued on both backends.

        `contains` means: the value is `value`, or is a list that holds it (a list `value` must all be held).
        On PostgreSQL, `@>` containment implies the key and is never NULL, so it needs no key check (which
        would only slow the GIN index scan); every other test is guarded by one.
        """
        has = Q(HasKey(F(field), key))
        text = self._is_text(field, key)
        contained = self.postgres and not text  # the tests below are `@>` containments

        def guarded(test: Q) -> Q:
            return test if contained else has & test

        if op == "is_set":
            return has
        if op == "not_set":
            return ~has
        if op == "eq":
            return guarded(self._equals(field, key, value))
        if op == "ne":
            return ~has | (has & ~self._equals(field, key, value))
        if op == "in":
            if text:
                return has & _combine([self._equals(field, key, item) for item in value], Q.OR)
            if negated and self.postgres and all(isinstance(item, str) for item in value):
                # Under a NOT no index helps: one `?|` per row is cheaper than an OR of containments.
                return has & _key_lookup(field, key, "has_any_keys", value)
            return guarded(_combine([self._holds(field, key, item) for item in value], Q.OR))
        if op == "contains":
            if isinstance(value, str) and text:
                return has & _key_lookup(field, key, "icontains", value)
            items = value if isinstance(value, list) else [value]
            return guarded(_combine([self._holds(field, key, item) for item in items], Q.AND))
        if op in COMPARISONS:
            kind = "number" if _is_number(value) else "string"
            return has & Q(self._json_type_is(field, key, kind)) & _key_lookup(field, key, op, value)
        raise ValidationError(f"unknown op {op!r}")

    def _equals(self, field, key, value) -> Q:
        """The value at `key` is `value`, of the same JSON type (text answers ignore case)."""
        if isinstance(value, str) and self._is_text(field, key):
            return _key_lookup(field, key, "iexact", value)
        if self.postgres:
            return Q(**{f"{field}__contains": {key: value}})  # jsonb @>, served by the GIN index
        return Q(SQLiteJSONEquals(F(field), key, value))

    def _holds(self, field, key, value) -> Q:
        """The value at `key` is `value` or a list holding it, of the same JSON type."""
        if self.postgres:
            return Q(**{f"{field}__contains": {key: value}}) | Q(**{f"{field}__contains": {key: [value]}})
        return Q(SQLiteJSONHolds(F(field), key, value))

    def _json_type_is(self, field, key, kind: str):
        if self.postgres:
            return models.lookups.Exact(
                Func(KeyTransform(key, field), function="jsonb_typeof", output_field=models.CharField()), kind
            )
        sqlite_types = ["integer", "real"] if kind == "number" else ["text"]
        json_type = Func(F(field), Value(_json_path(key)), function="json_type", output_field=models.CharField())
        return models.lookups.In(json_type, sqlite_types)

    def _is_text(self, field, key) -> bool:
        """Whether `contains` on an attribute means "has the words" (text attributes) rather than "holds"."""
        if field != "attributes":
            return False
        if self._text_attributes is None:
            text = AttributeDefinition.objects.filter(type=AttributeDefinition.Type.TEXT)
            self._text_attributes = set(text.values_list("key", flat=True))
        return key in self._text_attributes


class _SQLiteJSONTest(Func):
    """A test of the JSON value at one key on SQLite, strict about JSON types as PostgreSQL's jsonb is.

    SQLite's json_extract gives true as 1 and "true" as true, so every test also compares json types.
    """

    output_field = models.BooleanField()
    conditional = True
    template = ""

    def __init__(self, field, key: str, value):
        self.json_types = _sqlite_json_types(value)
        super().__init__(field, Value(_json_path(key)), Value(value))

    def as_sql(self, compiler, connection, **extra):
        parts = [compiler.compile(expression) for expression in self.source_expressions]
        (field_sql, field_params), (path_sql, path_params), (value_sql, value_params) = parts
        types = ", ".join(f"'{json_type}'" for json_type in self.json_types)
        sql = self.template.format(field=field_sql, path=path_sql, value=value_sql, types=types)
        params = {"field": field_params, "path": path_params, "value": value_params}
        order = re.findall(r"\{(field|path|value)\}", self.template)
        return sql, tuple(param for name in order for param in params[name])


class SQLiteJSONEquals(_SQLiteJSONTest):
    template = "(json_type({field}, {path}) IN ({types}) AND json_extract({field}, {path}) = {value})"


class SQLiteJSONHolds(_SQLiteJSONTest):
    """The value is the given one, or a list holding it (json_each walks a list, or yields a scalar itself)."""

    template = (
        "(json_type({field}, {path}) != 'object' AND EXISTS (SELECT 1 FROM json_each({field}, {path}) AS item "
        "WHERE item.type IN ({types}) AND item.value = {value}))"
    )


def _sqlite_json_types(value) -> tuple[str, ...]:
    if isinstance(value, bool):
        return ("true",) if value else ("false",)
    if isinstance(value, int | float):
        return ("integer", "real")
    return ("text",)


def _key_lookup(field: str, key: str, lookup: str, value) -> Q:
    # The lookup is always spelled out, so that a key named like one ("in", "contains") stays a key.
    return Q(**{f"{field}__{key}__{lookup}": value})


def _json_path(key: str) -> str:
    return '$."' + key.replace('"', "") + '"'


def _is_number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _combine(parts: list[Q], connector: str) -> Q:
    return Q(*parts, _connector=connector) if len(parts) > 1 else parts[0]
