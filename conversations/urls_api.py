from rest_framework.routers import DefaultRouter

from . import api

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("subscribers", api.SubscriberViewSet, basename="subscriber")
router.register("attributes", api.AttributeDefinitionViewSet, basename="attribute")
router.register("messages", api.MessageViewSet, basename="message")
router.register("events", api.EventViewSet, basename="event")
router.register("conversations", api.ConversationViewSet, basename="conversation")

urlpatterns = router.urls
