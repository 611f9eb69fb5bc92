"""The Store connection page: what is connected, the webhook URLs to paste, and what arrived lately."""

from django.conf import settings
from django.contrib.admin.views.decorators import staff_member_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import render
from django.urls import reverse

from . import selectors


@staff_member_required
def connection(request):
    if not request.user.has_perm("commerce.view_webhookdelivery"):
        raise PermissionDenied
    connections = selectors.store_connections()
    base = settings.PUBLIC_BASE_URL.rstrip("/") or request.build_absolute_uri("/").rstrip("/")
    for item in connections:
        item.webhook_url = base + item.webhook_path
    context = {
        "title": "Store connection",
        "connections": connections,
        "checkouts": selectors.checkouts_waiting(),
        "checkouts_url": reverse("admin:commerce_checkout_changelist"),
        "insecure": not base.startswith("https://"),
        "body_days": settings.COMMERCE_WEBHOOK_BODY_DAYS,
        "deliveries_url": reverse("admin:commerce_webhookdelivery_changelist"),
    }
    return render(request, "commerce/connection.html", context)
