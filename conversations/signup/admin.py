"""Sign-up forms in the admin: the pop-up, its hosted page and QR code, versioned disclosures."""

from django import forms
from django.conf import settings
from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from ..models import (
    AttributeDefinition,
    SignupForm,
)
from ..phones import country_calling_code

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
