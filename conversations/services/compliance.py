"""The compliance texts (compliance.md, section 1): the program's terms, HELP, the opt-out confirmation."""

from django.conf import settings


def compliance_text(name: str) -> str:
    """One of the configured compliance texts with the store's details filled in."""
    template = getattr(settings, name)
    return template.format(
        store=settings.PARLEY_STORE_NAME, contact=settings.SMS_HELP_CONTACT, per_month=settings.SMS_MESSAGES_PER_MONTH
    )


__all__ = ["compliance_text"]
