import pytest
from django.core.exceptions import ValidationError

from conversations import services
from conversations.models import AttributeChange, AttributeDefinition, ConsentEvent, Subscriber
from tests.conftest import load_data
from tests.factories import MessageFactory, SubscriberFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_the_default_attribute_definitions_are_exactly_the_shared_ones():
    stored = {
        d.key: {"key": d.key, "label": d.label, "type": d.type, "options": d.options}
        for d in AttributeDefinition.objects.all()
    }
    assert stored == {item["key"]: item for item in load_data("attributes.json")}


def test_create_normalizes_the_phone_and_derives_the_time_zone():
    subscriber = services.subscriber_create(phone="(312) 555-0142", first_name="Ana")
    assert subscriber.phone == "+13125550142"
    assert subscriber.time_zone == "America/Chicago"
    assert subscriber.status == Subscriber.Status.PENDING
    assert not subscriber.consent_events.exists()


def test_create_refuses_a_bad_number_and_writes_nothing():
    with pytest.raises(ValidationError) as error:
        services.subscriber_create(phone="12")
    assert "phone" in error.value.message_dict
    assert not Subscriber.objects.exists()


def test_create_refuses_a_duplicate_in_any_format(subscriber):
    with pytest.raises(ValidationError, match="already has the number"):
        services.subscriber_create(phone="415-555-0100")


def test_create_with_bad_attributes_writes_nothing():
    with pytest.raises(services.AttributeErrors) as error:
        services.subscriber_create(phone="+14155550111", attributes={"size": "M", "diet": ["paleo"]})
    assert list(error.value.by_key) == ["diet"]
    assert not Subscriber.objects.exists()
    assert not AttributeChange.objects.exists()


def test_create_subscribed_records_the_consent():
    subscriber = services.subscriber_create(
        phone="+14155550111", subscribed=True, consent_details={"page_url": "https://shop.example.com/"}
    )
    assert subscriber.status == Subscriber.Status.SUBSCRIBED
    event = subscriber.consent_events.get()
    assert (event.kind, event.source, event.phone) == ("opt_in", "api", "+14155550111")
    assert event.details == {"page_url": "https://shop.example.com/"}
    assert subscriber.opted_in_at == event.occurred_at


def test_attributes_set_records_each_real_change_with_provenance(subscriber):
    agent = UserFactory(username="agent-ann")
    services.subscriber_attributes_set(
        subscriber=subscriber, changes={"size": "m", "diet": ["vegan"]}, source="flow", reference="flow_run:7"
    )
    services.subscriber_attributes_set(
        subscriber=subscriber, changes={"size": "L", "diet": ["vegan"]}, source="agent", user=agent
    )
    subscriber.refresh_from_db()
    assert subscriber.attributes == {"size": "L", "diet": ["vegan"]}
    history = list(
        subscriber.attribute_changes.order_by("id").values_list(
            "key", "old_value", "new_value", "source", "reference", "changed_by__username"
        )
    )
    assert history == [
        ("size", None, "M", "flow", "flow_run:7", None),
        ("diet", None, ["vegan"], "flow", "flow_run:7", None),
        ("size", "M", "L", "agent", "", "agent-ann"),
    ]


def test_attributes_set_none_removes_a_key(subscriber):
    services.subscriber_attributes_set(subscriber=subscriber, changes={"size": "S"}, source="api")
    services.subscriber_attributes_set(subscriber=subscriber, changes={"size": None}, source="api")
    subscriber.refresh_from_db()
    assert subscriber.attributes == {}
    assert subscriber.attribute_changes.first().new_value is None


def test_attributes_set_refuses_all_when_one_is_bad(subscriber):
    services.subscriber_attributes_set(subscriber=subscriber, changes={"size": "S"}, source="api")
    with pytest.raises(services.AttributeErrors) as error:
        services.subscriber_attributes_set(
            subscriber=subscriber, changes={"size": "M", "shoe": "9", "gender": "robot"}, source="api"
        )
    assert set(error.value.by_key) == {"shoe", "gender"}
    assert "'shoe' is not a defined attribute" in error.value.by_key["shoe"][0]
    subscriber.refresh_from_db()
    assert subscriber.attributes == {"size": "S"}
    assert subscriber.attribute_changes.count() == 1


def test_update_is_all_or_nothing(subscriber):
    with pytest.raises(ValidationError):
        services.subscriber_update(subscriber=subscriber, first_name="Changed", attributes={"size": "XXXL"})
    subscriber.refresh_from_db()
    assert subscriber.first_name == "Ana"


def test_a_pending_subscribers_phone_may_change_and_a_derived_zone_follows_it():
    pending = services.subscriber_create(phone="415 555 0100")
    services.subscriber_update(subscriber=pending, phone="212 555 0100")
    assert (pending.phone, pending.time_zone) == ("+12125550100", "America/New_York")
    services.subscriber_update(subscriber=pending, time_zone="America/Denver")
    services.subscriber_update(subscriber=pending, phone="312 555 0100")
    pending.refresh_from_db()
    assert (pending.phone, pending.time_zone) == ("+13125550100", "America/Denver")  # set by hand: it stays


