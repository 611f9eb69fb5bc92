"""REST API of flows: list them, start one for a list of phones."""

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.response import Response

from conversations.api import as_api_error
from conversations.serializers import StrictCharField

from . import services
from .models import Flow


class CanStartRuns(BasePermission):
    """Starting a flow adds runs: it needs the `add flow run` permission."""

    def has_permission(self, request, view):
        return bool(request.user and request.user.has_perm("flows.add_flowrun"))


class FlowSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(read_only=True)
    status = serializers.ChoiceField(choices=Flow.Status.choices, read_only=True)
    trigger = serializers.ChoiceField(choices=Flow.Trigger.choices, read_only=True)
    keywords = serializers.ListField(child=serializers.CharField(), read_only=True)
    event_type = serializers.CharField(read_only=True)


class StartRequestSerializer(serializers.Serializer):
    phones = serializers.ListField(child=StrictCharField(max_length=32), min_length=1, max_length=1000)


class StartResultSerializer(serializers.Serializer):
    started = serializers.ListField(child=serializers.CharField(), help_text="Numbers whose run started.")
    skipped = serializers.DictField(child=serializers.CharField(), help_text="Number to the reason it was skipped.")


class CanEditFlows(BasePermission):
    """Importing and publishing change flows: the `change flow` permission (importing a new one: `add flow`)."""

    def has_permission(self, request, view):
        needed = ["flows.change_flow"] + (["flows.add_flow"] if view.action == "import_flow" else [])
        return bool(request.user and request.user.has_perms(needed))


class PublishResultSerializer(serializers.Serializer):
    version = serializers.IntegerField(help_text="The number of the version just published.")
    status = serializers.CharField()


FLOW_DOCUMENT = OpenApiTypes.OBJECT
FLOW_ERRORS = OpenApiResponse(OpenApiTypes.OBJECT, description="What is wrong, by field; `definition` by node.")


class FlowVersioningMixin:
    @extend_schema(
        summary="Export a flow as JSON (its settings and current draft)",
        responses={
            200: FLOW_DOCUMENT,
            401: OpenApiResponse(OpenApiTypes.OBJECT, description="Missing or wrong token."),
            403: OpenApiResponse(OpenApiTypes.OBJECT, description="The token's user may not view flows."),
            404: OpenApiResponse(OpenApiTypes.OBJECT, description="No flow with this id."),
        },
    )
    @action(detail=True, methods=["get"])
    def export(self, request, pk=None):
        return Response(services.flow_export(self.get_object()))

    @extend_schema(
        summary="Import a flow from JSON",
        description="Checks the document and saves it as a draft: the flow with the same name gets it as its "
        "draft (200), or a new flow is made (201). Nothing is published.",
        request=FLOW_DOCUMENT,
        responses={
            200: FlowSerializer,
            201: FlowSerializer,
            400: FLOW_ERRORS,
            401: OpenApiResponse(OpenApiTypes.OBJECT, description="Missing or wrong token."),
            403: OpenApiResponse(OpenApiTypes.OBJECT, description="The token's user may not add or change flows."),
        },
    )
    @action(detail=False, methods=["post"], url_path="import", permission_classes=[IsAuthenticated, CanEditFlows])
    def import_flow(self, request):
        try:
            flow, created = services.flow_import(data=request.data)
        except DjangoValidationError as error:
            raise as_api_error(error) from None
        return Response(FlowSerializer(flow).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)

    @extend_schema(
        summary="Publish the flow's draft as its next version",
        description="Runs started earlier keep the version they started on; new runs get this one.",
        request=None,
        responses={
            200: PublishResultSerializer,
            400: FLOW_ERRORS,
            401: OpenApiResponse(OpenApiTypes.OBJECT, description="Missing or wrong token."),
            403: OpenApiResponse(OpenApiTypes.OBJECT, description="The token's user may not change flows."),
            404: OpenApiResponse(OpenApiTypes.OBJECT, description="No flow with this id."),
        },
    )
    @action(detail=True, methods=["post"], permission_classes=[IsAuthenticated, CanEditFlows])
    def publish(self, request, pk=None):
        flow = self.get_object()
        try:
            version = services.flow_publish(flow=flow, user=request.user)
        except DjangoValidationError as error:
            raise as_api_error(error) from None
        return Response({"version": version.number, "status": Flow.Status.ACTIVE})


@extend_schema_view(
    list=extend_schema(
        summary="List flows",
        responses={
            200: FlowSerializer(many=True),
            401: OpenApiResponse(OpenApiTypes.OBJECT, description="Missing or wrong token."),
        },
    )
)
class FlowViewSet(FlowVersioningMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    queryset = Flow.objects.all()
    serializer_class = FlowSerializer
    pagination_class = None  # a store has tens of flows, not thousands
    lookup_value_regex = r"[0-9]+"

    @extend_schema(
        summary="Start the flow for these phone numbers",
        request=StartRequestSerializer,
        responses={
            200: StartResultSerializer,
            400: OpenApiResponse(OpenApiTypes.OBJECT, description="Validation error, by field."),
            401: OpenApiResponse(OpenApiTypes.OBJECT, description="Missing or wrong token."),
            403: OpenApiResponse(OpenApiTypes.OBJECT, description="The token's user may not start flows."),
            404: OpenApiResponse(OpenApiTypes.OBJECT, description="No flow with this id."),
        },
    )
    @action(detail=True, methods=["post"], permission_classes=[IsAuthenticated, CanStartRuns])
    def start(self, request, pk=None):
        flow = self.get_object()
        data = StartRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        started, skipped = services.runs_start_for_phones(flow=flow, phones=data.validated_data["phones"])
        return Response({"started": started, "skipped": skipped}, status=status.HTTP_200_OK)
