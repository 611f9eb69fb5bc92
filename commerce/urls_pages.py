from django.urls import path

from . import pages

app_name = "store"
urlpatterns = [
    path("", pages.connection, name="connection"),
]
