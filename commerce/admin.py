"""The delivery log and the catalog in the Django admin: records the store's platform wrote, read-only."""

import json

from django.contrib import admin, messages
from django.db.models import Count, Exists, IntegerField, Min, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils.html import format_html

from . import services, shopify, woocommerce
from .models import (
    BackInStockRequest,
    Checkout,
    ConsentPush,
    Platform,
    PlatformCustomer,
    Product,
    Variant,
    WebhookDelivery,
    WebhookRefusal,
)

ADAPTERS = {Platform.SHOPIFY: shopify, Platform.WOOCOMMERCE: woocommerce}


class ReadOnly(admin.ModelAdmin):
    """Written by the platform's webhooks (or an import), never by hand; these tables grow, so no full counts."""

    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class TopicFilter(admin.SimpleListFilter):
    """The topics Parley uses, instead of a DISTINCT over every delivery ever received."""

    title = "topic"
    parameter_name = "topic"

    def lookups(self, request, model_admin):
        return [(topic, topic) for adapter in ADAPTERS.values() for topic in adapter.TOPICS]

    def queryset(self, request, queryset):
        return queryset.filter(topic=self.value()) if self.value() else queryset


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnly):
    list_display = ["received_at", "platform", "topic", "outcome", "resource_id", "short_detail", "attempts"]
    list_filter = ["platform", TopicFilter, "outcome"]
    search_fields = ["=delivery_id", "=event_id", "=resource_id"]
    ordering = ["-id"]
    date_hierarchy = None
    actions = ["process_again"]
    fields = [
        "platform",
        "topic",
        "outcome",
        "detail",
        "resource_id",
        "received_at",
        "processed_at",
        "attempts",
        "delivery_id",
        "event_id",
        "duplicate_of",
        "shop",
        "api_version",
        "triggered_at",
        "body_json",
    ]
    readonly_fields = fields

    @admin.display(description="Detail", ordering="detail")
    def short_detail(self, obj):
        return obj.detail if len(obj.detail) <= 100 else obj.detail[:99] + "…"

    @admin.display(description="Body")
    def body_json(self, obj):
        if obj.body is None:
            return "— (not kept: cleared after COMMERCE_WEBHOOK_BODY_DAYS, or never readable)"
        return format_html("<pre>{}</pre>", json.dumps(obj.body, indent=2, ensure_ascii=False)[:100_000])

    @admin.action(
        description="Process again (failed or rejected deliveries whose body is kept)", permissions=["reprocess"]
    )
    def process_again(self, request, queryset):
        done = 0
        for delivery in queryset.filter(
            outcome__in=[WebhookDelivery.Outcome.FAILED, WebhookDelivery.Outcome.REJECTED], body__isnull=False
        ):
            services.delivery_reprocess(delivery=delivery, handler_for=ADAPTERS[delivery.platform].handler_for)
            done += 1
        self.message_user(request, f"Processed {done} deliveries again; their outcome is in the list.", messages.INFO)

    def has_reprocess_permission(self, request):
        return request.user.has_perm("commerce.change_webhookdelivery")


@admin.register(WebhookRefusal)
class WebhookRefusalAdmin(ReadOnly):
    list_display = ["day", "platform", "reason", "count"]
    list_filter = ["platform", "reason"]


class InStockFilter(admin.SimpleListFilter):
    title = "in stock"
    parameter_name = "in_stock"

    def lookups(self, request, model_admin):
        return [("yes", "Yes"), ("no", "No")]

    def queryset(self, request, queryset):
        if self.value() not in ("yes", "no"):
            return queryset
        if queryset.model is Variant:
            return queryset.filter(in_stock=self.value() == "yes")
        any_in_stock = Exists(Variant.objects.filter(product=OuterRef("pk"), in_stock=True))
        return queryset.filter(any_in_stock if self.value() == "yes" else ~any_in_stock)


class VariantInline(admin.TabularInline):
    model = Variant
    extra = 0
    can_delete = False
    fields = [
        "title",
        "sku",
        "price",
        "compare_at_price",
        "option_text",
        "attributes",
        "inventory_quantity",
        "in_stock",
    ]
    readonly_fields = fields
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Product)
class ProductAdmin(ReadOnly):
    list_display = [
        "title",
        "status",
        "platform",
        "handle",
        "variant_count",
        "in_stock_count",
        "lowest_price",
        "waiting_count",
    ]
    list_filter = ["status", InStockFilter, "platform"]
    search_fields = ["title", "handle", "variants__sku", "=external_id"]
    inlines = [VariantInline]
    fields = [
        "title",
        "status",
        "platform",
        "external_id",
        "handle",
        "url",
        "image_url",
        "vendor",
        "product_type",
        "platform_updated_at",
        "created_at",
        "updated_at",
    ]
    readonly_fields = fields

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(
                variant_total=Count("variants"),
                in_stock_total=Count("variants", filter=Q(variants__in_stock=True)),
                lowest=Min("variants__price"),
                # A subquery, not a third join: the counts over variants stay as they are.
                waiting_total=Coalesce(Subquery(_waiting_requests(), output_field=IntegerField()), 0),
            )
        )

    @admin.display(description="Variants", ordering="variant_total")
    def variant_count(self, obj):
        return obj.variant_total

    @admin.display(description="In stock", ordering="in_stock_total")
    def in_stock_count(self, obj):
        return obj.in_stock_total

    @admin.display(description="From", ordering="lowest")
    def lowest_price(self, obj):
        return obj.lowest if obj.lowest is not None else "—"

    @admin.display(description="Waiting to be told it is back", ordering="waiting_total")
    def waiting_count(self, obj):
        if not obj.waiting_total:
            return 0
        url = reverse("admin:commerce_backinstockrequest_changelist")
        return format_html(
            '<a href="{}?product__id__exact={}&status__exact=waiting">{}</a>', url, obj.pk, obj.waiting_total
        )


