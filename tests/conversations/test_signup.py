"""Web sign-up: the public endpoint, double opt-in by Y, protection, the hosted page, QR code and the numbers."""

import gzip
import json
from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.auth.models import Permission
from django.utils import timezone
from django.utils.html import escape

from conversations.inbox import services as inbox
from conversations.models import ConsentEvent, Conversation, Message, SignupAttempt, SignupForm, SignupViews, Subscriber
from conversations.services import inbound_receive
from conversations.signup.demo import signup_form_load
from conversations.signup.views import text_to_join_uri
from flows.models import FlowRun
from flows.services import flow_templates_load
from tests.factories import SubscriberFactory, UserFactory

ROOT = Path(__file__).resolve().parents[2]
STORE = "https://shop.example.com"


@pytest.fixture
def form(db, settings):
    settings.SIGNUP_LIMIT_PER_IP = 10
    flow_templates_load()  # the welcome quiz starts on a confirmed sign-up
    signup_form_load()
    form = SignupForm.objects.get(slug="welcome")
    form.allowed_origins = STORE
    form.save()
    return form


def submit(client, data, *, origin=STORE, ip="203.0.113.7", slug="welcome"):
    headers = {"HTTP_ORIGIN": origin} if origin else {}
    return client.post(
        f"/signup/{slug}/",
        json.dumps(data),
        content_type="application/json",
        REMOTE_ADDR=ip,
        HTTP_USER_AGENT="Mozilla/5.0 (iPhone)",
        **headers,
    )


SHOPPER = {"phone": "(415) 555-0142", "consent": True, "answer": "partner", "page_url": f"{STORE}/products/balm"}


def test_a_sign_up_is_pending_with_its_proof_and_gets_the_confirmation_request(client, form):
    response = submit(client, SHOPPER)
    assert response.status_code == 201
    assert response.json()["status"] == "requested" and response.json()["message"].startswith(form.thank_you_text)
    assert response["Access-Control-Allow-Origin"] == STORE
    shopper = Subscriber.objects.get(phone="+14155550142")
    assert shopper.status == "pending" and shopper.attributes == {"gift_recipient": "partner"}
    request = ConsentEvent.objects.get(subscriber=shopper)
    assert request.kind == "requested" and request.source == "web" and request.raw_text == form.disclosure
    assert request.details["disclosure"] == form.disclosure and request.details["disclosure_version"] == 1
    assert request.details["page_url"] == f"{STORE}/products/balm"
    assert request.details["ip"] == "203.0.113.7" and request.details["user_agent"] == "Mozilla/5.0 (iPhone)"
    assert request.details["checkbox"] is True
    (text,) = Message.objects.filter(subscriber=shopper)
    assert text.purpose == "system" and "Reply Y to confirm" in text.body and "Msg & data rates may apply" in text.body


@pytest.mark.parametrize("reply", ["Y", "yes", "Yes!", " y ", "YES please", "y thanks", "Yes. Thank you"])
def test_their_y_subscribes_them_records_consent_and_starts_the_welcome_quiz(client, form, reply):
    submit(client, SHOPPER)
    result = inbound_receive(from_number="+14155550142", body=reply)
    shopper = Subscriber.objects.get(phone="+14155550142")
    assert shopper.status == "subscribed" and shopper.consent_source == "web"
    opt_in = ConsentEvent.objects.get(subscriber=shopper, kind="opt_in")
    assert opt_in.raw_text == reply and opt_in.details["disclosure"] == form.disclosure
    assert opt_in.details["page_url"] == f"{STORE}/products/balm" and opt_in.details["requested"]
    assert "You're in!" in result.replies[0].body
    assert FlowRun.objects.filter(subscriber=shopper, flow__name="Welcome quiz").exists()
    assert SignupAttempt.objects.get(outcome="requested").confirmed_at is not None


def test_their_y_confirms_the_sign_up_even_while_an_agent_is_talking_with_them(client, form):
    """The confirmation is the first link of the inbound chain: an open conversation does not swallow the Y."""
    submit(client, SHOPPER)
    shopper = Subscriber.objects.get(phone="+14155550142")
    inbox.conversation_open(subscriber=shopper, reason="agent")
    result = inbound_receive(from_number=shopper.phone, body="yes")
    shopper.refresh_from_db()
    assert shopper.status == "subscribed" and "You're in!" in result.replies[0].body
    assert Conversation.objects.get(subscriber=shopper).unread == 0  # the Y was the sign-up's, not the agent's


