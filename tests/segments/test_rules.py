"""Segment rules: validation through the services (each problem named with its place), plain English, and
the references between segments (no segment may lead back to itself; a segment in use cannot be deleted)."""

import pytest
from django.core.exceptions import ValidationError
from jsonschema import Draft202012Validator

from conversations.models import AttributeDefinition
from segments.models import Segment
from segments.rules import MAX_CONDITIONS, MAX_DEPTH, SCHEMA, describe, rules_clean
from segments.services import rules_check, segment_create, segment_delete, segment_update

pytestmark = pytest.mark.django_db

VALIDATOR = Draft202012Validator(SCHEMA)
KNOWN = "age_range, diet, gender, gift_recipient, hair_type, offer_preference, size, skin_type"
SIZES = "XS, S, M, L, XL or XXL"
DIETS = "vegan, vegetarian, gluten_free, dairy_free, keto or none"
DAYS = "a whole number of days from 1 to 3650"


def problems(rules, segment_id=None) -> list[str]:
    with pytest.raises(ValidationError) as error:
        rules_check(rules=rules, segment_id=segment_id)
    return error.value.message_dict["rules"]


def nested_nots(depth: int) -> dict:
    rule = {"tag": "vip"}
    for _ in range(depth):
        rule = {"not": rule}
    return rule


