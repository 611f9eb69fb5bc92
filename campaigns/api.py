"""REST API of campaigns: CRUD of drafts, send, pause, resume, cancel, a test send, recipients and stats."""

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.response import Response

from conversations.api import UNAUTHORIZED, VALIDATION_ERROR, as_api_error
from conversations.outbox import SendRefused
from conversations.pagination import NewestFirstCursorPagination
from conversations.serializers import StrictCharField
from segments.api import CanViewSubscribers

from . import selectors, services
from .models import Campaign, Recipient

NOT_FOUND = OpenApiResponse(OpenApiTypes.OBJECT, description="No campaign with this id.")
BODY_HELP = (
    'Personalise with {{ first_name|default:"there" }}, {{ attributes.size|label }} or {{ store }}; {{ link }} is '
    "the campaign's link_url. Every http(s) URL is sent as a tracked short link."
)


class CanSendCampaigns(BasePermission):
    """Sending, pausing, resuming and cancelling need the `send campaign` permission, not only `change`."""

    message = "sending campaigns needs the send campaign permission"

    def has_permission(self, request, view):
        return bool(request.user and request.user.has_perm("campaigns.send_campaign"))


class VariantSerializer(serializers.Serializer):
    label = serializers.CharField(read_only=True)
    body = StrictCharField(help_text=BODY_HELP, trim_whitespace=False)
    weight = serializers.IntegerField(
        required=False, default=None, allow_null=True, help_text="Percent of the audience; the weights add to 100."
    )


class SegmentIdsField(serializers.ListField):
    """Segment ids in, segment ids out (the campaign holds them as a many-to-many)."""

    child = serializers.IntegerField()

    def to_representation(self, data):
        return [segment.pk for segment in data.all()]


class CampaignSerializer(serializers.ModelSerializer):
    name = StrictCharField(max_length=100)
    body = StrictCharField(
        required=False, write_only=True, trim_whitespace=False, help_text="Shorthand for one variant. " + BODY_HELP
    )
    variants = VariantSerializer(many=True, required=False, help_text="1 to 5 texts, A/B tested by weight.")
    include_segments = SegmentIdsField(required=False, help_text="Segment ids: anyone in any of them.")
    exclude_segments = SegmentIdsField(required=False, help_text="Segment ids: nobody in any of them.")
    winner = serializers.SlugRelatedField(slug_field="label", read_only=True, allow_null=True)
    text = serializers.SerializerMethodField(help_text="The first variant's text.")

    class Meta:
        model = Campaign
        fields = [
            "id",
            "name",
            "status",
            "body",
            "text",
            "variants",
            "link_url",
            "media_url",
            "include_segments",
            "exclude_segments",
            "exclude_texted_within_hours",
            "holdout_percent",
            "test_percent",
            "winner_metric",
            "winner_after_hours",
            "send_at",
            "local_time",
            "winner",
            "winner_reason",
            "end_reason",
            "created_at",
            "started_at",
            "finished_at",
        ]
        read_only_fields = [
            "id",
            "status",
            "text",
            "winner",
            "winner_reason",
            "end_reason",
            "created_at",
            "started_at",
            "finished_at",
        ]

    def get_text(self, campaign) -> str:
        first = next(iter(campaign.variants.all()), None)
        return first.body if first else ""

    def validate(self, data):
        if "body" in data and "variants" in data:
            raise serializers.ValidationError({"body": ["give either body or variants, not both"]})
        if "body" in data:
            data["variants"] = [{"body": data.pop("body"), "weight": 100}]
        if self.instance is None and "variants" not in data:
            raise serializers.ValidationError({"body": ["write the text (body, or variants for an A/B test)"]})
        return data


