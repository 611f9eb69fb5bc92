"""The records the product writes: attribute changes, consent, messages, events; and tags."""

from django.contrib import admin
from django.utils.html import format_html

from ..models import (
    AttributeChange,
    ConsentEvent,
    Event,
    Message,
    Tag,
)
from .base import AppendOnlyAdmin, AttributeKeyFilter, ReadOnlyAdmin, SubscriberLinkMixin


@admin.register(AttributeChange)
class AttributeChangeAdmin(SubscriberLinkMixin, AppendOnlyAdmin):
    list_display = ["changed_at", "subscriber_link", "key", "old_value", "new_value", "source", "reference"]
    list_filter = ["source", AttributeKeyFilter]
    search_fields = ["subscriber__phone", "key"]
    list_select_related = ["subscriber"]


@admin.register(ConsentEvent)
class ConsentEventAdmin(SubscriberLinkMixin, AppendOnlyAdmin):
    phone_lookup = "phone"
    list_display = ["occurred_at", "subscriber_link", "phone", "kind", "source", "raw_text"]
    list_filter = ["kind", "source"]
    search_fields = ["phone", "raw_text"]
    list_select_related = ["subscriber"]


@admin.register(Message)
class MessageAdmin(SubscriberLinkMixin, ReadOnlyAdmin):
    list_display = [
        "created_at",
        "subscriber_link",
        "direction",
        "body",
        "status",
        "purpose",
        "origin",
        "segment_count",
        "encoding",
    ]
    list_filter = ["direction", "status", "purpose", "origin", "encoding"]
    readonly_fields = ["warning_list"]

    @admin.display(description="Segments", ordering="segments")
    def segment_count(self, obj):
        if obj.warnings:
            return format_html('<strong title="{}">{} ⚠</strong>', obj.warnings[0], obj.segments)
        return obj.segments

    @admin.display(description="Warnings")
    def warning_list(self, obj):
        return "; ".join(obj.warnings) or "—"

    search_fields = ["subscriber__phone", "body", "provider_message_id"]
    list_select_related = ["subscriber"]


@admin.register(Event)
class EventAdmin(SubscriberLinkMixin, ReadOnlyAdmin):
    list_display = ["occurred_at", "subscriber_link", "type", "properties"]
    list_filter = ["type"]
    search_fields = ["subscriber__phone", "type", "idempotency_key"]
    list_select_related = ["subscriber"]


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    list_display = ["name"]
    search_fields = ["name"]
