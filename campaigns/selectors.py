"""Reads of campaigns: the audience count and estimates before sending, results after, the recipients' CSV.

Results are counted by the database, grouped by variant (NULL is the holdout), in a handful of queries whatever
the audience's size.
"""

import csv
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.db import connection
from django.db.models import Count, Min, Sum
from django.utils import timezone

from conversations import event_types
from conversations.db import add_days_sql
from conversations.models import ConsentEvent, Event, Message, Subscriber, TrackedLink
from segments.compiler import rules_queryset
from segments.models import Segment
from segments.rules import rules_expanded
from segments.selectors import CSVLine

from . import links
from .models import Attribution, Campaign, Click, Recipient, Variant

CENTS = Decimal("0.01")
STATS_KEYS = ["recipients", "sent", "delivered", "failed", "clicks", "replies", "opt_outs", "orders", "revenue"]


def message_labels(messages: list[Message]) -> dict[int, str]:
    """The label "Campaign: <name> (A)" of each text a campaign sent, for the inbox; one query."""
    recipient_ids = {m.origin_id for m in messages if m.origin == Message.Origin.CAMPAIGN and m.origin_id}
    names = {
        pk: f"Campaign: {name}" + (f" ({label})" if label else "")
        for pk, name, label in Recipient.objects.filter(pk__in=recipient_ids).values_list(
            "pk", "campaign__name", "variant__label"
        )
    }
    return {m.pk: names[m.origin_id] for m in messages if m.origin == Message.Origin.CAMPAIGN and m.origin_id in names}


def audience_rules(campaign: Campaign) -> dict | None:
    """The campaign's audience as one rule: any of the included segments and none of the excluded, written out."""
    return rules_for_segments(list(campaign.include_segments.all()), list(campaign.exclude_segments.all()))


def rules_for_segments(include: list[Segment], exclude: list[Segment]) -> dict | None:
    if not include:
        return None
    segment_rules = lambda pk: Segment.objects.filter(pk=pk).values_list("rules", flat=True).first()  # noqa: E731
    rules = {"all": [{"any": [rules_expanded({"segment": s.pk}, segment_rules) for s in include]}]}
    if exclude:
        rules["all"].append({"not": {"any": [rules_expanded({"segment": s.pk}, segment_rules) for s in exclude]}})
    return rules


def audience_members(rules: dict | None, *, at, exclude_texted_within_hours: int | None = None):
    """The subscribed members of `rules` as of `at` who had joined by then and were not texted lately: one query."""
    if rules is None:
        return Subscriber.objects.none()
    members = rules_queryset(rules, now=at).filter(status=Subscriber.Status.SUBSCRIBED, created_at__lte=at)
    if exclude_texted_within_hours:
        members = members.exclude(last_outbound_at__gte=at - timedelta(hours=exclude_texted_within_hours))
    return members


def audience_estimate(campaign: Campaign, now=None):
    """The people the campaign would reach if it were sent now."""
    return audience_members(
        audience_rules(campaign),
        at=now or timezone.now(),
        exclude_texted_within_hours=campaign.exclude_texted_within_hours,
    )


# --- Results ------------------------------------------------------------------------------------------------