@pytest.mark.parametrize("reply", ["yeah maybe", "yes no", "why", "yes but what does it cost?"])
def test_a_reply_that_is_not_a_plain_yes_does_not_subscribe(client, form, reply):
    submit(client, SHOPPER)
    inbound_receive(from_number="+14155550142", body=reply)
    assert Subscriber.objects.get(phone="+14155550142").status == "pending"


def test_a_y_after_a_week_does_not_subscribe(client, form, monkeypatch):
    submit(client, SHOPPER)
    later = timezone.now() + timedelta(days=8)
    monkeypatch.setattr(timezone, "now", lambda: later)
    inbound_receive(from_number="+14155550142", body="Y")
    assert Subscriber.objects.get(phone="+14155550142").status == "pending"
    assert not ConsentEvent.objects.filter(kind="opt_in").exists()


def test_a_subscribed_number_is_not_texted_again_and_the_answer_tells_nobody_it_is(client, form):
    SubscriberFactory(phone="+14155550142", status="subscribed")
    response = submit(client, SHOPPER)
    new = submit(client, {**SHOPPER, "phone": "+13125550142"})
    # Nothing to learn (browse_id names each submission, whatever came of it: tests/commerce/test_browse.py).
    assert response.status_code == new.status_code
    assert {**response.json(), "browse_id": ""} == {**new.json(), "browse_id": ""}
    assert not Message.objects.filter(subscriber__phone="+14155550142").exists()
    assert SignupAttempt.objects.filter(outcome="already").count() == 1


def test_a_number_that_opted_out_is_never_texted_by_a_form_even_once_deleted(client, form):
    from conversations.services import subscriber_delete

    shopper = SubscriberFactory(phone="+14155550142", status="subscribed")
    inbound_receive(from_number=shopper.phone, body="STOP")
    texts = Message.objects.count()
    response = submit(client, SHOPPER)
    assert response.status_code == 201 and "Text JOIN to +18885550000" in response.json()["message"]
    assert Message.objects.count() == texts
    subscriber_delete(subscriber=Subscriber.objects.get(pk=shopper.pk))
    submit(client, SHOPPER, ip="198.51.100.2")
    assert not Subscriber.objects.filter(phone=shopper.phone).exists()  # their consent records outlive them
    assert list(SignupAttempt.objects.values_list("outcome", flat=True)) == ["opted_out", "opted_out"]
    inbound_receive(from_number=shopper.phone, body="START")  # when they ask, they are back
    assert Subscriber.objects.get(phone=shopper.phone).status == "subscribed"


def test_numbers_from_countries_the_form_does_not_take_are_refused(client, form):
    for number in ["+2348031234567", "+37369123456", "+442079460123"]:
        response = submit(client, {**SHOPPER, "phone": number})
        assert response.status_code == 400 and "numbers from US only" in str(response.json()["errors"])
    assert not Message.objects.exists()
    form.other_countries = "GB"
    form.save()
    assert submit(client, {**SHOPPER, "phone": "+442079460123"}).status_code == 201
    assert submit(client, {**SHOPPER, "phone": "020 7946 0124", "country": "GB"}).status_code == 201
    assert Subscriber.objects.filter(phone="+442079460124").exists()


def test_a_submission_under_wording_that_changed_since_is_refused(client, form):
    response = submit(client, {**SHOPPER, "version": 1})
    assert response.status_code == 201
    form.disclosure += " Now with more."
    form.save(update_fields=["disclosure"])
    stale = submit(client, {**SHOPPER, "phone": "+13125550142", "version": 1})
    assert stale.status_code == 409 and "changed" in stale.json()["message"]
    assert submit(client, {**SHOPPER, "phone": "+13125550142", "version": 2}).status_code == 201


def test_a_second_submission_for_a_pending_number_changes_nothing_until_their_y(client, form):
    submit(client, {**SHOPPER, "email": "ana@example.com"})
    submit(client, {**SHOPPER, "email": "someone@else.example", "answer": "child"}, ip="198.51.100.5")
    shopper = Subscriber.objects.get(phone="+14155550142")
    assert (shopper.email, shopper.attributes) == ("ana@example.com", {"gift_recipient": "partner"})
    inbound_receive(from_number=shopper.phone, body="Y")  # confirms the latest request
    shopper.refresh_from_db()
    assert shopper.status == "subscribed" and shopper.attributes == {"gift_recipient": "child"}


