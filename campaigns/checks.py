"""System checks of the campaigns' settings."""

from django.conf import settings
from django.core.checks import Error, Tags, register


@register(Tags.security, deploy=True)
def short_links_are_https(app_configs, **kwargs):
    """Carriers filter texts whose links are not https on the store's own domain (compliance.md, section 7)."""
    if not settings.SHORT_LINK_BASE_URL.lower().startswith("https://"):
        return [
            Error(
                f"SHORT_LINK_BASE_URL is {settings.SHORT_LINK_BASE_URL!r}: campaign texts would carry links that "
                "are not https.",
                hint="Point a short domain the store owns (e.g. https://acme.link) at Parley and set "
                "SHORT_LINK_BASE_URL to it.",
                id="parley.E002",
            )
        ]
    return []
