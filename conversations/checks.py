"""System checks for settings that would fail quietly at run time."""

from django.conf import settings
from django.core.checks import Error, Tags, register
from django.utils.module_loading import import_string


@register()
def helpdesk_webhook_is_signed(app_configs, **kwargs):
    if settings.HELPDESK_WEBHOOK_URL and not settings.HELPDESK_WEBHOOK_SECRET:
        return [
            Error(
                "HELPDESK_WEBHOOK_URL is set but HELPDESK_WEBHOOK_SECRET is empty: the help desk could not tell "
                "our deliveries from forged ones.",
                hint="Set HELPDESK_WEBHOOK_SECRET to a long random string and give the same one to the help desk.",
                id="parley.E001",
            )
        ]
    return []


@register(Tags.security, deploy=True)
def public_base_url_is_https(app_configs, **kwargs):
    """Twilio's webhooks and status callbacks, the embed code and (by default) the short links use this address."""
    if not settings.PUBLIC_BASE_URL.lower().startswith("https://"):
        return [
            Error(
                f"PUBLIC_BASE_URL is {settings.PUBLIC_BASE_URL!r}: in production it must be Parley's public https "
                "address.",
                hint="Set PUBLIC_BASE_URL to the https address Parley is reached at, e.g. https://parley.example.com.",
                id="parley.E003",
            )
        ]
    return []


# The extension points named in settings (docs/architecture.md): each entry is a dotted path to a function.
EXTENSION_POINTS = ["INBOUND_HANDLERS", "DUE_WORK", "DEMO_LOADERS", "INBOX_MESSAGE_LABELS", "INBOX_PANELS"]


@register()
def extension_points_import(app_configs, **kwargs):
    """A mistyped handler or loader fails `manage.py check`, not the first text that reaches it."""
    errors = []
    for name in EXTENSION_POINTS:
        for path in getattr(settings, name, []):
            try:
                target = import_string(path)
            except ImportError as error:
                problem = f"cannot be imported ({error})"
            else:
                if callable(target):
                    continue
                problem = "is not a function"
            errors.append(
                Error(
                    f"{name} names {path!r}, which {problem}.",
                    hint=f"Each entry of {name} is the dotted path of a function; see docs/architecture.md.",
                    id="parley.E004",
                )
            )
    return errors
