from django.urls import path

from . import views

app_name = "segments"
urlpatterns = [
    path("new/", views.builder, name="new"),
    path("new/refresh/", views.builder_refresh, name="refresh-new"),
    path("<int:pk>/", views.builder, name="edit"),
    path("<int:pk>/refresh/", views.builder_refresh, name="refresh"),
    path("<int:pk>/export.csv", views.export, name="export"),
]