# (rules, the problems named, whether the JSON Schema refuses the rule too)
BAD_RULES = {
    "unknown attribute": (
        {"all": [{"tag": "vip"}, {"attribute": "shoe_size", "op": "eq", "value": "9"}]},
        [f'rules.all[1].attribute: no attribute "shoe_size" (attributes: {KNOWN})'],
        False,
    ),
    "op a multiple choice attribute does not take": (
        {"attribute": "diet", "op": "eq", "value": "vegan"},
        ['rules.op: a multiple choice attribute takes contains, in, is_set, not_set (got "eq")'],
        False,
    ),
    "op a single choice attribute does not take": (
        {"any": [{"tag": "vip"}, {"not": {"attribute": "size", "op": "gt", "value": "M"}}]},
        ['rules.any[1].not.op: a single choice attribute takes eq, ne, in, is_set, not_set (got "gt")'],
        False,
    ),
    "unknown op": (
        {"attribute": "size", "op": "like", "value": "M"},
        ['rules.op: a single choice attribute takes eq, ne, in, is_set, not_set (got "like")'],
        True,
    ),
    "bad choice": (
        {"all": [{"tag": "vip"}, {"attribute": "size", "op": "eq", "value": "XXXL"}]},
        [f"rules.all[1].value: size must be one of {SIZES} (got 'XXXL')"],
        False,
    ),
    "bad choice in a list": (
        {"attribute": "diet", "op": "in", "value": ["vegan", "paleo"]},
        [f"rules.value: diet must be one of {DIETS} (got 'paleo')"],
        False,
    ),
    "in without a list": (
        {"attribute": "size", "op": "in", "value": "M"},
        ['rules.value: in takes a non-empty list of values (got "M")'],
        False,
    ),
    "missing value": (
        {"attribute": "size", "op": "eq"},
        ["rules.value: required for eq"],
        False,
    ),
    "value given to is_set": (
        {"attribute": "size", "op": "is_set", "value": "M"},
        ["rules.value: is_set takes no value"],
        False,
    ),
    "within_days 0": ({"event": "order_placed", "within_days": 0}, [f"rules.within_days: {DAYS} (got 0)"], True),
    "within_days -1": ({"event": "order_placed", "within_days": -1}, [f"rules.within_days: {DAYS} (got -1)"], True),
    "within_days as text": (
        {"event": "order_placed", "within_days": "30"},
        [f'rules.within_days: {DAYS} (got "30")'],
        True,
    ),
    "within_days too many": (
        {"event": "order_placed", "within_days": 99999},
        [f"rules.within_days: {DAYS} (got 99999)"],
        True,
    ),
    "within_days true": (
        {"engagement": "replied", "within_days": True},
        [f"rules.within_days: {DAYS} (got true)"],
        True,
    ),
    "within_days a fraction": (
        {"engagement": "clicked", "within_days": 1.5},
        [f"rules.within_days: {DAYS} (got 1.5)"],
        True,
    ),
    "opted_in within 0 days": (
        {"all": [{"opted_in": {"within_days": 0}}]},
        [f"rules.all[0].opted_in.within_days: {DAYS} (got 0)"],
        True,
    ),
    "opted_in with an unknown window": (
        {"opted_in": {"days": 3}},
        ['rules.opted_in: {"within_days": N} or {"more_than_days": N} (got {"days": 3})'],
        True,
    ),
    "count_gte without a count": (
        {"event": "order_placed", "op": "count_gte"},
        ["rules.count: count_gte needs a count from 1 to 1000 (got null)"],
        False,
    ),
    "unknown key on a condition": ({"tag": "vip", "colour": "red"}, ["rules: unknown key colour"], True),
    "unknown keys on a group": (
        {"all": [{"tag": "vip"}], "mode": "x", "name": "y"},
        ["rules: unknown keys mode, name"],
        True,
    ),
    "unknown key in a where filter": (
        {"event": "order_placed", "where": [{"property": "total", "op": "gt", "value": 1, "unit": "usd"}]},
        ["rules.where[0]: unknown key unit"],
        True,
    ),
    "two conditions in one rule": (
        {"tag": "vip", "status": "subscribed"},
        ["rules: a rule is one group or one condition, not tag and status together"],
        True,
    ),
    "two groups in one rule": (
        {"all": [{"tag": "a"}], "any": [{"tag": "b"}]},
        ["rules: a rule is one group or one condition, not all and any together"],
        True,
    ),
    "empty group": ({"all": []}, ["rules.all: a group holds a non-empty list of rules"], True),
    "empty nested group": (
        {"any": [{"tag": "vip"}, {"all": []}]},
        ["rules.any[1].all: a group holds a non-empty list of rules"],
        True,
    ),
    "a text instead of a rule": (
        {"any": ["vip"]},
        ['rules.any[0]: a rule is an object such as {"all": [...]} or a condition (got "vip")'],
        True,
    ),
    "a list instead of a rule": (
        [{"tag": "vip"}],
        ['rules: a rule is an object such as {"all": [...]} or a condition (got [{"tag": "vip"}])'],
        True,
    ),
    "an empty object": (
        {},
        [
            "rules: unknown rule {}; a rule has one of the keys all, any, not, attribute, event, engagement, flow, "
            "segment, tag, opted_in, status, consent_source, country, state, time_zone"
        ],
        True,
    ),
    "unknown status": (
        {"status": ["subscribed", "active"]},
        ['rules.status: "active" is not one of pending, subscribed, unsubscribed'],
        False,
    ),
    "country that is not a code": (
        {"country": "Canada"},
        ['rules.country: two-letter codes such as US or CA (got "CANADA")'],
        False,
    ),
    "unknown segment": ({"segment": 999999}, ["rules.segment: there is no segment 999999"], False),
    "too deep": (
        nested_nots(MAX_DEPTH + 1),
        [f"rules{'.not' * (MAX_DEPTH + 1)}: groups nest at most {MAX_DEPTH} deep"],
        False,
    ),
    "too many conditions": (
        {"any": [{"tag": f"t{i}"} for i in range(MAX_CONDITIONS + 1)]},
        [f"rules: at most {MAX_CONDITIONS} conditions (got {MAX_CONDITIONS + 1})"],
        False,
    ),
    "a property name with a double underscore": (
        {"event": "order_placed", "where": [{"property": "line__items", "op": "gte", "value": 2}]},
        [
            "rules.where[0].property: a property name such as total: letters, digits, single inner underscores "
            '(got "line__items")'
        ],
        True,
    ),
    "every problem at once": (
        {
            "all": [
                {"attribute": "size", "op": "eq", "value": "XXXL"},
                {"event": "order_placed", "within_days": 0},
                {"any": []},
                {"tag": "vip", "colour": "red"},
            ]
        },
        [
            f"rules.all[0].value: size must be one of {SIZES} (got 'XXXL')",
            f"rules.all[1].within_days: {DAYS} (got 0)",
            "rules.all[2].any: a group holds a non-empty list of rules",
            "rules.all[3]: unknown key colour",
        ],
        True,
    ),
}


