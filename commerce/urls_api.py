from rest_framework.routers import DefaultRouter

from . import api

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("back-in-stock", api.BackInStockViewSet, basename="back-in-stock")

urlpatterns = router.urls
