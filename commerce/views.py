"""The store's platform calls these: verify, then hand the delivery to one service, answer what it says."""

from django.http import HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from . import services, shopify, woocommerce
from .models import WebhookRefusal


@csrf_exempt
@require_POST
def shopify_webhook(request):
    """Every Shopify topic at one URL; X-Shopify-Topic says which."""
    return _receive(request, shopify)


@csrf_exempt
@require_POST
def woocommerce_webhook(request):
    """Every WooCommerce topic at one URL; X-WC-Webhook-Topic says which. The ping at set-up answers 200."""
    # Unsigned, so only counted; without a secret configured it gets the 404 below, so the store learns at once.
    if woocommerce.configured() and woocommerce.is_ping(request):
        services.webhook_refusal_count(platform=woocommerce.PLATFORM, reason=WebhookRefusal.Reason.PING)
        return HttpResponse("Parley is ready for WooCommerce webhooks.", content_type="text/plain")
    return _receive(request, woocommerce)


def _receive(request, adapter):
    refusal = adapter.refusal(request)
    if refusal is not None:
        services.webhook_refusal_count(platform=adapter.PLATFORM, reason=refusal.reason)
        return HttpResponse(refusal.message, status=refusal.status, content_type="text/plain")
    receipt = services.webhook_receive(
        platform=adapter.PLATFORM,
        headers=adapter.delivery_headers(request),
        body=request.body,
        handler_for=adapter.handler_for,
        failed_status=adapter.FAILED_STATUS,
    )
    response = JsonResponse(
        {"delivery": receipt.delivery.pk, "outcome": receipt.delivery.outcome, "detail": receipt.detail},
        status=receipt.status,
    )
    if receipt.status == 503:
        response["Retry-After"] = "60"
    return response
