"""REST API of segments: CRUD, count, members and the preview of an unsaved rule."""

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.response import Response

from conversations.api import UNAUTHORIZED, VALIDATION_ERROR, as_api_error
from conversations.pagination import NewestFirstCursorPagination
from conversations.serializers import StrictCharField, SubscriberSerializer

from . import services
from .models import Segment
from .selectors import rules_english, rules_members, segment_members

NOT_FOUND = OpenApiResponse(OpenApiTypes.OBJECT, description="No segment with this id.")
RULES_HELP = "Nested groups (all / any / not) of conditions; see segments/README.md."


class CanViewSegments(BasePermission):
    """Previewing a rule reads, it does not write: the `view segment` permission is enough."""

    def has_permission(self, request, view):
        return bool(request.user and request.user.has_perm("segments.view_segment"))


class CanViewSubscribers(BasePermission):
    """Members are subscribers: listing them also needs the `view subscriber` permission."""

    def has_permission(self, request, view):
        return bool(request.user and request.user.has_perm("conversations.view_subscriber"))


class SegmentSerializer(serializers.ModelSerializer):
    name = StrictCharField(max_length=100)
    description = StrictCharField(required=False, allow_blank=True, max_length=2000)
    rules = serializers.JSONField(help_text=RULES_HELP)
    english = serializers.SerializerMethodField(help_text="The rule in plain English.")

    class Meta:
        model = Segment
        fields = ["id", "name", "description", "rules", "english", "created_at", "updated_at"]
        read_only_fields = ["id", "english", "created_at", "updated_at"]

    def get_english(self, segment) -> str:
        return rules_english(segment.rules, self.context.get("definitions"), self.context.get("segment_names"))


class SegmentUpdateSerializer(SegmentSerializer):
    name = StrictCharField(max_length=100, required=False)
    rules = serializers.JSONField(help_text=RULES_HELP, required=False)


class CountSerializer(serializers.Serializer):
    count = serializers.IntegerField()


class PreviewRequestSerializer(serializers.Serializer):
    rules = serializers.JSONField(help_text=RULES_HELP)


class PreviewSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    english = serializers.CharField()
    rules = serializers.JSONField(help_text="The rules as they would be saved (values in stored form).")


def _service(call, **kwargs):
    try:
        return call(**kwargs)
    except DjangoValidationError as error:
        raise as_api_error(error) from None


@extend_schema_view(
    list=extend_schema(summary="List segments", responses={200: SegmentSerializer(many=True), 401: UNAUTHORIZED}),
    retrieve=extend_schema(
        summary="Get a segment", responses={200: SegmentSerializer, 401: UNAUTHORIZED, 404: NOT_FOUND}
    ),
    create=extend_schema(
        summary="Create a segment",
        description="The rules are checked against the attribute definitions and the other segments; every problem "
        "is named with its place in the rule, e.g. `rules.all[1].value`.",
        responses={201: SegmentSerializer, 400: VALIDATION_ERROR, 401: UNAUTHORIZED},
    ),
    partial_update=extend_schema(
        summary="Change a segment",
        request=SegmentUpdateSerializer,
        responses={200: SegmentSerializer, 400: VALIDATION_ERROR, 401: UNAUTHORIZED, 404: NOT_FOUND},
    ),
    update=extend_schema(
        summary="Replace a segment",
        responses={200: SegmentSerializer, 400: VALIDATION_ERROR, 401: UNAUTHORIZED, 404: NOT_FOUND},
    ),
    destroy=extend_schema(
        summary="Delete a segment",
        description="Refused with 400 while another segment's rules refer to it.",
        responses={204: None, 400: VALIDATION_ERROR, 401: UNAUTHORIZED, 404: NOT_FOUND},
    ),
)
class SegmentViewSet(viewsets.ModelViewSet):
    queryset = Segment.objects.all()
    serializer_class = SegmentSerializer
    pagination_class = None  # a store has tens of segments
    lookup_value_regex = r"[0-9]+"

    def get_serializer_context(self):
        from conversations.models import AttributeDefinition

        return {
            **super().get_serializer_context(),
            "definitions": list(AttributeDefinition.objects.all()),
            "segment_names": dict(Segment.objects.values_list("id", "name")),
        }

    def perform_create(self, serializer):
        data = serializer.validated_data
        serializer.instance = _service(
            services.segment_create,
            name=data["name"],
            description=data.get("description", ""),
            rules=data["rules"],
            user=self.request.user,
        )

    def get_serializer_class(self):
        if self.action == "partial_update":
            return SegmentUpdateSerializer
        return super().get_serializer_class()

    def perform_update(self, serializer):
        data = serializer.validated_data
        serializer.instance = _service(
            services.segment_update,
            segment=serializer.instance,
            name=data.get("name"),
            description=data.get("description"),
            rules=data.get("rules"),
        )

    def perform_destroy(self, instance):
        _service(services.segment_delete, segment=instance)

    @extend_schema(summary="Count the members of a segment, now", responses={200: CountSerializer, 404: NOT_FOUND})
    @action(detail=True, methods=["get"])
    def count(self, request, pk=None):
        segment = self.get_object()
        return Response({"count": _service(lambda: segment_members(segment).count())})

    @extend_schema(
        summary="List the members of a segment, newest first",
        responses={200: SubscriberSerializer(many=True), 400: VALIDATION_ERROR, 404: NOT_FOUND},
    )
    @action(
        detail=True,
        methods=["get"],
        pagination_class=NewestFirstCursorPagination,
        permission_classes=[*viewsets.ModelViewSet.permission_classes, CanViewSubscribers],
    )
    def members(self, request, pk=None):
        segment = self.get_object()
        members = _service(lambda: segment_members(segment)).prefetch_related("tags")
        page = self.paginate_queryset(members)
        return self.get_paginated_response(SubscriberSerializer(page, many=True).data)

    @extend_schema(
        summary="Count the members of an unsaved rule",
        request=PreviewRequestSerializer,
        responses={200: PreviewSerializer, 400: VALIDATION_ERROR, 401: UNAUTHORIZED},
    )
    @action(detail=False, methods=["post"], permission_classes=[IsAuthenticated, CanViewSegments])
    def preview(self, request):
        data = PreviewRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        rules = _service(services.rules_check, rules=data.validated_data["rules"])
        count = rules_members(rules).count()
        return Response({"count": count, "english": rules_english(rules), "rules": rules}, status=status.HTTP_200_OK)
