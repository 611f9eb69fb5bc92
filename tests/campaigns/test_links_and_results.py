"""Short links (redirect, UTM, bots), attributed orders through the events API, and the results."""

from datetime import timedelta
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.auth.models import Permission

from campaigns import services
from campaigns.fanout import campaigns_fanout_due
from campaigns.models import Attribution, Campaign, Click
from campaigns.selectors import campaign_stats, recipients_csv_lines
from conversations.models import Event, Message
from conversations.services import inbound_receive
from tests.factories import SubscriberFactory, UserFactory


@pytest.fixture
def sent(vegan_people, vegans, gift_buyers, daytime, console, settings):
    settings.CAMPAIGN_MAX_LINKS = 2  # text B holds two
    campaign = services.campaign_save(
        data={
            "name": "New lip balms",
            "link_url": "https://shop.example/lip-balm?ref=sms",
            "holdout_percent": 20,
            "variants": [
                {"body": "A: new vegan lip balms {{ link }}", "weight": 50},
                {"body": "B: {{ first_name }}, see {{ link }} and https://shop.example/faq", "weight": 50},
            ],
            "include_segments": [vegans.pk],
            "exclude_segments": [gift_buyers.pk],
        }
    )
    services.campaign_send(campaign=campaign)
    campaigns_fanout_due()
    console.send_due()
    campaign.refresh_from_db()
    return campaign


def short_links(campaign):
    texts = Message.objects.filter(origin="campaign", origin_id__in=campaign.recipients.values("id"))
    return {text.subscriber_id: [w for w in text.body.split() if "/l/" in w] for text in texts}


def test_the_console_prints_short_links_that_redirect_with_utm_and_count_a_click(client, sent, console):
    links = short_links(sent)
    assert links and console.printed.count("/l/") >= len(links)
    subscriber_id, (link, *_) = next(iter(links.items()))
    path = urlsplit(link).path
    response = client.get(path, HTTP_USER_AGENT="Mozilla/5.0 (iPhone; CPU iPhone OS 17_0)")
    assert response.status_code == 302
    target = urlsplit(response["Location"])
    assert target.netloc == "shop.example" and target.path == "/lip-balm"
    query = parse_qs(target.query)
    assert query["ref"] == ["sms"] and query["utm_medium"] == ["sms"] and query["utm_campaign"] == ["new-lip-balms"]
    assert query["utm_content"][0] in {"A", "B"}
    click = Click.objects.get()
    assert not click.is_bot and click.recipient.subscriber_id == subscriber_id
    assert Event.objects.filter(type="link_clicked", subscriber_id=subscriber_id).exists()
    assert campaign_stats(sent)["clicks"] == 1


@pytest.mark.parametrize(
    ("agent", "method"),
    [
        ("facebookexternalhit/1.1 Facebot Twitterbot/1.0", "GET"),  # iMessage's link preview
        ("WhatsApp/2.23.20.0", "GET"),
        ("Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)", "GET"),
        ("", "GET"),
        ("Mozilla/5.0 (iPhone)", "HEAD"),
    ],
)
def test_link_previews_by_bots_redirect_but_are_not_counted(client, sent, agent, method):
    link = next(iter(short_links(sent).values()))[0]
    call = client.head if method == "HEAD" else client.get
    response = call(urlsplit(link).path, HTTP_USER_AGENT=agent)
    assert response.status_code == 302
    assert Click.objects.get().is_bot
    assert campaign_stats(sent)["clicks"] == 0
    assert not Event.objects.filter(type="link_clicked").exists()


@pytest.mark.parametrize("code", ["nothing", "1g00000", "zz", "1" * 40, "%2e%2e"])
def test_a_code_that_is_not_ours_is_a_404(client, sent, code):
    assert client.get(f"/l/{code}").status_code == 404
    assert not Click.objects.exists()


def test_a_tampered_code_is_refused(client, sent):
    link = urlsplit(next(iter(short_links(sent).values()))[0]).path
    tampered = link[:-1] + ("0" if link[-1] != "0" else "1")
    assert client.get(tampered).status_code == 404


def test_an_order_after_a_click_is_revenue_of_the_campaign_and_its_variant(client, api, sent, daytime):
    subscriber_id, (link, *_) = next(iter(short_links(sent).items()))
    client.get(urlsplit(link).path, HTTP_USER_AGENT="Mozilla/5.0")
    phone = SubscriberFactory._meta.model.objects.get(pk=subscriber_id).phone
    response = api.post(
        "/api/v1/events/",
        {"phone": phone, "type": "order_placed", "properties": {"total": "59.90", "currency": "usd"}},
        format="json",
    )
    assert response.status_code == 201, response.content
    attribution = Attribution.objects.get()
    assert attribution.campaign == sent and attribution.touch == "click" and attribution.revenue == Decimal("59.90")
    stats = api.get(f"/api/v1/campaigns/{sent.pk}/stats/")
    assert stats.status_code == 200
    assert stats.json()["orders"] == 1 and stats.json()["revenue"] == "59.90"


