"""REST API for subscribers and attribute definitions (`/api/v1/`).

Endpoints parse the request, call one service or selector and present the
result; every rule lives in services.py.
"""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Prefetch
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import APIException, NotFound, ValidationError
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.response import Response

from . import outbox, services
from .filters import ConversationFilter, MessageFilter, SubscriberFilter
from .inbox import services as inbox_services
from .models import AttributeDefinition, ConsentEvent, Conversation, Event, Message, Subscriber, Tag
from .pagination import NewestFirstCursorPagination
from .serializers import (
    AttributeChangeSerializer,
    AttributeDefinitionSerializer,
    ConversationReplySerializer,
    ConversationSerializer,
    EventRequestSerializer,
    EventSerializer,
    InboundRequestSerializer,
    InboundResultSerializer,
    MessageCreateSerializer,
    MessageSerializer,
    SendRefusedSerializer,
    SubscriberCreateSerializer,
    SubscriberSerializer,
    SubscriberUpdateSerializer,
)


class Conflict(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"


def as_api_error(error: DjangoValidationError) -> APIException:
    """A service's ValidationError as a DRF 400 (409 for a taken phone) with each message under its field."""
    if isinstance(error, services.PhoneTaken):
        return Conflict(error.message_dict)
    if isinstance(error, services.AttributeErrors):
        return ValidationError({"attributes": error.by_key})
    if hasattr(error, "error_dict"):
        return ValidationError(error.message_dict)
    return ValidationError({"non_field_errors": error.messages})


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()


VALIDATION_ERROR = OpenApiResponse(
    response=OpenApiTypes.OBJECT, description="Validation error: field name to a list of messages."
)
NOT_FOUND = OpenApiResponse(response=ErrorSerializer, description="No subscriber with this id.")
UNAUTHORIZED = OpenApiResponse(response=ErrorSerializer, description="Missing or wrong token.")
PHONE_TAKEN = OpenApiResponse(response=OpenApiTypes.OBJECT, description="Another subscriber has this phone number.")


@extend_schema_view(
    list=extend_schema(
        summary="List subscribers, newest first",
        responses={200: SubscriberSerializer(many=True), 400: VALIDATION_ERROR, 401: UNAUTHORIZED},
    ),
    retrieve=extend_schema(
        summary="One subscriber", responses={200: SubscriberSerializer, 401: UNAUTHORIZED, 404: NOT_FOUND}
    ),
    destroy=extend_schema(
        summary="Delete a subscriber and their history (consent records are kept)",
        responses={204: None, 401: UNAUTHORIZED, 404: NOT_FOUND},
    ),
)
class SubscriberViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet
):
    serializer_class = SubscriberSerializer
    filterset_class = SubscriberFilter
    lookup_value_regex = r"[0-9]+"
    queryset = Subscriber.objects.prefetch_related(Prefetch("tags", queryset=Tag.objects.only("name")))

    def filter_queryset(self, queryset):
        # The filters narrow the list; one subscriber is found by its id alone, whatever the query string says.
        return super().filter_queryset(queryset) if self.action == "list" else queryset

    @extend_schema(
        summary="Create a subscriber",
        request=SubscriberCreateSerializer,
        responses={201: SubscriberSerializer, 400: VALIDATION_ERROR, 401: UNAUTHORIZED, 409: PHONE_TAKEN},
    )
    def create(self, request):
        data = SubscriberCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        subscribed = fields.pop("status") == Subscriber.Status.SUBSCRIBED
        consent = fields.pop("consent", None)
        try:
            subscriber = services.subscriber_create(
                **fields,
                subscribed=subscribed,
                consent_source=ConsentEvent.Source.API,
                consent_details={**consent, "api_user": request.user.username} if consent else None,
                user=request.user,
            )
        except DjangoValidationError as error:
            raise as_api_error(error) from None
        return Response(self._present(subscriber.pk), status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Change a subscriber (attributes merge; null removes a key)",
        request=SubscriberUpdateSerializer,
        responses={
            200: SubscriberSerializer,
            400: VALIDATION_ERROR,
            401: UNAUTHORIZED,
            404: NOT_FOUND,
            409: PHONE_TAKEN,
        },
    )
    def partial_update(self, request, pk=None):
        subscriber = self.get_object()
        data = SubscriberUpdateSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        opt_out = fields.pop("status", None) == Subscriber.Status.UNSUBSCRIBED
        try:
            services.subscriber_update(subscriber=subscriber, **fields, user=request.user)
        except DjangoValidationError as error:
            raise as_api_error(error) from None
        if opt_out and subscriber.status != Subscriber.Status.UNSUBSCRIBED:
            services.subscriber_opt_out(
                subscriber=subscriber,
                source=ConsentEvent.Source.API,
                details={"api_user": request.user.username},
            )
        return Response(self._present(subscriber.pk))

    def perform_destroy(self, instance):
        services.subscriber_delete(subscriber=instance)

    @extend_schema(
        summary="The history of a subscriber's attribute values, newest first",
        responses={200: AttributeChangeSerializer(many=True), 400: VALIDATION_ERROR, 401: UNAUTHORIZED, 404: NOT_FOUND},
    )
    @action(detail=True, methods=["get"], url_path="attribute-changes", filter_backends=[])
    def attribute_changes(self, request, pk=None):
        subscriber = get_object_or_404(Subscriber.objects.only("pk"), pk=pk)
        changes = subscriber.attribute_changes.select_related("changed_by")
        page = self.paginate_queryset(changes)
        return self.get_paginated_response(AttributeChangeSerializer(page, many=True).data)

    def _present(self, pk: int) -> dict:
        return SubscriberSerializer(self.get_queryset().get(pk=pk)).data


