from django.urls import path

from config.urls import urlpatterns as product_urls

from . import views

urlpatterns = [path("bench/bare-insert/", views.bare_insert), *product_urls]