def campaign_stats(campaign: Campaign) -> dict:
    """Totals and, per variant and for the holdout, what happened: the numbers of the results page and the API."""
    variants = list(campaign.variants.all())
    groups = {v.pk: _empty(v.label) for v in variants}
    groups[None] = _empty("holdout")
    for row in campaign.recipients.values("variant_id", "status").annotate(n=Count("id")).order_by():
        group = groups.setdefault(row["variant_id"], _empty("?"))
        if row["status"] == Recipient.Status.WAITING:
            group["waiting"] += row["n"]
        elif row["status"] != Recipient.Status.CANCELLED:
            group["recipients"] += row["n"]
    for variant_id, status, error_code, held, n in _message_counts(campaign):
        group = groups[variant_id]
        if status in (Message.Status.SENT, Message.Status.DELIVERED, Message.Status.UNDELIVERED):
            group["sent"] += n
        if status == Message.Status.DELIVERED:
            group["delivered"] += n
        if status == Message.Status.FAILED and error_code.startswith("gate:"):
            group["skipped"] += n  # the gate refused it when its turn came: they had opted out meanwhile
        elif status in (Message.Status.FAILED, Message.Status.UNDELIVERED) and error_code != "cancelled":
            group["failed"] += n
        if status in (Message.Status.QUEUED, Message.Status.SENDING):
            group["queued"] += n
            group["held"] += n if held else 0
    clicks = (
        Click.objects.filter(recipient__campaign=campaign, is_bot=False)
        .values("recipient__variant_id")
        .annotate(clicks=Count("id"), clickers=Count("recipient_id", distinct=True))
        .order_by()
    )
    for row in clicks:
        groups[row["recipient__variant_id"]].update(clicks=row["clicks"], clickers=row["clickers"])
    for variant_id, n in _after_text(campaign, "replies"):
        groups[variant_id]["replies"] = n
    for variant_id, n in _after_text(campaign, "opt_outs"):
        groups[variant_id]["opt_outs"] = n
    currency = settings.PARLEY_STORE_CURRENCY
    attributed = (
        Attribution.objects.filter(campaign=campaign, currency=currency)
        .values("recipient__variant_id")
        .annotate(orders=Count("id"), revenue=Sum("revenue"))
        .order_by()
    )
    for row in attributed:
        groups[row["recipient__variant_id"]].update(orders=row["orders"], revenue=money(row["revenue"]))
    other = (
        Attribution.objects.filter(campaign=campaign)
        .exclude(currency=currency)
        .values("currency")
        .annotate(orders=Count("id"), revenue=Sum("revenue"))
        .order_by("currency")
    )
    _conversion(campaign, groups)
    for group in groups.values():
        _rates(group)
    totals = _empty("all")
    for variant_id, group in groups.items():
        for key in (*STATS_KEYS, "clickers", "queued", "held", "skipped", "waiting"):
            if variant_id is not None or key in ("recipients",):
                totals[key] += group[key]
    _rates(totals)
    holdout = groups.pop(None)
    return {
        **{key: totals[key] for key in STATS_KEYS},
        "queued": totals["queued"],
        "held": totals["held"],
        "skipped": totals["skipped"],
        "waiting": totals["waiting"],
        "clickers": totals["clickers"],
        "click_rate": totals["click_rate"],
        "currency": currency,
        "other_currencies": [
            {"currency": row["currency"], "orders": row["orders"], "revenue": money(row["revenue"])} for row in other
        ],
        "variants": [groups[v.pk] for v in variants],
        "holdout": holdout if campaign.holdout_percent else None,
        "winner": campaign.winner.label if campaign.winner_id else None,
    }


def money(value) -> Decimal:
    """A sum of revenue to the cent: SQLite sums decimals as floats (42.5, 0.300000000000000)."""
    return (value or Decimal(0)).quantize(CENTS)


def _empty(label: str) -> dict:
    return {
        "label": label,
        "recipients": 0,
        "waiting": 0,
        "queued": 0,
        "held": 0,
        "skipped": 0,
        "sent": 0,
        "delivered": 0,
        "failed": 0,
        "clicks": 0,
        "clickers": 0,
        "replies": 0,
        "opt_outs": 0,
        "orders": 0,
        "revenue": money(None),
        "buyers": 0,
        "buyer_revenue": Decimal(0),
    }


def _rates(group: dict) -> None:
    base = group["sent"] or group["recipients"]
    group["click_rate"] = round(100 * group["clickers"] / base, 2) if base else 0.0
    group["reply_rate"] = round(100 * group["replies"] / base, 2) if base else 0.0
    people = group["recipients"]
    group["conversion_rate"] = round(100 * group["buyers"] / people, 2) if people else 0.0
    group["revenue_per_recipient"] = (group["buyer_revenue"] / people).quantize(CENTS) if people else money(None)