@pytest.mark.parametrize(("rules", "expected", "schema_refuses"), BAD_RULES.values(), ids=BAD_RULES.keys())
def test_a_bad_rule_is_refused_naming_its_place(rules, expected, schema_refuses):
    assert problems(rules) == expected
    with pytest.raises(ValidationError) as error:
        segment_create(name="Bad", rules=rules)
    assert error.value.message_dict == {"rules": expected}
    assert not Segment.objects.exists()
    # The JSON Schema describes the shape only; the rest needs the store's definitions and segments.
    assert VALIDATOR.is_valid(rules) is not schema_refuses


def test_as_deep_as_allowed_is_accepted():
    assert rules_check(rules=nested_nots(MAX_DEPTH)) == nested_nots(MAX_DEPTH)
    assert rules_check(rules={"any": [{"tag": f"t{i}"} for i in range(MAX_CONDITIONS)]})


def test_values_are_stored_in_their_canonical_form():
    AttributeDefinition.objects.create(key="age", label="Age", type="number")
    AttributeDefinition.objects.create(key="vip", label="VIP", type="yes_no")
    segment = segment_create(
        name="Cleaned",
        rules={
            "all": [
                {"attribute": "size", "op": "eq", "value": "m"},
                {"attribute": "size", "op": "in", "value": ["l", "L", " xl "]},
                {"attribute": "diet", "op": "contains", "value": ["KETO", "Vegan"]},
                {"attribute": "age", "op": "gte", "value": "30"},
                {"attribute": "vip", "op": "eq", "value": "yes"},
                {"country": ["us", " ca "]},
                {"tag": " vip "},
                {"event": "order_placed", "where": [{"property": "total", "value": 5}]},
                {"engagement": "clicked"},
            ]
        },
    )
    segment.refresh_from_db()
    assert segment.rules == {
        "all": [
            {"attribute": "size", "op": "eq", "value": "M"},
            {"attribute": "size", "op": "in", "value": ["L", "XL"]},
            {"attribute": "diet", "op": "contains", "value": ["keto", "vegan"]},
            {"attribute": "age", "op": "gte", "value": 30},
            {"attribute": "vip", "op": "eq", "value": True},
            {"country": ["US", "CA"]},
            {"tag": "vip"},
            {"event": "order_placed", "op": "happened", "where": [{"property": "total", "op": "eq", "value": 5}]},
            {"engagement": "clicked", "op": "happened"},
        ]
    }


def test_rules_check_returns_the_cleaned_rules_without_saving():
    assert rules_check(rules={"attribute": "size", "op": "ne", "value": "xs"}) == {
        "attribute": "size",
        "op": "ne",
        "value": "XS",
    }
    assert not Segment.objects.exists()


# --- references between segments ----------------------------------------------------------------------------


def test_a_segment_cannot_contain_itself():
    vegans = segment_create(name="Vegans", rules={"attribute": "diet", "op": "contains", "value": "vegan"})
    with pytest.raises(ValidationError) as error:
        segment_update(segment=vegans, rules={"any": [{"tag": "vip"}, {"segment": vegans.pk}]})
    assert error.value.message_dict == {"rules": ["rules.any[1].segment: a segment cannot contain itself"]}
    vegans.refresh_from_db()
    assert vegans.rules == {"attribute": "diet", "op": "contains", "value": "vegan"}


