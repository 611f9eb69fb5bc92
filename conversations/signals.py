"""Signals other apps listen to, so that `conversations` never imports them."""

from django.dispatch import Signal

# Sent inside the opt-out transaction with `subscriber` and `consent_event`:
# flows end the subscriber's runs, campaigns drop them from sends in progress.
subscriber_opted_out = Signal()
