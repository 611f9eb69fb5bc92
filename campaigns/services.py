"""Writes of campaigns: compose, send, pause, resume, cancel, test sends, the winner of a test, clicks and orders.

The fan-out itself (recipients and their messages, in chunks) is in campaigns/fanout.py.
"""

import re
from datetime import datetime, timedelta
from decimal import Decimal
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from conversations import event_types, templating
from conversations.models import AttributeDefinition, Event, Message, Subscriber
from conversations.outbox import message_queue, messages_cancel, messages_hold, messages_release
from conversations.phones import normalize_phone_field
from conversations.services import event_record, tracked_link_open
from conversations.texts import MAX_BODY_CHARACTERS, count_segments, prepare_body
from segments.models import Segment

from . import links
from .models import Attribution, Campaign, Click, Link, Recipient, Variant
from .selectors import order_amount, variant_scores

MAX_VARIANTS = 5
MAX_HOLDOUT_PERCENT = 50
EARLIEST_ZONE_OFFSET = timedelta(hours=14)  # Pacific/Kiritimati: the first place a local time arrives


# --- Reading a campaign's texts --------------------------------------------------------------------------


def attribute_specs() -> dict[str, dict]:
    """Attribute types and option labels ({key: {"type", "labels": {value: label}}}), one query for many texts."""
    return {
        d.key: {"type": d.type, "labels": {choice["value"]: choice["label"] for choice in d.choices}}
        for d in AttributeDefinition.objects.all()
    }


def short_link_base() -> str:
    return settings.SHORT_LINK_BASE_URL.rstrip("/") + "/l/"


def text_scope(specs: dict) -> templating.Scope:
    """What a campaign text may use: the standard variables, the defined attributes, and {{ link }}."""
    return templating.Scope(labels_of(specs), names=("link",), no_event="a campaign goes to a segment and has no event")


def labels_of(specs: dict) -> dict[str, dict[str, str]]:
    return {key: spec["labels"] for key, spec in specs.items()}


def variant_template(variant: Variant, campaign: Campaign, specs: dict | None = None) -> links.CampaignText:
    return parse(variant.body, campaign, specs)


def parse(body: str, campaign: Campaign, specs: dict | None = None) -> links.CampaignText:
    return links.campaign_text(
        body,
        link_url=campaign.link_url,
        scope=text_scope(attribute_specs() if specs is None else specs),
        max_links=settings.CAMPAIGN_MAX_LINKS,
    )


def preview_text(body: str, campaign: Campaign, subscriber: Subscriber | None, specs: dict | None = None) -> str:
    """`body` as `subscriber` would get it (their short links shown with a sample code)."""
    specs = attribute_specs() if specs is None else specs
    parsed = parse(body, campaign, specs)
    next_id = _next_id() if parsed.has_links else 0
    return parsed.render(
        subscriber_values(subscriber),
        labels=labels_of(specs),
        store=settings.PARLEY_STORE_NAME,
        link_for=lambda letter, url: short_link_base() + links.link_code("preview", next_id, letter),
    )


def _next_id() -> int:
    """About the id the next recipients get: a preview's short link is as long as theirs will be."""
    return (Recipient.objects.order_by("-id").values_list("id", flat=True).first() or 0) + 1


def subscriber_values(subscriber: Subscriber | None) -> dict:
    """What a campaign text reads of a subscriber (nothing for a preview without one: every fallback shows)."""
    if subscriber is None:
        return {}
    return {
        "first_name": subscriber.first_name,
        "last_name": subscriber.last_name,
        "phone": subscriber.phone,
        "attributes": subscriber.attributes,
    }


def body_estimate(body: str, campaign: Campaign, specs: dict | None = None):
    """Characters, encoding and segments of the text with every variable at its fallback; links at full length."""
    return count_segments(preview_text(body, campaign, None, specs))


def texts_estimate(campaign: Campaign, variants: list[Variant], audience: int) -> dict:
    """What sending would take: texts (the holdout left out), segments, cost, and time at the sender's rate."""
    specs = attribute_specs()
    texts = audience - audience * campaign.holdout_percent // 100
    counted = []
    for variant in variants:
        try:
            counted.append((variant, body_estimate(variant.body, campaign, specs)))
        except ValidationError:  # a broken text is named by the checks
            continue
    total_weight = sum(variant.weight for variant, _ in counted) or 1
    segments = round(sum(texts * variant.weight / total_weight * c.segments for variant, c in counted))
    seconds = segments / settings.SMS_SENDER_MPS
    return {
        "texts": texts,
        "segments": segments,
        "cost": (Decimal(settings.SMS_PRICE_PER_SEGMENT) * segments).quantize(Decimal("0.01")),
        "seconds": seconds,
        "duration": duration_text(seconds),
    }


