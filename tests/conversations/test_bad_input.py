"""Values no part of Parley can store are refused at the door with a 400 that names where they are."""

import json

import pytest

from conversations.middleware import MAX_JSON_DEPTH, json_depth_exceeds
from conversations.models import Event, Subscriber
from conversations.params import whole_number

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("bad", ["\x00", "ab\x00", "\ud83d", "x\udfff y"])
def test_a_json_string_that_cannot_be_stored_is_refused_naming_its_place(api, bad):
    body = {"phone": "+14155550161", "first_name": "Ana", "attributes": {"size": bad}}
    response = api.post("/api/v1/subscribers/", json.dumps(body), content_type="application/json")
    assert response.status_code == 400
    assert response.json()["field"] == "body.attributes.size"
    assert not Subscriber.objects.exists()


def test_a_json_key_that_cannot_be_stored_is_refused(api):
    body = {"type": "order_placed", "phone": "+14155550161", "properties": {"gift\x00": True}}
    response = api.post("/api/v1/events/", json.dumps(body), content_type="application/json")
    assert response.status_code == 400
    assert response.json()["field"] == "body.properties (a key)"
    assert not Event.objects.exists()


@pytest.mark.parametrize("query", ["search=%00", "status=%ED%A0%80x", "cursor=abc%00", "%00=1"])
def test_query_parameters_are_checked_too(api, query):
    response = api.get(f"/api/v1/subscribers/?{query}")
    assert response.status_code == 400


def test_a_form_field_on_a_page_is_refused_as_plain_text(client, django_user_model):
    response = client.post("/join/welcome/", {"phone": "415 555 0161", "email": "a\x00@example.com"})
    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/plain")
    assert "form field 'email'" in response.content.decode()


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 5000, 200_000])
def test_absurdly_nested_json_is_refused_before_it_is_decoded(client, depth):
    body = '{"phone": "+14155550161", "x": ' + "[" * depth + "]" * depth + "}"
    response = client.post("/signup/welcome/", body, content_type="application/json")
    assert response.status_code == 400
    assert "nested" in response.json()["detail"]


def test_nesting_inside_strings_does_not_count():
    assert not json_depth_exceeds(json.dumps({"text": "[" * 500, "quote": '\\"[[[' * 100}).encode())
    assert json_depth_exceeds(("[" * (MAX_JSON_DEPTH + 1)).encode())


def test_a_nul_in_the_path_or_the_authorization_header_is_refused(client):
    assert client.get("/l/abc%00def").status_code == 400
    response = client.get("/api/v1/subscribers/", HTTP_AUTHORIZATION="Token abc\x00")
    assert response.status_code == 400
    assert response.json()["field"] == "the Authorization header"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("12", 12), (" 7 ", 7), ("²", None), ("١٢", None), ("9" * 40, None), ("1e3", None), ("", None), (None, None)],
)
def test_whole_numbers_are_ascii_digits_within_range(raw, expected):
    assert whole_number(raw) == expected


@pytest.mark.parametrize("size", ["²", "٣", "9" * 30, "-4", "0"])
def test_page_sizes_that_are_not_whole_numbers_in_range_are_refused(api, size):
    response = api.get("/api/v1/subscribers/", {"page_size": size})
    assert response.status_code == 400
    assert "page_size" in response.json()


@pytest.mark.parametrize("cursor", ["cD0yMDI0LTAx", "cD1hYmM=", "bm90IGEgY3Vyc29y", "%%%", "cD0xJnI9MQ" * 50])
def test_cursors_not_written_by_parley_are_refused(api, cursor):
    response = api.get("/api/v1/messages/", {"cursor": cursor})
    assert response.status_code == 400
    assert "cursor" in response.json()


def test_an_id_past_any_integer_column_is_not_found_or_refused(api):
    assert api.get("/api/v1/subscribers/" + "9" * 30 + "/").status_code == 404
    assert api.get("/api/v1/messages/", {"subscriber": "9" * 25}).status_code == 400


@pytest.mark.parametrize("content_type", ["text/plain", "application/octet-stream"])
def test_a_json_body_sent_under_another_type_is_checked_as_json(client, content_type):
    body = json.dumps({"phone": "+14155550161", "consent": True, "email": "a\x00@example.com"})
    response = client.post("/signup/welcome/", body, content_type=content_type)
    assert response.status_code == 400
    assert response.json()["field"] == "body.email"
    deep = '{"phone": "+14155550161", "x": ' + "[" * 100_000 + "]" * 100_000 + "}"
    assert client.post("/signup/welcome/", deep, content_type=content_type).status_code == 400


def test_emoji_escaped_as_surrogate_pairs_are_fine(api):
    body = '{"phone": "+14155550162", "first_name": "Ana \\ud83d\\ude00"}'
    response = api.post("/api/v1/subscribers/", body, content_type="application/json")
    assert response.status_code == 201
    assert Subscriber.objects.get().first_name == "Ana \U0001f600"
