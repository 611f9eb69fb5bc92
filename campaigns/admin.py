from django.contrib import admin
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.html import format_html

from . import services
from .models import Campaign


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
    """The list of campaigns; composing, sending and results happen on the campaign pages (campaigns/views.py)."""

    list_display = ["name", "status", "send_at", "started_at", "finished_at", "open_page"]
    list_filter = ["status"]
    search_fields = ["name"]
    actions = None

    @admin.display(description="")
    def open_page(self, campaign):
        if campaign.is_editable:
            return format_html('<a href="{}">Edit</a>', reverse("campaigns:edit", args=[campaign.pk]))
        return format_html('<a href="{}">Results</a>', reverse("campaigns:results", args=[campaign.pk]))

    def add_view(self, request, form_url="", extra_context=None):
        return redirect("campaigns:new")

    def change_view(self, request, object_id, form_url="", extra_context=None):
        if not (object_id.isascii() and object_id.isdecimal() and len(object_id) <= 12):
            return redirect("admin:campaigns_campaign_changelist")
        return redirect("campaigns:edit", pk=int(object_id))

    def has_delete_permission(self, request, obj=None):
        # A campaign that went out keeps its results; drafts and cancelled ones may go.
        if obj is not None and obj.status not in Campaign.DELETABLE:
            return False
        return super().has_delete_permission(request, obj)

    def delete_model(self, request, obj):
        services.campaign_delete(campaign=obj)

    def delete_queryset(self, request, queryset):
        for campaign in queryset:
            services.campaign_delete(campaign=campaign)
