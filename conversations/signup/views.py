"""Public sign-up: the embeddable pop-up's script, config, submissions and view beacon (CORS for the store's
origins only), the hosted page /join/<slug>/ with its QR code, the demo store page, and the staff's numbers."""

import ipaddress
import json
from datetime import datetime, time, timedelta
from functools import cache
from pathlib import Path
from urllib.parse import quote, urlsplit
from zoneinfo import ZoneInfo

import segno
from csp.decorators import csp_replace
from django.conf import settings
from django.contrib.admin.views.decorators import staff_member_required
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q, Sum
from django.db.models.functions import TruncDate
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.cache import cache_control
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods

from ..models import AttributeDefinition, SignupAttempt, SignupForm, SignupViews
from ..params import whole_number
from ..phones import country_calling_code
from . import identity, services

SCRIPT = Path(settings.BASE_DIR) / "static" / "parley" / "signup-embed.js"
STATS_DAYS = 30


def _form(slug: str) -> SignupForm:
    form = SignupForm.objects.filter(slug=slug, is_active=True).first()
    if form is None:
        raise Http404("No active sign-up form has this name.")
    return form


def _origin_allowed(request, form: SignupForm) -> bool:
    """Requests from the store's configured sites, or from Parley itself (the hosted and demo pages)."""
    origin = request.headers.get("Origin")
    if not origin:
        return True  # not a browser's cross-site request (a server, curl): CORS does not apply
    if origin.rstrip("/").lower() in form.origins:
        return True
    return urlsplit(origin).netloc.lower() == request.get_host().lower()  # Parley's own pages, behind any proxy


