"""Django admin for flows, versions, runs and results (the builder pages come with the flow builder)."""

import json

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils.html import format_html

from segments.models import Segment
from segments.selectors import segment_members

from . import services
from .models import Flow, FlowLaunch, FlowResult, FlowRun, FlowVersion, OfferCode
from .services.definitions import flow_may_be_transactional


class FlowForm(forms.ModelForm):
    # The draft as this page showed it: a whole draft posted over one the builder changed since is refused.
    draft_seen = forms.CharField(widget=forms.HiddenInput, required=False)

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
            "purpose",
            "draft",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk and not self.is_bound:
            self.initial["draft_seen"] = services.flow_draft_fingerprint(self.instance.draft)
        self.fields["purpose"].required = False  # left out of a post (a script's), it stays what it is

    def clean_purpose(self):
        return self.cleaned_data["purpose"] or self.instance.purpose or Flow.Purpose.MARKETING

    def clean_draft(self):
        draft = self.cleaned_data["draft"]
        try:
            services.flow_definition_check(draft)
        except ValidationError as error:
            raise ValidationError(error.message_dict["definition"]) from None
        if self.instance.pk and "draft" in self.changed_data:
            try:
                services.flow_draft_unchanged_since(flow=self.instance, seen=self.data.get("draft_seen"))
            except ValidationError as error:
                raise ValidationError(error.message_dict["draft"]) from None
        return draft

    def clean(self):
        """A transactional flow is started by an order's own news, and sells nothing: not in the draft posted, nor in
        the version its runs use."""
        cleaned = super().clean()
        purpose = cleaned.get("purpose")
        trigger, event_type = cleaned.get("trigger", self.instance.trigger), cleaned.get("event_type", "")
        # The error goes on what this post changed: the purpose, or the start of a flow that was transactional.
        moved = [name for name in ("event_type", "trigger") if name in self.changed_data]
        field = moved[0] if moved and self.instance.pk and "purpose" not in self.changed_data else "purpose"
        try:
            flow_may_be_transactional(purpose=purpose, trigger=trigger, event_type=event_type, field=field)
        except ValidationError as error:
            for name, problems in error.message_dict.items():
                self.add_error(name, problems)
        live = self.instance.live_version if self.instance.pk else None
        for definition in (cleaned.get("draft"), live.definition if live else None):
            try:
                services.flow_sells_nothing(purpose=purpose, definition=definition)
            except ValidationError as error:
                self.add_error("purpose", error.message_dict["definition"])
                break
        return cleaned


@admin.action(description="Publish the draft as a new version and activate")
def publish(modeladmin, request, queryset):
    for flow in queryset:
        try:
            version = services.flow_publish(flow=flow, user=request.user)
        except ValidationError as error:
            modeladmin.message_user(request, f"{flow}: {'; '.join(error.messages)}", messages.ERROR)
        else:
            modeladmin.message_user(request, f"{flow}: published version {version.number}.", messages.SUCCESS)


class FlowLaunchInline(admin.TabularInline):
    model = FlowLaunch
    extra = 0
    can_delete = False
    verbose_name_plural = "Starts for a segment"
    fields = ["created_at", "segment_name", "audience", "status", "started", "skipped", "end_reason", "requested_by"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class LaunchForm(forms.Form):
    segment = forms.ModelChoiceField(queryset=Segment.objects.all(), empty_label="Choose a segment")
    confirmed_segment = forms.IntegerField(required=False, widget=forms.HiddenInput)


@admin.register(Flow)
class FlowAdmin(admin.ModelAdmin):
    form = FlowForm
    list_display = ["name", "status", "trigger", "purpose", "keyword_list", "event_type", "live_runs", "editor_link"]
    list_filter = ["status", "trigger", "purpose"]
    search_fields = ["name"]
    actions = [publish]
    inlines = [FlowLaunchInline]

    def get_urls(self):
        launch = self.admin_site.admin_view(self.launch_view)
        return [path("<int:object_id>/launch/", launch, name="flows_flow_launch"), *super().get_urls()]

    def launch_view(self, request, object_id):
        """Start the flow for every member of a segment: choose, see how many, confirm."""
        flow = get_object_or_404(Flow, pk=object_id)
        if not request.user.has_perms(["flows.add_flowrun", "segments.view_segment"]):
            raise PermissionDenied
        form = LaunchForm(request.POST or None)
        audience = None
        if request.method == "POST" and form.is_valid():
            segment = form.cleaned_data["segment"]
            try:
                audience = segment_members(segment).count()
            except ValidationError as error:
                form.add_error("segment", error)
            else:
                if form.cleaned_data["confirmed_segment"] == segment.pk:  # counted and confirmed for this segment
                    try:
                        launch = services.flow_launch(flow=flow, segment=segment, user=request.user)
                    except ValidationError as error:
                        self.message_user(request, "; ".join(error.messages), messages.ERROR)
                    else:
                        self.message_user(
                            request,
                            f"Starting {flow.name} for the {launch.audience:,} member(s) of {segment.name}; "
                            "the worker starts the runs in batches.",
                            messages.SUCCESS,
                        )
                        return redirect("admin:flows_flow_change", flow.pk)
                form = LaunchForm(initial={"segment": segment, "confirmed_segment": segment.pk})
        context = {
            **self.admin_site.each_context(request),
            "title": f"Start {flow.name} for a segment",
            "flow": flow,
            "form": form,
            "audience": audience,
            "opts": self.model._meta,
            "active": flow.status == Flow.Status.ACTIVE and flow.live_version is not None,
        }
        return render(request, "admin/flows/flow/launch.html", context)

    def save_model(self, request, obj, form, change):
        """Through the services: a whole draft is checked, and only what this page changed is written (the builder
        may have changed the draft meanwhile)."""
        if change:
            changes = {name: form.cleaned_data[name] for name in form.changed_data if name != "draft_seen"}
            try:
                services.flow_update(flow=obj, changes=changes, draft_seen=form.cleaned_data["draft_seen"])
            except ValidationError as error:  # the builder saved between this form's check and now
                self.message_user(request, " ".join(error.messages), messages.ERROR)
        else:
            fields = {name: form.cleaned_data[name] for name in form.fields if name != "draft_seen"}
            created = services.flow_create(fields=fields)
            obj.pk, obj.created_at, obj.updated_at = created.pk, created.created_at, created.updated_at

    @admin.display(description="Keywords")
    def keyword_list(self, obj):
        return ", ".join(obj.keywords)

    @admin.display(description="")
    def editor_link(self, obj):
        return format_html('<a href="{}">Open in the editor</a>', reverse("flows:editor", args=[obj.pk]))

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