def test_a_circle_through_another_segment_is_refused_naming_the_chain():
    a = segment_create(name="A", rules={"tag": "vip"})
    b = segment_create(name="B", rules={"all": [{"tag": "newsletter"}, {"segment": a.pk}]})
    with pytest.raises(ValidationError) as error:
        segment_update(segment=a, rules={"any": [{"tag": "vip"}, {"not": {"segment": b.pk}}]})
    assert error.value.message_dict == {
        "rules": [
            "rules: segments may not refer to each other in a circle "
            f"(segment {a.pk} → segment {b.pk} → segment {a.pk})"
        ]
    }
    a.refresh_from_db()
    assert a.rules == {"tag": "vip"}


def test_a_longer_circle_names_every_step():
    a = segment_create(name="A", rules={"tag": "vip"})
    b = segment_create(name="B", rules={"segment": a.pk})
    c = segment_create(name="C", rules={"segment": b.pk})
    message = problems({"segment": c.pk}, segment_id=a.pk)
    assert message == [
        f"rules: segments may not refer to each other in a circle "
        f"(segment {a.pk} → segment {c.pk} → segment {b.pk} → segment {a.pk})"
    ]


def test_a_segment_used_twice_without_a_circle_is_fine():
    base = segment_create(name="Base", rules={"tag": "vip"})
    left = segment_create(name="Left", rules={"all": [{"segment": base.pk}, {"status": "subscribed"}]})
    right = segment_create(name="Right", rules={"all": [{"segment": base.pk}, {"country": "US"}]})
    both = segment_create(name="Both", rules={"any": [{"segment": left.pk}, {"segment": right.pk}]})
    segment_update(segment=both, rules={"all": [{"segment": left.pk}, {"segment": right.pk}, {"segment": base.pk}]})
    both.refresh_from_db()
    assert both.rules["all"][2] == {"segment": base.pk}


def test_deleting_a_segment_another_uses_is_refused_naming_it():
    vegans = segment_create(name="Vegans", rules={"attribute": "diet", "op": "contains", "value": "vegan"})
    vips = segment_create(name="Vegan VIPs", rules={"all": [{"segment": vegans.pk}, {"tag": "vip"}]})
    with pytest.raises(ValidationError) as error:
        segment_delete(segment=vegans)
    assert error.value.messages == ["'Vegans' is used by the segment(s) 'Vegan VIPs'; change those rules first"]
    assert Segment.objects.filter(pk=vegans.pk).exists()
    segment_delete(segment=vips)
    segment_delete(segment=vegans)
    assert not Segment.objects.exists()


# --- plain English ------------------------------------------------------------------------------------------


@pytest.fixture
def english(db):
    AttributeDefinition.objects.create(key="nickname", label="Nickname", type="text")
    gift = segment_create(name="Gift buyers", rules={"attribute": "gift_recipient", "op": "ne", "value": "myself"})
    definitions = {d.key: d for d in AttributeDefinition.objects.all()}

    def read(rules) -> str:
        rules = _with_segment(rules, gift.pk)
        return describe(rules_clean(rules), definitions=definitions, segment_names={gift.pk: gift.name})

    return read


def _with_segment(rules, pk):
    if isinstance(rules, dict):
        if rules.get("segment") == "@Gift buyers":
            return {"segment": pk}
        return {key: _with_segment(value, pk) for key, value in rules.items()}
    if isinstance(rules, list):
        return [_with_segment(item, pk) for item in rules]
    return rules


