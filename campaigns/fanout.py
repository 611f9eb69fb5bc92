"""The fan-out: a campaign's recipients and their messages, written by the database in chunks.

Each chunk is one transaction that holds the campaign's row lock:
1. `INSERT … SELECT` the audience members among the next subscriber ids into `Recipient` (unique per campaign and
   subscriber), each with a bucket (0-9999) from their id that decides holdout, test share and variant;
2. queue a text for each of them whose variant is known, in one `INSERT … SELECT` that the outbox runs
   (`messages_queue_select`), the body personalised by one SQL expression (campaigns/links.py over
   conversations/templating), `origin_id` = the recipient's id (unique: a recipient is texted once);
3. move the campaign's cursor past the chunk.

A worker killed mid-chunk rolls the whole chunk back; the next one starts from the cursor, so nobody is missed
or texted twice. No subscriber is loaded into Python. The send gate decides each text again when the outbox
claims it: someone who texts STOP during the send is refused there, quiet hours and caps hold texts.

With test-then-winner, the rest of the audience is stored as "waiting"; once the winner is chosen, chunks of
waiting recipients get the winner's text the same way.
"""

import json
import logging
import secrets
import time
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone

from conversations.db import json_parameter_sql, timestamp_type_sql
from conversations.models import Message, Subscriber
from conversations.outbox import messages_queue_select

from . import selectors, services
from .models import Campaign, Link, Recipient, Variant

log = logging.getLogger(__name__)

BUCKETS = 10_000
BUCKET_STEP = 7919  # a prime: consecutive ids land in far-apart buckets, every 10,000 ids fill each bucket once


def campaigns_fanout_due(max_seconds: float = 50.0, now: datetime | None = None) -> int:
    """Fan out the campaigns whose time has come, and choose the winners of finished tests; texts queued."""
    now = now or timezone.now()
    deadline = time.monotonic() + max_seconds
    queued = 0
    testing = Campaign.objects.filter(status=Campaign.Status.TESTING, winner__isnull=True)
    for campaign in testing:
        if _test_over(campaign, now):
            with transaction.atomic():
                locked = Campaign.objects.select_for_update(skip_locked=True).filter(pk=campaign.pk).first()
                if locked and locked.status == Campaign.Status.TESTING:
                    services.winner_pick(campaign=locked, now=now)
    due = Campaign.objects.filter(
        status__in=[Campaign.Status.SCHEDULED, Campaign.Status.SENDING], fanout_at__lte=now
    ).order_by("fanout_at", "id")
    for campaign_id in list(due.values_list("id", flat=True)):
        queued += campaign_fanout(campaign_id, deadline=deadline)
        if time.monotonic() >= deadline:
            break
    return queued


def _test_over(campaign: Campaign, now: datetime) -> bool:
    """The test has run its hours since its last text left; texts still held (quiet hours, caps) keep it going."""
    texts = Message.objects.filter(origin=Message.Origin.CAMPAIGN, origin_id__in=campaign.recipients.values("id"))
    if texts.filter(status__in=[Message.Status.QUEUED, Message.Status.SENDING]).exists():
        return False
    last = texts.aggregate(last=Max("sent_at"))["last"]
    return last is None or last + timedelta(hours=campaign.winner_after_hours) <= now


def campaign_fanout(campaign_id: int, *, deadline: float | None = None, chunks: int | None = None) -> int:
    """Work through one campaign's chunks until it is done, paused, the deadline passes or `chunks` are done;
    the number of texts queued."""
    deadline = deadline or time.monotonic() + 50.0
    queued = 0
    while time.monotonic() < deadline and (chunks is None or chunks > 0):
        chunks = None if chunks is None else chunks - 1
        with transaction.atomic():
            campaign = (
                Campaign.objects.select_for_update(skip_locked=True)
                .filter(pk=campaign_id, status__in=[Campaign.Status.SCHEDULED, Campaign.Status.SENDING])
                .first()
            )
            if campaign is None:  # done, paused, cancelled, or another worker holds it
                break
            if campaign.status == Campaign.Status.SCHEDULED and not _begin(campaign):
                break
            step = _chunk(campaign)
            if step is None:
                _finish(campaign)
                break
            queued += step
    return queued