def _waiting_requests():
    """The number of waiting back-in-stock requests of the outer product."""
    return (
        BackInStockRequest.objects.waiting()
        .filter(product=OuterRef("pk"))
        .order_by()
        .values("product")
        .annotate(total=Count("id"))
        .values("total")
    )


@admin.register(Variant)
class VariantAdmin(ReadOnly):
    list_display = [
        "__str__",
        "sku",
        "price",
        "compare_at_price",
        "option_text",
        "attributes",
        "inventory_quantity",
        "in_stock",
    ]
    list_filter = [InStockFilter, "product__status", "product__platform"]
    search_fields = ["product__title", "title", "sku", "product__handle"]
    list_select_related = ["product"]
    fields = [
        "product",
        "title",
        "sku",
        "external_id",
        "price",
        "compare_at_price",
        "option_text",
        "attributes",
        "image_url",
        "inventory_item_id",
        "inventory_tracked",
        "inventory_quantity",
        "inventory_levels",
        "sells_when_out",
        "in_stock",
        "updated_at",
    ]
    readonly_fields = fields

    @admin.display(description="Options")
    def option_text(self, obj):
        return obj.option_text or "—"


class CheckoutStateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [
            ("waiting", "Waiting (may be called abandoned)"),
            ("abandoned", "Abandoned"),
            ("completed", "Completed by an order"),
            ("no_phone", "No usable phone"),
        ]

    def queryset(self, request, queryset):
        if self.value() == "waiting":
            return queryset.waiting()
        if self.value() == "abandoned":
            return queryset.filter(abandoned_at__isnull=False)
        if self.value() == "completed":
            return queryset.filter(completed_at__isnull=False)
        if self.value() == "no_phone":
            return queryset.filter(phone="")
        return queryset


@admin.register(Checkout)
class CheckoutAdmin(ReadOnly):
    list_display = ["token", "platform", "state", "phone", "total", "currency", "item_count", "touched_at", "note"]
    list_filter = [CheckoutStateFilter, "platform"]
    search_fields = ["=token"]
    fields = [
        "platform",
        "token",
        "cart_token",
        "external_id",
        "state",
        "phone",
        "phone_problem",
        "abandoned_checkout_url",
        "total",
        "currency",
        "item_count",
        "started_at",
        "platform_updated_at",
        "touched_at",
        "completed_at",
        "order_id",
        "abandoned_at",
        "note",
        "properties_json",
        "created_at",
        "updated_at",
    ]
    readonly_fields = fields

    @admin.display(description="State")
    def state(self, obj):
        return obj.state

    @admin.display(description="Event properties")
    def properties_json(self, obj):
        return format_html("<pre>{}</pre>", json.dumps(obj.properties, indent=2, ensure_ascii=False))


@admin.register(PlatformCustomer)
class PlatformCustomerAdmin(ReadOnly):
    """Store customers linked to subscribers by the customers webhooks: how an opt-out finds them in Shopify."""

    list_display = ["external_id", "platform", "subscriber", "sms_state", "consent_updated_at", "updated_at"]
    list_filter = ["platform", "sms_state"]
    list_select_related = ["subscriber"]
    search_fields = ["=external_id"]


@admin.register(ConsentPush)
class ConsentPushAdmin(ReadOnly):
    """Opt-outs in Parley told (or being told) to Shopify, with each one's attempts and last error."""

    list_display = ["id", "customer", "state", "status", "attempts", "next_attempt_at", "last_error", "done_at"]
    list_filter = ["status"]
    list_select_related = ["customer"]


@admin.register(BackInStockRequest)
class BackInStockRequestAdmin(ReadOnly):
    """Shoppers waiting to be told a product (in their size) is back in stock, and those already told."""

    list_display = [
        "id",
        "product",
        "variant_title",
        "subscriber",
        "source",
        "status",
        "requested_at",
        "expires_at",
        "notified_at",
    ]
    list_filter = ["status", "source", "product"]
    list_select_related = ["product", "variant", "subscriber"]
    search_fields = ["product__title", "variant__sku", "=product__external_id"]
    fields = ["subscriber", "product", "variant", "source", "status", "requested_at", "expires_at", "notified_at"]
    readonly_fields = fields

    @admin.display(description="Size", ordering="variant__title")
    def variant_title(self, obj):
        return obj.variant.title if obj.variant else "any"
