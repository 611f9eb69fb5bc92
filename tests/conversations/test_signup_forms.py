"""Sign-up forms are made and changed through conversations.signup.services: the same rules for the admin and any
other writer, and a new wording of the disclosure is always a new version."""

import pytest
from django.core.exceptions import ValidationError

from conversations.models import AttributeDefinition, SignupForm
from conversations.signup.services import signup_form_create, signup_form_rules, signup_form_update
from tests.factories import UserFactory

FIELDS = {
    "slug": "spring",
    "name": "Spring pop-up",
    "disclosure": "By signing up you agree to receive recurring automated marketing texts. Reply STOP to cancel.",
    "keyword": "join",
    "allowed_origins": "https://Shop.Example.com:443/\nhttps://shop.example.com",
    "other_countries": "ca, gb",
    "country": "us",
}


def test_a_form_is_made_with_its_fields_as_browsers_and_the_pipeline_read_them(db):
    form = signup_form_create(fields=FIELDS)
    form.refresh_from_db()
    assert (form.keyword, form.country, form.other_countries) == ("JOIN", "US", "CA GB")
    assert form.allowed_origins == "https://shop.example.com" and form.disclosure_version == 1


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("slug", "embed", "names one of Parley's own pages"),
        ("keyword", "PLEASE", "texting PLEASE would not sign anyone up"),
        ("allowed_origins", "https://*.example.com", "is not an origin"),
        ("other_countries", "Canada", "not country codes such as CA or GB"),
        ("country", "XX", "is not a country code"),
        ("question_attribute", "shoe_size", "no attribute with options is called 'shoe_size'"),
        ("slug", "not a slug", "valid “slug”"),
        ("name", "", "cannot be blank"),
    ],
)
def test_every_writer_gets_the_rules_with_the_field_named(db, field, value, message):
    with pytest.raises(ValidationError) as refused:
        signup_form_create(fields={**FIELDS, field: value})
    assert message in " ".join(refused.value.message_dict[field])
    assert not SignupForm.objects.exists()


def test_the_rules_check_only_the_fields_given(db):
    assert signup_form_rules({"keyword": " join "}) == {"keyword": "JOIN"}
    with pytest.raises(ValidationError) as refused:
        signup_form_rules({"keyword": 7, "headline": "Hi"})
    assert refused.value.message_dict == {"keyword": ["keyword must be text"]}


def test_a_change_writes_only_its_fields_and_a_new_wording_is_the_next_version(db):
    form = signup_form_create(fields=FIELDS)
    stale = SignupForm.objects.get(pk=form.pk)
    signup_form_update(form=form, changes={"headline": "Spring sale"})
    signup_form_update(form=stale, changes={"disclosure": FIELDS["disclosure"] + " Msg & data rates may apply."})
    form.refresh_from_db()
    assert form.headline == "Spring sale" and form.disclosure_version == 2  # the stale copy kept the headline
    signup_form_update(form=form, changes={"disclosure": form.disclosure, "is_active": False})
    form.refresh_from_db()
    assert form.disclosure_version == 2 and not form.is_active  # the same wording is no new version
    with pytest.raises(ValidationError) as refused:
        signup_form_update(form=form, changes={"slug": "stats"})
    assert "slug" in refused.value.message_dict


def test_the_admin_makes_and_changes_forms_through_the_services(client, db):
    AttributeDefinition.objects.get_or_create(
        key="gift_recipient",
        defaults={"label": "Gift for", "type": "single_choice", "options": [{"value": "me", "label": "Me"}]},
    )
    client.force_login(UserFactory(username="boss", is_staff=True, is_superuser=True))
    data = {
        **FIELDS,
        "is_active": "on",
        "headline": "Get 15% off",
        "offer_text": "",
        "button_text": "Text me",
        "question_attribute": "",
        "question_text": "",
        "trigger": "delay",
        "trigger_value": "5",
        "hide_days_after_close": "14",
        "thank_you_text": "Almost there!",
    }
    added = client.post("/admin/conversations/signupform/add/", data)
    assert added.status_code == 302, added.content.decode()[:2000]
    form = SignupForm.objects.get(slug="spring")
    assert form.keyword == "JOIN" and form.allowed_origins == "https://shop.example.com"
    changed = client.post(
        f"/admin/conversations/signupform/{form.pk}/change/", {**data, "disclosure": "New terms. Reply STOP."}
    )
    assert changed.status_code == 302
    form.refresh_from_db()
    assert form.disclosure == "New terms. Reply STOP." and form.disclosure_version == 2
    refused = client.post(f"/admin/conversations/signupform/{form.pk}/change/", {**data, "slug": "preview"})
    assert refused.status_code == 200 and "names one of Parley&#x27;s own pages" in refused.content.decode()
