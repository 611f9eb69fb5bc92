"""The segments REST API: CRUD, count, members, preview, errors and permissions."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.utils import timezone
from rest_framework.test import APIClient

from segments.models import Segment
from tests.factories import EventFactory, SubscriberFactory, UserFactory, api_key_for

VEGAN_BUYERS = {
    "all": [
        {"attribute": "diet", "op": "contains", "value": "vegan"},
        {"event": "order_placed", "op": "happened", "within_days": 30},
    ]
}


@pytest.fixture
def shoppers(db):
    now = timezone.now()
    ana = SubscriberFactory(first_name="Ana", attributes={"diet": ["vegan"], "gift_recipient": "partner"})
    bo = SubscriberFactory(first_name="Bo", attributes={"diet": ["vegan", "keto"]})
    cy = SubscriberFactory(first_name="Cy", attributes={"diet": ["keto"]})
    di = SubscriberFactory(first_name="Di", attributes={"diet": ["vegan"]})
    for shopper, days_ago in ((ana, 2), (bo, 10), (cy, 1), (di, 45)):
        EventFactory(subscriber=shopper, type="order_placed", occurred_at=now - timedelta(days=days_ago))
    return {"ana": ana, "bo": bo, "cy": cy, "di": di}


def test_create_count_members_and_english(api, shoppers):
    response = api.post(
        "/api/v1/segments/", {"name": "Vegan buyers", "rules": VEGAN_BUYERS, "description": "d"}, format="json"
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["english"] == "Diet includes Vegan and placed an order in the last 30 days"
    pk = body["id"]

    assert api.get(f"/api/v1/segments/{pk}/count/").json() == {"count": 2}
    members = api.get(f"/api/v1/segments/{pk}/members/?page_size=1").json()
    assert [m["first_name"] for m in members["results"]] == ["Bo"]  # newest first
    rest = api.get(members["next"]).json()
    assert [m["first_name"] for m in rest["results"]] == ["Ana"]
    assert rest["results"][0]["attributes"] == {"diet": ["vegan"], "gift_recipient": "partner"}


def test_nested_segment_and_exclusion_match_the_issue_example(api, shoppers):
    gift = api.post(
        "/api/v1/segments/",
        {"name": "Buying a gift", "rules": {"attribute": "gift_recipient", "op": "in", "value": ["partner", "friend"]}},
        format="json",
    ).json()
    rules = {"all": [*VEGAN_BUYERS["all"], {"not": {"segment": gift["id"]}}]}
    preview = api.post("/api/v1/segments/preview/", {"rules": rules}, format="json")
    assert preview.status_code == 200
    assert preview.json()["count"] == 1
    assert preview.json()["english"].endswith("and not in segment Buying a gift")


def test_values_are_stored_in_canonical_form(api, shoppers):
    response = api.post(
        "/api/v1/segments/",
        {"name": "Mediums", "rules": {"attribute": "size", "op": "eq", "value": "m"}},
        format="json",
    )
    assert response.json()["rules"] == {"attribute": "size", "op": "eq", "value": "M"}


@pytest.mark.parametrize(
    "rules, message",
    [
        ({"attribute": "size", "op": "eq", "value": "XXXL"}, "rules.value: size must be one of"),
        (
            {"all": [{"tag": "vip"}, {"attribute": "shoe", "op": "eq", "value": 9}]},
            "rules.all[1].attribute: no attribute",
        ),
        ({"all": [{"event": "order_placed", "within_days": 0}]}, "rules.all[0].within_days: a whole number of days"),
        ({"any": []}, "rules.any: a group holds a non-empty list"),
        ({"segment": 999999}, "rules.segment: there is no segment 999999"),
        ("vegans", "rules: a rule is an object"),
    ],
)
def test_bad_rules_are_refused_with_their_place(api, db, rules, message):
    response = api.post("/api/v1/segments/", {"name": "Bad", "rules": rules}, format="json")
    assert response.status_code == 400
    assert any(problem.startswith(message) for problem in response.json()["rules"]), response.json()
    assert not Segment.objects.exists()
    assert api.post("/api/v1/segments/preview/", {"rules": rules}, format="json").status_code == 400


def test_update_refuses_a_cycle_and_delete_refuses_a_segment_in_use(api, db):
    first = api.post("/api/v1/segments/", {"name": "A", "rules": {"tag": "vip"}}, format="json").json()
    second = api.post("/api/v1/segments/", {"name": "B", "rules": {"segment": first["id"]}}, format="json").json()
    response = api.patch(f"/api/v1/segments/{first['id']}/", {"rules": {"segment": second["id"]}}, format="json")
    assert response.status_code == 400
    assert "circle" in response.json()["rules"][0]
    assert Segment.objects.get(pk=first["id"]).rules == {"tag": "vip"}

    response = api.delete(f"/api/v1/segments/{first['id']}/")
    assert response.status_code == 400
    assert "'B'" in str(response.json())
    assert api.delete(f"/api/v1/segments/{second['id']}/").status_code == 204
    assert api.delete(f"/api/v1/segments/{first['id']}/").status_code == 204


def test_duplicate_name_is_refused(api, db):
    api.post("/api/v1/segments/", {"name": "VIP", "rules": {"tag": "vip"}}, format="json")
    response = api.post("/api/v1/segments/", {"name": "vip", "rules": {"tag": "vip"}}, format="json")
    assert response.status_code == 400
    assert "already a segment" in response.json()["name"][0]


def _client_with(*codenames):
    user = UserFactory()
    user.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_key_for(user)}")
    return client


def test_permissions(db):
    segment = Segment.objects.create(name="VIP", rules={"tag": "vip"})
    assert APIClient().get("/api/v1/segments/").status_code == 401
    nobody = _client_with()
    assert nobody.get("/api/v1/segments/").status_code == 403
    assert nobody.post("/api/v1/segments/preview/", {"rules": {"tag": "vip"}}, format="json").status_code == 403
    reader = _client_with("view_segment")
    assert reader.get("/api/v1/segments/").status_code == 200
    assert reader.get(f"/api/v1/segments/{segment.pk}/count/").status_code == 200
    assert reader.post("/api/v1/segments/preview/", {"rules": {"tag": "vip"}}, format="json").status_code == 200
    assert reader.get(f"/api/v1/segments/{segment.pk}/members/").status_code == 403  # members are subscribers
    assert reader.post("/api/v1/segments/", {"name": "X", "rules": {"tag": "x"}}, format="json").status_code == 403
    assert reader.delete(f"/api/v1/segments/{segment.pk}/").status_code == 403
    assert (
        _client_with("view_segment", "view_subscriber").get(f"/api/v1/segments/{segment.pk}/members/").status_code
        == 200
    )


def test_members_and_list_take_a_fixed_number_of_queries(api, shoppers, django_assert_max_num_queries):
    segment = Segment.objects.create(name="Vegan buyers", rules=VEGAN_BUYERS)
    for index in range(5):
        Segment.objects.create(name=f"Tagged {index}", rules={"tag": f"t{index}"})
    for shopper in SubscriberFactory.create_batch(30, attributes={"diet": ["vegan"]}):
        EventFactory(subscriber=shopper, type="order_placed", occurred_at=timezone.now())
    with django_assert_max_num_queries(8):
        assert api.get("/api/v1/segments/").status_code == 200
    with django_assert_max_num_queries(8):
        response = api.get(f"/api/v1/segments/{segment.pk}/members/?page_size=100")
    assert len(response.json()["results"]) == 32


def test_json_nested_too_deep_is_a_clear_400(api, db):
    body = '{"rules": ' + "[" * 5000 + "]" * 5000 + "}"
    response = api.post("/api/v1/segments/preview/", body, content_type="application/json")
    assert response.status_code == 400
    assert "nested more than" in response.json()["detail"]
