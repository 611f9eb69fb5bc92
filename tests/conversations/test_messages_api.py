import pytest
from django_q.models import OrmQ

from conversations.models import Message
from conversations.outbox import message_queue
from conversations.outbox import queue as outbox_queue
from tests.factories import MessageFactory, SubscriberFactory

pytestmark = pytest.mark.django_db
URL = "/api/v1/messages/"


def test_send_a_text_through_the_gate(api, api_user):
    shopper = SubscriberFactory(status="subscribed")
    response = api.post(URL, {"subscriber": shopper.pk, "body": "Your order shipped!"}, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["status"], body["direction"], body["origin"], body["segments"], body["encoding"]) == (
        "queued",
        "outbound",
        "agent",
        1,
        "GSM-7",
    )
    assert Message.objects.get(pk=body["id"]).sent_by == api_user


def test_a_refused_send_says_why(api):
    gone = SubscriberFactory(status="unsubscribed")
    response = api.post(URL, {"subscriber": gone.pk, "body": "Come back!"}, format="json")
    assert response.status_code == 422
    assert response.json()["code"] == "opted_out"
    assert "opted out" in response.json()["detail"]
    pending = SubscriberFactory(status="pending")
    response = api.post(URL, {"subscriber": pending.pk, "body": "Deal!", "purpose": "marketing"}, format="json")
    assert (response.status_code, response.json()["code"]) == (422, "no_consent")
    assert not Message.objects.exists()


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"body": "hi"}, "subscriber"),
        ({"subscriber": 999999, "body": "hi"}, "subscriber"),
        ({"subscriber": "PK", "body": "x" * 1601}, "body"),
        ({"subscriber": "PK", "body": ""}, "body"),
        ({"subscriber": "PK", "body": "hi", "purpose": "opt_out_confirmation"}, "purpose"),
    ],
)
def test_bad_sends_name_the_field(api, payload, field):
    shopper = SubscriberFactory()
    payload = {key: shopper.pk if value == "PK" else value for key, value in payload.items()}
    response = api.post(URL, payload, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert not Message.objects.exists()


def test_long_texts_carry_a_warning(api):
    shopper = SubscriberFactory()
    body = api.post(URL, {"subscriber": shopper.pk, "body": "word " * 100}, format="json").json()
    assert body["segments"] == 4
    assert "4 segments" in body["warnings"][0]


def test_list_filters_and_paginates(api):
    ana, bo = SubscriberFactory(), SubscriberFactory()
    MessageFactory(subscriber=ana, direction="inbound", status="received")
    MessageFactory(subscriber=ana, status="delivered")
    MessageFactory(subscriber=bo, status="failed")
    assert len(api.get(URL, {"subscriber": ana.pk}).json()["results"]) == 2
    assert [m["status"] for m in api.get(URL, {"direction": "inbound"}).json()["results"]] == ["received"]
    assert len(api.get(URL, {"status": "failed"}).json()["results"]) == 1
    page = api.get(URL, {"page_size": 2}).json()
    assert len(page["results"]) == 2 and page["next"]
    for bad in ({"status": "lost"}, {"direction": "sideways"}, {"subscriber": "ana"}):
        assert api.get(URL, bad).status_code == 400


def test_list_query_count_is_flat(api, django_assert_max_num_queries):
    for _ in range(30):
        MessageFactory()
    with django_assert_max_num_queries(5):
        assert len(api.get(URL).json()["results"]) == 30


def test_queueing_many_texts_wakes_one_worker_task(settings, django_capture_on_commit_callbacks, monkeypatch):
    settings.SMS_KICK_WORKER = True
    monkeypatch.setattr(outbox_queue, "_last_kick", 0.0)
    shoppers = [SubscriberFactory() for _ in range(5)]
    with django_capture_on_commit_callbacks(execute=True):
        for shopper in shoppers:
            message_queue(subscriber=shopper, body="hello")
    assert OrmQ.objects.count() == 1
