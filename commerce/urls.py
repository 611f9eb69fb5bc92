from django.urls import path

from . import views

app_name = "commerce"

# Webhook routes end in a slash and are always called with it: an APPEND_SLASH redirect would lose the POST.
urlpatterns = [
    path("shopify/", views.shopify_webhook, name="shopify-webhook"),
    path("woocommerce/", views.woocommerce_webhook, name="woocommerce-webhook"),
]
