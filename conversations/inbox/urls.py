from django.contrib.auth import views as auth_views
from django.urls import path

from . import views

app_name = "inbox"
urlpatterns = [
    path("", views.inbox, name="home"),
    path("login/", auth_views.LoginView.as_view(template_name="inbox/login.html"), name="login"),
    path("logout/", auth_views.LogoutView.as_view(next_page="inbox:login"), name="logout"),
    path("list/", views.conversation_list, name="list"),
    path("count/", views.count, name="count"),
    path("start/", views.start, name="start"),
    path("<int:pk>/", views.inbox, name="conversation"),
    path("<int:pk>/thread/", views.thread, name="thread"),
    path("<int:pk>/reply/", views.reply, name="reply"),
    path("<int:pk>/note/", views.note, name="note"),
    path("<int:pk>/assign/", views.assign, name="assign"),
    path("<int:pk>/status/", views.set_status, name="status"),
    path("<int:pk>/attributes/", views.attributes, name="attributes"),
    path("<int:pk>/opt-out/", views.opt_out, name="opt-out"),
    path("<int:pk>/canned/<int:canned_id>/", views.canned, name="canned"),
]
