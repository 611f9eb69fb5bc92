"""System checks for settings that would fail quietly at run time."""

from django.conf import settings
from django.core.checks import Error, register


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
