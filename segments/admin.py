from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.html import format_html

from . import services
from .models import Segment
from .selectors import rules_english


@admin.register(Segment)
class SegmentAdmin(admin.ModelAdmin):
    """The list of segments; adding and editing happen in the builder (segments/views.py)."""

    list_display = ["name", "description", "rule", "updated_at", "open_builder"]
    search_fields = ["name", "description"]
    actions = None

    @admin.display(description="Rule")
    def rule(self, segment):
        return rules_english(segment.rules, self._definitions, self._names)

    @admin.display(description="")
    def open_builder(self, segment):
        return format_html('<a href="{}">Open in the builder</a>', reverse("segments:edit", args=[segment.pk]))

    def changelist_view(self, request, extra_context=None):
        from conversations.models import AttributeDefinition

        self._definitions = list(AttributeDefinition.objects.all())
        self._names = dict(Segment.objects.values_list("id", "name"))
        return super().changelist_view(request, extra_context)

    def add_view(self, request, form_url="", extra_context=None):
        return redirect("segments:new")

    def change_view(self, request, object_id, form_url="", extra_context=None):
        if not (object_id.isascii() and object_id.isdecimal() and len(object_id) <= 12):
            return redirect("admin:segments_segment_changelist")
        return redirect("segments:edit", pk=int(object_id))

    def delete_model(self, request, obj):
        services.segment_delete(segment=obj)

    def delete_queryset(self, request, queryset):
        for segment in queryset:
            services.segment_delete(segment=segment)

    def delete_view(self, request, object_id, extra_context=None):
        if request.method == "POST" and object_id.isascii() and object_id.isdecimal() and len(object_id) <= 12:
            segment = Segment.objects.filter(pk=int(object_id)).first()
            if segment and self.has_delete_permission(request, segment):
                try:
                    services.segment_delete(segment=segment)
                except ValidationError as error:
                    self.message_user(request, "; ".join(error.messages), messages.ERROR)
                    return redirect("admin:segments_segment_changelist")
                self.message_user(request, f"Deleted {segment.name!r}.", messages.SUCCESS)
                return redirect("admin:segments_segment_changelist")
        return super().delete_view(request, object_id, extra_context)
