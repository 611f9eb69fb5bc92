"""The segment compiler against a corpus of rules with known answers (rule_cases.json).

The same corpus runs on whichever database the suite runs on; CI runs it on SQLite and on
PostgreSQL, so passing on both proves the two compile every rule to the same members.
"""

import copy
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.db import transaction
from jsonschema import Draft202012Validator

from conversations.models import AttributeDefinition, Event, Message, Tag
from conversations.services.subscribers import attributes_validate
from segments.compiler import rules_queryset
from segments.rules import SCHEMA, rules_clean
from segments.services import segment_create
from tests.factories import MessageFactory, SubscriberFactory

CORPUS = json.loads((Path(__file__).parent / "rule_cases.json").read_text())
NOW = datetime(2025, 6, 15, 12, 0, tzinfo=UTC)
VALIDATOR = Draft202012Validator(SCHEMA)
PEOPLE = [person["name"] for person in CORPUS["subscribers"]]


def _ago(days: int) -> datetime:
    return NOW - timedelta(days=days)


def _resolve(rules, segment_ids: dict[str, int]):
    """The rules with each {"segment": "@Name"} replaced by the id of the segment called Name."""
    if isinstance(rules, dict):
        if isinstance(rules.get("segment"), str) and rules["segment"].startswith("@"):
            return {"segment": segment_ids[rules["segment"][1:]]}
        return {key: _resolve(value, segment_ids) for key, value in rules.items()}
    if isinstance(rules, list):
        return [_resolve(item, segment_ids) for item in rules]
    return rules


def _load_corpus() -> dict[str, int]:
    for definition in CORPUS["definitions"]:
        AttributeDefinition.objects.create(**definition)
    for person in CORPUS["subscribers"]:
        # The corpus holds attributes exactly as the app stores them.
        assert attributes_validate(person["attributes"]) == person["attributes"], person["name"]
        days = person["opted_in_days_ago"]
        subscriber = SubscriberFactory(
            phone=person["phone"],
            first_name=person["name"],
            last_name="Corpus",
            status=person["status"],
            time_zone=person["time_zone"],
            consent_source=person["consent_source"],
            opted_in_at=None if days is None else _ago(days),
            attributes=copy.deepcopy(person["attributes"]),
        )
        subscriber.tags.set([Tag.objects.get_or_create(name=name)[0] for name in person["tags"]])
        Event.objects.bulk_create(
            Event(
                subscriber=subscriber,
                type=event["type"],
                occurred_at=_ago(event["days_ago"]),
                properties=copy.deepcopy(event["properties"]),
            )
            for event in person["events"]
        )
        for message in person["messages"]:
            inbound = message["direction"] == Message.Direction.INBOUND
            created = MessageFactory(
                subscriber=subscriber,
                direction=message["direction"],
                status=message["status"],
                origin=Message.Origin.SUBSCRIBER if inbound else Message.Origin.CAMPAIGN,
            )
            at = _ago(message["days_ago"])
            sent = not inbound and message["status"] != Message.Status.QUEUED
            Message.objects.filter(pk=created.pk).update(created_at=at, sent_at=at if sent else None)
    segment_ids: dict[str, int] = {}
    for segment in CORPUS["segments"]:
        rules = _resolve(segment["rules"], segment_ids)
        VALIDATOR.validate(rules)
        segment_ids[segment["name"]] = segment_create(name=segment["name"], rules=rules).pk
    return segment_ids


@pytest.fixture(scope="module")
def segment_ids(django_db_setup, django_db_blocker):
    """The corpus, loaded once for the module inside a transaction that is rolled back at its end."""
    with django_db_blocker.unblock():
        atomic = transaction.atomic()
        atomic.__enter__()
        try:
            ids = _load_corpus()
        except BaseException:
            transaction.set_rollback(True)
            atomic.__exit__(None, None, None)
            raise
    yield ids
    with django_db_blocker.unblock():
        transaction.set_rollback(True)
        atomic.__exit__(None, None, None)


def test_the_corpus_is_well_formed():
    assert len(PEOPLE) == len(set(PEOPLE)) >= 12
    assert len({person["phone"] for person in CORPUS["subscribers"]}) == len(PEOPLE)
    names = [case["name"] for case in CORPUS["cases"]]
    assert len(names) == len(set(names)) >= 60
    for case in CORPUS["cases"]:
        assert set(case["expect"]) <= set(PEOPLE), case["name"]
        assert len(case["expect"]) == len(set(case["expect"])), case["name"]
    Draft202012Validator.check_schema(SCHEMA)


@pytest.mark.parametrize("case", CORPUS["cases"], ids=[case["name"] for case in CORPUS["cases"]])
def test_rule_case(case, segment_ids, db):
    rules = _resolve(case["rules"], segment_ids)
    VALIDATOR.validate(rules)
    cleaned = rules_clean(rules)
    members = rules_queryset(cleaned, now=NOW)
    assert sorted(members.values_list("first_name", flat=True)) == sorted(case["expect"])
    assert members.count() == len(case["expect"])
