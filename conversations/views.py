"""Pages and webhooks of `conversations`: parse, verify, call one service, answer."""

import logging

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection
from django.http import HttpResponse, HttpResponseForbidden, JsonResponse
from django.shortcuts import redirect
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from django.views.defaults import bad_request as django_bad_request
from django.views.defaults import page_not_found
from twilio.request_validator import RequestValidator

from . import outbox, services
from .params import whole_number
from .sms import twilio_params

log = logging.getLogger(__name__)
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'


def home(request):
    """Agents land in the inbox; everyone else in the admin."""
    if request.user.is_authenticated and not request.user.is_staff and request.user.has_perm("conversations.use_inbox"):
        return redirect("inbox:home")
    return redirect("admin:index")


def health(request):
    """Liveness and database check for load balancers and `make run`."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok", "database": connection.vendor})


def bad_request(request, exception=None):
    """JSON for API clients (a body Django refuses before the API sees it), Django's page for people."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Bad request: the request could not be read."}, status=400)
    return django_bad_request(request, exception)


def not_found(request, exception=None):
    """JSON for API clients, Django's page for people."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Not found."}, status=404)
    return page_not_found(request, exception)


@csrf_exempt
def api_not_found(request, *args, **kwargs):
    """Any other path under /api/, whatever the method: a JSON 404, never a CSRF page."""
    return JsonResponse({"detail": "Not found."}, status=404)


def twilio_signature_valid(request) -> bool:
    """X-Twilio-Signature check against the URL Twilio called (PUBLIC_BASE_URL behind a proxy).

    Accepts the previous Auth Token too while one is configured, for rotations.
    """
    signature = request.headers.get("X-Twilio-Signature", "")
    if not signature:
        return False
    if settings.PUBLIC_BASE_URL:
        url = settings.PUBLIC_BASE_URL.rstrip("/") + request.get_full_path()
    else:
        url = request.build_absolute_uri()
    tokens = [token for token in (settings.TWILIO_AUTH_TOKEN, settings.TWILIO_AUTH_TOKEN_PREVIOUS) if token]
    return any(RequestValidator(token).validate(url, request.POST, signature) for token in tokens)


def _forbidden():
    return HttpResponseForbidden("Missing or invalid X-Twilio-Signature.", content_type="text/plain")


def _not_twilios(problem: str):
    """A signed request whose parameters are not as Twilio sends them (a re-split replay): refused, untouched.

    An error, not a warning: the signature was right, so this is a replay attack or a parameter Twilio has added
    since (TWILIO_EXTRA_WEBHOOK_PARAMETERS), and Twilio does not retry a 400.
    """
    log.error("refused a signed Twilio webhook: %s", problem)
    return HttpResponse(f"Bad request: {problem}.", status=400, content_type="text/plain")


@csrf_exempt
@require_POST
def twilio_inbound(request):
    """Twilio's incoming-message webhook: store and process the text; replies leave through the outbox."""
    if not twilio_signature_valid(request):
        return _forbidden()
    data = request.POST
    problem = twilio_params.inbound_problem(
        data, account_sid=settings.TWILIO_ACCOUNT_SID, extra=settings.TWILIO_EXTRA_WEBHOOK_PARAMETERS
    )
    if problem:
        return _not_twilios(problem)
    media = [data.get(f"MediaUrl{index}", "") for index in range(_media_count(data.get("NumMedia")))]
    try:
        services.inbound_receive(
            from_number=data.get("From", ""),
            to_number=data.get("To", ""),
            body=data.get("Body", ""),
            provider_message_id=data["MessageSid"],
            media_urls=media,
        )
    except ValidationError as error:
        # The problems quote what was sent (the sender's number): the log names the fields and the text's id.
        log.warning("Twilio text %s cannot be stored: bad %s", data["MessageSid"], ", ".join(error.message_dict))
        return HttpResponse(f"Bad request: {error.message_dict}", status=400, content_type="text/plain")
    return HttpResponse(EMPTY_TWIML, content_type="text/xml")


@csrf_exempt
@require_POST
def twilio_status(request):
    """Twilio's delivery report: move the message's status forward (never back)."""
    if not twilio_signature_valid(request):
        return _forbidden()
    data = request.POST
    problem = twilio_params.status_problem(
        data, account_sid=settings.TWILIO_ACCOUNT_SID, extra=settings.TWILIO_EXTRA_WEBHOOK_PARAMETERS
    )
    if problem:
        return _not_twilios(problem)
    message_id = request.GET.get("message", "")
    outbox.message_status_report(
        provider_message_id=data["MessageSid"],
        provider_status=data.get("MessageStatus") or data.get("SmsStatus", ""),
        error_code=data.get("ErrorCode", ""),
        message_id=whole_number(message_id),
    )
    return HttpResponse(status=204)


def _media_count(raw) -> int:
    try:
        return max(0, min(int(raw or 0), 10))
    except ValueError:
        return 0