def _message_counts(campaign: Campaign):
    """(variant, status, error code, held for later, count) of the campaign's texts."""
    recipient, message = Recipient._meta.db_table, Message._meta.db_table
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT r.variant_id, m.status, m.error_code, m.not_before > %s, COUNT(*) FROM {recipient} r "
            f"JOIN {message} m ON m.origin = 'campaign' AND m.origin_id = r.id "
            "WHERE r.campaign_id = %s GROUP BY 1, 2, 3, 4",
            [now, campaign.pk],
        )
        return cursor.fetchall()


def _after_text(campaign: Campaign, what: str):
    """Recipients who replied (or opted out) within a day of their campaign text being sent, per variant: within
    that day, it is the campaign's doing.

    A reply is a text back from someone who did not opt out in that day: STOP is counted as an opt-out only.
    """
    recipient, message, consent = Recipient._meta.db_table, Message._meta.db_table, ConsentEvent._meta.db_table
    window = add_days_sql("m.sent_at", 1)
    opted_out = (
        f"EXISTS (SELECT 1 FROM {consent} c WHERE c.subscriber_id = r.subscriber_id AND c.kind = 'opt_out' "
        f"AND c.occurred_at >= m.sent_at AND c.occurred_at <= {window})"
    )
    replied = (
        f"EXISTS (SELECT 1 FROM {message} x WHERE x.subscriber_id = r.subscriber_id AND x.direction = 'inbound' "
        f"AND x.created_at >= m.sent_at AND x.created_at <= {window})"
    )
    condition = opted_out if what == "opt_outs" else f"{replied} AND NOT {opted_out}"
    sql = (
        f"SELECT r.variant_id, COUNT(*) FROM {recipient} r "
        f"JOIN {message} m ON m.origin = 'campaign' AND m.origin_id = r.id AND m.sent_at IS NOT NULL "
        f"WHERE r.campaign_id = %s AND {condition} GROUP BY r.variant_id"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [campaign.pk])
        return cursor.fetchall()


def _conversion(campaign: Campaign, groups: dict) -> None:
    """Orders by each group (the holdout too) within the click window after the first text left: the fair
    comparison, since the holdout got no text and so no attribution."""
    start = Message.objects.filter(
        origin=Message.Origin.CAMPAIGN, origin_id__in=campaign.recipients.values("id"), sent_at__isnull=False
    ).aggregate(first=Min("sent_at"))["first"]
    if start is None:  # nothing has gone out yet: no window to compare in
        return
    end = start + timedelta(days=settings.CAMPAIGN_ATTRIBUTION_CLICK_DAYS)
    # Those waiting for a test's winner belong to no group yet (their variant is unknown, not the holdout).
    compared = campaign.recipients.filter(status__in=[Recipient.Status.QUEUED, Recipient.Status.HOLDOUT])
    orders = Event.objects.filter(
        type=event_types.ORDER_PLACED,
        occurred_at__gte=start,
        occurred_at__lt=end,
        subscriber_id__in=compared.values("subscriber_id"),
    )
    variant_of = dict(
        compared.filter(subscriber_id__in=orders.values("subscriber_id")).values_list("subscriber_id", "variant_id")
    )
    buyers: dict = {}
    for subscriber_id, properties in orders.values_list("subscriber_id", "properties"):
        variant_id = variant_of.get(subscriber_id)
        total, currency = order_amount(properties or {})
        group = groups[variant_id]
        buyers.setdefault(variant_id, set()).add(subscriber_id)
        if currency == settings.PARLEY_STORE_CURRENCY:
            group["buyer_revenue"] += total
    for variant_id, people in buyers.items():
        groups[variant_id]["buyers"] = len(people)