def test_an_order_within_a_day_of_the_text_counts_as_received_and_later_does_not(sent, daytime):
    recipient = sent.recipients.filter(status="queued").first()
    phone = recipient.subscriber.phone
    from conversations.services import event_record

    event_record(phone=phone, type="order_placed", properties={"total": 20, "currency": "USD"})
    assert Attribution.objects.get().touch == "received"
    event_record(phone=phone, type="order_placed", properties={"total": 30}, occurred_at=daytime + timedelta(days=2))
    assert Attribution.objects.count() == 1
    stats = campaign_stats(sent)
    assert stats["orders"] == 1 and stats["revenue"] == Decimal("20.00")


@pytest.mark.parametrize(
    ("properties", "field"),
    [
        ({"total": "lots"}, "properties.total"),
        ({"total": -5}, "properties.total"),
        ({"total": True}, "properties.total"),
        ({"total": 10, "currency": "dollars"}, "properties.currency"),
    ],
)
def test_an_order_with_an_unreadable_total_is_refused_and_nothing_is_stored(api, sent, properties, field):
    phone = sent.recipients.first().subscriber.phone
    response = api.post(
        "/api/v1/events/", {"phone": phone, "type": "order_placed", "properties": properties}, format="json"
    )
    assert response.status_code == 400
    assert field in response.json()
    assert not Event.objects.filter(type="order_placed").exists()


def test_results_count_sends_replies_opt_outs_and_the_holdout(sent, daytime):
    stats = campaign_stats(sent)
    texted = sent.recipients.filter(status="queued").count()
    held = sent.recipients.filter(status="holdout").count()
    assert stats["recipients"] == texted + held
    assert stats["sent"] == texted and stats["failed"] == 0
    assert sum(v["recipients"] for v in stats["variants"]) == texted
    assert (stats["holdout"]["recipients"] if held else 0) == held
    replier, quitter = [r.subscriber for r in sent.recipients.filter(status="queued")[:2]]
    inbound_receive(from_number=replier.phone, body="love these!")
    inbound_receive(from_number=quitter.phone, body="STOP")
    stats = campaign_stats(sent)
    assert stats["replies"] == 1 and stats["opt_outs"] == 1


def test_the_recipients_csv_has_a_line_per_recipient(sent):
    lines = list(recipients_csv_lines(sent))
    assert lines[0].startswith("phone,variant,status,text_status")
    assert len(lines) == 1 + sent.recipients.count()
    assert any(",sent," in line for line in lines[1:])


def test_staff_pages_show_the_results_and_need_permissions(daytime, client, sent):
    staff = UserFactory(username="store", is_staff=True)
    client.force_login(staff)
    assert client.get(f"/campaigns/{sent.pk}/results/").status_code == 403
    staff.user_permissions.add(Permission.objects.get(codename="view_campaign"))
    response = client.get(f"/campaigns/{sent.pk}/results/")
    assert response.status_code == 200
    assert b"Text A" in response.content and b"Holdout (no text)" in response.content
    assert b"Pause" not in response.content  # no send permission
    assert client.post(f"/campaigns/cancel/{sent.pk}/").status_code == 403
    assert client.get(f"/campaigns/{sent.pk}/results.csv").status_code == 403  # phones need view subscriber
    sent.refresh_from_db()
    assert sent.status == Campaign.Status.SENT


def test_the_results_page_and_the_stats_take_the_same_queries_for_few_or_many_recipients(
    daytime, client, vegans, console
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tests.factories import SubscriberFactory as Factory

    admin = UserFactory(username="boss", is_staff=True, is_superuser=True)
    client.force_login(admin)

    def queries_for(people: int) -> int:
        for _ in range(people):
            Factory(attributes={"diet": "vegan"})
        campaign = services.campaign_save(
            data={
                "name": f"Run {people}",
                "holdout_percent": 10,
                "variants": [{"body": "A https://shop.example/a", "weight": 50}, {"body": "B", "weight": 50}],
                "include_segments": [vegans.pk],
            }
        )
        services.campaign_send(campaign=campaign)
        campaigns_fanout_due()
        console.send_due()
        with CaptureQueriesContext(connection) as queries:
            assert client.get(f"/campaigns/{campaign.pk}/results/").status_code == 200
        return len(queries)

    assert queries_for(5) == queries_for(40)


def test_the_inbox_thread_names_the_campaign_and_the_text_a_shopper_got(sent):
    from conversations.inbox.selectors import inbox_thread
    from conversations.models import Conversation

    text = Message.objects.filter(origin="campaign").select_related("subscriber").first()
    conversation = Conversation.objects.create(subscriber=text.subscriber, opened_at=text.created_at)
    labels = [item["label"] for item in inbox_thread(conversation) if item["kind"] == "message"]
    variant = sent.recipients.get(pk=text.origin_id).variant.label
    assert labels == [f"Campaign: New lip balms ({variant})"]
