import phonenumbers
import pytest
from django.core.exceptions import ValidationError

from conversations.phones import (
    country_for_phone,
    default_time_zone_for_phone,
    normalize_phone,
    place_for_phone,
    time_zones_for_phone,
)


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


@pytest.mark.parametrize(
    "phone, place",
    [
        ("+14155550100", ("US", "CA")),
        ("+12125550101", ("US", "NY")),
        ("+12025550100", ("US", "DC")),
        ("+16475550100", ("CA", "ON")),
        ("+18005550100", ("US", "")),  # toll-free: no state
        ("+17875550100", ("PR", "")),
    ],
)
def test_the_country_and_state_of_a_number(phone, place):
    assert place_for_phone(phone) == place


def test_the_area_code_table_agrees_with_libphonenumbers_geocoder():
    # The table is made by scripts/nanp_states.py; after a phonenumbers upgrade it must be made again.
    from phonenumbers import geocoder

    from conversations.phones import NORTH_AMERICAN_REGIONS

    checked = 0
    for area in range(201, 990, 7):
        number = phonenumbers.parse(f"+1{area}5550100")
        if not phonenumbers.is_valid_number(number) or phonenumbers.region_code_for_number(number) not in ("US", "CA"):
            continue
        description = geocoder.description_for_number(number, "en")
        tail = description.rsplit(", ", 1)[-1]
        expected = tail if tail in NORTH_AMERICAN_REGIONS.values() else NORTH_AMERICAN_REGIONS.get(description, "")
        if not expected:
            continue  # the geocoder names no state for this exchange; the table took one from another
        assert place_for_phone(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))[1] == expected
        checked += 1
    assert checked > 50


@pytest.mark.parametrize(
    ("phone", "zones"),
    [
        ("+18765550100", ("America/Jamaica",)),  # libphonenumber knows only +1 (42 zones); Jamaica has one
        ("+16845550100", ("Pacific/Pago_Pago",)),  # American Samoa: libphonenumber says Etc/Unknown
    ],
)
def test_a_number_known_only_by_its_calling_code_gets_its_countrys_single_zone(phone, zones):
    assert time_zones_for_phone(phone) == zones


def test_zone_data_comes_from_the_tzdata_package_not_the_systems_zoneinfo(monkeypatch):
    import io
    import zoneinfo

    from conversations import time_zones

    real_open = io.open

    def no_system_zoneinfo(file, *args, **kwargs):
        assert not str(file).startswith("/usr/share/zoneinfo"), file
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(io, "open", no_system_zoneinfo)
    time_zones.zone_names.cache_clear()
    time_zones.zones_by_country.cache_clear()
    try:
        names = time_zones.zone_names()
        by_country = time_zones.zones_by_country()
    finally:
        time_zones.zone_names.cache_clear()
        time_zones.zones_by_country.cache_clear()
    assert {"America/Chicago", "Europe/London", "UTC"} <= names
    assert not names & {"Factory", "localtime", "posixrules"}
    assert by_country["JM"] == ("America/Jamaica",)
    assert "America/Los_Angeles" in by_country["US"]
    monkeypatch.undo()
    for name in names:  # every zone a subscriber may be given loads
        zoneinfo.ZoneInfo(name)
