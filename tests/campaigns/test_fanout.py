"""The fan-out: who gets a text, which one, once; chunks that resume; STOP mid-send; local time; test-then-winner."""

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from campaigns import links, services
from campaigns.fanout import BUCKETS, campaign_fanout, campaigns_fanout_due
from campaigns.models import Campaign, Recipient
from campaigns.selectors import campaign_stats
from conversations.models import AttributeDefinition, Message, Subscriber
from conversations.services import inbound_receive
from segments.services import segment_create
from tests.factories import SubscriberFactory

ROOT = Path(__file__).resolve().parents[2]


def make(vegans, gift_buyers=None, **data):
    data.setdefault("name", "Lip balms")
    data.setdefault("link_url", "https://shop.example/lip-balm")
    data.setdefault("variants", [{"body": "New vegan lip balms are in: {{ link }}", "weight": 100}])
    data["include_segments"] = [vegans.pk]
    data["exclude_segments"] = [gift_buyers.pk] if gift_buyers else []
    return services.campaign_save(data=data)


def send(campaign) -> Campaign:
    services.campaign_send(campaign=campaign)
    campaigns_fanout_due()
    campaign.refresh_from_db()
    return campaign


def texts_of(campaign):
    return Message.objects.filter(origin="campaign", origin_id__in=campaign.recipients.values("id"))


def many_vegans(count, *, area, zone):
    Subscriber.objects.bulk_create(
        Subscriber(phone=f"+1{area}555{n:04d}", status="subscribed", attributes={"diet": "vegan"}, time_zone=zone)
        for n in range(count)
    )


VEGAN_RULE = {"all": [{"attribute": "diet", "op": "eq", "value": "vegan"}]}


def define(key, label, type, options=()):
    AttributeDefinition.objects.update_or_create(
        key=key, defaults={"label": label, "type": type, "options": list(options)}
    )


def expected_body(campaign, recipient, variant):
    specs = services.attribute_specs()
    parsed = services.variant_template(variant, campaign, specs)
    return parsed.render(
        services.subscriber_values(recipient.subscriber),
        labels=services.labels_of(specs),
        store=settings.PARLEY_STORE_NAME,
        link_for=lambda letter, url: (
            services.short_link_base() + links.link_code(campaign.link_secret, recipient.pk, letter)
        ),
    )


def test_each_member_gets_one_text_the_excluded_and_opted_out_get_none(vegan_people, vegans, gift_buyers, daytime):
    stopped = vegan_people[-1]
    inbound_receive(from_number=stopped.phone, body="STOP")
    campaign = send(make(vegans, gift_buyers))

    assert campaign.status == Campaign.Status.SENT
    expected = {p.pk for p in vegan_people[5:-1]}  # not the gift buyers, not the one who said STOP
    assert set(campaign.recipients.values_list("subscriber_id", flat=True)) == expected
    texts = list(texts_of(campaign))
    assert Counter(t.subscriber_id for t in texts) == Counter(expected)
    assert {t.status for t in texts} == {"queued"} and {t.purpose for t in texts} == {"marketing"}
    assert not Message.objects.filter(subscriber=stopped, origin="campaign").exists()
    for text in texts:
        recipient = Recipient.objects.get(pk=text.origin_id)
        assert text.body == expected_body(campaign, recipient, recipient.variant)


