"""API tokens: the key is shown once when made, stored hashed, revoked with one action."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.shortcuts import render
from django.utils.cache import add_never_cache_headers

from .. import services
from ..models import (
    ApiToken,
)


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
