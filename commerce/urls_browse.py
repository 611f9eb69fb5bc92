from django.urls import path

from . import browse_views

app_name = "browse"

# Called by the pop-up's script on the store's pages (static/parley/signup-embed.js).
urlpatterns = [
    path("<slug:slug>/", browse_views.page_viewed, name="page-viewed"),
]