def test_the_sql_personalisation_equals_the_python_one_for_every_kind_of_value(vegans, daytime, settings):
    settings.CAMPAIGN_MAX_LINKS = 2
    define("size", label="Size", type="single_choice", options=[{"value": "M", "label": "Medium"}])
    define("gifts", "Gifts", "multiple_choice", [{"value": "mom", "label": "Mom"}, {"value": "dad", "label": "Dad"}])
    define("vip", label="VIP", type="yes_no")
    define("points", label="Points", type="number")
    define("nick", label="Nickname", type="text")
    values = [
        {"size": "M", "gifts": ["dad", "mom"], "vip": True, "points": 12, "nick": "Zoë ✨"},
        {"size": "XL", "gifts": [], "vip": False, "points": 2.5, "nick": ""},
        {"gifts": ["mom"], "nick": 'O\'Brien "OB" 100%'},
        {},
    ]
    for index, attributes in enumerate(values):
        SubscriberFactory(attributes={"diet": "vegan", **attributes}, first_name=["Ana", "", "Łukasz", "Bo"][index])
    body = (
        '{{ first_name|default:"friend" }}|{{ last_name }}|{{ attributes.size|label }}|{{ attributes.size }}|'
        '{{ attributes.gifts|label }}|{{ attributes.gifts|default:"none" }}|{{ attributes.vip }}|'
        '{{ attributes.points|default:"0" }}|{{ attributes.nick|default:"-" }}|{{ store }}|{{ first_name|upper }}|'
        '{{ attributes.nick|title|default:"-" }}|{{ attributes.size|label|lower }}|{{ phone }}|{{ link }} '
        "https://shop.example/faq?a=1&b=2"
    )
    campaign = send(make(vegans, variants=[{"body": body, "weight": 100}]))
    texts = list(texts_of(campaign))
    assert len(texts) == 4
    for text in texts:
        recipient = Recipient.objects.get(pk=text.origin_id)
        assert text.body == expected_body(campaign, recipient, recipient.variant)
    bodies = sorted(t.body.split(" http")[0] for t in texts)
    assert any(b.startswith("Ana|") for b in bodies), bodies
    assert any("|Medium|M|Dad, Mom|dad, mom|yes|12|Zoë ✨|" in b for b in bodies), bodies
    assert any(b.startswith("friend|") and "|XL|XL||none|no|2.5|-|" in b for b in bodies), bodies
    assert any('|ŁUKASZ|O\'Brien "Ob" 100%||+1' in b for b in bodies), bodies


def test_split_holdout_and_weights_are_close_to_the_percentages(diet, daytime):
    everyone = segment_create(name="Everyone vegan", rules=VEGAN_RULE)
    many_vegans(2000, area="212", zone="America/New_York")
    campaign = send(
        make(
            everyone,
            holdout_percent=10,
            variants=[{"body": "A {{ link }}", "weight": 70}, {"body": "B {{ link }}", "weight": 30}],
        )
    )
    shares = Counter(campaign.recipients.values_list("status", "variant__label"))
    assert shares[("holdout", None)] == pytest.approx(200, abs=20)
    assert shares[("queued", "A")] == pytest.approx(1260, abs=40)
    assert shares[("queued", "B")] == pytest.approx(540, abs=40)
    assert texts_of(campaign).count() == shares[("queued", "A")] + shares[("queued", "B")]
    holdout = campaign.recipients.filter(status="holdout").values("subscriber_id")
    assert not Message.objects.filter(origin="campaign", subscriber_id__in=holdout).exists()
    assert all(0 <= b < BUCKETS for b in campaign.recipients.values_list("bucket", flat=True))


def test_chunks_resume_from_the_cursor_and_stop_during_the_send_gets_nothing_more(
    vegan_people, vegans, settings, daytime, console
):
    settings.CAMPAIGN_FANOUT_FIRST_CHUNK = 3
    settings.CAMPAIGN_FANOUT_CHUNK = 4
    campaign = make(vegans)
    services.campaign_send(campaign=campaign)
    assert campaign_fanout(campaign.pk, chunks=2) > 0  # a worker that stopped after two chunks
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.SENDING and campaign.fanout_cursor > 0
    first = set(texts_of(campaign).values_list("subscriber_id", flat=True))
    # Someone already queued, and someone not yet reached, text STOP in the middle of the send.
    queued_one = Subscriber.objects.get(pk=min(first))
    later_one = vegan_people[-1]
    assert later_one.pk not in first
    inbound_receive(from_number=queued_one.phone, body="STOP")
    inbound_receive(from_number=later_one.phone, body="stop please")
    campaign_fanout(campaign.pk)  # the next worker goes on from the cursor
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.SENT
    counts = Counter(texts_of(campaign).values_list("subscriber_id", flat=True))
    assert set(counts.values()) == {1}
    assert later_one.pk not in counts
    console.send_due()
    refused = texts_of(campaign).get(subscriber=queued_one)
    assert refused.status == "failed" and refused.error_code == "gate:opted_out"
    assert refused.body not in console.printed
    stats = campaign_stats(campaign)
    assert stats["skipped"] == 1 and stats["failed"] == 0
    assert texts_of(campaign).filter(status="sent").count() == len(counts) - 1