def duration_text(seconds: float) -> str:
    if seconds < 1.5:
        return "about a second"
    if seconds < 90:
        return f"about {round(seconds)} seconds"
    if seconds < 5400:
        return f"about {round(seconds / 60)} minutes"
    return f"about {seconds / 3600:.1f} hours"


# --- Compose ------------------------------------------------------------------------------------------------


EDITABLE_FIELDS = (
    "name",
    "link_url",
    "media_url",
    "exclude_texted_within_hours",
    "holdout_percent",
    "test_percent",
    "winner_metric",
    "winner_after_hours",
    "send_at",
    "local_time",
)


def campaign_save(*, campaign: Campaign | None = None, data: dict, user=None) -> Campaign:
    """Create or change a draft; raise ValidationError naming every problem by its field.

    The draft is locked and read again first: a campaign sent meanwhile (by another person, another tab) is not
    turned back into a draft by a page that was open before.
    """
    with transaction.atomic():
        if campaign is not None:
            campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
            if not campaign.is_editable:
                status = campaign.get_status_display().lower()
                raise ValidationError(f"{campaign.name} is {status}: only a draft can change")
        campaign = campaign or Campaign(created_by=user)
        variants, include, exclude = _apply(campaign, data)
        campaign.save(update_fields=[*EDITABLE_FIELDS, "updated_at"] if campaign.pk else None)
        if variants is not None:
            campaign.variants.all().delete()
            weights = _weights(variants)
            Variant.objects.bulk_create(
                Variant(campaign=campaign, label="ABCDE"[index], body=item["body"], weight=weights[index])
                for index, item in enumerate(variants)
            )
        if include is not None:
            campaign.include_segments.set(include)
        if exclude is not None:
            campaign.exclude_segments.set(exclude)
    return campaign


def _apply(campaign: Campaign, data: dict):
    """Set the fields of `data` on the (unsaved) campaign and check everything; the variants and segments to save."""
    problems: dict[str, list[str]] = {}

    def problem(field: str, text: str) -> None:
        problems.setdefault(field, []).append(text)

    for field in EDITABLE_FIELDS:
        if field in data:
            setattr(campaign, field, data[field])
    campaign.name = (campaign.name or "").strip()
    if not campaign.name:
        problem("name", "give the campaign a name")
    if not 0 <= (campaign.holdout_percent or 0) <= MAX_HOLDOUT_PERCENT:
        problem("holdout_percent", f"the holdout is a share from 0 to {MAX_HOLDOUT_PERCENT} %")
    if campaign.test_percent is not None and not 1 <= campaign.test_percent <= 50:
        problem("test_percent", "the test share is from 1 to 50 % of the audience (or none)")
    if campaign.exclude_texted_within_hours is not None and not 1 <= campaign.exclude_texted_within_hours <= 720:
        problem("exclude_texted_within_hours", "from 1 to 720 hours (30 days), or empty")
    if not 1 <= (campaign.winner_after_hours or 0) <= 168:
        problem("winner_after_hours", "the test runs from 1 to 168 hours")
    if campaign.winner_metric not in Campaign.WinnerMetric.values:
        problem("winner_metric", f"one of {', '.join(Campaign.WinnerMetric.values)}")
    for field in ("link_url", "media_url"):
        for text in links.link_problems(getattr(campaign, field)) if getattr(campaign, field) else []:
            problem(field, text)
    if campaign.local_time and not campaign.send_at:
        problem("send_at", "a send in each subscriber's local time needs a date and time")
    if "send_at" in data and campaign.send_at and not campaign.local_time and campaign.send_at < timezone.now():
        problem("send_at", f"{campaign.send_at:%Y-%m-%d %H:%M} UTC has passed; leave it empty to send at once")

    variants = data.get("variants")
    if variants is None and campaign.pk is None:
        problem("variants", "write the text")
    if variants is not None:
        variants = (
            [
                {**item, "body": prepare_body(item.get("body") or "", smart_encoding=settings.SMS_SMART_ENCODING)}
                if isinstance(item, dict)
                else item
                for item in variants
            ]
            if isinstance(variants, list)
            else variants
        )
        _check_variants(variants, campaign, problem)
    if campaign.test_percent is not None and len(variants if variants is not None else campaign.variants.all()) < 2:
        problem("test_percent", "test-then-winner needs at least two variants")

    include = _segments(data, "include_segments", problem)
    exclude = _segments(data, "exclude_segments", problem)
    if include is not None and exclude is not None and set(include) & set(exclude):
        names = ", ".join(s.name for s in set(include) & set(exclude))
        problem("exclude_segments", f"{names} cannot be both included and excluded")
    if problems:
        raise ValidationError(problems)
    return variants, include, exclude