def order_amount(properties: dict) -> tuple[Decimal, str]:
    """An order event's total and currency; a missing or unreadable total counts as 0."""
    try:
        total = Decimal(str(properties.get("total", 0)))
    except (InvalidOperation, ValueError):
        total = Decimal(0)
    if not total.is_finite() or total < 0 or total >= Decimal("1e12"):
        total = Decimal(0)
    currency = str(properties.get("currency") or settings.PARLEY_STORE_CURRENCY).upper()[:3]
    return total.quantize(Decimal("0.01")), currency


def charts(groups: list[dict]) -> list[dict]:
    """Bars for the results page: each measure with one bar per group, as a share of the largest."""
    measures = [
        ("Click rate", "click_rate", "%"),
        ("Reply rate", "reply_rate", "%"),
        ("Conversion (ordered within the window)", "conversion_rate", "%"),
        ("Revenue per recipient", "revenue_per_recipient", ""),
    ]
    out = []
    for title, key, unit in measures:
        top = max((float(group[key]) for group in groups), default=0) or 1
        bars = [
            {"label": group["label"], "value": group[key], "width": round(100 * float(group[key]) / top, 1)}
            for group in groups
        ]
        out.append({"title": title, "unit": unit, "bars": bars})
    return out


def variant_scores(campaign: Campaign) -> list[dict]:
    """Each variant's rate on the campaign's winner metric, among those who got it."""
    stats = campaign_stats(campaign)
    metric = campaign.winner_metric
    rows = []
    variants = {v.label: v for v in Variant.objects.filter(campaign=campaign)}
    for group in stats["variants"]:
        people = group["sent"] or group["recipients"] or 1
        if metric == Campaign.WinnerMetric.REVENUE:
            score = float(group["revenue"]) / people
            shown = f"{score:.2f} {stats['currency']}/recipient"
        else:
            value = group["clickers"] if metric == Campaign.WinnerMetric.CLICKS else group["replies"]
            score = value / people
            shown = f"{100 * score:.1f} %"
        rows.append({"variant": variants[group["label"]], "score": score, "shown": shown})
    return rows


def recipients_csv_lines(campaign: Campaign) -> Iterator[str]:
    """One line per recipient: phone, variant, status, the text's status, clicked, ordered; streamed in id order."""
    recipients = campaign.recipients.order_by("id").values_list("id", "subscriber__phone", "variant__label", "status")
    line = CSVLine()
    writer = csv.writer(line)
    writer.writerow(["phone", "variant", "status", "text_status", "clicks", "orders", "revenue"])
    yield line.take()
    last = 0
    while True:
        chunk = list(recipients.filter(id__gt=last)[:5000])
        if not chunk:
            return
        ids = [row[0] for row in chunk]
        texts = dict(
            Message.objects.filter(origin=Message.Origin.CAMPAIGN, origin_id__in=ids).values_list("origin_id", "status")
        )
        clicks = dict(
            Click.objects.filter(recipient_id__in=ids, is_bot=False)
            .values("recipient_id")
            .annotate(n=Count("id"))
            .values_list("recipient_id", "n")
            .order_by()
        )
        orders = {
            row["recipient_id"]: row
            for row in Attribution.objects.filter(recipient_id__in=ids)
            .values("recipient_id")
            .annotate(n=Count("id"), revenue=Sum("revenue"))
            .order_by()
        }
        for recipient_id, phone, label, status in chunk:
            order = orders.get(recipient_id, {})
            writer.writerow(
                [
                    phone,
                    label or "",
                    status,
                    texts.get(recipient_id, ""),
                    clicks.get(recipient_id, 0),
                    order.get("n", 0),
                    money(order.get("revenue")),
                ]
            )
            yield line.take()
        last = ids[-1]


def link_subscriber_id(code: str) -> int | None:
    """The subscriber a short link was sent to (for the redirect's browse identifier); None for a code not ours."""
    parts = links.code_parts(code)
    if parts is None:  # a flow's tracked link (conversations.services.links)
        return TrackedLink.objects.filter(code=code).values_list("subscriber_id", flat=True).first()
    return Recipient.objects.filter(pk=parts[0]).values_list("subscriber_id", flat=True).first()
