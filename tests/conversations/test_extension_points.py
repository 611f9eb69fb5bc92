"""The settings lists other apps plug into: every entry imports, and a mistyped one fails the system check."""

import pytest
from django.core.checks import run_checks

from conversations.checks import EXTENSION_POINTS, extension_points_import


def test_every_shipped_entry_imports():
    assert extension_points_import(None) == []


@pytest.mark.parametrize("name", EXTENSION_POINTS)
def test_a_mistyped_entry_is_named_by_the_check(settings, name):
    setattr(settings, name, [*getattr(settings, name), "flows.handlers.inbund"])
    errors = [error for error in run_checks() if error.id == "parley.E004"]
    assert len(errors) == 1
    assert name in errors[0].msg and "'flows.handlers.inbund'" in errors[0].msg


def test_an_entry_that_is_not_a_function_is_named(settings):
    settings.INBOUND_HANDLERS = ["conversations.checks.EXTENSION_POINTS"]
    errors = extension_points_import(None)
    assert [error.id for error in errors] == ["parley.E004"]
    assert "is not a function" in errors[0].msg