def _check_variants(variants, campaign: Campaign, problem) -> None:
    if not isinstance(variants, list) or not 1 <= len(variants) <= MAX_VARIANTS:
        problem("variants", f"from 1 to {MAX_VARIANTS} variants")
        return
    specs = attribute_specs()
    for index, item in enumerate(variants):
        place = f"variants[{index}]"
        body = (item.get("body") or "") if isinstance(item, dict) else ""
        if not body.strip():
            problem(place, "the text is empty")
            continue
        try:
            text = preview_text(body, campaign, None, specs)
        except ValidationError as error:
            for message in error.messages:
                problem(place, message)
            continue
        if len(text) > MAX_BODY_CHARACTERS:
            problem(place, f"the text is {len(text)} characters; at most {MAX_BODY_CHARACTERS}")
        weight = item.get("weight")
        if len(variants) > 1 and (not isinstance(weight, int) or isinstance(weight, bool) or not 1 <= weight <= 99):
            problem(place, "with several variants, each needs a weight from 1 to 99 (percent)")
    if len(variants) > 1 and all(isinstance(v, dict) and isinstance(v.get("weight"), int) for v in variants):
        total = sum(v["weight"] for v in variants)
        if total != 100:
            problem("variants", f"the weights add up to {total} %; they must add up to 100 %")


def _weights(variants) -> list[int]:
    if len(variants) == 1:
        return [100]
    return [int(item["weight"]) for item in variants]


def _segments(data: dict, field: str, problem) -> list[Segment] | None:
    if field not in data:
        return None
    ids = data[field] or []
    if not isinstance(ids, list) or not all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
        problem(field, "a list of segment ids")
        return None
    found = {s.pk: s for s in Segment.objects.filter(pk__in=ids)}
    missing = [str(i) for i in ids if i not in found]
    if missing:
        problem(field, f"no segment has the id {', '.join(missing)}")
    return list(found.values())


def campaign_problems(campaign: Campaign) -> list[str]:
    """What stops a campaign from being sent, in words; empty when it may go."""
    problems = []
    if not campaign.include_segments.exists():
        problems.append("choose at least one segment to send to")
    variants = list(campaign.variants.all())
    if not variants:
        problems.append("write the text")
    specs = attribute_specs()
    for variant in variants:
        try:
            variant_template(variant, campaign, specs)
        except ValidationError as error:
            problems += [f"text {variant.label}: {text}" for text in error.messages]
    if campaign.test_percent is not None and len(variants) < 2:
        problems.append("test-then-winner needs at least two variants")
    return problems


# --- Sending -----------------------------------------------------------------------------------------------


def campaign_send(*, campaign: Campaign, user=None) -> Campaign:
    """Schedule the campaign (now, at send_at, or at send_at in each subscriber's zone); the worker fans it out."""
    with transaction.atomic():
        campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
        if campaign.status != Campaign.Status.DRAFT:
            raise ValidationError(f"{campaign.name} is {campaign.get_status_display().lower()}, not a draft")
        problems = campaign_problems(campaign)
        if problems:
            raise ValidationError(problems)
        campaign.status = Campaign.Status.SCHEDULED
        campaign.sent_by = user
        campaign.fanout_at = _fanout_at(campaign)
        campaign.save(update_fields=["status", "sent_by", "fanout_at", "updated_at"])
        transaction.on_commit(fanout_kick)
    return campaign


def _fanout_at(campaign: Campaign) -> datetime:
    if campaign.send_at is None:
        return timezone.now()
    if campaign.local_time:
        return local_wall_clock(campaign).replace(tzinfo=ZoneInfo("UTC")) - EARLIEST_ZONE_OFFSET
    return campaign.send_at


