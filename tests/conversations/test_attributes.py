"""Unit tests for the pure attribute rules (no database)."""

import pytest
from django.core.exceptions import ValidationError

from conversations.attributes import clean_value, validate_definition
from conversations.models import AttributeDefinition
from tests.conftest import load_data

DEFINITIONS = {item["key"]: AttributeDefinition(**item) for item in load_data("attributes.json")}
Type = AttributeDefinition.Type


def definition(type_, **kwargs):
    return AttributeDefinition(key=kwargs.pop("key", "thing"), label="Thing", type=type_, **kwargs)


@pytest.mark.parametrize(("value", "stored"), [("M", "M"), ("m", "M"), (" xl ", "XL"), ("XXL", "XXL")])
def test_single_choice_accepts_option_values_in_any_case(value, stored):
    assert clean_value(DEFINITIONS["size"], value) == stored


@pytest.mark.parametrize("value", ["XXXL", "medium", "", 3, None, ["M"], True])
def test_single_choice_refuses_anything_else_and_names_the_key(value):
    with pytest.raises(ValidationError) as error:
        clean_value(DEFINITIONS["size"], value)
    assert error.value.messages == [f"size must be one of XS, S, M, L, XL or XXL (got {value!r})"]


def test_multiple_choice_is_stored_in_option_order_without_duplicates():
    assert clean_value(DEFINITIONS["diet"], ["keto", "VEGAN", "keto"]) == ["vegan", "keto"]
    assert clean_value(DEFINITIONS["diet"], "vegan") == ["vegan"]


@pytest.mark.parametrize("value", [[], ["vegan", "paleo"], "paleo", {"vegan": True}, 1])
def test_multiple_choice_refuses_unknown_or_empty(value):
    with pytest.raises(ValidationError, match="diet"):
        clean_value(DEFINITIONS["diet"], value)


@pytest.mark.parametrize(("value", "stored"), [(3, 3), (2.5, 2.5), ("42", 42), (" 7.25 ", 7.25), (4.0, 4)])
def test_number(value, stored):
    assert clean_value(definition(Type.NUMBER), value) == stored


@pytest.mark.parametrize(
    "value", ["ten", True, float("nan"), float("inf"), [], None, 10**400, "1_000", "0x10", "1e400", -(10**16)]
)
def test_number_refuses_non_numbers(value):
    with pytest.raises(ValidationError, match="thing must be a number"):
        clean_value(definition(Type.NUMBER), value)


def test_date():
    assert clean_value(definition(Type.DATE), "1990-02-28") == "1990-02-28"
    for bad in ["1990-02-30", "28/02/1990", 19900228, "19900228", "1990-W08-3"]:
        with pytest.raises(ValidationError, match="YYYY-MM-DD"):
            clean_value(definition(Type.DATE), bad)


@pytest.mark.parametrize(("value", "stored"), [(True, True), (False, False), ("yes", True), ("No", False), ("y", True)])
def test_yes_no(value, stored):
    assert clean_value(definition(Type.YES_NO), value) is stored


def test_yes_no_refuses_maybe():
    with pytest.raises(ValidationError, match="yes or no"):
        clean_value(definition(Type.YES_NO), "maybe")


def test_text_is_trimmed_and_bounded():
    assert clean_value(definition(Type.TEXT), "  likes linen ") == "likes linen"
    with pytest.raises(ValidationError, match="at most 500"):
        clean_value(definition(Type.TEXT), "x" * 501)
    with pytest.raises(ValidationError, match="non-empty text"):
        clean_value(definition(Type.TEXT), "   ")
    with pytest.raises(ValidationError, match="NUL"):
        clean_value(definition(Type.TEXT), "a\x00b")


def test_every_shipped_definition_is_valid():
    for item in load_data("attributes.json"):
        assert validate_definition(key=item["key"], type=item["type"], options=item["options"]) == {}


def test_validate_definition_points_at_the_problem():
    errors = validate_definition(
        key="Shoe Size",
        type="single_choice",
        options=[
            {"value": "8", "label": "Eight", "synonyms": ["eight"]},
            {"value": "9", "label": "", "synonyms": ["EIGHT"]},
            {"label": "Ten"},
        ],
    )
    assert "key" in errors
    assert errors["options"] == [
        "option 2 (9) needs a label",
        "'EIGHT' is used by both 8 and 9",
        "option 3 needs a text value",
    ]
    assert validate_definition(key="notes", type="text", options=[{"value": "x"}]) == {
        "options": ["options are only for choice attributes, not text"]
    }
    assert "type" in validate_definition(key="notes", type="colour", options=[])
    assert validate_definition(key="size", type="single_choice", options=[]) == {
        "options": ["a choice attribute needs at least one option"]
    }
