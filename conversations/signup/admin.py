"""Sign-up forms in the admin: the pop-up, its hosted page and QR code, versioned disclosures."""

from django import forms
from django.conf import settings
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils.html import format_html

from ..models import (
    AttributeDefinition,
    SignupForm,
)
from . import services


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
            "track_browsing",
            "keyword",
            "thank_you_text",
        ]
        widgets = {
            "disclosure": forms.Textarea(attrs={"rows": 5}),
            "allowed_origins": forms.Textarea(attrs={"rows": 3}),
        }

    def clean(self):
        """The sign-up form's rules, from the service that every writer goes through; each error on its field."""
        cleaned = super().clean()
        present = {name: cleaned[name] for name in services.SIGNUP_FORM_RULES if name in cleaned}
        try:
            cleaned.update(services.signup_form_rules(present))
        except ValidationError as error:
            self.add_error(None, error)  # a dict of errors: each goes on its field
        return cleaned


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

    def save_model(self, request, obj, form, change):
        """Through the services, so that the rules and the disclosure's versioning are the same for every writer."""
        if change:
            changes = {name: form.cleaned_data[name] for name in form.changed_data}
            services.signup_form_update(form=obj, changes=changes)
        else:
            fields = {name: form.cleaned_data[name] for name in form.fields}
            created = services.signup_form_create(fields=fields)
            obj.pk, obj.disclosure_version, obj.created_at = created.pk, created.disclosure_version, created.created_at

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
