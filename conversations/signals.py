"""Signals other apps listen to, so that `conversations` never imports them."""

import logging

from django.db import transaction
from django.dispatch import Signal

log = logging.getLogger(__name__)

# Sent inside the opt-out transaction with `subscriber` and `consent_event`: flows end the subscriber's runs.
# (Texts already queued, a campaign's too, are refused by the send gate when their turn comes.)
subscriber_opted_out = Signal()

# Sent after a text opt-in (START, JOIN…) and its confirmation were queued, with `subscriber` and `message`
# (the inbound text): the welcome flow starts.
subscriber_opted_in = Signal()

# Sent when an event is stored (not for a duplicate), with `subscriber` and `event`: flows resume runs waiting
# for it and start the flows it triggers.
event_recorded = Signal()


def send_isolated(signal: Signal, **kwargs) -> None:
    """Send a signal so that a failing receiver cannot undo what the sender did (an opt-out, a stored event).

    The receivers run in a savepoint; if one fails, their work is rolled back and logged, the sender's stays.
    """
    try:
        with transaction.atomic():
            signal.send(**kwargs)
    except Exception:  # noqa: BLE001 - the sender's own work must stand
        log.exception("a receiver of %r failed; what the sender did stands", signal)


# Sent by the outbox when the provider says a number unsubscribed at the carrier (Twilio's 21610, on a send or in
# a delivery report), with `subscriber_id` and `details`: conversations opts them out (services/subscribers.py),
# which cancels their texts through the outbox. Sent plainly, not isolated: if the opt-out fails, so does the
# outbox's write of that outcome, which is tried again.
provider_reported_opt_out = Signal()

# Sent when a conversation opens or reopens, with `conversation`: flows pause the subscriber's runs.
conversation_opened = Signal()

# Sent when a conversation closes, with `conversation` and `resume_flows` (settings.INBOX_CLOSE_RESUMES_FLOWS):
# flows resume the paused runs, or end them.
conversation_closed = Signal()
