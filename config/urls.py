from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from campaigns.views import short_link
from commerce import pages as commerce_pages
from conversations.views import api_not_found

admin.site.site_header = "Parley"
admin.site.site_title = "Parley"
admin.site.index_title = "Store administration"
admin.site.enable_nav_sidebar = False

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", include("conversations.urls_api")),
    path("api/v1/", include("flows.urls_api")),
    path("api/v1/", include("segments.urls_api")),
    path("api/v1/", include("campaigns.urls_api")),
    path("api/v1/", include("commerce.urls_api")),
    path("segments/", include("segments.urls")),
    path("inbox/", include("conversations.inbox.urls")),
    path("flows/", include("flows.urls")),
    path("campaigns/", include("campaigns.urls")),
    path("l/<str:code>", short_link, name="short-link"),
    path("webhooks/", include("commerce.urls")),
    path("browse/", include("commerce.urls_browse")),
    path("store/", include("commerce.urls_pages")),
    path("demo/store/products/<str:handle>", commerce_pages.demo_product, name="demo-product"),
    path("", include("conversations.signup.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # The page and its start-up script apart (?script), and no inline style: it works under the CSP.
    path(
        "api/docs/",
        SpectacularSwaggerSplitView.as_view(url_name="schema", template_name="parley/swagger_ui.html"),
        name="api-docs",
    ),
    re_path(r"^api/", api_not_found),  # JSON 404s for API clients, with DEBUG on too
    path("", include("conversations.urls")),
]

handler400 = "conversations.views.bad_request"
handler404 = "conversations.views.not_found"
