"""The Store connection page: what is connected, the webhook URLs to paste, and what arrived lately."""

import json

from django.conf import settings
from django.contrib.admin.views.decorators import staff_member_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.safestring import mark_safe

from conversations.models import SignupForm

from . import selectors
from .models import Product

JSON_ESCAPES = {ord(">"): "\\u003E", ord("<"): "\\u003C", ord("&"): "\\u0026"}


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


def demo_product(request, handle: str):
    """/demo/store/products/<handle>: a demo catalog product's page on the pretend store, so that links in texts
    (back in stock, browse nudges) lead somewhere with `make run`. It carries the product as JSON-LD, as stores'
    themes do, so the sign-up script's browse tracking reads it."""
    product = get_object_or_404(Product.objects.prefetch_related("variants"), platform="shopify", handle=handle)
    variants = list(product.variants.all())
    price = next((v.price for v in variants if v.price is not None), None)
    json_ld = {
        "@context": "https://schema.org",
        "@type": "Product",
        "name": product.title,
        "productID": product.external_id,
        "offers": {"@type": "Offer", "price": str(price) if price is not None else None, "priceCurrency": "USD"},
    }
    context = {
        "product": product,
        "variants": variants,
        "price": price,
        # Escaped as json_script escapes, inside a data block the browser never runs.
        "json_ld": mark_safe(json.dumps(json_ld).translate(JSON_ESCAPES)),
        "form": SignupForm.objects.filter(slug="welcome").first(),
    }
    return render(request, "commerce/demo_product.html", context)
