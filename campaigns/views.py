"""Staff pages of campaigns (compose with a live preview, confirm, results) and the public short-link redirect."""

from datetime import datetime
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponseRedirect, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from conversations.models import Subscriber
from conversations.outbox import SendRefused
from conversations.params import whole_number
from conversations.signup.identity import url_with_identity
from conversations.texts import count_summary, non_gsm7_characters
from segments.models import Segment

from . import selectors, services
from .models import Campaign, Variant

LABELS = "ABCDE"
SAMPLE_SIZE = 10


def _require(request, *perms: str) -> None:
    if not request.user.has_perms(perms):
        raise PermissionDenied


def _errors(error: ValidationError) -> dict[str, list[str]]:
    if hasattr(error, "error_dict"):
        return error.message_dict
    return {"__all__": error.messages}


@staff_member_required
def campaign_list(request):
    _require(request, "campaigns.view_campaign")
    campaigns = Campaign.objects.prefetch_related("include_segments")[:200]
    return render(request, "campaigns/list.html", {"campaigns": campaigns, "title": "Campaigns"})


# --- Compose ---------------------------------------------------------------------------------------------


def _form_data(post) -> dict:
    """The compose form as campaign_save wants it; numbers the form cannot read are left for the checks to name."""
    count = _int(post.get("variant_count")) or 1
    count = max(1, min(services.MAX_VARIANTS, count))
    variants = []
    for index in range(count):
        body = post.get(f"body_{LABELS[index]}", "")
        weight = _int(post.get(f"weight_{LABELS[index]}")) if count > 1 else 100
        variants.append({"body": body, "weight": weight})
    if all(v["weight"] is None for v in variants):  # weights left empty: an even split
        for index, variant in enumerate(variants):
            variant["weight"] = 100 // count + (1 if index < 100 % count else 0)
    schedule = post.get("schedule", "now")
    send_at = _local_datetime(post.get("send_at", "")) if schedule in ("at", "local") else None
    test = post.get("test_then_winner") == "on" and count > 1
    return {
        "name": post.get("name", ""),
        "variants": variants,
        "link_url": post.get("link_url", "").strip(),
        "media_url": post.get("media_url", "").strip(),
        "include_segments": [_int(i) for i in post.getlist("include_segments") if _int(i)],
        "exclude_segments": [_int(i) for i in post.getlist("exclude_segments") if _int(i)],
        "exclude_texted_within_hours": _int(post.get("exclude_texted_within_hours")),
        "holdout_percent": _int(post.get("holdout_percent")) or 0,
        "test_percent": (_int(post.get("test_percent")) or 0) if test else None,
        "winner_metric": post.get("winner_metric", Campaign.WinnerMetric.CLICKS),
        "winner_after_hours": _int(post.get("winner_after_hours")) or 4,
        "send_at": send_at,
        "local_time": schedule == "local",
        "schedule": schedule,
    }


def _int(value) -> int | None:
    return whole_number(value, minimum=-(2**31), maximum=2**31 - 1)  # a negative number is named by the checks


def _local_datetime(text: str) -> datetime | None:
    """A datetime-local input, read in the store's time zone."""
    try:
        naive = datetime.fromisoformat(text)
    except ValueError:
        return None
    return naive.replace(tzinfo=ZoneInfo(settings.PARLEY_DEFAULT_TIME_ZONE))


def _data_of(campaign: Campaign | None) -> dict:
    if campaign is None:
        return {"variants": [{"body": "", "weight": 100}], "holdout_percent": 0, "schedule": "now"}
    variants = [{"body": v.body, "weight": v.weight} for v in campaign.variants.all()] or [{"body": "", "weight": 100}]
    schedule = "local" if campaign.local_time else ("at" if campaign.send_at else "now")
    return {
        "name": campaign.name,
        "variants": variants,
        "link_url": campaign.link_url,
        "media_url": campaign.media_url,
        "include_segments": [s.pk for s in campaign.include_segments.all()],
        "exclude_segments": [s.pk for s in campaign.exclude_segments.all()],
        "exclude_texted_within_hours": campaign.exclude_texted_within_hours,
        "holdout_percent": campaign.holdout_percent,
        "test_percent": campaign.test_percent,
        "winner_metric": campaign.winner_metric,
        "winner_after_hours": campaign.winner_after_hours,
        "send_at": campaign.send_at,
        "local_time": campaign.local_time,
        "schedule": schedule,
    }