ENGLISH = [
    (
        {
            "all": [
                {"attribute": "diet", "op": "contains", "value": ["vegan", "keto"]},
                {
                    "event": "order_placed",
                    "op": "count_gte",
                    "count": 2,
                    "within_days": 30,
                    "where": [{"property": "total", "op": "gte", "value": 50}],
                },
            ]
        },
        "Diet includes Vegan and Keto and placed an order at least 2 times where total is at least 50 "
        "in the last 30 days",
    ),
    (
        {"any": [{"attribute": "size", "op": "ne", "value": "M"}, {"not": {"tag": "vip"}}]},
        "Clothing size is not Medium (or not known) or not tagged vip",
    ),
    (
        {"not": {"any": [{"engagement": "replied", "within_days": 30}, {"engagement": "clicked", "within_days": 1}]}},
        "none of (has replied in the last 30 days; has clicked a link in the last day)",
    ),
    (
        {
            "all": [
                {"segment": "@Gift buyers"},
                {"opted_in": {"more_than_days": 365}},
                {"state": ["CA", "NY"]},
                {"flow": 1, "question": "ask_size", "answer": "M"},
            ]
        },
        "in segment Gift buyers and opted in more than 365 days ago and state is CA or NY "
        "and answered question ask_size of flow 1 with M",
    ),
    (
        {"all": [{"tag": "vip"}, {"any": [{"status": "pending"}, {"consent_source": "web"}]}]},
        "tagged vip and (status is pending or consent source is web)",
    ),
    (
        {
            "all": [
                {"event": "cart_abandoned", "within_days": 7},
                {"event": "order_placed", "op": "not_happened", "since_last": "cart_abandoned"},
            ]
        },
        "abandoned a cart in the last 7 days and placed no order since the last cart_abandoned",
    ),
    ({"not": {"all": [{"tag": "a"}, {"tag": "b"}]}}, "not (tagged a and tagged b)"),
    ({"attribute": "size", "op": "in", "value": ["S", "M"]}, "Clothing size is one of Small, Medium"),
    ({"attribute": "diet", "op": "in", "value": ["vegan", "keto"]}, "Diet includes any of Vegan, Keto"),
    ({"attribute": "size", "op": "is_set"}, "Clothing size is known"),
    ({"attribute": "diet", "op": "not_set"}, "Diet is not known"),
    ({"attribute": "nickname", "op": "contains", "value": "ann"}, 'Nickname has "ann"'),
    ({"engagement": "received", "op": "not_happened"}, "has not received a text"),
    ({"opted_in": {"within_days": 1}}, "opted in in the last day"),
    ({"event": "quiz_done", "op": "not_happened"}, "had no quiz_done"),
    ({"flow": 2, "question": "ask_diet"}, "answered question ask_diet of flow 2"),
    ({"flow": 2, "question": "ask_gift_wrap", "answer": True}, "answered question ask_gift_wrap of flow 2 with yes"),
]


@pytest.mark.parametrize(("rules", "expected"), ENGLISH, ids=[text[:60] for _, text in ENGLISH])
def test_plain_english(english, rules, expected):
    assert english(rules) == expected


def test_segments_that_use_segments_cannot_grow_past_the_limit():
    base = segment_create(name="Base", rules={"any": [{"tag": f"t{i}"} for i in range(50)]})
    tenfold = segment_create(name="Tenfold", rules={"all": [{"segment": base.pk}] * 10})  # 500: allowed
    with pytest.raises(ValidationError) as error:
        segment_create(name="Too big", rules={"any": [{"segment": tenfold.pk}, {"segment": tenfold.pk}]})
    assert error.value.message_dict["rules"] == [
        "rules: with the segments it uses the rule has 1000 conditions; at most 500"
    ]


@pytest.mark.parametrize(
    "rules, place",
    [
        ({"flow": 2**70, "question": "q"}, "rules.flow"),
        ({"flow": 1, "question": "q", "answer": 2**70}, "rules.answer"),
        ({"flow": 1, "question": "q", "answer": float("nan")}, "rules.answer"),
        (
            {"event": "order_placed", "where": [{"property": "total", "op": "gt", "value": 1e300}]},
            "rules.where[0].value",
        ),
        (
            {"event": "order_placed", "where": [{"property": "id", "op": "in", "value": list(range(101))}]},
            "rules.where[0].value",
        ),
        ({"segment": 2**63}, "rules.segment"),
        ({"tag": "vip\x00"}, "rules.tag"),
        ({"time_zone": "Mars/Olympus"}, "rules.time_zone"),
        (
            {"event": "order_placed", "where": [{"property": "total_", "op": "gt", "value": 1}]},
            "rules.where[0].property",
        ),
        ({"event": "order_placed\n"}, "rules.event"),
    ],
)
def test_values_the_databases_cannot_hold_are_refused(rules, place):
    assert any(problem.startswith(place + ":") for problem in problems(rules)), problems(rules)
