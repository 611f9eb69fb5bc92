"""System checks of the campaigns' settings."""

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register


@register(Tags.security, deploy=True)
def short_links_are_https(app_configs, **kwargs):
    """Carriers filter texts whose links are not https on the store's own domain (compliance.md, section 7)."""
    if not settings.SHORT_LINK_BASE_URL.lower().startswith("https://"):
        return [
            Error(
                f"SHORT_LINK_BASE_URL is {settings.SHORT_LINK_BASE_URL!r}: campaign texts would carry links that "
                "are not https.",
                hint="Set PUBLIC_BASE_URL to Parley's https address (short links use it by default), or point a "
                "short domain the store owns (e.g. https://acme.link) at Parley and set SHORT_LINK_BASE_URL to it.",
                id="parley.E002",
            )
        ]
    return []


@register()
def short_links_reach_shoppers(app_configs, **kwargs):
    """Real texts must not carry links to this machine."""
    host = settings.SHORT_LINK_BASE_URL.split("://", 1)[-1].split("/", 1)[0].split(":", 1)[0].lower()
    if settings.SMS_PROVIDER != "console" and host in ("127.0.0.1", "localhost", "0.0.0.0", "[::1]"):
        return [
            Warning(
                f"SMS_PROVIDER is {settings.SMS_PROVIDER!r} but SHORT_LINK_BASE_URL is "
                f"{settings.SHORT_LINK_BASE_URL!r}: shoppers would get links to this machine.",
                hint="Set SHORT_LINK_BASE_URL (or PUBLIC_BASE_URL) to the public https address of the store's "
                "short domain.",
                id="parley.W001",
            )
        ]
    return []
