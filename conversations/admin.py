"""Django admin for subscribers, attributes, consent, messages and events."""

import json

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import Prefetch
from django.shortcuts import render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.cache import add_never_cache_headers
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode

from . import services
from .attributes import validate_definition
from .models import (
    ApiToken,
    AttributeChange,
    AttributeDefinition,
    CannedResponse,
    ConsentEvent,
    Conversation,
    Event,
    HelpdeskDelivery,
    Message,
    SignupForm,
    Subscriber,
    Tag,
)
from .phones import country_calling_code, default_time_zone_for_phone, normalize_phone
from .selectors import attribute_rows_for

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


class PhoneSearchMixin:
    """A search that reads as a phone number finds that number exactly, by index, in any format typed."""

    phone_lookup = "phone"

    def get_search_results(self, request, queryset, search_term):
        try:
            phone = normalize_phone(search_term)
        except ValidationError:
            return super().get_search_results(request, queryset, search_term)
        return queryset.filter(**{self.phone_lookup: phone}), False


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


@admin.register(CannedResponse)
class CannedResponseAdmin(admin.ModelAdmin):
    list_display = ["title", "body"]
    search_fields = ["title", "body"]
    fields = ["title", "body"]

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        form.base_fields[
            "body"
        ].help_text = 'Personalise with {{ first_name|default:"there" }}, {{ last_name }} or {{ attributes.size }}.'
        return form


@admin.register(HelpdeskDelivery)
class HelpdeskDeliveryAdmin(ReadOnlyAdmin):
    """The help-desk webhook's delivery log: every call, its attempts and the last answer."""

    list_display = ["id", "event", "conversation", "status", "attempts", "last_status_code", "last_error", "created_at"]
    list_filter = ["status", "event"]


RESERVED_SLUGS = {"embed", "preview", "stats"}  # /signup/<these>/ are Parley's own pages


class SignupFormForm(forms.ModelForm):
    class Meta:
        model = SignupForm
        fields = [
            "name",
            "slug",
            "is_active",
            "headline",
            "offer_text",
            "button_text",
            "disclosure",
            "country",
            "other_countries",
            "ask_email",
            "question_attribute",
            "question_text",
            "trigger",
            "trigger_value",
            "hide_days_after_close",
            "allowed_origins",
            "keyword",
            "thank_you_text",
        ]
        widgets = {
            "disclosure": forms.Textarea(attrs={"rows": 5}),
            "allowed_origins": forms.Textarea(attrs={"rows": 3}),
        }

    def clean_keyword(self):
        keyword = self.cleaned_data["keyword"].strip().upper()
        known = [word.strip().upper() for word in settings.SMS_SIGNUP_KEYWORDS]
        if keyword not in known:
            raise forms.ValidationError(
                f"texting {keyword} would not sign anyone up: use one of {', '.join(known)} (SMS_SIGNUP_KEYWORDS)"
            )
        return keyword

    def clean_question_attribute(self):
        key = self.cleaned_data["question_attribute"].strip()
        if key and not AttributeDefinition.objects.filter(key=key).exclude(options=[]).exists():
            raise forms.ValidationError(f"no attribute with options is called {key!r}")
        return key

    def clean_allowed_origins(self):
        """Origins as browsers send them: lower case, no default port, no path, no wildcard."""
        origins = []
        for line in self.cleaned_data["allowed_origins"].splitlines():
            line = line.strip().rstrip("/").lower()
            if not line:
                continue
            scheme, _, host = line.partition("://")
            if scheme not in ("http", "https") or not host or "/" in host or "*" in host:
                raise forms.ValidationError(f"{line!r} is not an origin: write https://shop.example.com (no path)")
            host = host.removesuffix(":443") if scheme == "https" else host.removesuffix(":80")
            origins.append(f"{scheme}://{host}")
        return "\n".join(dict.fromkeys(origins))

    def clean_slug(self):
        slug = self.cleaned_data["slug"]
        if slug in RESERVED_SLUGS:
            raise forms.ValidationError(f"{slug!r} names one of Parley's own pages; choose another")
        return slug

    def clean_other_countries(self):
        codes = self.cleaned_data["other_countries"].replace(",", " ").upper().split()
        unknown = [code for code in codes if not country_calling_code(code)]
        if unknown:
            raise forms.ValidationError(f"not country codes such as CA or GB: {', '.join(unknown)}")
        return " ".join(dict.fromkeys(codes))

    def clean_country(self):
        country = self.cleaned_data["country"].upper()
        if not country_calling_code(country):
            raise forms.ValidationError(f"{country!r} is not a country code such as US or GB")
        return country