@pytest.mark.parametrize("status", ["subscribed", "unsubscribed"])
def test_a_number_with_consent_on_record_cannot_change(subscriber, status):
    Subscriber.objects.filter(pk=subscriber.pk).update(status=status)
    subscriber.refresh_from_db()
    with pytest.raises(ValidationError, match="consent belongs to it"):
        services.subscriber_update(subscriber=subscriber, phone="212 555 0100")
    subscriber.refresh_from_db()
    assert subscriber.phone == "+14155550100"


def test_subscribing_needs_proof_and_never_overrides_an_opt_out():
    with pytest.raises(ValidationError, match="proof of consent"):
        services.subscriber_create(phone="+14155550111", subscribed=True)
    first = services.subscriber_create(phone="+14155550111", subscribed=True, consent_details={"form": "popup"})
    services.subscriber_opt_out(subscriber=first, source="keyword", raw_text="STOP")
    services.subscriber_delete(subscriber=first)
    with pytest.raises(ValidationError, match="only the shopper can resubscribe"):
        services.subscriber_create(phone="(415) 555-0111", subscribed=True, consent_details={"form": "popup"})
    assert not Subscriber.objects.exists()
    again = services.subscriber_create(phone="(415) 555-0111")  # as pending, without consent, is fine
    assert again.status == "pending"


def test_a_value_whose_definition_is_gone_can_still_be_removed(subscriber):
    Subscriber.objects.filter(pk=subscriber.pk).update(attributes={"retired": "x", "size": "M"})
    subscriber.refresh_from_db()
    services.subscriber_attributes_set(subscriber=subscriber, changes={"retired": None}, source="api")
    subscriber.refresh_from_db()
    assert subscriber.attributes == {"size": "M"}


@pytest.mark.parametrize("zone", ["Mars/Olympus", "Factory", "posixrules", "", "america/new_york"])
def test_update_refuses_an_unknown_time_zone(subscriber, zone):
    with pytest.raises(ValidationError, match="not an IANA time zone"):
        services.subscriber_update(subscriber=subscriber, time_zone=zone)


def test_tags_are_normalized_and_replaced(subscriber):
    services.subscriber_update(subscriber=subscriber, tags=["VIP", "vip", "in-store"])
    assert sorted(subscriber.tags.values_list("name", flat=True)) == ["in-store", "vip"]
    services.subscriber_update(subscriber=subscriber, tags=["loyalty"])
    assert list(subscriber.tags.values_list("name", flat=True)) == ["loyalty"]
    with pytest.raises(ValidationError, match="is not a tag"):
        services.subscriber_update(subscriber=subscriber, tags=["big spender"])


def test_opt_out_and_consent_events_are_append_only(subscriber):
    event = services.subscriber_opt_out(subscriber=subscriber, source="keyword", raw_text="STOP")
    subscriber.refresh_from_db()
    assert subscriber.status == Subscriber.Status.UNSUBSCRIBED
    assert subscriber.opted_out_at == event.occurred_at
    event.raw_text = "something else"
    with pytest.raises(ValueError, match="append-only"):
        event.save()


def test_delete_keeps_consent_records_by_phone(subscriber):
    services.subscriber_opt_in(subscriber=subscriber, source="keyword", raw_text="JOIN")
    MessageFactory(subscriber=subscriber)
    services.subscriber_delete(subscriber=subscriber)
    record = ConsentEvent.objects.get()
    assert (record.subscriber, record.phone, record.raw_text) == (None, "+14155550100", "JOIN")


@pytest.mark.parametrize(("key", "value", "expected"), [("size", "M", {"a"}), ("diet", "vegan", {"a", "b"})])
def test_with_attribute_matches_single_values_and_list_members(key, value, expected):
    SubscriberFactory(first_name="a", attributes={"size": "M", "diet": ["vegan", "keto"]})
    SubscriberFactory(first_name="b", attributes={"size": "L", "diet": ["vegan"]})
    SubscriberFactory(first_name="c", attributes={"size": "S", "diet": ["vegetarian"]})
    SubscriberFactory(first_name="d", attributes={})
    found = set(Subscriber.objects.with_attribute(key, value).values_list("first_name", flat=True))
    assert found == expected


def test_attribute_definition_save_refuses_clashing_synonyms():
    with pytest.raises(ValidationError) as error:
        services.attribute_definition_save(
            definition=AttributeDefinition(
                key="fit",
                label="Fit",
                type="single_choice",
                options=[
                    {"value": "slim", "label": "Slim", "synonyms": ["tight"]},
                    {"value": "regular", "label": "Regular", "synonyms": ["Tight"]},
                ],
            )
        )
    assert error.value.message_dict == {"options": ["'Tight' is used by both slim and regular"]}
    assert not AttributeDefinition.objects.filter(key="fit").exists()


def test_ensure_defaults_adds_only_what_is_missing():
    AttributeDefinition.objects.filter(key__in=["size", "diet"]).delete()
    assert services.attribute_definitions_ensure_defaults() == ["size", "diet"]
    assert services.attribute_definitions_ensure_defaults() == []
