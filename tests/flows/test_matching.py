"""The answer-matching layers (pure): the shared vectors, and other phrasings, typos and texts."""

from datetime import date

import pytest

from flows.matching import Option, match_choice, match_date, match_number, match_yes_no
from tests.conftest import load_data

ATTRIBUTES = {item["key"]: item for item in load_data("attributes.json")}
ANSWERS = load_data("answers.json")


def answer(attribute: str, reply: str):
    definition = ATTRIBUTES[attribute]
    options = [Option(o["value"], o["label"], tuple(o["synonyms"])) for o in definition["options"]]
    matched = match_choice(
        reply,
        options,
        multiple=definition["type"] == "multiple_choice",
        question_words=tuple(definition["label"].split()),
    )
    return matched.value if matched else None


def test_there_are_49_shared_answers():
    assert len(ANSWERS) == 49


@pytest.mark.parametrize("case", ANSWERS, ids=[f"{c['attribute']}:{c['reply']!r}" for c in ANSWERS])
def test_shared_answers(case):
    assert answer(case["attribute"], case["reply"]) == case["expected"], case["note"]


@pytest.mark.parametrize(
    ("attribute", "reply", "expected"),
    [
        ("size", "Medium!", "M"),
        ("size", "i wear a medium", "M"),
        ("size", "usually large", "L"),
        ("size", "larg", "L"),
        ("size", "smal", "S"),
        ("size", "medum", "M"),
        ("size", "extra-large", "XL"),
        ("size", "XL please", "XL"),
        ("size", "number 2", "S"),
        ("size", "the second one", "S"),
        ("size", "option 3", "M"),
        ("size", "two", "S"),
        ("size", "3rd", "M"),
        ("size", "M 👕", "M"),
        ("size", "large, thanks!", "L"),
        ("skin_type", "oily skin", "oily"),
        ("skin_type", "greasy", "oily"),
        ("skin_type", "sensitve", "sensitive"),
        ("skin_type", "combination skin i think", "combination"),
        ("hair_type", "curly hair", "curly"),
        ("hair_type", "wavvy", "wavy"),
        ("gift_recipient", "for my husband", "partner"),
        ("gift_recipient", "my daughter", "child"),
        ("gift_recipient", "for myself", "myself"),
        ("gift_recipient", "my mum!", "parent"),
        ("offer_preference", "percentage", "percent_off"),
        ("offer_preference", "free ship", "free_shipping"),
        ("age_range", "30", "25-34"),
        ("age_range", "70", "65+"),
        ("age_range", "25-34", "25-34"),
        ("gender", "female", "woman"),
        ("gender", "prefer not to say", "unspecified"),
    ],
)
def test_other_single_answers(attribute, reply, expected):
    assert answer(attribute, reply) == expected


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("vegan and keto", ["vegan", "keto"]),
        ("vegetarian, no gluten", ["vegetarian", "gluten_free"]),
        ("1, 2", ["vegan", "vegetarian"]),
        ("first and third", ["vegan", "gluten_free"]),
        ("gluten-free", ["gluten_free"]),
        ("I'm vegan", ["vegan"]),
        ("nope nothing", ["none"]),
        ("vegan & low carb", ["vegan", "keto"]),
        ("keto + vegan", ["vegan", "keto"]),
    ],
)
def test_other_multiple_answers(reply, expected):
    assert answer("diet", reply) == expected


@pytest.mark.parametrize(
    ("attribute", "reply"),
    [
        ("size", "not sure"),
        ("size", "medium or large"),
        ("size", "small/medium"),
        ("size", "not medium"),
        ("size", "M is sold out?"),
        ("size", "is L true to size"),
        ("size", "I'd like to return my order"),
        ("size", "10"),
        ("size", "0"),
        ("size", "lol"),
        ("size", "ink"),
        ("diet", "pizza"),
        ("diet", "steak"),
        ("gift_recipient", "idk"),
        ("offer_preference", "whatever"),
        ("size", "xtra large"),
        ("size", "ex large"),
        ("size", "2x large"),
        ("size", "extra extra large"),
        ("size", "one size"),
    ],
)
def test_replies_that_are_no_answer(attribute, reply):
    assert answer(attribute, reply) is None


def test_one_letter_replies_are_never_guessed():
    options = [Option("large", "Large"), Option("small", "Small")]
    assert match_choice("l", options) is None  # no fuzzy match for one letter
    assert match_choice("x", [Option("XS", "Extra small")]) is None


def test_how_a_reply_matched_is_recorded():
    options = [Option(o["value"], o["label"], tuple(o["synonyms"])) for o in ATTRIBUTES["size"]["options"]]
    assert match_choice("m", options).how == "exact"
    assert match_choice("medium please", options).how == "words"
    assert match_choice("3", options).how == "numbers"
    assert match_choice("mediun", options).how == "fuzzy"


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("yes", True),
        ("Y", True),
        ("yeah!", True),
        ("sure thing", True),
        ("👍", True),
        ("yes please", True),
        ("no", False),
        ("Nope", False),
        ("no thanks", False),
        ("not really", False),
        ("definitely not", False),
        ("absolutely not", False),
        ("yes, but not now", False),
        ("maybe", None),
        ("", None),
    ],
)
def test_yes_no(reply, expected):
    assert match_yes_no(reply) is expected


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("42", 42),
        ("$19.99", 19.99),
        ("about 30 dollars", 30),
        ("1,200", 1200),
        ("no idea", None),
        ("3 or 4", None),
    ],
)
def test_numbers(reply, expected):
    assert match_number(reply) == expected


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("2026-12-24", date(2026, 12, 24)),
        ("12/24", date(2026, 12, 24)),
        ("1/5", date(2027, 1, 5)),
        ("Dec 24", date(2026, 12, 24)),
        ("24 December 2027", date(2027, 12, 24)),
        ("march 3rd", date(2027, 3, 3)),
        ("2/30", None),
        ("soon", None),
    ],
)
def test_dates(reply, expected):
    assert match_date(reply, today=date(2026, 11, 24)) == expected


SCORES = [Option(str(n), str(n)) for n in range(1, 6)]


@pytest.mark.parametrize(
    "reply, expected",
    [
        ("2 - it arrived broken", "2"),
        ("4: good but slow shipping", "4"),
        ("1. never again", "1"),
        ("5!!! love it", "5"),
        ("3 — it was fine", "3"),
        ("2 - arrived late, 3 days", None),  # the comment names another score: ask again
        ("2, 3", None),
        ("2 or 3 maybe", None),
        ("about my order - 2", None),  # the answer does not lead
    ],
)
def test_a_leading_answer_with_a_comment(reply, expected):
    matched = match_choice(reply, SCORES)
    assert (matched.value if matched else None) == expected


def test_a_leading_answer_is_never_a_guessed_typo_and_names_no_other_option():
    assert answer("size", "medium - it fits well") == "M"
    assert answer("size", "M, but L fits better") is None
    assert answer("size", "mediun - or lrge") is None  # a typo never leads a comment that names another size
    assert answer("diet", "vegan. mostly at home") == ["vegan"]
