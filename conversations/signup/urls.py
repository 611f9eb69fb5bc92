from django.urls import path

from . import views

app_name = "signup"
urlpatterns = [
    path("signup/embed.js", views.embed_script, name="embed"),
    path("signup/preview/", views.preview, name="preview"),
    path("signup/stats/", views.stats, name="stats"),
    path("signup/<slug:slug>/", views.submit, name="submit"),
    path("signup/<slug:slug>/config.json", views.config, name="config"),
    path("signup/<slug:slug>/seen", views.seen, name="seen"),
    path("join/<slug:slug>/", views.join, name="join"),
    path("join/<slug:slug>/qr.svg", views.qr, name="qr"),
    path("demo/store/", views.demo_store, name="demo-store"),
]
