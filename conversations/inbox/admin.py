"""Inbox records in the admin: conversations, canned responses, help-desk deliveries."""

from django import forms
from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from .. import templating
from ..admin.base import ReadOnlyAdmin, SubscriberLinkMixin
from ..models import (
    CannedResponse,
    Conversation,
    HelpdeskDelivery,
)
from .selectors import canned_scope


@admin.register(Conversation)
class ConversationAdmin(SubscriberLinkMixin, ReadOnlyAdmin):
    """Conversations as a record; agents work them in the inbox (/inbox/)."""

    list_display = [
        "id",
        "subscriber_link",
        "status",
        "assignee",
        "unread",
        "reason",
        "last_message_at",
        "inbox_link",
    ]
    list_filter = ["status", "reason"]
    list_select_related = ["subscriber", "assignee"]

    @admin.display(description="")
    def inbox_link(self, obj):
        return format_html('<a href="{}">Open in the inbox</a>', reverse("inbox:conversation", args=[obj.pk]))


class CannedResponseForm(forms.ModelForm):
    """A canned response is checked like every text: unknown variables and filters are named before it is saved."""

    class Meta:
        model = CannedResponse
        fields = ["title", "body"]

    def clean_body(self):
        body = self.cleaned_data["body"]
        templating.validated(body, canned_scope())
        return body


@admin.register(CannedResponse)
class CannedResponseAdmin(admin.ModelAdmin):
    list_display = ["title", "body"]
    search_fields = ["title", "body"]
    fields = ["title", "body"]

    form = CannedResponseForm

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        form.base_fields["body"].help_text = (
            'Personalise with {{ first_name|default:"there" }}, {{ last_name }}, {{ store }}, '
            "{{ attributes.size }} or {{ attributes.size|label }} (the option's label)."
        )
        return form


@admin.register(HelpdeskDelivery)
class HelpdeskDeliveryAdmin(ReadOnlyAdmin):
    """The help-desk webhook's delivery log: every call, its attempts and the last answer."""

    list_display = ["id", "event", "conversation", "status", "attempts", "last_status_code", "last_error", "created_at"]
    list_filter = ["status", "event"]
