"""Django admin for flows, versions, runs and results (the builder pages come with the flow builder)."""

import json

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError

from . import services
from .models import Flow, FlowResult, FlowRun, FlowVersion, OfferCode


class FlowForm(forms.ModelForm):
    class Meta:
        model = Flow
        fields = [
            "name",
            "description",
            "trigger",
            "keywords",
            "event_type",
            "event_filter",
            "reentry",
            "reentry_days",
            "draft",
        ]

    def clean_draft(self):
        draft = self.cleaned_data["draft"]
        try:
            services.flow_definition_check(draft)
        except ValidationError as error:
            raise ValidationError(error.message_dict["definition"]) from None
        return draft


@admin.action(description="Publish the draft as a new version and activate")
def publish(modeladmin, request, queryset):
    for flow in queryset:
        try:
            version = services.flow_publish(flow=flow, user=request.user)
        except ValidationError as error:
            modeladmin.message_user(request, f"{flow}: {'; '.join(error.messages)}", messages.ERROR)
        else:
            modeladmin.message_user(request, f"{flow}: published version {version.number}.", messages.SUCCESS)


@admin.register(Flow)
class FlowAdmin(admin.ModelAdmin):
    form = FlowForm
    list_display = ["name", "status", "trigger", "keyword_list", "event_type", "live_runs"]
    list_filter = ["status", "trigger"]
    search_fields = ["name"]
    actions = [publish]

    @admin.display(description="Keywords")
    def keyword_list(self, obj):
        return ", ".join(obj.keywords)

    @admin.display(description="Live runs")
    def live_runs(self, obj):
        return obj.runs.live().count()


@admin.register(FlowVersion)
class FlowVersionAdmin(admin.ModelAdmin):
    list_display = ["flow", "number", "published_at", "published_by"]
    readonly_fields = ["flow", "number", "pretty_definition", "published_at", "published_by"]
    exclude = ["definition"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="Definition")
    def pretty_definition(self, obj):
        from django.utils.html import format_html

        return format_html("<pre>{}</pre>", json.dumps(obj.definition, indent=2, ensure_ascii=False))


class FlowResultInline(admin.TabularInline):
    model = FlowResult
    extra = 0
    can_delete = False
    readonly_fields = ["node", "raw_text", "category", "value", "created_at"]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(FlowRun)
class FlowRunAdmin(admin.ModelAdmin):
    list_display = ["id", "flow", "subscriber", "status", "current_node", "waiting_for", "wake_at", "started_at"]
    list_filter = ["status", "flow"]
    search_fields = ["subscriber__phone"]
    list_select_related = ["flow", "subscriber"]
    inlines = [FlowResultInline]
    show_full_result_count = False
    ordering = ["-id"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(OfferCode)
class OfferCodeAdmin(admin.ModelAdmin):
    list_display = ["pool", "code", "subscriber", "claimed_at"]
    list_filter = ["pool"]
    search_fields = ["code", "subscriber__phone"]
