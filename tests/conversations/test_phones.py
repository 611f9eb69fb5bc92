import pytest
from django.core.exceptions import ValidationError

from conversations.phones import country_for_phone, default_time_zone_for_phone, normalize_phone, time_zones_for_phone


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("(415) 555-0100", "+14155550100"),
        ("415.555.0100", "+14155550100"),
        ("+1 415 555 0100", "+14155550100"),
        ("1-415-555-0100", "+14155550100"),
        ("  +14155550100 ", "+14155550100"),
        ("+44 20 7946 0958", "+442079460958"),
    ],
)
def test_normalize_phone_accepts_what_people_type(raw, expected):
    assert normalize_phone(raw) == expected


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", "Enter a phone number"),
        ("hello", "not a phone number"),
        ("555", "wrong number of digits"),
        ("+999 1234567", "country code"),
        ("(111) 555-0100", "no such number exists"),
        ("+1 415 555 0100 1234 5678", "too long"),
    ],
)
def test_normalize_phone_says_why_a_number_is_refused(raw, reason):
    with pytest.raises(ValidationError) as error:
        normalize_phone(raw)
    assert reason in error.value.messages[0]


def test_normalize_phone_reads_local_numbers_in_the_given_region():
    assert normalize_phone("020 7946 0958", region="GB") == "+442079460958"


@pytest.mark.parametrize(
    ("phone", "zones"),
    [
        ("+12125550123", ("America/New_York",)),
        ("+18502225555", ("America/New_York",)),
        ("+18502345678", ("America/Chicago",)),
        ("+12085550123", ("America/Boise", "America/Los_Angeles")),
        ("+19075550123", ("America/Adak", "America/Anchorage")),
        ("+18005550199", ()),  # toll-free spans 42 zones: says nothing
    ],
)
def test_time_zones_for_phone_match_the_compliance_reference(phone, zones):
    assert time_zones_for_phone(phone) == zones


def test_default_time_zone_falls_back_to_the_store_zone(settings):
    settings.PARLEY_DEFAULT_TIME_ZONE = "America/Denver"
    assert default_time_zone_for_phone("+18005550199") == "America/Denver"
    assert default_time_zone_for_phone("+14155550100") == "America/Los_Angeles"


def test_country_for_phone():
    assert country_for_phone("+14155550100") == "US"
    assert country_for_phone("+442079460958") == "GB"
