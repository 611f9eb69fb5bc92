"""Every write and side effect of `conversations`, as named functions (see architecture.md).

subscribers.py  subscribers, attributes, consent
messages.py     the outbox, the send gate around it, the sending worker, delivery reports
inbound.py      inbound texts: stored first, keywords, then the handler chain
events.py       events (orders, carts…), recorded once
inbox.py        conversations with agents: open, reply, notes, assign, close; the inbound chain's inbox handlers
helpdesk.py     signed webhook deliveries to the store's help desk, retried with backoff
signup.py       web sign-up with double opt-in: submissions, the confirming Y, view counts
api_tokens.py   API tokens: made with a key shown once, stored hashed, revoked
"""

from .api_tokens import *  # noqa: F403
from .events import *  # noqa: F403
from .helpdesk import *  # noqa: F403
from .inbound import *  # noqa: F403
from .inbox import *  # noqa: F403
from .messages import *  # noqa: F403
from .signup import *  # noqa: F403
from .subscribers import *  # noqa: F403
