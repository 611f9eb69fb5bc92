import pytest

from conversations.sms.encoding import count_segments, non_gsm7_characters
from tests.conftest import load_data

VECTORS = load_data("sms_segments.json")


def test_there_are_80_vectors():
    assert len(VECTORS) == 80


@pytest.mark.parametrize("vector", VECTORS, ids=[f"{i}:{v['note'][:40]}" for i, v in enumerate(VECTORS)])
def test_segment_count_matches_twilio_calculator(vector):
    counted = count_segments(vector["text"])
    assert (counted.encoding, counted.segments) == (vector["encoding"], vector["segments"]), vector["note"]


def test_units_count_septets_and_code_units():
    assert count_segments("a{").units == 3
    assert count_segments("é😀").units == 3


def test_non_gsm7_characters_lists_each_culprit_once():
    assert non_gsm7_characters("Café – “great” ç ç") == ["–", "“", "”", "ç"]
    assert non_gsm7_characters("Plain text {ok} €5") == []