@extend_schema_view(
    list=extend_schema(
        summary="The zero-party attributes this store collects, with their options and synonyms",
        responses={200: AttributeDefinitionSerializer(many=True), 401: UNAUTHORIZED},
    )
)
class AttributeDefinitionViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    serializer_class = AttributeDefinitionSerializer
    queryset = AttributeDefinition.objects.order_by("key")
    pagination_class = None


class SendRefusedError(APIException):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_code = "send_refused"


SEND_REFUSED = OpenApiResponse(response=SendRefusedSerializer, description="The send gate refused the text.")


@extend_schema_view(
    list=extend_schema(
        summary="List messages, newest first",
        responses={200: MessageSerializer(many=True), 400: VALIDATION_ERROR, 401: UNAUTHORIZED},
    ),
    retrieve=extend_schema(
        summary="One message", responses={200: MessageSerializer, 401: UNAUTHORIZED, 404: NOT_FOUND}
    ),
)
class MessageViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = MessageSerializer
    filterset_class = MessageFilter
    lookup_value_regex = r"[0-9]+"
    queryset = Message.objects.all()

    def filter_queryset(self, queryset):
        # The filters narrow the list; one message is found by its id alone, whatever the query string says.
        return super().filter_queryset(queryset) if self.action == "list" else queryset

    @extend_schema(
        summary="Send one text to a subscriber through the send gate",
        request=MessageCreateSerializer,
        responses={201: MessageSerializer, 400: VALIDATION_ERROR, 401: UNAUTHORIZED, 422: SEND_REFUSED},
    )
    def create(self, request):
        data = MessageCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        subscriber = Subscriber.objects.filter(pk=fields.pop("subscriber")).first()
        if subscriber is None:
            raise ValidationError({"subscriber": ["no subscriber has this id"]})
        try:
            message = outbox.message_queue(
                subscriber=subscriber, **fields, origin=Message.Origin.AGENT, sent_by=request.user
            )
        except outbox.SendRefused as refused:
            raise SendRefusedError({"detail": refused.reason, "code": refused.code}) from None
        except DjangoValidationError as error:
            raise as_api_error(error) from None
        return Response(MessageSerializer(message).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Receive an inbound text (from a provider or a gateway)",
        description="Stores the text first, then answers compliance keywords (STOP, HELP, START…) and hands "
        "anything else to the conversation handlers. The same `provider_message_id` again is answered with "
        "the first result (200) and processed only once.",
        request=InboundRequestSerializer,
        responses={
            201: InboundResultSerializer,
            200: InboundResultSerializer,
            400: VALIDATION_ERROR,
            401: UNAUTHORIZED,
        },
    )
    @action(detail=False, methods=["post"], url_path="inbound")
    def inbound(self, request):
        data = InboundRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = data.validated_data
        try:
            result = services.inbound_receive(
                from_number=fields["from"],
                to_number=fields["to"],
                body=fields["body"],
                provider_message_id=fields["provider_message_id"],
                media_urls=fields["media_urls"],
            )
        except DjangoValidationError as error:
            raise as_api_error(error) from None
        payload = InboundResultSerializer(
            {"message": result.message, "subscriber": result.subscriber, "replies": result.replies}
        ).data
        return Response(payload, status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK)


