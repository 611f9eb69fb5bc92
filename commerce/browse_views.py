"""POST /browse/<form>/: the pop-up's script reports a known shopper's page view (CORS for the form's sites only)."""

import json

from django.http import Http404, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from conversations.models import SignupForm
from conversations.signup.identity import origin_of

from .mapping.browse import page_view
from .mapping.reading import PayloadError
from .services import browse as services

MAX_BODY = 8 * 1024  # a view is a few hundred bytes


@csrf_exempt
@require_http_methods(["POST", "OPTIONS"])
def page_viewed(request, slug: str):
    """One product or collection view; 202 when taken (recorded, a repeat, or nobody to record it for)."""
    form = SignupForm.objects.filter(slug=slug, is_active=True).first()
    if form is None:
        raise Http404("No active sign-up form has this name.")
    origin = request.headers.get("Origin")
    if origin and origin_of(origin) not in services.store_origins(form):
        return _refused(403, "origin", "This site may not report to this sign-up form; add its origin in the admin.")
    if request.method == "OPTIONS":
        return _cors(HttpResponse(status=204), origin)
    if len(request.body) > MAX_BODY:
        return _cors(_refused(400, "invalid", f"the report is over {MAX_BODY} bytes"), origin)
    try:
        view = page_view(json.loads(request.body or b"null"))
    except (ValueError, UnicodeDecodeError, RecursionError) as error:
        problem = str(error) if isinstance(error, PayloadError) else "the body must be a JSON object"
        return _cors(_refused(400, "invalid", problem), origin)
    try:
        services.page_view_record(form=form, view=view)
    except services.ViewRefused as refused:
        return _cors(_refused(refused.status, refused.reason, str(refused)), origin)
    # The same answer whether it was recorded or not: it tells nothing about who subscribes.
    return _cors(JsonResponse({"status": "accepted"}, status=202), origin)


def _refused(status: int, reason: str, message: str) -> JsonResponse:
    return JsonResponse({"error": message, "reason": reason}, status=status)


def _cors(response, origin: str | None):
    """Let the form's site read the answer (the origin was checked before)."""
    if origin:
        response["Access-Control-Allow-Origin"] = origin
        response["Access-Control-Allow-Methods"] = "POST, OPTIONS"
        response["Access-Control-Allow-Headers"] = "Content-Type"
        response["Access-Control-Max-Age"] = "600"
        response["Vary"] = "Origin"
    return response
