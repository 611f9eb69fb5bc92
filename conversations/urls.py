from django.urls import path

from . import views

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.health, name="health"),
    # Webhook routes end in a slash and are always called with it: no APPEND_SLASH redirect, which
    # would lose the POST and change the signed URL.
    path("webhooks/twilio/sms/", views.twilio_inbound, name="twilio-inbound"),
    path("webhooks/twilio/status/", views.twilio_status, name="twilio-status"),
]