class EventViewSet(viewsets.GenericViewSet):
    """Events from the store (orders, carts, page views) that segments and flows react to."""

    queryset = Event.objects.all()
    serializer_class = EventSerializer
    pagination_class = None

    @extend_schema(
        summary="Record an event for a subscriber",
        description="Stored once per idempotency key (a repeat answers 200 with the first event). Starts the "
        "flows the event triggers and resumes runs waiting for it.\n\n"
        "`order_placed` events feed campaign revenue: give `properties.total` (a number, or a number as text, "
        "e.g. 42.50) and `properties.currency` (ISO 4217, e.g. USD; the store's currency when left out). The "
        "order is credited to the campaign whose link the shopper clicked last within 5 days, else to one they "
        "received within 1 day (settings CAMPAIGN_ATTRIBUTION_CLICK_DAYS / _RECEIVED_DAYS).",
        request=EventRequestSerializer,
        responses={
            201: EventSerializer,
            200: EventSerializer,
            400: VALIDATION_ERROR,
            401: UNAUTHORIZED,
            404: OpenApiResponse(response=ErrorSerializer, description="No subscriber has this number."),
        },
    )
    def create(self, request):
        data = EventRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            result = services.event_record(**data.validated_data)
        except services.UnknownSubscriber as unknown:
            raise NotFound(str(unknown)) from None
        except DjangoValidationError as error:
            raise as_api_error(error) from None
        return Response(
            EventSerializer(result.event).data, status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK
        )


class CanReplyInConversations(BasePermission):
    """Posting an agent's reply sends a text: it needs `add message` as well as `view conversation`."""

    def has_permission(self, request, view):
        return bool(
            request.user and request.user.has_perms(["conversations.add_message", "conversations.view_conversation"])
        )


CONVERSATION_NOT_FOUND = OpenApiResponse(response=ErrorSerializer, description="No conversation with this id.")


@extend_schema_view(
    list=extend_schema(
        summary="List inbox conversations, newest first",
        responses={200: ConversationSerializer(many=True), 400: VALIDATION_ERROR, 401: UNAUTHORIZED},
    ),
    retrieve=extend_schema(
        summary="Get a conversation",
        responses={200: ConversationSerializer, 401: UNAUTHORIZED, 404: CONVERSATION_NOT_FOUND},
    ),
)
class ConversationViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """The inbox for a help desk: read conversations and post an agent's reply into one."""

    serializer_class = ConversationSerializer
    pagination_class = NewestFirstCursorPagination
    filterset_class = ConversationFilter  # on every action, as ever: ?status= narrows what get_object finds too
    lookup_value_regex = r"[0-9]+"
    queryset = Conversation.objects.select_related("subscriber", "assignee")

    @extend_schema(
        summary="Post an agent's reply into a conversation",
        description="The reply is queued through the send gate like every text: an unsubscribed shopper "
        "is refused with 422, and a reply within 24 hours of their text is conversational (no quiet hours).",
        request=ConversationReplySerializer,
        responses={
            201: MessageSerializer,
            400: VALIDATION_ERROR,
            401: UNAUTHORIZED,
            403: OpenApiResponse(OpenApiTypes.OBJECT, description="The token's user may not send texts."),
            404: CONVERSATION_NOT_FOUND,
            422: SEND_REFUSED,
        },
    )
    @action(
        detail=True,
        methods=["post"],
        url_path="messages",
        permission_classes=[IsAuthenticated, CanReplyInConversations],
    )
    def reply(self, request, pk=None):
        conversation = self.get_object()
        data = ConversationReplySerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            message = inbox_services.conversation_reply(
                conversation=conversation, body=data.validated_data["body"], user=request.user
            )
        except outbox.SendRefused as refused:
            raise SendRefusedError({"detail": refused.reason, "code": refused.code}) from None
        except DjangoValidationError as error:
            raise as_api_error(error) from None
        return Response(MessageSerializer(message).data, status=status.HTTP_201_CREATED)