class StatsGroupSerializer(serializers.Serializer):
    label = serializers.CharField()
    recipients = serializers.IntegerField()
    sent = serializers.IntegerField()
    delivered = serializers.IntegerField()
    failed = serializers.IntegerField()
    clicks = serializers.IntegerField()
    clickers = serializers.IntegerField()
    click_rate = serializers.FloatField(help_text="Percent of texts sent that were clicked.")
    replies = serializers.IntegerField()
    opt_outs = serializers.IntegerField()
    orders = serializers.IntegerField(help_text="Orders attributed to the campaign.")
    revenue = serializers.DecimalField(max_digits=14, decimal_places=2)
    buyers = serializers.IntegerField(help_text="People who ordered within the click window after the send began.")
    conversion_rate = serializers.FloatField()
    revenue_per_recipient = serializers.DecimalField(max_digits=14, decimal_places=2)


class StatsSerializer(serializers.Serializer):
    recipients = serializers.IntegerField(help_text="The audience, the holdout included.")
    sent = serializers.IntegerField()
    delivered = serializers.IntegerField()
    failed = serializers.IntegerField()
    clicks = serializers.IntegerField(help_text="Link openings by people (bots' link previews are not counted).")
    replies = serializers.IntegerField(help_text="Recipients who texted back within a day.")
    opt_outs = serializers.IntegerField(help_text="Recipients who opted out within a day.")
    orders = serializers.IntegerField()
    revenue = serializers.DecimalField(max_digits=14, decimal_places=2, help_text="In the store's currency.")
    queued = serializers.IntegerField()
    waiting = serializers.IntegerField(help_text="Waiting for the winner of the test.")
    click_rate = serializers.FloatField()
    currency = serializers.CharField()
    variants = StatsGroupSerializer(many=True)
    holdout = StatsGroupSerializer(allow_null=True)
    winner = serializers.CharField(allow_null=True)


class RecipientSerializer(serializers.ModelSerializer):
    phone = serializers.CharField(source="subscriber.phone")
    variant = serializers.SlugRelatedField(slug_field="label", read_only=True, allow_null=True)

    class Meta:
        model = Recipient
        fields = ["id", "subscriber", "phone", "variant", "status"]


class TestSendSerializer(serializers.Serializer):
    phone = StrictCharField(max_length=32, help_text="A subscribed number.")
    variant = serializers.CharField(required=False, max_length=1, help_text="A, B…; the first by default.")


def _service(call, **kwargs):
    try:
        return call(**kwargs)
    except DjangoValidationError as error:
        raise as_api_error(error) from None


SENDING = [IsAuthenticated, CanSendCampaigns]
ACTION = {200: CampaignSerializer, 400: VALIDATION_ERROR, 401: UNAUTHORIZED, 404: NOT_FOUND}