def test_ipv6_addresses_of_one_household_share_the_limit(client, form):
    statuses = [
        submit(client, {**SHOPPER, "phone": f"+1212555{index:04d}"}, ip=f"2001:db8:1:2::{index:x}").status_code
        for index in range(12)
    ]
    assert statuses == [201] * 10 + [429] * 2


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({**SHOPPER, "phone": "12"}, "phone"),
        ({**SHOPPER, "phone": ""}, "phone"),
        ({**SHOPPER, "consent": False}, "consent"),
        ({**SHOPPER, "email": "not-an-address"}, "email"),
        ({**SHOPPER, "answer": "my cat"}, "answer"),
    ],
)
def test_bad_input_is_named_and_changes_nothing(client, form, data, field):
    response = submit(client, data)
    assert response.status_code == 400
    assert field in response.json()["errors"] and response.json()["message"]
    assert not Subscriber.objects.exists() and not Message.objects.exists()
    assert SignupAttempt.objects.get().outcome == "invalid"


def test_the_honeypot_looks_like_success_to_a_bot_and_does_nothing(client, form):
    response = submit(client, {**SHOPPER, "website": "https://spam.example"})
    assert response.status_code == 201
    assert not Subscriber.objects.exists() and not Message.objects.exists()
    assert SignupAttempt.objects.get().outcome == "bot"


def test_twenty_quick_submissions_from_one_address_are_refused_after_the_limit(client, form):
    statuses = [submit(client, {**SHOPPER, "phone": f"+1212555{index:04d}"}).status_code for index in range(20)]
    assert statuses == [201] * 10 + [429] * 10
    refused = submit(client, {**SHOPPER, "phone": "+12125550999"})
    assert "Too many sign-ups from this connection" in refused.json()["message"]
    assert Message.objects.count() == 10
    assert submit(client, {**SHOPPER, "phone": "+12125550999"}, ip="198.51.100.9").status_code == 201


def test_one_number_gets_at_most_three_requests_an_hour(client, form):
    statuses = [submit(client, SHOPPER, ip=f"198.51.100.{index}").status_code for index in range(5)]
    assert statuses == [201, 201, 201, 429, 429]
    assert Message.objects.count() == 3


