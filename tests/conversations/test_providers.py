import io

import pytest
from django.core.exceptions import ImproperlyConfigured

from conversations.sms.providers import ConsoleProvider, get_provider


def test_console_provider_prints_the_text():
    out = io.StringIO()
    result = ConsoleProvider(stream=out).send(
        to="+14155550100", body="Hi Ana!", sender="+18885550000", media_urls=["https://shop.example.com/a.jpg"]
    )
    printed = out.getvalue()
    assert "to +14155550100 from +18885550000" in printed
    assert "Hi Ana!" in printed
    assert "[media] https://shop.example.com/a.jpg" in printed
    assert result.provider_message_id in printed


def test_get_provider_refuses_an_unknown_name(settings):
    settings.SMS_PROVIDER = "carrier-pigeon"
    with pytest.raises(ImproperlyConfigured, match="carrier-pigeon"):
        get_provider()
    settings.SMS_PROVIDER = "console"
    assert isinstance(get_provider(), ConsoleProvider)