def test_a_worker_killed_mid_fanout_misses_nobody_and_texts_nobody_twice(vegans, transactional_db):
    many_vegans(3000, area="312", zone="America/Chicago")
    campaign = make(vegans)
    services.campaign_send(campaign=campaign)
    db = connection.settings_dict
    url = (
        f"sqlite:///{db['NAME']}"
        if connection.vendor == "sqlite"
        else f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": url,
        "SMS_KICK_WORKER": "false",
        "CAMPAIGN_FANOUT_FIRST_CHUNK": "50",
        "CAMPAIGN_FANOUT_CHUNK": "50",
    }
    worker = subprocess.Popen(
        [sys.executable, "manage.py", "shell", "-c", "from campaigns.fanout import campaigns_fanout_due as f; f()"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not Campaign.objects.get(pk=campaign.pk).fanout_cursor:
        time.sleep(0.02)
    time.sleep(0.1)
    worker.send_signal(signal.SIGKILL)
    worker.wait(timeout=10)
    campaign.refresh_from_db()
    assert campaign.fanout_cursor > 0, "the worker never got going"
    campaigns_fanout_due()
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.SENT
    counts = Counter(texts_of(campaign).values_list("subscriber_id", flat=True))
    assert len(counts) == 3000 and set(counts.values()) == {1}
    assert campaign.recipients.count() == 3000


def test_local_time_sends_at_that_hour_in_each_zone(vegans, diet, settings, daytime):
    settings.PARLEY_DEFAULT_TIME_ZONE = "America/New_York"
    east = SubscriberFactory(attributes={"diet": "vegan"}, time_zone="America/New_York")
    west = SubscriberFactory(phone="+14155550177", attributes={"diet": "vegan"}, time_zone="America/Los_Angeles")
    # 11:00 tomorrow, read in the store's zone, is sent at 11:00 in each subscriber's zone.
    send_at = (daytime + timedelta(days=1)).replace(hour=16)  # 11:00 in New York
    campaign = make(vegans, send_at=send_at, local_time=True)
    services.campaign_send(campaign=campaign)
    campaign.refresh_from_db()
    assert campaign.fanout_at == send_at.replace(hour=11, tzinfo=UTC) - timedelta(hours=14)
    assert campaigns_fanout_due(now=daytime) == 0  # not yet
    later = campaign.fanout_at + timedelta(minutes=1)
    assert campaigns_fanout_due(now=later) == 2
    by_subscriber = {t.subscriber_id: t.not_before for t in texts_of(campaign)}
    assert by_subscriber[east.pk] == send_at
    assert by_subscriber[west.pk] == send_at + timedelta(hours=3)


def test_pause_holds_resume_releases_and_cancel_fails_what_is_left(vegan_people, vegans, daytime):
    campaign = send(make(vegans))
    services.campaign_pause(campaign=campaign)
    assert set(texts_of(campaign).values_list("hold_reason", flat=True)) == {"the campaign is paused"}
    assert not Message.objects.claimable(daytime, marketing=True).filter(origin="campaign").exists()
    services.campaign_resume(campaign=campaign)
    campaigns_fanout_due()
    campaign.refresh_from_db()
    assert Message.objects.claimable(daytime, marketing=True).filter(origin="campaign").count() == len(vegan_people)
    services.campaign_cancel(campaign=campaign)
    assert set(texts_of(campaign).values_list("status", "error_code")) == {("failed", "cancelled")}
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.CANCELLED


def test_test_then_winner_sends_the_rest_the_best_variant(diet, settings, daytime, console):
    everyone = segment_create(name="All vegans", rules=VEGAN_RULE)
    many_vegans(400, area="512", zone="America/Chicago")
    campaign = send(
        make(
            everyone,
            test_percent=25,
            winner_after_hours=2,
            winner_metric="clicks",
            variants=[{"body": "A {{ link }}", "weight": 50}, {"body": "B {{ link }}", "weight": 50}],
        )
    )
    assert campaign.status == Campaign.Status.TESTING
    waiting = campaign.recipients.filter(status="waiting").count()
    assert waiting == pytest.approx(300, abs=25)
    assert texts_of(campaign).count() == 400 - waiting
    # The test's clock starts when its texts have left, not when they were queued (quiet hours may hold them).
    campaigns_fanout_due(now=daytime + timedelta(hours=3))
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.TESTING and campaign.winner is None
    console.send_due()
    # B's recipients click; A's do not.
    for recipient in campaign.recipients.filter(variant__label="B")[:10]:
        code = links.link_code(campaign.link_secret, recipient.pk, "g")
        assert services.link_open(code=code, user_agent="Mozilla/5.0 (iPhone)")
    campaigns_fanout_due(now=daytime + timedelta(hours=1))
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.TESTING  # the test has not run its two hours
    campaigns_fanout_due(now=daytime + timedelta(hours=2, minutes=1))
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.SENT and campaign.winner.label == "B"
    assert "B won on click rate" in campaign.winner_reason
    assert not campaign.recipients.filter(status="waiting").exists()
    assert texts_of(campaign).count() == 400
    later = texts_of(campaign).filter(origin_id__in=campaign.recipients.filter(bucket__gte=2500).values("id"))
    assert later.count() == waiting
    assert all(body.startswith("B ") for body in later.values_list("body", flat=True))


def test_a_campaign_whose_segments_are_gone_is_cancelled_with_the_reason(vegans, daytime):
    campaign = make(vegans)
    services.campaign_send(campaign=campaign)
    campaign.include_segments.clear()
    campaigns_fanout_due()
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.CANCELLED
    assert "choose at least one segment" in campaign.end_reason


def test_a_campaign_text_waits_while_an_agent_talks_with_them(vegan_people, vegans, daytime, console):
    from conversations.models import Conversation

    talking = vegan_people[3]
    quiet = vegan_people[4]
    Conversation.objects.create(subscriber=talking, status="open", opened_at=daytime, last_message_at=daytime)
    # A conversation left open for a day holds nothing: nobody is talking any more.
    Conversation.objects.create(
        subscriber=quiet, status="open", opened_at=daytime, last_message_at=daytime - timedelta(days=1)
    )
    campaign = send(make(vegans))
    console.send_due()
    text = texts_of(campaign).get(subscriber=talking)
    assert text.status == "queued" and "talking with them in the inbox" in text.hold_reason
    assert texts_of(campaign).get(subscriber=quiet).status == "sent"
    assert texts_of(campaign).filter(status="sent").count() == len(vegan_people) - 1


def test_a_reply_queued_during_a_blast_is_sent_before_the_blast(vegan_people, vegans, daytime):
    from conversations.outbox import message_queue, outbox_claim

    send(make(vegans))  # twenty marketing texts wait in the outbox
    shopper = SubscriberFactory(last_inbound_at=daytime)
    reply = message_queue(subscriber=shopper, body="Yes, we ship to Canada!")
    claimed = outbox_claim(limit=1)
    assert [m.pk for m in claimed] == [reply.pk]
    assert [m.origin for m in outbox_claim(limit=5)] == ["campaign"] * 5
