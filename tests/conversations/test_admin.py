import pytest
from django.urls import reverse

from conversations import services
from conversations.models import AttributeChange, AttributeDefinition, ConsentEvent, Subscriber
from tests.factories import EventFactory, MessageFactory, SubscriberFactory, UserFactory

pytestmark = pytest.mark.django_db
CHANGELIST = reverse("admin:conversations_subscriber_changelist")


@pytest.fixture
def staff_client(client):
    user = UserFactory(username="staff", is_staff=True, is_superuser=True)
    client.force_login(user)
    return client


@pytest.fixture
def shoppers():
    ana = SubscriberFactory(
        phone="+14155550100",
        first_name="Ana",
        email="ana@example.com",
        attributes={"size": "M", "diet": ["vegan", "keto"]},
    )
    ana.tags.create(name="vip")
    bo = SubscriberFactory(phone="+12125550101", first_name="Bo", status="pending", attributes={"size": "L"})
    cy = SubscriberFactory(
        phone="+13125550102", first_name="Cy", status="unsubscribed", attributes={"diet": ["vegetarian"]}
    )
    return ana, bo, cy


def names_on(response) -> set[str]:
    return {s.first_name for s in response.context["cl"].result_list}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({}, {"Ana", "Bo", "Cy"}),
        ({"status__exact": "pending"}, {"Bo"}),
        ({"attribute__size": "M"}, {"Ana"}),
        ({"attribute__diet": "vegan"}, {"Ana"}),
        ({"q": "(415) 555-0100"}, {"Ana"}),
        ({"q": "ana@example"}, {"Ana"}),
        ({"q": "Cy"}, {"Cy"}),
    ],
)
def test_changelist_filters_and_search(staff_client, shoppers, query, expected):
    response = staff_client.get(CHANGELIST, query)
    assert response.status_code == 200
    assert names_on(response) == expected


def test_changelist_filters_by_tag(staff_client, shoppers):
    tag_id = shoppers[0].tags.get().pk
    assert names_on(staff_client.get(CHANGELIST, {"tags__id__exact": tag_id})) == {"Ana"}


def test_changelist_query_count_does_not_grow_with_rows(staff_client, django_assert_max_num_queries):
    for index in range(60):
        SubscriberFactory().tags.create(name=f"t{index}")
    with django_assert_max_num_queries(14):
        response = staff_client.get(CHANGELIST)
    assert response.status_code == 200
    assert len(response.context["cl"].result_list) == 50


