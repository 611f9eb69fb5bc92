"""REST API of the catalog's conversations (`/api/v1/back-in-stock/`): parse, call one service, present."""

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.response import Response

from conversations.api import UNAUTHORIZED, VALIDATION_ERROR, as_api_error
from conversations.serializers import StrictCharField

from . import services
from .models import BackInStockRequest


class BackInStockRequestSerializer(serializers.Serializer):
    phone = StrictCharField(max_length=32, help_text="The subscriber's number, any format; they must be subscribed.")
    variant = StrictCharField(
        max_length=255, help_text="The platform's variant id or the variant's SKU (the one in the shopper's size)."
    )


class BackInStockSerializer(serializers.ModelSerializer):
    phone = serializers.CharField(source="subscriber.phone", read_only=True)
    product = serializers.CharField(source="product.external_id", read_only=True, help_text="The platform's id.")
    variant = serializers.CharField(
        source="variant.external_id", read_only=True, allow_null=True, help_text="The platform's id."
    )
    sku = serializers.CharField(source="variant.sku", read_only=True, allow_null=True)
    title = serializers.CharField(source="product.title", read_only=True)
    variant_title = serializers.CharField(source="variant.title", read_only=True, allow_null=True)

    class Meta:
        model = BackInStockRequest
        fields = [
            "id",
            "phone",
            "product",
            "variant",
            "sku",
            "title",
            "variant_title",
            "source",
            "status",
            "requested_at",
            "expires_at",
            "notified_at",
        ]
        read_only_fields = fields


class BackInStockViewSet(viewsets.GenericViewSet):
    """Requests to be texted when a sold-out variant is back in stock (needs `add back in stock request`)."""

    queryset = BackInStockRequest.objects.all()
    serializer_class = BackInStockSerializer
    pagination_class = None

    @extend_schema(
        summary="Ask to be texted when a sold-out variant is back in stock",
        description="One waiting request per subscriber and variant: asking again answers 200 with the waiting "
        "one. When the variant goes from out of stock to in stock, the oldest requests (no more than the stock) "
        'each become a `back_in_stock` event, which the shipped "Back in stock" flow texts. A request expires '
        "after BACK_IN_STOCK_DAYS (90).",
        request=BackInStockRequestSerializer,
        responses={201: BackInStockSerializer, 200: BackInStockSerializer, 400: VALIDATION_ERROR, 401: UNAUTHORIZED},
    )
    def create(self, request):
        data = BackInStockRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            row, created = services.back_in_stock_request_by_phone(**data.validated_data)
        except DjangoValidationError as error:
            raise as_api_error(error) from None
        return Response(
            BackInStockSerializer(row).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK
        )