@staff_member_required
@require_http_methods(["GET", "POST"])
def compose(request, pk: int | None = None):
    """The compose page of a new campaign (no pk) or a draft; POST saves the draft."""
    campaign = get_object_or_404(Campaign, pk=pk) if pk else None
    _require(request, "campaigns.view_campaign")
    if campaign and not campaign.is_editable:
        return redirect("campaigns:results", pk=campaign.pk)
    errors: dict = {}
    if request.method == "POST":
        _require(request, "campaigns.change_campaign" if campaign else "campaigns.add_campaign")
        data = _form_data(request.POST)
        try:
            if data["schedule"] in ("at", "local") and data["send_at"] is None:
                raise ValidationError({"send_at": ["pick the date and time to send at"]})
            saved = services.campaign_save(
                campaign=campaign, data={k: v for k, v in data.items() if k != "schedule"}, user=request.user
            )
        except ValidationError as error:
            errors = _errors(error)
            messages.error(request, "The campaign was not saved; see the problems below.")
        else:
            messages.success(request, f"Saved {saved.name!r}.")
            if request.POST.get("next") == "send":
                return redirect("campaigns:confirm", pk=saved.pk)
            return redirect("campaigns:edit", pk=saved.pk)
    else:
        data = _data_of(campaign)
    context = _compose_context(request, campaign, data, errors)
    return render(request, "campaigns/compose.html", context)


@staff_member_required
@require_POST
def compose_refresh(request, pk: int | None = None):
    """htmx: the preview, counts and estimates for the form as it stands (nothing is saved)."""
    campaign = get_object_or_404(Campaign, pk=pk) if pk else None
    _require(request, "campaigns.view_campaign")
    data = _form_data(request.POST)
    return render(request, "campaigns/compose.html#summary", _compose_context(request, campaign, data, {}))


def _draft(campaign: Campaign | None, data: dict) -> Campaign:
    """An unsaved campaign holding the form's link (for previews)."""
    draft = Campaign(pk=campaign.pk if campaign else None, name=data.get("name") or "campaign")
    draft.link_url = data.get("link_url", "")
    return draft


def _compose_context(request, campaign: Campaign | None, data: dict, errors: dict) -> dict:
    specs = services.attribute_specs()
    draft = _draft(campaign, data)
    segments = list(Segment.objects.all())
    include = [s for s in segments if s.pk in (data.get("include_segments") or [])]
    exclude = [s for s in segments if s.pk in (data.get("exclude_segments") or [])]
    count = None
    if include:
        members = selectors.audience_members(
            selectors.rules_for_segments(include, exclude),
            at=timezone.now(),
            exclude_texted_within_hours=data.get("exclude_texted_within_hours"),
        )
        count = members.count()
        samples = list(members.order_by("-id")[:SAMPLE_SIZE])
    else:
        samples = list(Subscriber.objects.subscribed().order_by("-id")[:SAMPLE_SIZE])
    sample_id = _int(request.POST.get("sample")) if request.method == "POST" else None
    sample = next((s for s in samples if s.pk == sample_id), samples[0] if samples else None)
    variants = []
    for index, item in enumerate(data["variants"]):
        label = LABELS[index]
        row = {
            "label": label,
            "body": item["body"],
            "weight": item["weight"],
            "errors": errors.get(f"variants[{index}]"),
        }
        try:
            row["preview"] = services.preview_text(item["body"], draft, sample, specs)
            plain = services.preview_text(item["body"], draft, None, specs)
            row["counter"] = count_summary(plain)
            row["ucs2"] = "".join(non_gsm7_characters(plain))
        except ValidationError as error:
            row["problems"] = error.messages
        variants.append(row)
    estimate = None
    if count is not None:
        draft.holdout_percent = data.get("holdout_percent") or 0
        estimate = services.texts_estimate(
            draft,
            [Variant(label=row["label"], body=row["body"], weight=row["weight"] or 0) for row in variants],
            count,
        )
    return {
        "title": f"Campaign: {campaign.name}" if campaign else "New campaign",
        "campaign": campaign,
        "data": data,
        "errors": errors,
        "general_errors": errors.get("__all__", []),
        "variants": variants,
        "variant_count": len(variants),
        "labels": LABELS,
        "segments": segments,
        "include_ids": [s.pk for s in include],
        "exclude_ids": [s.pk for s in exclude],
        "count": count,
        "estimate": estimate,
        "samples": samples,
        "sample": sample,
        "store_zone": settings.PARLEY_DEFAULT_TIME_ZONE,
        "send_at_value": _datetime_local(data.get("send_at")),
        "metrics": Campaign.WinnerMetric.choices,
        "can_save": request.user.has_perm("campaigns.change_campaign" if campaign else "campaigns.add_campaign"),
        "can_send": request.user.has_perm("campaigns.send_campaign"),
        "price": settings.SMS_PRICE_PER_SEGMENT,
        "mps": settings.SMS_SENDER_MPS,
    }


def _datetime_local(value) -> str:
    if not value:
        return ""
    return value.astimezone(ZoneInfo(settings.PARLEY_DEFAULT_TIME_ZONE)).strftime("%Y-%m-%dT%H:%M")


@staff_member_required
@require_POST
def test_send(request, pk: int):
    """htmx: send the chosen variant to one subscribed number."""
    campaign = get_object_or_404(Campaign, pk=pk)
    _require(request, "campaigns.send_campaign")
    variant = campaign.variants.filter(label=request.POST.get("variant", "A")).first()
    try:
        message = services.campaign_test_send(
            campaign=campaign, phone=request.POST.get("phone", ""), variant=variant, user=request.user
        )
    except ValidationError as error:
        result = {"error": "; ".join(m for ms in _errors(error).values() for m in ms)}
    except SendRefused as refused:
        result = {"error": refused.reason}
    else:
        result = {"message": message}
    return render(request, "campaigns/compose.html#test-result", {"result": result})