def local_wall_clock(campaign: Campaign) -> datetime:
    """A local-time campaign's date and time of day (naive): send_at as read in the store's time zone."""
    return campaign.send_at.astimezone(ZoneInfo(settings.PARLEY_DEFAULT_TIME_ZONE)).replace(tzinfo=None)


def local_send_time(campaign: Campaign, zone: str, now: datetime) -> datetime | None:
    """When a local-time campaign reaches a subscriber in `zone`; None when that moment has passed (send now)."""
    try:
        tz = ZoneInfo(zone or settings.PARLEY_DEFAULT_TIME_ZONE)
    except (ValueError, KeyError):
        tz = ZoneInfo(settings.PARLEY_DEFAULT_TIME_ZONE)
    at = local_wall_clock(campaign).replace(tzinfo=tz)
    return at if at > now else None


def fanout_kick() -> None:
    """Start the fan-out at once rather than at the worker's next minute."""
    if not settings.SMS_KICK_WORKER:
        return
    from django_q.tasks import async_task

    async_task("campaigns.tasks.fanout_due", task_name="campaign fan-out", group="campaigns")


def campaign_pause(*, campaign: Campaign) -> Campaign:
    """Stop the fan-out and hold the texts not yet sent; resume sends them."""
    with transaction.atomic():
        campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
        if not _pausable(campaign):
            raise ValidationError(f"{campaign.name} is {campaign.get_status_display().lower()}: nothing to pause")
        campaign.status = Campaign.Status.PAUSED
        campaign.save(update_fields=["status", "updated_at"])
        messages_hold(
            origin=Message.Origin.CAMPAIGN, origin_ids=_recipient_ids(campaign), reason="the campaign is paused"
        )
    return campaign


def campaign_unschedule(*, campaign: Campaign) -> Campaign:
    """A scheduled campaign whose fan-out has not begun goes back to draft, to be changed and sent again."""
    with transaction.atomic():
        campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
        waiting = campaign.status == Campaign.Status.SCHEDULED or (
            campaign.status == Campaign.Status.PAUSED and campaign.started_at is None
        )
        if not waiting:
            status = campaign.get_status_display().lower()
            raise ValidationError(f"{campaign.name} is {status}: only a campaign that has not begun goes back to draft")
        campaign.status, campaign.fanout_at = Campaign.Status.DRAFT, None
        campaign.save(update_fields=["status", "fanout_at", "updated_at"])
    return campaign


def _pausable(campaign: Campaign) -> bool:
    """Scheduled, fanning out, testing, or fanned out with texts still queued (held for quiet hours, say)."""
    if campaign.status in (Campaign.Status.SCHEDULED, Campaign.Status.SENDING, Campaign.Status.TESTING):
        return True
    return campaign.status == Campaign.Status.SENT and queued_texts(campaign).exists()


def campaign_resume(*, campaign: Campaign) -> Campaign:
    with transaction.atomic():
        campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
        if campaign.status != Campaign.Status.PAUSED:
            raise ValidationError(f"{campaign.name} is not paused")
        campaign.status = Campaign.Status.SENDING if campaign.started_at else Campaign.Status.SCHEDULED
        campaign.save(update_fields=["status", "updated_at"])
        now = timezone.now()
        messages_release(
            origin=Message.Origin.CAMPAIGN,
            origin_ids=_recipient_ids(campaign),
            due_in_zone=(lambda zone: local_send_time(campaign, zone, now)) if campaign.local_time else None,
            at=now,
        )
        transaction.on_commit(fanout_kick)
    return campaign


def campaign_delete(*, campaign: Campaign) -> None:
    """Delete a draft or a cancelled campaign; one that went out keeps its results, so it is refused."""
    with transaction.atomic():
        locked = Campaign.objects.select_for_update().filter(pk=campaign.pk).first()
        if locked is None:
            return
        if locked.status not in Campaign.DELETABLE:
            raise ValidationError(f"{locked.name} is {locked.status}: cancel it first")
        locked.delete()


def campaign_cancel(*, campaign: Campaign) -> Campaign:
    """Stop for good: texts not yet sent are marked failed ("cancelled"), those waiting for a winner get nothing."""
    with transaction.atomic():
        campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
        if campaign.status != Campaign.Status.PAUSED and not _pausable(campaign):
            status = campaign.get_status_display().lower()
            raise ValidationError(f"{campaign.name} is {status}: nothing is left to cancel")
        _end(campaign, Campaign.Status.CANCELLED, "cancelled by the store")
    return campaign