def test_only_the_stores_sites_may_use_the_form(client, form):
    refused = submit(client, SHOPPER, origin="https://evil.example")
    assert refused.status_code == 403 and "Access-Control-Allow-Origin" not in refused
    assert not Subscriber.objects.exists()
    preflight = client.options("/signup/welcome/", HTTP_ORIGIN=STORE, HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST")
    assert preflight.status_code == 204 and preflight["Access-Control-Allow-Origin"] == STORE
    assert client.get("/signup/welcome/config.json", HTTP_ORIGIN="https://evil.example").status_code == 403
    config = client.get("/signup/welcome/config.json", HTTP_ORIGIN=STORE)
    assert config.json()["question"]["options"][1] == {"value": "partner", "label": "Partner"}
    form.is_active = False
    form.save()
    assert submit(client, SHOPPER).status_code == 404


def test_a_new_wording_is_a_new_version_and_consent_keeps_the_one_agreed_to(client, form):
    submit(client, SHOPPER)
    form.disclosure += " Updated."
    form.save()
    form.refresh_from_db()
    assert form.disclosure_version == 2
    submit(client, {**SHOPPER, "phone": "+13125550142"})
    versions = dict(ConsentEvent.objects.values_list("phone", "details__disclosure_version"))
    assert versions == {"+14155550142": 1, "+13125550142": 2}


def test_the_hosted_page_signs_up_without_javascript_and_shows_the_qr_code(client, form):
    page = client.get("/join/welcome/")
    assert page.status_code == 200 and escape(form.disclosure) in page.content.decode()
    assert 'href="sms:+18885550000?body=JOIN"' in page.content.decode()
    response = client.post("/join/welcome/", {"phone": "415 555 0143", "consent": "on", "answer": "myself"})
    assert form.thank_you_text in response.content.decode()
    assert ConsentEvent.objects.get(phone="+14155550143").details["page_url"].endswith("/join/welcome/")
    bad = client.post("/join/welcome/", {"phone": "555", "consent": "on"})
    assert bad.status_code == 400 and "not a valid phone number" in bad.content.decode()
    svg = client.get("/join/welcome/qr.svg")
    assert svg["Content-Type"] == "image/svg+xml" and b"<svg" in svg.content
    png = client.get("/join/welcome/qr.svg?format=png")
    assert png["Content-Type"] == "image/png" and png.content[:8] == b"\x89PNG\r\n\x1a\n"
    assert text_to_join_uri(form) == "sms:+18885550000?body=JOIN"


def test_texting_the_keyword_of_the_qr_code_subscribes_at_once(db, form):
    result = inbound_receive(from_number="+14155550144", body="join")
    shopper = Subscriber.objects.get(phone="+14155550144")
    assert shopper.status == "subscribed" and "You're in!" in result.replies[0].body
    assert ConsentEvent.objects.get(subscriber=shopper).source == "keyword"


def test_the_funnel_counts_views_submissions_and_confirmations(client, form):
    for _ in range(4):
        assert client.post("/signup/welcome/seen", HTTP_ORIGIN=STORE).status_code == 204
    assert SignupViews.objects.get(form=form).views == 4
    submit(client, SHOPPER)
    submit(client, {**SHOPPER, "phone": "+13125550142"})
    inbound_receive(from_number="+14155550142", body="Y")
    staff = UserFactory(username="store", is_staff=True)
    client.force_login(staff)
    assert client.get("/signup/stats/").status_code == 403
    staff.user_permissions.add(Permission.objects.get(codename="view_signupform"))
    page = client.get("/signup/stats/").content.decode()
    row = page.split('data-form="welcome"')[1].split("</tr>")[0]
    cells = [cell.split("<")[0] for cell in row.split("<td>")[1:]]
    assert cells == ["4", "2", "1", "50.0 %", "50.0 %"]


def test_the_pop_up_script_keeps_to_its_size_budget(client, form):
    script = client.get("/signup/embed.js")
    assert script["Content-Type"] == "text/javascript"
    assert len(gzip.compress(script.content)) <= 15 * 1024
    assert b"http://" not in script.content.replace(b"http://www.w3.org", b"")  # no other servers


def test_behind_a_trusted_proxy_the_limit_counts_the_forwarded_address(client, form, settings):
    settings.SIGNUP_TRUST_X_FORWARDED_FOR = True
    for index in range(10):
        response = client.post(
            "/signup/welcome/",
            json.dumps({**SHOPPER, "phone": f"+1212555{index:04d}"}),
            content_type="application/json",
            REMOTE_ADDR="10.0.0.1",  # the load balancer
            HTTP_X_FORWARDED_FOR=f"198.51.100.{index}",
        )
        assert response.status_code == 201
    assert ConsentEvent.objects.filter(details__ip="198.51.100.9").exists()


def test_the_admin_keeps_origins_as_browsers_send_them_and_refuses_what_would_never_match(form):
    from conversations.signup.admin import SignupFormForm

    data = {
        field: getattr(form, field)
        for field in SignupFormForm.Meta.fields
        if field not in ("allowed_origins", "slug", "other_countries")
    }
    good = SignupFormForm(
        data={
            **data,
            "slug": "shop",
            "allowed_origins": "https://Shop.Example.com:443/\nhttp://localhost:8000",
            "other_countries": "ca, gb",
        },
        instance=SignupForm(),
    )
    assert good.is_valid(), good.errors
    assert good.cleaned_data["allowed_origins"] == "https://shop.example.com\nhttp://localhost:8000"
    assert good.cleaned_data["other_countries"] == "CA GB"
    for field, value in [
        ("allowed_origins", "https://*.example.com"),
        ("allowed_origins", "https://shop.example.com/landing"),
        ("slug", "preview"),
        ("other_countries", "Canada"),
        ("keyword", "PLEASE"),
    ]:
        bad = SignupFormForm(data={**data, "slug": "shop", "allowed_origins": "", "other_countries": "", field: value})
        assert not bad.is_valid() and field in bad.errors, (field, value)


def test_texting_join_records_the_program_terms_it_agreed_to(db, form):
    inbound_receive(from_number="+14155550145", body="JOIN")
    record = ConsentEvent.objects.get(phone="+14155550145", kind="opt_in")
    assert "You're in!" in record.details["program_terms"] and len(record.details["program_terms_sha256"]) == 64