@admin.register(SignupForm)
class SignupFormAdmin(admin.ModelAdmin):
    """Sign-up forms, with a live preview of the pop-up beside the fields (change_form.html)."""

    form = SignupFormForm
    change_form_template = "admin/conversations/signupform/change_form.html"
    list_display = ["name", "slug", "is_active", "trigger", "disclosure_version", "links"]
    readonly_fields = ["disclosure_version", "embed_code"]
    prepopulated_fields = {"slug": ["name"]}

    def render_change_form(self, request, context, *args, **kwargs):
        # The preview draws the question's options as the store defined them.
        context["question_options"] = {
            d.key: {
                "label": d.label,
                "options": d.choices,
            }
            for d in AttributeDefinition.objects.exclude(options=[])
        }
        self._site = request.build_absolute_uri("/").rstrip("/")  # for the embed code's absolute address
        return super().render_change_form(request, context, *args, **kwargs)

    @admin.display(description="")
    def links(self, form):
        return format_html(
            '<a href="{}">Hosted page</a> · <a href="{}">QR code</a> · <a href="{}">Sign-ups</a>',
            reverse("signup:join", args=[form.slug]),
            reverse("signup:qr", args=[form.slug]),
            reverse("signup:stats"),
        )

    @admin.display(description="Embed code")
    def embed_code(self, form):
        if not form.pk:
            return "Save the form to get its code."
        src = f"{settings.PUBLIC_BASE_URL or getattr(self, '_site', '')}{reverse('signup:embed')}"
        return format_html(
            '<code>&lt;script src="{}" data-form="{}" async&gt;&lt;/script&gt;</code><br>'
            'Hosted page: <a href="{}">{}</a>',
            src,
            form.slug,
            reverse("signup:join", args=[form.slug]),
            reverse("signup:join", args=[form.slug]),
        )


# --- API tokens -------------------------------------------------------------------------------------


class ApiTokenAddForm(forms.ModelForm):
    """Who the token acts as and what will use it; the key is made by the service, never typed."""

    granted_by = None  # the staff member creating it, set per request by ApiTokenAdmin.get_form

    class Meta:
        model = ApiToken
        fields = ["user", "name"]

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("user") is not None:
            try:
                services.api_token_grant_check(user=cleaned["user"], granted_by=self.granted_by)
            except ValidationError as error:
                self.add_error("user", error.messages)
        return cleaned


class ApiTokenStateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("active", "Active"), ("revoked", "Revoked")]

    def queryset(self, request, queryset):
        if self.value() == "active":
            return queryset.active()
        if self.value() == "revoked":
            return queryset.filter(revoked_at__isnull=False)
        return queryset


@admin.action(description="Revoke the selected tokens (they stop working at once)", permissions=["change"])
def revoke_selected(modeladmin, request, queryset):
    revoked = sum(services.api_token_revoke(token=token) for token in queryset.active())
    modeladmin.message_user(request, f"Revoked {revoked} token(s).", messages.SUCCESS)


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """API tokens: made here with the key shown once, told apart by name and prefix, revoked; keys are not kept."""

    list_display = ["name", "user", "key_prefix", "created_at", "last_used_at", "revoked_at"]
    list_filter = [ApiTokenStateFilter]
    list_select_related = ["user"]
    search_fields = ["name", "prefix", "user__username"]
    search_help_text = "Search by name, key prefix or username, or paste a whole key to find its token."
    actions = [revoke_selected]
    readonly_fields = ["user", "key_prefix", "created_at", "created_by", "last_used_at", "revoked_at"]

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["user", "name"]
        return ["name", "user", "key_prefix", "created_at", "created_by", "last_used_at", "revoked_at"]

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else self.readonly_fields

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = type("ApiTokenAddForm", (ApiTokenAddForm,), {"granted_by": request.user})
        return super().get_form(request, obj, change=change, **kwargs)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "user":
            kwargs["queryset"] = db_field.related_model.objects.filter(is_active=True)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_search_results(self, request, queryset, search_term):
        # A leaked key, pasted whole, finds its token by hash; anything else is searched as names are.
        if services.looks_like_key(search_term.strip()):
            return queryset.filter(key_hash=ApiToken.hash_key(search_term.strip())), False
        return super().get_search_results(request, queryset, search_term)

    def render_change_form(self, request, context, add=False, change=False, **kwargs):
        if add:  # saving shows the key once: nothing to continue editing
            context.update(show_save_and_add_another=False, show_save_and_continue=False)
        return super().render_change_form(request, context, add=add, change=change, **kwargs)

    def save_model(self, request, obj, form, change):
        """A new token through the service (which makes the key); a change only renames."""
        if change:
            services.api_token_rename(token=obj, name=obj.name)
            return
        token, key = services.api_token_create(user=obj.user, name=obj.name, created_by=request.user)
        request.api_token_key = key
        obj.pk, obj.prefix, obj.created_at, obj.created_by = token.pk, token.prefix, token.created_at, request.user

    def response_add(self, request, obj, post_url_continue=None):
        """The key, on this one page: never put in a message, the session or the log, and never shown again."""
        context = {
            **self.admin_site.each_context(request),
            "title": "Copy the new token's key",
            "opts": self.opts,
            "token": obj,
            "key": request.api_token_key,
        }
        response = render(request, "admin/conversations/apitoken/created.html", context)
        add_never_cache_headers(response)
        return response

    @admin.display(description="Key", ordering="prefix")
    def key_prefix(self, obj):
        return f"{obj.prefix}…"
