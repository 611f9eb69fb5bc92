"""Subscribers (with their attributes, consent and history) and attribute definitions."""

import json

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import Prefetch
from django.utils.html import format_html_join

from .. import services
from ..attributes import validate_definition
from ..models import (
    AttributeChange,
    AttributeDefinition,
    ConsentEvent,
    Event,
    Message,
    Subscriber,
    Tag,
)
from ..phones import default_time_zone_for_phone, normalize_phone
from ..selectors import attribute_rows_for
from .base import HISTORY_ROWS, PhoneSearchMixin, _changelist_url, _history_table

ATTRIBUTE_FIELD_PREFIX = "attribute__"


def _attribute_form_field(definition: AttributeDefinition) -> forms.Field:
    Type = AttributeDefinition.Type
    label = definition.label
    if definition.type == Type.SINGLE_CHOICE:
        return forms.ChoiceField(
            label=label,
            required=False,
            choices=[("", "—")] + [(o["value"], f"{o['label']} ({o['value']})") for o in definition.options],
        )
    if definition.type == Type.MULTIPLE_CHOICE:
        return forms.MultipleChoiceField(
            label=label,
            required=False,
            widget=forms.CheckboxSelectMultiple,
            choices=[(o["value"], o["label"]) for o in definition.options],
        )
    if definition.type == Type.YES_NO:
        return forms.NullBooleanField(label=label, required=False)
    if definition.type == Type.NUMBER:
        return forms.FloatField(label=label, required=False)
    if definition.type == Type.DATE:
        return forms.DateField(label=label, required=False, widget=forms.DateInput(attrs={"type": "date"}))
    return forms.CharField(label=label, required=False, max_length=500)


