"""Signals other apps listen to, so that `conversations` never imports them."""

from django.dispatch import Signal

# Sent inside the opt-out transaction with `subscriber` and `consent_event`:
# flows end the subscriber's runs, campaigns drop them from sends in progress.
subscriber_opted_out = Signal()

# Sent after a text opt-in (START, JOIN…) and its confirmation were queued, with `subscriber` and `message`
# (the inbound text): the welcome flow starts.
subscriber_opted_in = Signal()

# Sent when an event is stored (not for a duplicate), with `subscriber` and `event`: flows resume runs waiting
# for it and start the flows it triggers.
event_recorded = Signal()
