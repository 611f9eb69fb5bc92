from rest_framework.routers import DefaultRouter

from . import api

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("campaigns", api.CampaignViewSet, basename="campaign")

urlpatterns = router.urls