def _begin(campaign: Campaign) -> bool:
    """Fix the audience and the links; False when the campaign cannot go (it is cancelled with the reason)."""
    problems = services.campaign_problems(campaign)
    if problems:
        services._end(campaign, Campaign.Status.CANCELLED, "not sent: " + "; ".join(problems))
        return False
    rules = selectors.audience_rules(campaign)
    now = timezone.now()
    campaign.rules, campaign.audience_at, campaign.started_at = rules, now, now
    campaign.link_secret = secrets.token_hex(8)
    campaign.status = Campaign.Status.SENDING
    campaign.save(update_fields=["rules", "audience_at", "started_at", "link_secret", "status", "updated_at"])
    specs = services.attribute_specs()
    Link.objects.bulk_create(
        Link(variant=variant, letter=letter, url=url)
        for variant in campaign.variants.all()
        for letter, url in services.variant_template(variant, campaign, specs).links.items()
    )
    return True


def _finish(campaign: Campaign) -> None:
    if campaign.test_percent is not None and campaign.winner_id is None:
        campaign.status = Campaign.Status.TESTING
        campaign.save(update_fields=["status", "updated_at"])
    else:
        campaign.status, campaign.finished_at = Campaign.Status.SENT, timezone.now()
        campaign.save(update_fields=["status", "finished_at", "updated_at"])


def _chunk(campaign: Campaign) -> int | None:
    """Do the next chunk; the number of texts queued, or None when there is nothing left to do."""
    # The first chunk is small, so that the first texts leave within a second or two of pressing send.
    size = settings.CAMPAIGN_FANOUT_FIRST_CHUNK if campaign.fanout_cursor == 0 else settings.CAMPAIGN_FANOUT_CHUNK
    upper = _next_bound(campaign.fanout_cursor, size)
    if upper is not None:
        _insert_recipients(campaign, campaign.fanout_cursor, upper)
        queued = _insert_messages(
            campaign,
            "r.status = 'queued' AND r.subscriber_id > %s AND r.subscriber_id <= %s",
            [campaign.fanout_cursor, upper],
            list(campaign.variants.all()),
        )
        campaign.fanout_cursor = upper
        campaign.save(update_fields=["fanout_cursor", "updated_at"])
        return queued
    if campaign.winner_id is None:
        return None
    # The test is over: the waiting recipients get the winner's text, a chunk at a time.
    waiting = campaign.recipients.filter(status=Recipient.Status.WAITING).order_by("id").values_list("id", flat=True)
    size = settings.CAMPAIGN_FANOUT_CHUNK
    last = list(waiting[size - 1 : size]) or list(waiting.reverse()[:1])
    if not last:
        return None
    queued = _insert_messages(campaign, "r.status = 'waiting' AND r.id <= %s", [last[0]], [campaign.winner])
    campaign.recipients.filter(status=Recipient.Status.WAITING, id__lte=last[0]).update(
        status=Recipient.Status.QUEUED, variant=campaign.winner
    )
    return queued


def _next_bound(cursor: int, size: int) -> int | None:
    """The last subscriber id of the next chunk of `size` ids after `cursor`; None past the last subscriber."""
    ids = Subscriber.objects.filter(pk__gt=cursor).order_by("pk").values_list("pk", flat=True)
    bound = list(ids[size - 1 : size])
    if bound:
        return bound[0]
    return Subscriber.objects.filter(pk__gt=cursor).order_by("-pk").values_list("pk", flat=True).first()


def audience(campaign: Campaign):
    """The campaign's audience, fixed when the fan-out began."""
    return selectors.audience_members(
        campaign.rules, at=campaign.audience_at, exclude_texted_within_hours=campaign.exclude_texted_within_hours
    )


def split(campaign: Campaign, variants: list[Variant]) -> list[tuple[int, int | None, str]]:
    """Bucket ranges: [(upper bound, variant id, recipient status)], in order, the last ending at BUCKETS."""
    ranges = []
    low = campaign.holdout_percent * BUCKETS // 100
    if low:
        ranges.append((low, None, Recipient.Status.HOLDOUT))
    high = BUCKETS
    if campaign.test_percent is not None:
        high = low + (BUCKETS - low) * campaign.test_percent // 100
    total, running = sum(v.weight for v in variants), 0
    for index, variant in enumerate(variants):
        running += variant.weight
        upper = high if index == len(variants) - 1 else low + (high - low) * running // total
        ranges.append((upper, variant.pk, Recipient.Status.QUEUED))
    if high < BUCKETS:
        ranges.append((BUCKETS, None, Recipient.Status.WAITING))
    return ranges