class SubscriberAdminForm(forms.ModelForm):
    """Basic fields plus one field per attribute definition; attribute writes go through the service."""

    definitions: list[AttributeDefinition] = []

    class Meta:
        model = Subscriber
        fields = ["phone", "first_name", "last_name", "email", "time_zone", "tags"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["time_zone"].required = False
        self.fields["time_zone"].help_text = "IANA zone. Leave empty to derive it from the phone number."
        current = self.instance.attributes if self.instance.pk else {}
        for definition in self.definitions:
            name = ATTRIBUTE_FIELD_PREFIX + definition.key
            value = current.get(definition.key)
            if definition.type == AttributeDefinition.Type.DATE and value:
                value = value[:10]
            self.initial[name] = value

    def clean_phone(self):
        try:
            phone = normalize_phone(self.cleaned_data["phone"])
        except ValidationError as error:
            raise ValidationError(error.messages) from None
        if Subscriber.objects.filter(phone=phone).exclude(pk=self.instance.pk).exists():
            raise ValidationError(f"Another subscriber already has the number {phone}.")
        if self.instance.pk:
            try:
                services.phone_change_check(self.instance, phone)
            except ValidationError as error:
                raise ValidationError(error.message_dict["phone"]) from None
        return phone

    def clean_time_zone(self):
        value = self.cleaned_data.get("time_zone", "").strip()
        if value:
            try:
                services.time_zone_check(value)
            except ValidationError as error:
                raise ValidationError(error.message_dict["time_zone"]) from None
        return value

    def attribute_changes(self) -> dict:
        """The attribute values the form changes, as the service expects them (None removes)."""
        current = self.instance.attributes if self.instance.pk else {}
        changes = {}
        for definition in self.definitions:
            value = self.cleaned_data.get(ATTRIBUTE_FIELD_PREFIX + definition.key)
            if value in ("", [], None):
                value = None
            elif definition.type == AttributeDefinition.Type.DATE:
                value = value.isoformat()
            if value != current.get(definition.key):
                changes[definition.key] = value
        return changes

    def clean(self):
        cleaned = super().clean()
        try:
            self._attribute_values = services.attributes_validate(self.attribute_changes())
        except services.AttributeErrors as error:
            for key, messages_ in error.by_key.items():
                self.add_error(ATTRIBUTE_FIELD_PREFIX + key, messages_)
        return cleaned


def _attribute_filter(definition: AttributeDefinition) -> type[admin.SimpleListFilter]:
    class AttributeValueFilter(admin.SimpleListFilter):
        title = definition.label.lower()
        parameter_name = f"{ATTRIBUTE_FIELD_PREFIX}{definition.key}"

        def lookups(self, request, model_admin):
            return [(o["value"], o["label"]) for o in definition.options]

        def queryset(self, request, queryset):
            if self.value() is None:
                return queryset
            return queryset.with_attribute(definition.key, self.value())

    return AttributeValueFilter


@admin.action(description="Opt out the selected subscribers (records the revocation)")
def opt_out_selected(modeladmin, request, queryset):
    count = 0
    for subscriber in queryset.exclude(status=Subscriber.Status.UNSUBSCRIBED):
        services.subscriber_opt_out(
            subscriber=subscriber,
            source=ConsentEvent.Source.ADMIN,
            details={"user": request.user.username},
        )
        count += 1
    modeladmin.message_user(request, f"Opted out {count} subscriber(s).", messages.SUCCESS)


@admin.register(Subscriber)
class SubscriberAdmin(PhoneSearchMixin, admin.ModelAdmin):
    form = SubscriberAdminForm
    list_display = ["phone", "full_name", "status", "answers", "tag_list", "time_zone", "created_at"]
    list_display_links = ["phone", "full_name"]
    search_fields = ["phone", "first_name", "last_name", "email"]
    search_help_text = "Search by phone (any format), name or e-mail."
    list_per_page = 50
    show_full_result_count = False
    date_hierarchy = None
    actions = [opt_out_selected]
    filter_horizontal = ["tags"]
    readonly_fields = [
        "status",
        "consent_source",
        "opted_in_at",
        "opted_out_at",
        "last_inbound_at",
        "last_outbound_at",
        "created_at",
        "updated_at",
        "current_attributes",
        "attribute_history",
        "consent_history",
        "recent_messages",
        "recent_events",
    ]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related(Prefetch("tags", queryset=Tag.objects.only("name")))

    def get_list_filter(self, request):
        choice_definitions = AttributeDefinition.objects.filter(type__in=AttributeDefinition.CHOICE_TYPES)
        return ["status", "tags", *(_attribute_filter(d) for d in choice_definitions)]

    def _definitions(self) -> list[AttributeDefinition]:
        return list(AttributeDefinition.objects.all())

    def get_form(self, request, obj=None, change=False, **kwargs):
        definitions = self._definitions()
        attribute_fields = {ATTRIBUTE_FIELD_PREFIX + d.key: _attribute_form_field(d) for d in definitions}
        kwargs["form"] = type(
            "SubscriberForm", (SubscriberAdminForm,), {**attribute_fields, "definitions": definitions}
        )
        kwargs["fields"] = None
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fieldsets(self, request, obj=None):
        fieldsets = [
            (None, {"fields": ["phone", "first_name", "last_name", "email", "time_zone", "tags"]}),
            (
                "Zero-party data",
                {
                    "fields": [ATTRIBUTE_FIELD_PREFIX + d.key for d in self._definitions()],
                    "description": "Answers the shopper gave. Changes are checked against each attribute's "
                    "definition and recorded in the history below.",
                },
            ),
        ]
        if obj is not None:
            fieldsets += [
                ("Consent", {"fields": ["status", "consent_source", "opted_in_at", "opted_out_at", "consent_history"]}),
                (
                    "History",
                    {
                        "fields": [
                            "current_attributes",
                            "attribute_history",
                            "recent_messages",
                            "recent_events",
                            "last_inbound_at",
                            "last_outbound_at",
                            "created_at",
                            "updated_at",
                        ]
                    },
                ),
            ]
        return fieldsets

    def save_model(self, request, obj, form, change):
        """Through the services, like every other write: the same checks, history and provenance."""
        data = form.cleaned_data
        fields = {
            "first_name": data["first_name"],
            "last_name": data["last_name"],
            "email": data["email"],
            "tags": [tag.name for tag in data["tags"]],
            "attributes": form._attribute_values,
            "attribute_source": AttributeChange.Source.AGENT,
            "user": request.user,
        }
        if change:
            services.subscriber_update(
                subscriber=Subscriber.objects.get(pk=obj.pk),
                phone=data["phone"],
                time_zone=data["time_zone"] or default_time_zone_for_phone(data["phone"]),
                **fields,
            )
        else:
            obj.pk = services.subscriber_create(phone=data["phone"], time_zone=data["time_zone"] or None, **fields).pk

    def save_related(self, request, form, formsets, change):
        for formset in formsets:  # tags were saved by the service with the rest
            self.save_formset(request, form, formset, change=change)

    def delete_model(self, request, obj):
        services.subscriber_delete(subscriber=obj)

    def delete_queryset(self, request, queryset):
        for subscriber in queryset:
            services.subscriber_delete(subscriber=subscriber)

    def get_deleted_objects(self, objs, request):
        # A subscriber's attribute history goes with them; it is append-only only while they exist.
        deleted, model_count, perms_needed, protected = super().get_deleted_objects(objs, request)
        if self.has_delete_permission(request):
            perms_needed = set()
        return deleted, model_count, perms_needed, protected

    @admin.display(description="Name")
    def full_name(self, obj):
        return obj.full_name

    @admin.display(description="Answers")
    def answers(self, obj):
        return (
            format_html_join(
                "",
                '<span class="parley-answer">{}: {}</span><br>',
                (
                    (key, ", ".join(value) if isinstance(value, list) else value)
                    for key, value in obj.attributes.items()
                ),
            )
            or "—"
        )

    @admin.display(description="Tags")
    def tag_list(self, obj):
        return ", ".join(tag.name for tag in obj.tags.all())

    @admin.display(description="Current attributes")
    def current_attributes(self, obj):
        rows = [(row["label"], row["shown"]) for row in attribute_rows_for(obj)]
        return _history_table(
            headings=["Attribute", "Value"],
            rows=rows,
            total=len(rows),
            empty="No answers yet.",
            more_url="",
        )

    @admin.display(description="Attribute history")
    def attribute_history(self, obj):
        changes = obj.attribute_changes.select_related("changed_by")
        rows = [
            (
                c.changed_at,
                c.key,
                _json(c.old_value),
                _json(c.new_value),
                c.get_source_display(),
                c.reference or (c.changed_by.username if c.changed_by else ""),
            )
            for c in changes[:HISTORY_ROWS]
        ]
        return _history_table(
            headings=["When", "Attribute", "From", "To", "Source", "Reference"],
            rows=rows,
            total=obj.attribute_changes.count() if len(rows) == HISTORY_ROWS else len(rows),
            empty="No changes recorded.",
            more_url=_changelist_url(AttributeChange, subscriber__id__exact=obj.pk),
        )

    @admin.display(description="Consent history")
    def consent_history(self, obj):
        events = obj.consent_events.all()
        rows = [
            (e.occurred_at, e.get_kind_display(), e.get_source_display(), e.raw_text) for e in events[:HISTORY_ROWS]
        ]
        return _history_table(
            headings=["When", "What", "Source", "Text"],
            rows=rows,
            total=obj.consent_events.count() if len(rows) == HISTORY_ROWS else len(rows),
            empty="No consent recorded.",
            more_url=_changelist_url(ConsentEvent, subscriber__id__exact=obj.pk),
        )

    @admin.display(description="Messages")
    def recent_messages(self, obj):
        rows = [
            (
                m.created_at,
                "→ out" if m.direction == Message.Direction.OUTBOUND else "← in",
                m.body,
                m.get_status_display(),
                m.get_origin_display(),
            )
            for m in obj.messages.all()[:HISTORY_ROWS]
        ]
        return _history_table(
            headings=["When", "Direction", "Text", "Status", "From"],
            rows=rows,
            total=obj.messages.count() if len(rows) == HISTORY_ROWS else len(rows),
            empty="No messages yet.",
            more_url=_changelist_url(Message, subscriber__id__exact=obj.pk),
        )

    @admin.display(description="Events")
    def recent_events(self, obj):
        rows = [(e.occurred_at, e.type, _json(e.properties)) for e in obj.events.all()[:HISTORY_ROWS]]
        return _history_table(
            headings=["When", "Event", "Properties"],
            rows=rows,
            total=obj.events.count() if len(rows) == HISTORY_ROWS else len(rows),
            empty="No events yet.",
            more_url=_changelist_url(Event, subscriber__id__exact=obj.pk),
        )


def _json(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


# --- Attribute definitions ---------------------------------------------------------------------


class AttributeDefinitionForm(forms.ModelForm):
    class Meta:
        model = AttributeDefinition
        fields = ["key", "label", "type", "options"]

    def clean(self):
        cleaned = super().clean()
        errors = validate_definition(
            key=cleaned.get("key"), type=cleaned.get("type"), options=cleaned.get("options") or []
        )
        for field, problems in errors.items():
            self.add_error(field, problems)
        return cleaned


@admin.register(AttributeDefinition)
class AttributeDefinitionAdmin(admin.ModelAdmin):
    form = AttributeDefinitionForm
    list_display = ["key", "label", "type", "option_list"]
    search_fields = ["key", "label"]
    list_filter = ["type"]

    @admin.display(description="Options")
    def option_list(self, obj):
        return ", ".join(f"{o['value']}" for o in obj.options)

    def save_model(self, request, obj, form, change):
        services.attribute_definition_save(definition=obj)