def _end(campaign: Campaign, status: str, reason: str) -> None:
    campaign.status, campaign.end_reason, campaign.finished_at = status, reason, timezone.now()
    campaign.save(update_fields=["status", "end_reason", "finished_at", "updated_at"])
    if status == Campaign.Status.CANCELLED:
        messages_cancel(
            origin=Message.Origin.CAMPAIGN,
            origin_ids=_recipient_ids(campaign),
            code="cancelled",
            reason="the campaign was cancelled before this text was sent",
        )
        campaign.recipients.filter(status=Recipient.Status.WAITING).update(status=Recipient.Status.CANCELLED)


def queued_texts(campaign: Campaign):
    return Message.objects.filter(
        origin=Message.Origin.CAMPAIGN, status=Message.Status.QUEUED, origin_id__in=_recipient_ids(campaign)
    )


def _recipient_ids(campaign: Campaign):
    """The origin ids of the campaign's texts: its recipients' (as a subquery)."""
    return Recipient.objects.filter(campaign=campaign).values("id")


def campaign_test_send(*, campaign: Campaign, phone: str, variant: Variant | None = None, user=None) -> Message:
    """Send a variant to one subscribed number, personalised for them; links go straight to the page (untracked)."""
    phone = normalize_phone_field(phone)
    subscriber = Subscriber.objects.filter(phone=phone).first()
    if subscriber is None:
        raise ValidationError({"phone": [f"{phone} is not a subscriber; a test goes only to a subscribed number"]})
    variant = variant or campaign.variants.first()
    if variant is None:
        raise ValidationError({"variants": ["write the text first"]})
    specs = attribute_specs()
    parsed = variant_template(variant, campaign, specs)
    body = parsed.render(
        subscriber_values(subscriber),
        labels=labels_of(specs),
        store=settings.PARLEY_STORE_NAME,
        link_for=lambda letter, url: tracked_url(url, campaign, variant.label),
    )
    return message_queue(
        subscriber=subscriber,
        body=body,
        purpose=Message.Purpose.MARKETING,
        origin=Message.Origin.CAMPAIGN,
        sent_by=user,
        media_urls=[campaign.media_url] if campaign.media_url else [],
    )


# --- The winner of a test ----------------------------------------------------------------------------------


def winner_pick(*, campaign: Campaign, now: datetime | None = None) -> Variant:
    """Choose the variant with the best rate on the metric among those who got a variant; ties go to the first."""
    scores = variant_scores(campaign)
    best = max(scores, key=lambda row: (row["score"], -ord(row["variant"].label)))
    shown = ", ".join(f"{row['variant'].label} {row['shown']}" for row in scores)
    campaign.winner = best["variant"]
    campaign.winner_reason = f"{best['variant'].label} won on {campaign.get_winner_metric_display().lower()}: {shown}"
    campaign.status = Campaign.Status.SENDING
    campaign.save(update_fields=["winner", "winner_reason", "status", "updated_at"])
    return best["variant"]


# --- Links and clicks -------------------------------------------------------------------------------------

BOT_AGENTS = re.compile(
    r"bot\b|crawl|spider|preview|facebookexternalhit|facebot|slack|whatsapp|telegram|discord|skype|"
    r"linkedin|pinterest|embedly|vkshare|qwantify|bitlybot|curl/|wget/|python-requests|python-urllib|"
    r"go-http-client|okhttp|headless|google-read-aloud|apple-?mail|proofpoint|mimecast|barracuda",
    re.IGNORECASE,
)


def is_bot(user_agent: str, method: str) -> bool:
    """A link-preview fetch or a scanner rather than a person: HEAD requests, no user agent, or a known agent."""
    return method.upper() == "HEAD" or not user_agent.strip() or bool(BOT_AGENTS.search(user_agent))


def tracked_url(url: str, campaign: Campaign, variant_label: str) -> str:
    """`url` with UTM parameters added (the store's own utm_* values are kept)."""
    parts = urlsplit(url)
    present = {key for key, _ in parse_qsl(parts.query, keep_blank_values=True)}
    utm = {
        "utm_source": "parley",
        "utm_medium": "sms",
        "utm_campaign": slugify(campaign.name) or f"campaign-{campaign.pk}",
        "utm_content": variant_label,
    }
    added = urlencode([(key, value) for key, value in utm.items() if key not in present])
    # The store's own query is kept exactly as written (signed URLs, odd separators); ours is appended.
    query = "&".join(part for part in (parts.query, added) if part)
    return urlunsplit(parts._replace(query=query))