def _insert_recipients(campaign: Campaign, lower: int, upper: int) -> None:
    members = audience(campaign).filter(pk__gt=lower, pk__lte=upper).order_by().values("id")
    members_sql, members_params = members.query.sql_with_params()
    ranges = split(campaign, list(campaign.variants.all()))
    variant_case = " ".join("WHEN b.bucket < %s THEN %s" for _ in ranges)
    status_case = " ".join("WHEN b.bucket < %s THEN %s" for _ in ranges)
    seed = int(campaign.link_secret[:8], 16) % BUCKETS
    sql = f"""
        INSERT INTO {Recipient._meta.db_table} (campaign_id, subscriber_id, variant_id, status, bucket)
        SELECT %s, b.id, CASE {variant_case} END, CASE {status_case} END, b.bucket
        FROM (SELECT m.id AS id, ((m.id * {BUCKET_STEP} + {seed}) %% {BUCKETS}) AS bucket
              FROM ({members_sql}) AS m) AS b
        WHERE b.id IS NOT NULL
        ON CONFLICT DO NOTHING
    """
    params = [
        campaign.pk,
        *[item for upper_bound, variant_id, _ in ranges for item in (upper_bound, variant_id)],
        *[item for upper_bound, _, status in ranges for item in (upper_bound, str(status))],
        *members_params,
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def _insert_messages(campaign: Campaign, where: str, where_params: list, variants: list[Variant]) -> int:
    """Queue a text for each recipient matching `where` (over `r`), with their variant's (or the only) body."""
    specs = services.attribute_specs()
    bodies, segments, encodings = [], [], []
    for variant in variants:
        parsed = services.variant_template(variant, campaign, specs)
        body_sql, body_params = parsed.sql(
            connection,
            labels=services.labels_of(specs),
            store=settings.PARLEY_STORE_NAME,
            link_base=services.short_link_base(),
            secret=campaign.link_secret,
        )
        # The outbox counts each text again when it claims it; this estimate only fills the row.
        estimate = services.body_estimate(variant.body, campaign, specs)
        bodies.append((variant.pk, body_sql, body_params))
        segments.append((variant.pk, estimate.segments))
        encodings.append((variant.pk, estimate.encoding))
    body_sql, body_params = _by_variant(bodies)
    segments_sql, segments_params = _by_variant([(pk, "%s", [value]) for pk, value in segments])
    encoding_sql, encoding_params = _by_variant([(pk, "%s", [value]) for pk, value in encodings])
    not_before_sql, not_before_params = _not_before(campaign, where, where_params)
    media = json_parameter_sql()
    media_json = json.dumps([campaign.media_url] if campaign.media_url else [])
    # The outbox writes the rows (queued, nothing tried yet) and wakes a sender once the chunk commits.
    return messages_queue_select(
        columns={
            "subscriber_id": ("r.subscriber_id", []),
            "sender": ("%s", [settings.SMS_SENDER]),
            "body": (body_sql, body_params),
            "media_urls": (media, [media_json]),
            "segments": (segments_sql, segments_params),
            "encoding": (encoding_sql, encoding_params),
            "origin": ("%s", [Message.Origin.CAMPAIGN]),
            "origin_id": ("r.id", []),  # a recipient is texted once (a unique index on the campaign's origin ids)
            "purpose": ("%s", [Message.Purpose.MARKETING]),
            "not_before": (not_before_sql, not_before_params),
        },
        source=f"{Recipient._meta.db_table} r JOIN {Subscriber._meta.db_table} s ON s.id = r.subscriber_id "
        f"WHERE r.campaign_id = %s AND {where}",
        source_params=[campaign.pk, *where_params],
    )


def _by_variant(items: list[tuple[int, str, list]]) -> tuple[str, list]:
    """One expression per variant, chosen by r.variant_id; a single one needs no CASE (the winner's rollout)."""
    if len(items) == 1:
        return items[0][1], items[0][2]
    whens, params = [], []
    for variant_id, sql, sql_params in items:
        whens.append(f"WHEN %s THEN {sql}")
        params += [variant_id, *sql_params]
    return f"CASE r.variant_id {' '.join(whens)} END", params


def _not_before(campaign: Campaign, where: str, where_params: list) -> tuple[str, list]:
    """NULL (send now), or for a local-time campaign the moment it is that time in each subscriber's zone."""
    if not campaign.local_time:
        return "NULL", []
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT DISTINCT s.time_zone FROM {Recipient._meta.db_table} r "
            f"JOIN {Subscriber._meta.db_table} s ON s.id = r.subscriber_id WHERE r.campaign_id = %s AND {where}",
            [campaign.pk, *where_params],
        )
        zones = [row[0] for row in cursor.fetchall()]
    now = timezone.now()
    whens, params = [], []
    for zone in zones:
        at = services.local_send_time(campaign, zone, now)
        whens.append("WHEN %s THEN %s")
        params += [zone, connection.ops.adapt_datetimefield_value(at) if at else None]
    if not whens:
        return "NULL", []
    cast = timestamp_type_sql()
    return f"CAST(CASE s.time_zone {' '.join(whens)} END AS {cast})", params