@extend_schema_view(
    list=extend_schema(
        summary="List campaigns, newest first",
        responses={200: CampaignSerializer(many=True), 400: VALIDATION_ERROR, 401: UNAUTHORIZED},
    ),
    retrieve=extend_schema(summary="Get a campaign", responses={200: CampaignSerializer, 404: NOT_FOUND}),
    create=extend_schema(
        summary="Create a draft campaign",
        responses={201: CampaignSerializer, 400: VALIDATION_ERROR, 401: UNAUTHORIZED},
    ),
    partial_update=extend_schema(summary="Change a draft", responses=ACTION),
    update=extend_schema(summary="Replace a draft", responses=ACTION),
    destroy=extend_schema(
        summary="Delete a draft",
        description="Only drafts and cancelled campaigns can be deleted; a sent campaign keeps its results.",
        responses={204: None, 400: VALIDATION_ERROR, 401: UNAUTHORIZED, 404: NOT_FOUND},
    ),
)
class CampaignViewSet(viewsets.ModelViewSet):
    queryset = Campaign.objects.prefetch_related("variants", "include_segments", "exclude_segments").select_related(
        "winner"
    )
    serializer_class = CampaignSerializer
    pagination_class = NewestFirstCursorPagination
    lookup_value_regex = r"[0-9]+"

    def perform_create(self, serializer):
        serializer.instance = _service(
            services.campaign_save, data=dict(serializer.validated_data), user=self.request.user
        )

    def perform_update(self, serializer):
        serializer.instance = _service(
            services.campaign_save, campaign=serializer.instance, data=dict(serializer.validated_data)
        )

    def perform_destroy(self, instance):
        _service(services.campaign_delete, campaign=instance)

    def _act(self, call):
        campaign = self.get_object()
        if call is services.campaign_send:
            campaign = _service(call, campaign=campaign, user=self.request.user)
        else:
            campaign = _service(call, campaign=campaign)
        return Response(CampaignSerializer(self.get_queryset().get(pk=campaign.pk)).data)

    @extend_schema(
        summary="Send a campaign",
        description="Now, at send_at, or (local_time) at send_at's time of day in each subscriber's zone. Quiet "
        "hours and frequency caps hold texts, never drop them.",
        request=None,
        responses=ACTION,
    )
    @action(detail=True, methods=["post"], permission_classes=SENDING)
    def send(self, request, pk=None):
        return self._act(services.campaign_send)

    @extend_schema(summary="Cancel a campaign", request=None, responses=ACTION)
    @action(detail=True, methods=["post"], permission_classes=SENDING)
    def cancel(self, request, pk=None):
        return self._act(services.campaign_cancel)

    @extend_schema(
        summary="Take a scheduled campaign back to draft",
        description="Only before its fan-out began; a draft can be changed and sent again.",
        request=None,
        responses=ACTION,
    )
    @action(detail=True, methods=["post"], permission_classes=SENDING)
    def unschedule(self, request, pk=None):
        return self._act(services.campaign_unschedule)

    @extend_schema(summary="Pause a campaign's sending", request=None, responses=ACTION)
    @action(detail=True, methods=["post"], permission_classes=SENDING)
    def pause(self, request, pk=None):
        return self._act(services.campaign_pause)

    @extend_schema(summary="Resume a paused campaign", request=None, responses=ACTION)
    @action(detail=True, methods=["post"], permission_classes=SENDING)
    def resume(self, request, pk=None):
        return self._act(services.campaign_resume)

    @extend_schema(
        summary="Send a variant to one number as a test",
        request=TestSendSerializer,
        responses={202: OpenApiTypes.OBJECT, 400: VALIDATION_ERROR, 404: NOT_FOUND, 422: OpenApiTypes.OBJECT},
    )
    @action(detail=True, methods=["post"], permission_classes=SENDING)
    def test(self, request, pk=None):
        campaign = self.get_object()
        data = TestSendSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        variant = None
        if data.validated_data.get("variant"):
            variant = campaign.variants.filter(label=data.validated_data["variant"].upper()).first()
            if variant is None:
                raise as_api_error(DjangoValidationError({"variant": ["this campaign has no such variant"]}))
        try:
            message = _service(
                services.campaign_test_send,
                campaign=campaign,
                phone=data.validated_data["phone"],
                variant=variant,
                user=request.user,
            )
        except SendRefused as refused:
            return Response({"detail": refused.reason, "code": refused.code}, status=422)
        return Response({"message": message.pk, "body": message.body, "hold_reason": message.hold_reason}, status=202)

    @extend_schema(
        summary="List a campaign's recipients",
        description="Their phone numbers too: needs *view subscriber* besides *view campaign*.",
        responses={200: RecipientSerializer(many=True), 400: VALIDATION_ERROR, 401: UNAUTHORIZED, 404: NOT_FOUND},
    )
    @action(
        detail=True,
        methods=["get"],
        permission_classes=[*viewsets.ModelViewSet.permission_classes, CanViewSubscribers],
    )
    def recipients(self, request, pk=None):
        campaign = self.get_object()
        page = self.paginate_queryset(campaign.recipients.select_related("subscriber", "variant"))
        return self.get_paginated_response(RecipientSerializer(page, many=True).data)

    @extend_schema(summary="A campaign's results", responses={200: StatsSerializer, 401: UNAUTHORIZED, 404: NOT_FOUND})
    @action(detail=True, methods=["get"])
    def stats(self, request, pk=None):
        return Response(StatsSerializer(selectors.campaign_stats(self.get_object())).data)