# --- Send, pause, resume, cancel ------------------------------------------------------------------------


@staff_member_required
@require_http_methods(["GET", "POST"])
def confirm(request, pk: int):
    """The last step: the number of people it goes to, the estimate, and the button."""
    campaign = get_object_or_404(Campaign, pk=pk)
    _require(request, "campaigns.view_campaign", "campaigns.send_campaign")
    if campaign.status != Campaign.Status.DRAFT:
        return redirect("campaigns:results", pk=campaign.pk)
    if request.method == "POST":
        try:
            services.campaign_send(campaign=campaign, user=request.user)
        except ValidationError as error:
            messages.error(request, "Not sent: " + "; ".join(m for ms in _errors(error).values() for m in ms))
        else:
            messages.success(request, f"{campaign.name} is on its way.")
            return redirect("campaigns:results", pk=campaign.pk)
    problems = services.campaign_problems(campaign)
    audience = selectors.audience_estimate(campaign).count()
    estimate = services.texts_estimate(campaign, list(campaign.variants.all()), audience)
    context = {
        "title": f"Send {campaign.name}?",
        "campaign": campaign,
        "audience": audience,
        "estimate": estimate,
        "problems": problems,
        "held_out": audience - estimate["texts"],
        "ucs2": [] if problems else _ucs2(campaign),
        "wall_clock": services.local_wall_clock(campaign) if campaign.local_time and campaign.send_at else None,
    }
    return render(request, "campaigns/confirm.html", context)


def _ucs2(campaign: Campaign) -> list[tuple[str, str]]:
    """Each text's characters that force UCS-2 (empty for GSM-7 texts)."""
    specs = services.attribute_specs()
    return [
        (v.label, "".join(non_gsm7_characters(services.preview_text(v.body, campaign, None, specs))))
        for v in campaign.variants.all()
    ]


@staff_member_required
@require_POST
def control(request, pk: int, what: str):
    campaign = get_object_or_404(Campaign, pk=pk)
    _require(request, "campaigns.send_campaign")
    call = {
        "pause": services.campaign_pause,
        "resume": services.campaign_resume,
        "cancel": services.campaign_cancel,
        "unschedule": services.campaign_unschedule,
    }
    if what not in call:
        raise Http404
    try:
        call[what](campaign=campaign)
    except ValidationError as error:
        messages.error(request, "; ".join(error.messages))
    else:
        done = {"pause": "paused", "resume": "resumed", "cancel": "cancelled", "unschedule": "back to draft"}
        messages.success(request, f"{campaign.name}: {done[what]}.")
        if what == "unschedule":
            return redirect("campaigns:edit", pk=campaign.pk)
    return redirect("campaigns:results", pk=campaign.pk)


# --- Results -------------------------------------------------------------------------------------------------


@staff_member_required
def results(request, pk: int):
    campaign = get_object_or_404(Campaign.objects.select_related("winner"), pk=pk)
    _require(request, "campaigns.view_campaign")
    stats = selectors.campaign_stats(campaign)
    groups = [*stats["variants"], *([stats["holdout"]] if stats["holdout"] else [])]
    context = {
        "title": f"Results: {campaign.name}",
        "campaign": campaign,
        "stats": stats,
        "groups": groups,
        "charts": selectors.charts(groups),
        "can_send": request.user.has_perm("campaigns.send_campaign"),
        "live": campaign.status in (Campaign.Status.SCHEDULED, *Campaign.UNDERWAY) or stats["queued"] > 0,
    }
    if request.htmx:
        return render(request, "campaigns/results.html#numbers", context)
    return render(request, "campaigns/results.html", context)


@staff_member_required
def results_csv(request, pk: int):
    campaign = get_object_or_404(Campaign, pk=pk)
    _require(request, "campaigns.view_campaign", "conversations.view_subscriber")
    response = StreamingHttpResponse(selectors.recipients_csv_lines(campaign), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="campaign-{campaign.pk}-recipients.csv"'
    return response


# --- The short link ------------------------------------------------------------------------------------------


@never_cache
@require_http_methods(["GET", "HEAD"])
def short_link(request, code: str):
    """/l/<code>: count the click (unless a bot fetched it for a preview) and send the shopper on (302)."""
    target = services.link_open(
        code=code,
        user_agent=request.headers.get("User-Agent", ""),
        ip=request.META.get("REMOTE_ADDR"),
        method=request.method,
    )
    if target is None:
        raise Http404("This link is not valid.")
    # On the store's own site the pop-up's script keeps the shopper's signed identifier (browse tracking).
    return HttpResponseRedirect(url_with_identity(target, subscriber_id=selectors.link_subscriber_id(code)))