def link_open(*, code: str, user_agent: str = "", ip: str | None = None, method: str = "GET") -> str | None:
    """Record the opening of a short link and return where it leads; None for a code that is not ours.

    A code that is not a campaign's may be a tracked link of a flow's text (conversations.services.links).
    """
    parts = links.code_parts(code)
    if parts is None:
        return tracked_link_open(code=code, bot=is_bot(user_agent, method))
    recipient_id, letter, check = parts
    recipient = Recipient.objects.select_related("campaign", "subscriber", "variant").filter(pk=recipient_id).first()
    if recipient is None or recipient.variant is None:
        return None
    if links.link_check(recipient.campaign.link_secret, recipient_id, letter) != check:
        return None
    link = Link.objects.filter(variant=recipient.variant, letter=letter).first()
    if link is None:
        return None
    now = timezone.now()
    bot = is_bot(user_agent, method)
    Click.objects.create(
        link=link, recipient=recipient, is_bot=bot, user_agent=user_agent[:500], ip=ip or None, clicked_at=now
    )
    if not bot:
        event_record(
            phone=recipient.subscriber.phone,
            type=event_types.LINK_CLICKED,
            properties={"campaign": recipient.campaign_id, "variant": recipient.variant.label, "url": link.url},
            occurred_at=now,
        )
    return tracked_url(link.url, recipient.campaign, recipient.variant.label)


# --- Orders ------------------------------------------------------------------------------------------------


def order_attribute(*, event: Event) -> Attribution | None:
    """Credit an order to the campaign that touched the shopper last: a click within the click window, else a text
    received within the receive window."""
    if event.type != event_types.ORDER_PLACED:
        return None
    at = event.occurred_at
    click = (
        Click.objects.filter(
            recipient__subscriber_id=event.subscriber_id,
            is_bot=False,
            clicked_at__lte=at,
            clicked_at__gte=at - timedelta(days=settings.CAMPAIGN_ATTRIBUTION_CLICK_DAYS),
        )
        .select_related("recipient")
        .order_by("-clicked_at")
        .first()
    )
    recipient, touch = (click.recipient, Attribution.Touch.CLICK) if click else (None, "")
    if recipient is None:
        received = (
            Message.objects.filter(
                subscriber_id=event.subscriber_id,
                origin=Message.Origin.CAMPAIGN,
                origin_id__isnull=False,
                status__in=[Message.Status.SENT, Message.Status.DELIVERED],
                sent_at__lte=at,
                sent_at__gte=at - timedelta(days=settings.CAMPAIGN_ATTRIBUTION_RECEIVED_DAYS),
            )
            .order_by("-sent_at")
            .values_list("origin_id", flat=True)
            .first()
        )
        recipient = Recipient.objects.filter(pk=received).first() if received else None
        touch = Attribution.Touch.RECEIVED
    if recipient is None:
        return None
    revenue, currency = order_amount(event.properties or {})
    return Attribution.objects.create(
        event=event,
        recipient=recipient,
        campaign_id=recipient.campaign_id,
        touch=touch,
        revenue=revenue,
        currency=currency,
        ordered_at=at,
    )


def demo_campaigns_load() -> list[str]:
    """A draft for the demo: new lip balms for vegans, not for gift buyers, A/B tested with a 10 % holdout."""
    if Campaign.objects.filter(name="New vegan lip balms").exists():
        return []
    include = Segment.objects.filter(name="Vegans").first()
    exclude = Segment.objects.filter(name="Buying a gift").first()
    data = {
        "name": "New vegan lip balms",
        "link_url": "https://shop.example.com/collections/vegan-lip-balm",
        "holdout_percent": 10,
        "variants": [
            {"body": "New vegan lip balms are in: {{ link }}", "weight": 50},
            {"body": 'Hi {{ first_name|default:"there" }}! Our vegan lip balms just landed: {{ link }}', "weight": 50},
        ],
        "include_segments": [include.pk] if include else [],
        "exclude_segments": [exclude.pk] if exclude else [],
    }
    campaign_save(data=data)
    return ["campaign: New vegan lip balms (draft)"]
