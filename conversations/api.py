"""REST API for subscribers and attribute definitions (`/api/v1/`).

Endpoints parse the request, call one service or selector and present the
result; every rule lives in services.py.
"""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Prefetch
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import APIException, ValidationError
from rest_framework.response import Response

from . import services
from .models import AttributeDefinition, ConsentEvent, Subscriber, Tag
from .phones import normalize_phone
from .serializers import (
    AttributeChangeSerializer,
    AttributeDefinitionSerializer,
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
        parameters=[
            OpenApiParameter("phone", str, description="Any format that normalizes to the E.164 number."),
            OpenApiParameter("status", str, enum=Subscriber.Status.values),
            OpenApiParameter("tag", str, description="Only subscribers with this tag."),
        ],
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
    filter_backends = []
    lookup_value_regex = r"[0-9]+"
    queryset = Subscriber.objects.prefetch_related(Prefetch("tags", queryset=Tag.objects.only("name")))

    def get_queryset(self):
        queryset = super().get_queryset()
        if self.action != "list":
            return queryset
        params = self.request.query_params
        if "phone" in params:
            try:
                queryset = queryset.filter(phone=normalize_phone(params["phone"]))
            except DjangoValidationError as error:
                raise ValidationError({"phone": error.messages}) from None
        if "status" in params:
            if params["status"] not in Subscriber.Status.values:
                raise ValidationError({"status": [f"status must be one of {', '.join(Subscriber.Status.values)}"]})
            queryset = queryset.filter(status=params["status"])
        if "tag" in params:
            queryset = queryset.with_tag(params["tag"].strip().lower())
        return queryset

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
                consent_details={"api_user": request.user.username, **(consent or {})},
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
    @action(detail=True, methods=["get"], url_path="attribute-changes")
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
    filter_backends = []
