"""The outbox: the one owner of an outbound text's state, from queued to delivered.

Flows, campaigns, the inbox, sign-up, opt-out and the API queue, hold, release and cancel texts only through the
functions below; nothing outside this package writes an outbound `Message`'s status, hold, claim, times or errors
(tests/test_architecture_outbox.py fails if something does).

recipients.py  what the send gate needs from the database (the store's rules, each recipient's recent texts)
queue.py       message_queue, messages_queue_select, messages_hold / _release / _cancel, outbox_kick
sending.py     the worker: claim (the gate decides again), stamp, hand over, record; leases, faults, retries
pacing.py      each sender's rate: slots on a time line every worker shares
reports.py     delivery reports, and the outcomes they correct

An outbound text's states, and what moves it along each arrow:

    message_queue()           the gate asks first: refused -> SendRefused, nothing is written;
    messages_queue_select()   a campaign's fan-out, in bulk: the gate asks at the claim
          |
          v
    +-----------+      messages_hold()      +--------------------------------+
    |  queued   | ------------------------> | queued, held                   |
    |           | <------------------------ | not_before = HELD_FOREVER      |
    +-----------+     messages_release()    +--------------------------------+
       |   ^   ^
       |   |   +-- outbox_claim(): the gate holds it (quiet hours, a cap): due again later (not_before)
       |   |
       |   +------ back to the queue, provably never handed over: outbox_reclaim_expired() (its lease ran
       |           out), a fault or a stop (_release_unstamped, _put_back), quiet hours began while it
       |           waited for its slot (_deliver), the provider surely did not take it (_record_retry)
       |
       | outbox_claim(): the gate says send
       v
    +-----------------------------+
    | sending, claimed            |  leased to one worker (claim, claimed_until)
    +-----------------------------+
       | _stamp(): consent checked again         ^
       v                                         | _unstamp(): it was late for its slot
    +-----------------------------+              |
    | sending, stamped            | -------------+
    | attempted_at: it may be at  |
    | the provider from now on    |
    +-----------------------------+
       | _record_sent(): the provider took it
       v
     sent --- message_status_report() ---> delivered | undelivered | failed

    -> failed, and never sent:
       queued, held or claimed:  messages_cancel()                         (the cancel rule below)
       queued:                   outbox_claim(): the gate refuses it       (gate:<reason>)
       claimed:                  _deliver(): the stamp finds them opted out (gate:opted_out)
       stamped:                  _record_failed(): the provider refused it;
                                 outbox_reclaim_expired(): its worker died (worker_lost: the outcome is
                                 unknown, so it is never sent again)
    failed with an unknown outcome --- message_status_report() ---> sent | delivered | undelivered | failed

The cancel rule: `messages_cancel()` fails every chosen text that has not been handed to the provider (queued,
held, or claimed and not yet stamped) and leaves alone a stamped one, which may already be at the provider, and
an opt-out confirmation. The stamp is a conditional write (still this worker's claim, still `sending`, the
subscriber not opted out), so a claimed text cancelled before its stamp never leaves; and a STOP, which cancels
and unsubscribes in one transaction, lets nothing but its confirmation be stamped after it.

Inbound texts are not the outbox's: `inbound_receive` stores them (status `received`) and they never move.
"""

from .pacing import sender_reserve
from .queue import (
    HELD_FOREVER,
    OPTED_OUT,
    OPTED_OUT_REASON,
    message_queue,
    messages_cancel,
    messages_hold,
    messages_queue_select,
    messages_release,
    outbox_kick,
)
from .recipients import SendRefused, gate_rules, recipients_for
from .reports import message_status_report, status_callback_url
from .sending import (
    DATABASE_FAULTS,
    LINGER_POLL,
    SENDER_LINGER,
    SendReport,
    outbox_claim,
    outbox_claims_outstanding,
    outbox_kick_if_claimed,
    outbox_reclaim_expired,
    outbox_send_due,
    outbox_unsettled,
)

__all__ = [
    "DATABASE_FAULTS",
    "HELD_FOREVER",
    "LINGER_POLL",
    "OPTED_OUT",
    "OPTED_OUT_REASON",
    "SENDER_LINGER",
    "SendRefused",
    "SendReport",
    "gate_rules",
    "message_queue",
    "message_status_report",
    "messages_cancel",
    "messages_hold",
    "messages_queue_select",
    "messages_release",
    "outbox_claim",
    "outbox_claims_outstanding",
    "outbox_kick",
    "outbox_kick_if_claimed",
    "outbox_reclaim_expired",
    "outbox_send_due",
    "outbox_unsettled",
    "recipients_for",
    "sender_reserve",
    "status_callback_url",
]
