"""What the admin pages of Parley share: read-only records, phone search, history tables."""

from django.contrib import admin
from django.core.exceptions import ValidationError
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.html import format_html
from django.utils.http import urlencode

from ..models import (
    AttributeDefinition,
)
from ..phones import normalize_phone

HISTORY_ROWS = 25


def _history_table(*, headings, rows, total, empty, more_url) -> str:
    return render_to_string(
        "admin/conversations/subscriber/_history.html",
        {
            "headings": headings,
            "rows": rows,
            "total": total,
            "empty": empty,
            "more": more_url if total > len(rows) else "",
        },
    )


def _changelist_url(model, **filters) -> str:
    return reverse(f"admin:conversations_{model._meta.model_name}_changelist") + "?" + urlencode(filters)


# --- Subscriber -----------------------------------------------------------------------------


class PhoneSearchMixin:
    """A search that reads as a phone number finds that number exactly, by index, in any format typed."""

    phone_lookup = "phone"

    def get_search_results(self, request, queryset, search_term):
        try:
            phone = normalize_phone(search_term)
        except ValidationError:
            return super().get_search_results(request, queryset, search_term)
        return queryset.filter(**{self.phone_lookup: phone}), False


# --- Read-only records --------------------------------------------------------------------------


class ReadOnlyAdmin(admin.ModelAdmin):
    """Records that are written by the product, never edited by hand.

    These tables grow to millions of rows: lists are ordered by id (the primary
    key index) and never count every row.
    """

    ordering = ["-id"]
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class AppendOnlyAdmin(ReadOnlyAdmin):
    """History that must stay as it was written: not even deleted by hand."""

    def has_delete_permission(self, request, obj=None):
        return False


class SubscriberLinkMixin(PhoneSearchMixin):
    phone_lookup = "subscriber__phone"

    @admin.display(description="Subscriber", ordering="subscriber")
    def subscriber_link(self, obj):
        if obj.subscriber_id is None:
            return getattr(obj, "phone", "—")
        url = reverse("admin:conversations_subscriber_change", args=[obj.subscriber_id])
        return format_html('<a href="{}">{}</a>', url, obj.subscriber)


class AttributeKeyFilter(admin.SimpleListFilter):
    """Offers the defined attributes, instead of a DISTINCT over every change ever recorded."""

    title = "attribute"
    parameter_name = "key"

    def lookups(self, request, model_admin):
        return AttributeDefinition.objects.values_list("key", "label")

    def queryset(self, request, queryset):
        return queryset.filter(key=self.value()) if self.value() else queryset
