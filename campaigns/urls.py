from django.urls import path

from . import views

app_name = "campaigns"
urlpatterns = [
    path("", views.campaign_list, name="list"),
    path("new/", views.compose, name="new"),
    path("new/refresh/", views.compose_refresh, name="refresh-new"),
    path("<int:pk>/", views.compose, name="edit"),
    path("<int:pk>/refresh/", views.compose_refresh, name="refresh"),
    path("<int:pk>/test/", views.test_send, name="test"),
    path("<int:pk>/send/", views.confirm, name="confirm"),
    path("<int:pk>/results/", views.results, name="results"),
    path("<int:pk>/results.csv", views.results_csv, name="results-csv"),
    path("<str:what>/<int:pk>/", views.control, name="control"),
]