def test_subscriber_page_shows_attributes_and_histories(staff_client, subscriber):
    services.subscriber_attributes_set(
        subscriber=subscriber, changes={"size": "M", "diet": ["vegan"]}, source="flow", reference="flow_run:12"
    )
    services.subscriber_opt_in(subscriber=subscriber, source="keyword", raw_text="JOIN")
    MessageFactory(subscriber=subscriber, body="What size do you usually wear?")
    EventFactory(subscriber=subscriber, type="cart_abandoned")
    page = staff_client.get(reverse("admin:conversations_subscriber_change", args=[subscriber.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    for text in [
        "Medium",
        "Vegan",
        "flow_run:12",
        "JOIN",
        "What size do you usually wear?",
        "cart_abandoned",
        "Clothing size",
        "Opt-in",
    ]:
        assert text in html, text


def test_editing_attributes_in_the_admin_goes_through_the_service(staff_client, subscriber):
    url = reverse("admin:conversations_subscriber_change", args=[subscriber.pk])
    form = {
        "phone": "+14155550100",
        "first_name": "Ana",
        "last_name": "Lima",
        "email": "",
        "time_zone": "",
        "attribute__size": "L",
        "attribute__diet": ["vegan", "gluten_free"],
        "attribute__gift_recipient": "",
    }
    response = staff_client.post(url, form)
    assert response.status_code == 302, response.context["adminform"].form.errors
    subscriber.refresh_from_db()
    assert subscriber.attributes == {"size": "L", "diet": ["vegan", "gluten_free"]}
    assert subscriber.time_zone == "America/Los_Angeles"
    change = AttributeChange.objects.get(key="size")
    assert (change.source, change.changed_by.username) == ("agent", "staff")


def test_admin_refuses_a_bad_phone_and_a_taken_phone(staff_client, subscriber):
    add = reverse("admin:conversations_subscriber_add")
    response = staff_client.post(add, {"phone": "12345", "time_zone": ""})
    assert "wrong number of digits" in response.content.decode()
    response = staff_client.post(add, {"phone": "415 555 0100", "time_zone": ""})
    assert "already has the number +14155550100" in response.content.decode()
    response = staff_client.post(add, {"phone": "212 555 0199", "time_zone": "Narnia/Cair"})
    assert "not an IANA time zone" in response.content.decode()
    assert Subscriber.objects.count() == 1


def test_admin_add_creates_a_pending_subscriber(staff_client):
    response = staff_client.post(
        reverse("admin:conversations_subscriber_add"),
        {"phone": "212 555 0199", "time_zone": "", "attribute__offer_preference": "tiered"},
    )
    assert response.status_code == 302
    created = Subscriber.objects.get()
    assert (created.phone, created.status, created.attributes) == (
        "+12125550199",
        "pending",
        {"offer_preference": "tiered"},
    )


def test_opt_out_action_records_revocations(staff_client, shoppers):
    ana = shoppers[0]
    staff_client.post(CHANGELIST, {"action": "opt_out_selected", "_selected_action": [ana.pk]})
    ana.refresh_from_db()
    assert ana.status == Subscriber.Status.UNSUBSCRIBED
    assert ConsentEvent.objects.get().source == "admin"


def test_consent_records_cannot_be_edited_or_deleted(staff_client, subscriber):
    event = services.subscriber_opt_in(subscriber=subscriber, source="keyword", raw_text="JOIN")
    url = reverse("admin:conversations_consentevent_change", args=[event.pk])
    assert staff_client.get(url).status_code == 200  # view only
    staff_client.post(url, {"raw_text": "changed"})
    event.refresh_from_db()
    assert event.raw_text == "JOIN"
    assert staff_client.post(reverse("admin:conversations_consentevent_delete", args=[event.pk])).status_code == 403


def test_attribute_definition_admin_validates_options(staff_client):
    response = staff_client.post(
        reverse("admin:conversations_attributedefinition_add"),
        {"key": "Fit Type", "label": "Fit", "type": "single_choice", "options": '[{"value": "slim"}]'},
    )
    body = response.content.decode()
    assert "key must start with a lower-case letter" in body
    assert "option 1 (slim) needs a label" in body
    assert not AttributeDefinition.objects.filter(label="Fit").exists()


@pytest.mark.parametrize(
    "name", ["attributechange", "consentevent", "message", "event", "tag", "attributedefinition", "subscriber"]
)
def test_every_admin_list_renders(staff_client, subscriber, name):
    services.subscriber_opt_in(subscriber=subscriber, source="keyword")
    MessageFactory(subscriber=subscriber)
    EventFactory(subscriber=subscriber)
    assert staff_client.get(reverse(f"admin:conversations_{name}_changelist")).status_code == 200


def test_message_and_consent_lists_find_a_phone_typed_any_way(staff_client, shoppers):
    ana, bo, _ = shoppers
    MessageFactory(subscriber=ana, body="for ana")
    MessageFactory(subscriber=bo, body="for bo")
    services.subscriber_opt_in(subscriber=ana, source="keyword")
    services.subscriber_opt_in(subscriber=bo, source="keyword")
    messages = staff_client.get(reverse("admin:conversations_message_changelist"), {"q": "415.555.0100"})
    assert [m.body for m in messages.context["cl"].result_list] == ["for ana"]
    consent = staff_client.get(reverse("admin:conversations_consentevent_changelist"), {"q": "(212) 555-0101"})
    assert [c.phone for c in consent.context["cl"].result_list] == ["+12125550101"]
    by_text = staff_client.get(reverse("admin:conversations_message_changelist"), {"q": "for bo"})
    assert [m.body for m in by_text.context["cl"].result_list] == ["for bo"]


def test_long_messages_carry_their_warning_in_the_admin(staff_client, subscriber):
    long = MessageFactory(subscriber=subscriber, body="a" * 500, segments=4)
    listing = staff_client.get(reverse("admin:conversations_message_changelist")).content.decode()
    assert "4 ⚠" in listing
    page = staff_client.get(reverse("admin:conversations_message_change", args=[long.pk])).content.decode()
    assert "this text takes 4 segments" in page


def test_staff_can_delete_a_subscriber_with_history(staff_client, subscriber):
    services.subscriber_attributes_set(subscriber=subscriber, changes={"size": "M"}, source="flow")
    services.subscriber_opt_in(subscriber=subscriber, source="keyword", raw_text="JOIN")
    url = reverse("admin:conversations_subscriber_delete", args=[subscriber.pk])
    assert staff_client.post(url, {"post": "yes"}).status_code == 302
    assert not Subscriber.objects.exists()
    assert ConsentEvent.objects.get().phone == "+14155550100"  # consent stays provable


def test_the_admin_will_not_move_consent_to_another_number(staff_client, subscriber):
    url = reverse("admin:conversations_subscriber_change", args=[subscriber.pk])
    response = staff_client.post(url, {"phone": "212 555 0100", "first_name": "Ana", "time_zone": ""})
    assert "consent belongs to it" in response.content.decode()
    subscriber.refresh_from_db()
    assert subscriber.phone == "+14155550100"