def _cors(response, request, form: SignupForm):
    origin = request.headers.get("Origin")
    if origin and _origin_allowed(request, form):
        response["Access-Control-Allow-Origin"] = origin
        response["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
        response["Access-Control-Allow-Headers"] = "Content-Type"
        response["Access-Control-Max-Age"] = "600"
        response["Vary"] = "Origin"
    return response


@cache
def _script() -> bytes:
    return SCRIPT.read_bytes()


@require_GET
@cache_control(public=True, max_age=300)
def embed_script(request):
    """/signup/embed.js: the pop-up, one file with its styles, no other requests than to Parley."""
    return HttpResponse(_script() if not settings.DEBUG else SCRIPT.read_bytes(), content_type="text/javascript")


def form_config(form: SignupForm) -> dict:
    """What the pop-up shows and when."""
    question = None
    definition = AttributeDefinition.objects.filter(key=form.question_attribute).first()
    if form.question_attribute and definition is not None and definition.options:
        question = {
            "text": form.question_text or definition.label,
            "options": definition.choices,
        }
    return {
        "form": form.slug,
        "version": form.disclosure_version,
        "headline": form.headline,
        "offer": form.offer_text,
        "button": form.button_text,
        "disclosure": form.disclosure,
        "country": form.country,
        "countries": sorted(form.countries, key=lambda code: (code != form.country, code)),
        "calling_code": country_calling_code(form.country),
        "ask_email": form.ask_email,
        "question": question,
        "trigger": form.trigger,
        "trigger_value": form.trigger_value,
        "hide_days": form.hide_days_after_close,
        "thank_you": form.thank_you_text,
        "track": form.track_browsing,
    }


@csrf_exempt
@require_http_methods(["GET", "OPTIONS"])
def config(request, slug: str):
    form = _form(slug)
    if not _origin_allowed(request, form):
        raise PermissionDenied
    response = JsonResponse(form_config(form)) if request.method == "GET" else HttpResponse(status=204)
    return _cors(response, request, form)


@csrf_exempt
@require_http_methods(["POST", "OPTIONS"])
def submit(request, slug: str):
    """POST /signup/<slug>/: JSON or form fields phone, consent, email, answer, page_url and the honeypot."""
    form = _form(slug)
    if not _origin_allowed(request, form):
        response = JsonResponse(
            {"error": "This site may not use this sign-up form; add its origin to the form in the admin."}, status=403
        )
        return response
    if request.method == "OPTIONS":
        return _cors(HttpResponse(status=204), request, form)
    data = _payload(request)
    result = services.signup_submit(
        form=form,
        phone=str(data.get("phone", "")),
        consent=str(data.get("consent", "")).lower() in ("1", "true", "on", "yes"),
        email=str(data.get("email", "")).strip(),
        answer=str(data.get("answer", "")).strip(),
        honeypot=str(data.get("website", "")),
        page_url=str(data.get("page_url", "") or request.headers.get("Referer", "")),
        ip=client_ip(request),
        user_agent=request.headers.get("User-Agent", ""),
        country=str(data.get("country", "")),
        version=_int(data.get("version")),
    )
    body = {"status": result.outcome, "message": result.message}
    if result.errors:
        body["errors"] = result.errors
    if result.attempt_id is not None and form.track_browsing:
        # For the script to keep. It names the submission, whatever came of it, so it tells nothing about a number.
        body["browse_id"] = identity.browse_identity_sign(attempt_id=result.attempt_id)
    return _cors(JsonResponse(body, status=result.status), request, form)


def client_ip(request) -> str | None:
    """The shopper's address: behind a proxy that appends it to X-Forwarded-For (SIGNUP_TRUST_X_FORWARDED_FOR), the
    last entry, which the proxy wrote; otherwise the connection's. Only a well-formed address (no port) counts."""
    candidate = request.META.get("REMOTE_ADDR", "")
    if settings.SIGNUP_TRUST_X_FORWARDED_FOR:
        forwarded = [part.strip() for part in request.headers.get("X-Forwarded-For", "").split(",") if part.strip()]
        if forwarded:
            candidate = forwarded[-1]
    return _address(candidate) or _address(request.META.get("REMOTE_ADDR", ""))


def _address(text: str) -> str | None:
    text = text.strip()
    if text.startswith("[") and "]" in text:  # [v6]:port
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:  # v4:port
        text = text.split(":")[0]
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return None


def _int(value) -> int | None:
    return whole_number(value, maximum=2**31 - 1)


def _payload(request) -> dict:
    if request.content_type == "application/json" or request.body[:1] == b"{":
        try:
            data = json.loads(request.body or b"{}")
        except (ValueError, UnicodeDecodeError, RecursionError):
            return {}
        return data if isinstance(data, dict) else {}
    return request.POST.dict()


@csrf_exempt
@require_http_methods(["POST", "OPTIONS"])
def seen(request, slug: str):
    """The pop-up was shown (navigator.sendBeacon): the first step of the conversion funnel."""
    form = _form(slug)
    if request.method == "POST" and _origin_allowed(request, form):
        services.signup_view_count(form)
    return _cors(HttpResponse(status=204), request, form)


# --- The hosted page and the QR code ---------------------------------------------------------------------


def text_to_join_uri(form: SignupForm) -> str:
    """sms: link (RFC 5724) that opens the shopper's messages with the keyword typed for the store's number."""
    return f"sms:{settings.SMS_SENDER}?body={quote(form.keyword)}"


@require_http_methods(["GET", "POST"])
def join(request, slug: str):
    """/join/<slug>/: the form as a page of its own, for links and QR codes; works without JavaScript."""
    form = _form(slug)
    result = None
    values = {}
    if request.method == "GET":
        services.signup_view_count(form)  # the page was shown: the funnel's first step, as for the pop-up
    if request.method == "POST":
        values = request.POST.dict()
        result = services.signup_submit(
            form=form,
            phone=values.get("phone", ""),
            consent=values.get("consent") == "on",
            email=values.get("email", "").strip(),
            answer=values.get("answer", "").strip(),
            honeypot=values.get("website", ""),
            page_url=request.build_absolute_uri(),
            ip=client_ip(request),
            user_agent=request.headers.get("User-Agent", ""),
        )
    context = {
        "form": form,
        "config": form_config(form),
        "result": result,
        "values": values,
        "sms_uri": text_to_join_uri(form),
        "sender": settings.SMS_SENDER,
    }
    status = result.status if result and result.status >= 400 else 200
    return render(request, "conversations/signup/join.html", context, status=status)


@require_GET
@cache_control(public=True, max_age=3600)
def qr(request, slug: str):
    """/join/<slug>/qr.svg (or ?format=png): the text-to-join code for print and the shop counter."""
    form = _form(slug)
    code = segno.make(text_to_join_uri(form), error="m")
    if request.GET.get("format") == "png":
        response = HttpResponse(content_type="image/png")
        code.save(response, kind="png", scale=10, border=2)
    else:
        response = HttpResponse(content_type="image/svg+xml")
        code.save(response, kind="svg", scale=8, border=2, title=f"Text {form.keyword} to {settings.SMS_SENDER}")
    return response


def demo_store(request):
    """/demo/store/: a pretend shop page that embeds the demo form's pop-up as a store would."""
    form = SignupForm.objects.filter(slug="welcome").first()
    return render(request, "conversations/signup/demo_store.html", {"form": form})


# --- For staff -------------------------------------------------------------------------------------------


@xframe_options_sameorigin  # shown in the admin's iframe; X_FRAME_OPTIONS (DENY) would blank it
@csp_replace({"frame-ancestors": ["'self'"]})  # and so would the policy's frame-ancestors 'none'
@staff_member_required
def preview(request):
    """The pop-up alone, drawn from the admin's unsaved fields (sent by postMessage) for the live preview."""
    if not request.user.has_perm("conversations.view_signupform"):
        raise PermissionDenied
    return render(request, "conversations/signup/preview.html")


@staff_member_required
def stats(request):
    """Sign-ups per form per day, and the funnel shown → submitted → confirmed, over the last 30 days."""
    if not request.user.has_perm("conversations.view_signupform"):
        raise PermissionDenied
    zone = ZoneInfo(settings.PARLEY_DEFAULT_TIME_ZONE)  # days as the store counts them
    since = timezone.localdate(timezone=zone) - timedelta(days=STATS_DAYS - 1)
    start = datetime.combine(since, time.min, tzinfo=zone)
    views = dict(
        SignupViews.objects.filter(day__gte=since)
        .values_list("form_id")
        .annotate(total=Sum("views"))
        .values_list("form_id", "total")
    )
    per_form = (
        SignupAttempt.objects.filter(created_at__gte=start)
        .values("form_id")
        .annotate(
            submitted=Count("id", filter=Q(outcome=SignupAttempt.Outcome.REQUESTED)),
            confirmed=Count("id", filter=Q(confirmed_at__isnull=False)),
        )
    )
    by_form = {row["form_id"]: row for row in per_form}
    daily = (
        SignupAttempt.objects.filter(confirmed_at__gte=start)
        .annotate(day=TruncDate("confirmed_at", tzinfo=zone))
        .values("form_id", "day")
        .annotate(n=Count("id"))
    )
    per_day: dict = {}
    for row in daily:
        per_day.setdefault(row["form_id"], {})[row["day"]] = row["n"]
    days = [since + timedelta(days=i) for i in range(STATS_DAYS)]
    forms = []
    for form in SignupForm.objects.all():
        counts = by_form.get(form.pk, {})
        shown, submitted, confirmed = views.get(form.pk, 0), counts.get("submitted", 0), counts.get("confirmed", 0)
        series = [per_day.get(form.pk, {}).get(day, 0) for day in days]
        top = max(series) or 1
        forms.append(
            {
                "form": form,
                "shown": shown,
                "submitted": submitted,
                "confirmed": confirmed,
                "submit_rate": round(100 * submitted / shown, 1) if shown else None,
                "confirm_rate": round(100 * confirmed / submitted, 1) if submitted else None,
                "bars": [
                    {"day": day, "n": n, "height": round(100 * n / top)} for day, n in zip(days, series, strict=True)
                ],
            }
        )
    return render(request, "conversations/signup/stats.html", {"forms": forms, "days": STATS_DAYS, "title": "Sign-ups"})
